#pragma once
// The spicevmc channels a host registered (Server::add_vmc_channel: compat's "port" char
// devices), and the one client connection each may have, as the reference's RedVmcChannel
// allows. Loop thread only (Server posts the host's calls here).
#include <cstdint>
#include <map>
#include <string>
#include <vector>

#include "spiceflow/net/messages.hpp"
#include "spiceflow/net/server.hpp"

namespace spiceflow::net {

/// What the registry needs from a spicevmc channel client.
class VmcEndpoint {
 public:
  virtual ~VmcEndpoint() = default;
  /// Device data for the client (SPICEVMC_DATA).
  virtual void vmc_data(std::vector<uint8_t> data) = 0;
  /// spice_server_port_event (PORT_EVENT).
  virtual void vmc_event(uint8_t event) = 0;
  /// One of this connection's chunks was written to the device.
  virtual void vmc_consumed() = 0;
  /// The host removed the channel.
  virtual void vmc_removed() = 0;
};

class VmcRegistry {
 public:
  struct Entry {
    std::string port_name;  ///< SPICE_CHANNEL_PORT's name (PORT_INIT)
    bool opened = false;    ///< the host's side is open (PORT_INIT; PORT_EVENT OPENED/CLOSED)
    VmcEndpoint* client = nullptr;
    uint64_t connection = 0;  ///< the client's connection number (0: none)
  };

  explicit VmcRegistry(VmcHooks hooks) : hooks_(std::move(hooks)) {}
  bool enabled() const { return bool(hooks_.to_device); }
  /// The server is going away: no more hooks are called.
  void shutdown() { hooks_ = {}; }

  Entry* find(uint8_t type, uint8_t id);
  const Entry* find(uint8_t type, uint8_t id) const {
    return const_cast<VmcRegistry*>(this)->find(type, id);
  }
  /// Every registered channel, for CHANNELS_LIST (by type, then id).
  std::vector<msg::ChannelId> channels() const;

  // The host's calls (posted to the loop by Server).
  void add(uint8_t type, uint8_t id, std::string port_name, bool opened);
  void remove(uint8_t type, uint8_t id);
  void send(uint8_t type, uint8_t id, std::vector<uint8_t> data);
  void port_event(uint8_t type, uint8_t id, uint8_t event);
  void consumed(uint8_t type, uint8_t id, uint64_t connection);

  // The channel client's calls.
  /// Takes the channel for `ep`; returns its connection number, 0 when another client has
  /// it (the reference refuses a second connection).
  uint64_t attach(uint8_t type, uint8_t id, VmcEndpoint* ep);
  void detach(uint8_t type, uint8_t id, VmcEndpoint* ep);
  void to_device(VmcChunk chunk);
  void client_event(uint8_t type, uint8_t id, uint8_t event);
  /// `bytes` of the host's data were written to the socket or dropped.
  void sent(uint8_t type, uint8_t id, size_t bytes);

 private:
  static uint16_t key(uint8_t type, uint8_t id) { return uint16_t(type << 8 | id); }

  VmcHooks hooks_;
  std::map<uint16_t, Entry> entries_;
  uint64_t next_connection_ = 1;
};

}  // namespace spiceflow::net
