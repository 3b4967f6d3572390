#pragma once
// AgentPort: the guest agent's character device (the "vdagent" SpiceCharDeviceInstance:
// QEMU's -chardev spicevmc,name=vdagent, Xspice's --vdagent) wired to net's main channels,
// as the reference's RedCharDeviceVDIPort does it. The device I/O (threads, partial writes,
// the retry timer) is CharDevice's.
//
// Device -> clients: on spice_server_char_device_wakeup, on attach and vm start, and when
// net has room again, the port reads the device into a net::agent::ChunkReader:
// VDP_CLIENT_PORT chunks go through the read filter (message framing, the capabilities the
// server disables) to net::Server::agent_send, at most net::Server::kAgentInFlight pieces
// ahead of the clients' sockets (beyond that the guest's port fills and the agent waits);
// VDP_SERVER_PORT chunks are dropped; any other port or a malformed message detaches the
// agent (state(0), AGENT_DISCONNECTED) until the host registers it again, as the reference
// does.
// Clients -> device: checked client chunks (net::AgentHooks::to_device, through the
// HostMailbox) and the server's own messages (VD_AGENT_MOUSE_STATE in agent mouse mode,
// VD_AGENT_CLIENT_DISCONNECTED, VD_AGENT_GRAPHICS_DEVICE_INFO) are written in order. A
// client chunk's token goes back (net::Server::agent_consumed) once it is fully written.
#include <spice/vd_agent.h>

#include <cstdint>
#include <functional>
#include <vector>

#include "char_device.hpp"
#include "host_mailbox.hpp"
#include "spiceflow/net/agent.hpp"
#include "spiceflow/net/server.hpp"

namespace spiceflow::compat {

class AgentPort final : public CharDevice {
 public:
  /// The net loop's calls arrive through `mailbox`, which outlives the port.
  AgentPort(const SpiceCoreInterface* core, HostMailbox& mailbox)
      : CharDevice(core), mailbox_(mailbox) {}

  /// net::AgentHooks that post into this port; callable from any thread.
  net::AgentHooks hooks();
  /// The server to talk to (set once after net::Server::create; null before).
  void set_server(net::Server* server) { server_ = server; }

  // ---- host thread
  /// Attaches `sin` (add_interface): state(1), clients are told, the device is read.
  void attach(SpiceCharDeviceInstance* sin);
  /// Detaches (remove_interface): pending writes are dropped, state(0), clients are told.
  void detach();
  /// Copy & paste / file transfer as configured (spice_server_set_agent_*).
  void set_filter(net::agent::FilterConfig filter);
  /// Client mouse state for the agent (agent mouse mode): VD_AGENT_MOUSE_STATE. While one
  /// is waiting to be written, a newer one replaces it.
  void mouse(uint32_t x, uint32_t y, uint32_t agent_buttons, uint8_t display_id);
  /// A QXL device's monitors (spice_qxl_set_device_info; `device` identifies it, entries of
  /// a device set again are replaced): the agent gets them in VD_AGENT_GRAPHICS_DEVICE_INFO
  /// when it announces VD_AGENT_CAP_GRAPHICS_DEVICE_INFO, when a client starts the agent,
  /// and when they change, as the reference sends them.
  void set_device_info(const void* device, std::vector<net::agent::DisplayDevice> displays);
  /// Called after every attach and detach (the caller updates the mouse mode).
  void on_attach_change(std::function<void()> cb) { on_attach_change_ = std::move(cb); }
  /// Where a client's VD_AGENT_MONITORS_CONFIG goes instead of the agent: `cb(nullptr)`
  /// at the start of each such message says whether the QXL devices take it; if so the
  /// whole message is gathered (at most kMaxMonitorsMessage bytes; the client's tokens
  /// come back at once), checked, and `cb(config)` gets it. As the reference's
  /// reds_on_main_agent_monitors_config.
  using ClientMonitorsConfig = std::function<bool(VDAgentMonitorsConfig*)>;
  void on_client_monitors_config(ClientMonitorsConfig cb) { client_monitors_ = std::move(cb); }
  /// The reference's bound: 256 monitors with their physical sizes.
  static constexpr size_t kMaxMonitors = 256;
  static constexpr size_t kMaxMonitorsMessage =
      sizeof(VDAgentMessage) + sizeof(VDAgentMonitorsConfig) +
      kMaxMonitors * (sizeof(VDAgentMonConfig) + sizeof(VDAgentMonitorMM));

 private:
  enum Tag { kClient = 0, kMouse = 1 };
  bool read_some() override;
  void to_device(const net::AgentChunk& c);
  /// A piece of a client message the QXL devices take (monitors config): true when it is
  /// one (the caller returns the token instead of writing it).
  bool take_for_qxl(const net::AgentChunk& c);
  void deliver_monitors_config();
  void handle(net::agent::ChunkReader::Piece piece);
  void fail(const std::string& why);
  void disconnect_device();
  void send_device_info();

  HostMailbox& mailbox_;
  net::Server* server_ = nullptr;
  net::agent::ChunkReader reader_;
  net::agent::MessageFilter read_filter_;
  net::agent::FilterConfig filter_;
  bool device_info_cap_ = false;  // the agent announced VD_AGENT_CAP_GRAPHICS_DEVICE_INFO
  std::vector<std::pair<const void*, std::vector<net::agent::DisplayDevice>>> devices_;
  std::function<void()> on_attach_change_;
  ClientMonitorsConfig client_monitors_;
  net::agent::MessageFilter write_track_;  // client messages' framing, to see their types
  bool to_qxl_ = false;                    // the current client message goes to the devices
  std::vector<uint8_t> monitors_msg_;      // that message so far (VDAgentMessage + body)
};

}  // namespace spiceflow::compat
