#include "vmc_port.hpp"

#include <algorithm>

#include "spiceflow/core/log.hpp"

namespace spiceflow::compat {

namespace {
// The reference's BUF_SIZE: one read from the device, one SPICEVMC_DATA.
constexpr size_t kReadSize = 64 * 1024 + 32;
}  // namespace

VmcPort::VmcPort(const SpiceCoreInterface* core, net::Server& server,
                 SpiceCharDeviceInstance* sin, uint8_t type, uint8_t id)
    : CharDevice(core), server_(server), type_(type), id_(id), buf_(kReadSize) {
  attach_device(sin);
  // The host's side starts closed: spice_server_port_event(OPENED) opens it.
  server_.add_vmc_channel(type_, id_, sin->portname ? sin->portname : "", false);
  log::info("spiceflow compat: char device {} '{}' served as channel {}:{}",
            sin->subtype ? sin->subtype : "", sin->portname ? sin->portname : "", int(type_),
            int(id_));
}

VmcPort::~VmcPort() {
  server_.remove_vmc_channel(type_, id_);
  SpiceCharDeviceInstance* sin = detach_device();
  const auto* s = reinterpret_cast<const SpiceCharDeviceInterface*>(sin->base.sif);
  if (connection_ && s->state) s->state(sin, 0);
}

void VmcPort::client(uint64_t connection) {
  const bool was = connection_ != 0;
  connection_ = connection;
  if (!connection) {
    // What the client sent and the device has not started taking is dropped with it.
    std::erase_if(writes(), [](const Write& w) { return w.pos == 0; });
  }
  if (was != (connection != 0) && sif()->state) sif()->state(device(), connection ? 1 : 0);
  pump();
}

void VmcPort::from_client(const net::VmcChunk& chunk) {
  if (chunk.connection != connection_) return;  // from a client that has left
  queue_write(chunk.data, 0, [this, conn = chunk.connection] {
    server_.vmc_consumed(type_, id_, conn);
  });
  pump();
}

void VmcPort::client_event(uint8_t event) {
  const auto* s = sif();
  if (s->base.minor_version >= 2 && s->event) s->event(device(), event);
}

void VmcPort::sent(size_t bytes) {
  const bool was_full = in_flight_ >= net::Server::kVmcInFlight;
  in_flight_ -= std::min(bytes, in_flight_);
  if (was_full && in_flight_ < net::Server::kVmcInFlight) pump();
}

void VmcPort::port_event(uint8_t event) { server_.vmc_port_event(type_, id_, event); }

bool VmcPort::read_some() {
  bool progress = false;
  while (running() && attached() && connection_ && in_flight_ < net::Server::kVmcInFlight) {
    const uint64_t gen = generation();
    const int n = sif()->read(device(), buf_.data(), int(buf_.size()));
    if (generation() != gen) return true;
    if (n <= 0) break;
    progress = true;
    const size_t len = std::min(size_t(n), buf_.size());
    in_flight_ += len;
    server_.vmc_send(type_, id_, std::vector<uint8_t>(buf_.begin(), buf_.begin() + long(len)));
  }
  return progress;
}

net::VmcHooks vmc_hooks(HostMailbox& mailbox, std::function<VmcEndpoint*(uint8_t, uint8_t)> find) {
  net::VmcHooks h;
  h.client = [&mailbox, find](uint8_t type, uint8_t id, uint64_t connection) {
    mailbox.post([find, type, id, connection] {
      if (auto* p = find(type, id)) p->client(connection);
    });
  };
  h.to_device = [&mailbox, find](net::VmcChunk c) {
    mailbox.post([find, c = std::move(c)] {
      if (auto* p = find(c.type, c.id)) p->from_client(c);
    });
  };
  h.event = [&mailbox, find](uint8_t type, uint8_t id, uint8_t event) {
    mailbox.post([find, type, id, event] {
      if (auto* p = find(type, id)) p->client_event(event);
    });
  };
  h.sent = [&mailbox, find](uint8_t type, uint8_t id, size_t bytes) {
    mailbox.post([find, type, id, bytes] {
      if (auto* p = find(type, id)) p->sent(bytes);
    });
  };
  return h;
}

}  // namespace spiceflow::compat
