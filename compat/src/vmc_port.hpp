#pragma once
// VmcPort: a char device of subtype "port" (QEMU's -chardev spiceport) served as a
// SPICE_CHANNEL_PORT (or _WEBDAV) channel, or of subtype "usbredir" (QEMU's -chardev
// spicevmc,name=usbredir) as a SPICE_CHANNEL_USBREDIR one, as the reference's spicevmc.cpp
// does it (for usbredir the PORT_* parts do not apply). The channel is
// registered with net (net::Server::add_vmc_channel, id: the lowest free one of its type)
// for as long as the device is; one client at a time.
//
// Device -> client: only while a client is connected, reads of up to 64 KiB (the
// reference's BUF_SIZE) go to net::Server::vmc_send, at most net::Server::kVmcInFlight bytes
// ahead of the client's socket (VmcHooks::sent gives them back); without a client nothing
// is read and the guest's data waits in the device, as with the reference.
// Client -> device: each SPICEVMC_DATA is written in order with the host's semantics
// (CharDevice); net::Server::vmc_consumed once written lets the channel read its socket
// again past net::Server::kVmcWrites. state(1)/state(0) when a client connects/leaves;
// PORT_EVENT from the client -> SpiceCharDeviceInterface::event; spice_server_port_event ->
// the client (and PORT_INIT's `opened`).
//
// Threading: host thread only (CharDevice); net's calls arrive through the HostMailbox
// (vmc_hooks()).
#include <cstdint>
#include <functional>
#include <vector>

#include "char_device.hpp"
#include "host_mailbox.hpp"
#include "spiceflow/net/server.hpp"

namespace spiceflow::compat {

/// What net's spicevmc hooks reach on the host thread (vmc_hooks): a VmcPort, or the
/// smartcard channel (smartcard.hpp).
class VmcEndpoint {
 public:
  virtual ~VmcEndpoint() = default;
  /// A client connected (`connection` != 0) or left (0).
  virtual void client(uint64_t connection) = 0;
  virtual void from_client(const net::VmcChunk& chunk) = 0;
  virtual void client_event(uint8_t event) {}
  virtual void sent(size_t bytes) = 0;
};

class VmcPort final : public CharDevice, public VmcEndpoint {
 public:
  /// Registers the channel `type`:`id` with `server` for `sin` (host thread).
  VmcPort(const SpiceCoreInterface* core, net::Server& server, SpiceCharDeviceInstance* sin,
          uint8_t type, uint8_t id);
  /// Unregisters the channel (its client is disconnected).
  ~VmcPort() override;

  uint8_t type() const { return type_; }
  uint8_t id() const { return id_; }

  // ---- host thread (net's calls, from the mailbox, and the ABI)
  void client(uint64_t connection) override;
  void from_client(const net::VmcChunk& chunk) override;
  void client_event(uint8_t event) override;
  void sent(size_t bytes) override;
  /// spice_server_port_event.
  void port_event(uint8_t event);

 private:
  bool read_some() override;

  net::Server& server_;
  const uint8_t type_;
  const uint8_t id_;
  uint64_t connection_ = 0;  // the connected client's (0: none)
  size_t in_flight_ = 0;     // bytes given to net::Server::vmc_send, not yet sent
  std::vector<uint8_t> buf_;
};

/// net::VmcHooks that post into the host main loop and reach the endpoint `find(type, id)`
/// returns there (null: it went away meanwhile, the call is dropped).
net::VmcHooks vmc_hooks(HostMailbox& mailbox, std::function<VmcEndpoint*(uint8_t, uint8_t)> find);

}  // namespace spiceflow::compat
