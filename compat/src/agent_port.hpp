#pragma once
// AgentPort: the guest agent's character device (the "vdagent" SpiceCharDeviceInstance:
// QEMU's -chardev spicevmc,name=vdagent, Xspice's --vdagent) wired to net's main channels,
// as the reference's RedCharDeviceVDIPort does it.
//
// Device -> clients: on spice_server_char_device_wakeup, on attach and vm start, and when
// net has room again, the port reads the device (SpiceCharDeviceInterface::read) into a
// net::agent::ChunkReader: VDP_CLIENT_PORT chunks go through the read filter (message
// framing, the capabilities the server disables) to net::Server::agent_send, at most
// net::Server::kAgentInFlight pieces ahead of the clients' sockets (beyond that the guest's
// port fills and the agent waits); VDP_SERVER_PORT chunks are dropped; any other port or a
// malformed message detaches the agent (state(0), AGENT_DISCONNECTED) until the host
// registers it again, as the reference does.
// Clients -> device: checked client chunks (net::AgentHooks::to_device) and the server's own
// messages (VD_AGENT_MOUSE_STATE in agent mouse mode, VD_AGENT_CLIENT_DISCONNECTED) are
// written in order with the host's semantics: a write may take part of a buffer or nothing,
// the rest is retried on the next wakeup, or every 100 ms when the device does not announce
// SPICE_CHAR_DEVICE_NOTIFY_WRITABLE. A client chunk's token goes back
// (net::Server::agent_consumed) once it is fully written.
//
// Threading: the device's callbacks run on the host thread that drives the port: the one
// that calls spice_server_char_device_wakeup, add/remove_interface and vm start/stop (QEMU:
// main loop or vCPU thread, big lock held), and the host main loop, which runs this port's
// watch and timer callbacks. The net loop hands data in through hooks() (a queue under
// mu_, bounded by the clients' token windows, and an eventfd the main loop watches).
#include <cstdint>
#include <deque>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <variant>
#include <vector>

#include "abi.hpp"
#include "spiceflow/core/result.hpp"
#include "spiceflow/net/agent.hpp"
#include "spiceflow/net/server.hpp"

namespace spiceflow::compat {

class AgentPort {
 public:
  /// Creates the eventfd and registers it with `core` (host main-loop thread).
  static Result<std::unique_ptr<AgentPort>> create(const SpiceCoreInterface* core);
  ~AgentPort();
  AgentPort(const AgentPort&) = delete;
  AgentPort& operator=(const AgentPort&) = delete;

  /// net::AgentHooks that post into this port; callable from any thread.
  net::AgentHooks hooks();
  /// The server to talk to (set once after net::Server::create; null before).
  void set_server(net::Server* server) { server_ = server; }

  // ---- host thread
  /// The attached device (null: none, or detached after a protocol error).
  SpiceCharDeviceInstance* device() const { return sin_; }
  bool attached() const { return sin_ != nullptr; }
  /// Attaches `sin` (add_interface): state(1), clients are told, the device is read.
  void attach(SpiceCharDeviceInstance* sin);
  /// Detaches (remove_interface): pending writes are dropped, state(0), clients are told.
  void detach();
  /// spice_server_char_device_wakeup: write what is pending, read what is there.
  void wakeup();
  /// The VM runs (spice_server_vm_start) or stops: the device is only used while it runs.
  void set_running(bool running);
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

 private:
  struct ClientsGone {};
  struct Started {};
  using Posted = std::variant<net::AgentChunk, ClientsGone, Started>;
  struct Write {
    std::vector<uint8_t> bytes;
    size_t pos = 0;
    bool mouse = false;
    std::optional<uint32_t> session;  // a client chunk: its token goes back when written
  };

  AgentPort(const SpiceCoreInterface* core, int fd) : core_(core), fd_(fd) {}
  void post(std::optional<Posted> item);
  static void on_ready(int fd, int event, void* opaque);
  static void on_timer(void* opaque);
  void drain();
  /// Writes, then reads, until neither makes progress; re-entry (a host callback that calls
  /// wakeup) is folded into the running pass.
  void pump();
  bool write_some();
  bool read_some();
  void handle(net::agent::ChunkReader::Piece piece);
  void send_device_info();
  void fail(const std::string& why);
  void disconnect_device();
  const SpiceCharDeviceInterface* sif() const;

  const SpiceCoreInterface* core_;
  int fd_ = -1;
  SpiceWatch* watch_ = nullptr;

  std::mutex mu_;
  std::deque<Posted> posted_;  // guarded by mu_; bounded by the clients' token windows

  // Host thread only.
  net::Server* server_ = nullptr;
  SpiceCharDeviceInstance* sin_ = nullptr;
  /// Counts attaches and detaches, as net counts set_agent_attached() transitions: a client
  /// chunk sent to an earlier connection of the agent is dropped.
  uint64_t generation_ = 0;
  bool running_ = false;
  SpiceTimer* timer_ = nullptr;  // write retry, for devices without NOTIFY_WRITABLE
  std::deque<Write> writes_;     // bounded: client chunks by tokens, one mouse state
  net::agent::ChunkReader reader_;
  net::agent::MessageFilter read_filter_;
  net::agent::FilterConfig filter_;
  bool device_info_cap_ = false;  // the agent announced VD_AGENT_CAP_GRAPHICS_DEVICE_INFO
  std::vector<std::pair<const void*, std::vector<net::agent::DisplayDevice>>> devices_;
  bool pumping_ = false;
  bool again_ = false;
  std::function<void()> on_attach_change_;
};

}  // namespace spiceflow::compat
