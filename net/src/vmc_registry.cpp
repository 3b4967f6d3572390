#include "vmc_registry.hpp"

#include <spice/enums.h>
#include <spice/protocol.h>

#include "spiceflow/core/log.hpp"

namespace spiceflow::net {

VmcRegistry::Entry* VmcRegistry::find(uint8_t type, uint8_t id) {
  auto it = entries_.find(key(type, id));
  return it == entries_.end() ? nullptr : &it->second;
}

std::vector<msg::ChannelId> VmcRegistry::channels() const {
  std::vector<msg::ChannelId> out;
  for (const auto& [k, e] : entries_) out.push_back({uint8_t(k >> 8), uint8_t(k & 0xff)});
  return out;
}

void VmcRegistry::add(uint8_t type, uint8_t id, std::string port_name, bool opened) {
  entries_[key(type, id)] = Entry{std::move(port_name), opened, nullptr, 0};
}

void VmcRegistry::remove(uint8_t type, uint8_t id) {
  auto it = entries_.find(key(type, id));
  if (it == entries_.end()) return;
  VmcEndpoint* client = it->second.client;
  entries_.erase(it);
  if (client) client->vmc_removed();
}

void VmcRegistry::send(uint8_t type, uint8_t id, std::vector<uint8_t> data) {
  Entry* e = find(type, id);
  if (!e || !e->client) {
    // No client (it left meanwhile): dropped, and the host's count given back.
    if (hooks_.sent) hooks_.sent(type, id, data.size());
    return;
  }
  e->client->vmc_data(std::move(data));
}

void VmcRegistry::port_event(uint8_t type, uint8_t id, uint8_t event) {
  Entry* e = find(type, id);
  if (!e) return;
  if (event == SPICE_PORT_EVENT_OPENED) e->opened = true;
  if (event == SPICE_PORT_EVENT_CLOSED) e->opened = false;
  if (e->client) e->client->vmc_event(event);
}

void VmcRegistry::consumed(uint8_t type, uint8_t id, uint64_t connection) {
  Entry* e = find(type, id);
  if (e && e->client && e->connection == connection) e->client->vmc_consumed();
}

uint64_t VmcRegistry::attach(uint8_t type, uint8_t id, VmcEndpoint* ep) {
  Entry* e = find(type, id);
  if (!e || e->client) return 0;
  e->client = ep;
  e->connection = next_connection_++;
  if (hooks_.client) hooks_.client(type, id, e->connection);
  return e->connection;
}

void VmcRegistry::detach(uint8_t type, uint8_t id, VmcEndpoint* ep) {
  Entry* e = find(type, id);
  if (!e || e->client != ep) return;
  e->client = nullptr;
  e->connection = 0;
  if (hooks_.client) hooks_.client(type, id, 0);
}

void VmcRegistry::to_device(VmcChunk chunk) {
  if (hooks_.to_device) hooks_.to_device(std::move(chunk));
}

void VmcRegistry::client_event(uint8_t type, uint8_t id, uint8_t event) {
  if (hooks_.event) hooks_.event(type, id, event);
}

void VmcRegistry::sent(uint8_t type, uint8_t id, size_t bytes) {
  if (hooks_.sent) hooks_.sent(type, id, bytes);
}

}  // namespace spiceflow::net
