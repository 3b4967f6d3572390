#pragma once
/// The SPICE server: listens on one TCP port per desktop, runs the link stage (ticket
/// auth), and serves the main, display, inputs and cursor channels of every connected
/// client from the engine's desktops. All sockets are driven by one EventLoop (io_uring or
/// epoll) on the thread that calls run().
#include <array>
#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include <sys/socket.h>

#include "spiceflow/core/result.hpp"
#include "spiceflow/encode/video_encoder.hpp"
#include "spiceflow/engine/engine.hpp"
#include "spiceflow/net/audio.hpp"
#include "spiceflow/net/event_loop.hpp"
#include "spiceflow/net/link.hpp"
#include "spiceflow/net/messages.hpp"
#include "spiceflow/net/tls.hpp"

namespace spiceflow::net {

class GuestStream;

/// How display images are compressed (names follow QEMU's -spice image-compression). A
/// client never receives a codec it lacks: where the choice needs a capability the client
/// did not announce (LZ4), it gets LZ. A client's DISPLAY_PREFERRED_COMPRESSION replaces
/// this for that client. An image a codec declines goes out raw (GLZ: as LZ).
enum class ImageCompression {
  automatic,  ///< "auto", "auto_lz": LZ4 when the client supports it, LZ otherwise
  lz4,        ///< LZ4 (SPICE_DISPLAY_CAP_LZ4_COMPRESSION), LZ otherwise
  quic,       ///< QUIC always (every client decodes it)
  lz,         ///< LZ_RGB always (every client decodes it)
  jpeg,       ///< JPEG always: lossy, for bandwidth tests and photo-heavy desktops
  off,        ///< raw bitmaps always
  /// "glz", "auto_glz": GLZ_RGB (every client decodes it) over the client session's
  /// dictionary, encoded per client on the event loop; images larger than the client's
  /// window go as LZ.
  glz,
};
/// Accepts auto, auto_lz, lz4, quic, lz, jpeg, off, glz, auto_glz.
Result<ImageCompression> parse_image_compression(std::string_view name);

/// Whether GLZ images are also deflated (ZLIB_GLZ_RGB, sent when smaller), as QEMU's
/// -spice zlib-glz-wan-compression: auto = only for a client on a slow (WAN) link, as the
/// reference decides it; spiceflow has no link bandwidth test yet, so every link counts as
/// LAN and auto never deflates.
enum class WanCompression { automatic, always, never };
/// Accepts auto, always, never.
Result<WanCompression> parse_wan_compression(std::string_view name);

/// A channel connection's life-cycle step, for a host that wants to know (compat/ forwards
/// these to SpiceCoreInterface::channel_event). `kind` has SPICE_CHANNEL_EVENT_*'s values.
struct ChannelEvent {
  enum Kind { connected = 1, initialized = 2, disconnected = 3 };
  Kind kind = connected;
  /// Identifies the channel connection across its events (unique while it is open).
  uint64_t channel_key = 0;
  uint32_t connection_id = 0;  ///< the session id
  uint8_t channel_type = 0;
  uint8_t channel_id = 0;
  sockaddr_storage local{};
  sockaddr_storage peer{};
  socklen_t local_len = 0;
  socklen_t peer_len = 0;
  /// The channel capabilities the client announced in its link message (compat/ gives the
  /// display clients' common ones to the guest: QXLInterface::set_client_capabilities).
  Caps channel_caps;
};

/// The monitors a guest's QXL driver laid out on a desktop's primary surface
/// (spice_qxl_monitors_config_async), for DISPLAY_MONITORS_CONFIG.
struct GuestMonitors {
  std::vector<msg::MonitorHead> heads;
  uint16_t max_allowed = 1;
};

/// A client's AGENT_DATA on its way to the host's agent device.
struct AgentChunk {
  uint32_t session = 0;       ///< the sending client's session id
  uint64_t generation = 0;    ///< which agent connection it was for (Server::agent_consumed)
  std::vector<uint8_t> data;  ///< one AGENT_DATA body, at most agent::kMaxData bytes
};

/// How the server hands the guest agent's traffic to the host that owns the agent's
/// character device (compat/: the "vdagent" char device). Called on the loop thread; they
/// must not block. Without `to_device` the server has no agent: MAIN_INIT says none and
/// agent messages are ignored.
struct AgentHooks {
  /// Client data for the device (as a VDP_CLIENT_PORT chunk), already checked: size,
  /// VDAgentMessage framing, the copy & paste / file transfer filter and the client's
  /// tokens. The host calls Server::agent_consumed() for each once it has been written to
  /// the device (or dropped): that gives the client its token back.
  std::function<void(AgentChunk)> to_device;
  /// The last client session ended while the agent was attached (the host tells the agent,
  /// VD_AGENT_CLIENT_DISCONNECTED, as the reference does).
  std::function<void()> clients_gone;
  /// Agent output in flight dropped below Server::kAgentInFlight: the host may read its
  /// device again.
  std::function<void()> room;
  /// A client started the agent (AGENT_START): the host sends the agent what it tells a
  /// new client's agent session (VD_AGENT_GRAPHICS_DEVICE_INFO), as the reference does.
  std::function<void()> started;
};

/// A spicevmc client's data on its way to the host's char device.
struct VmcChunk {
  uint8_t type = 0;            ///< the channel: SPICE_CHANNEL_PORT ...
  uint8_t id = 0;              ///< ... and its id
  uint64_t connection = 0;     ///< the client connection it came from (Server::vmc_consumed)
  std::vector<uint8_t> data;   ///< one SPICEVMC_DATA body
};

/// How the server hands spicevmc channels' traffic (compat/: "port" char devices, QEMU's
/// -chardev spiceport) to the host that owns the devices. Called on the loop thread; they
/// must not block. Without `to_device` no spicevmc channel is served.
struct VmcHooks {
  /// A client linked the channel (`connection` != 0) or left it (0): the host calls the
  /// device's state(1) / state(0).
  std::function<void(uint8_t type, uint8_t id, uint64_t connection)> client;
  /// Client data for the device. The host calls Server::vmc_consumed() for each once it is
  /// written (or dropped); past Server::kVmcWrites outstanding the channel stops reading.
  std::function<void(VmcChunk)> to_device;
  /// A client's PORT_EVENT (SPICE_PORT_EVENT_*), for SpiceCharDeviceInterface::event.
  std::function<void(uint8_t type, uint8_t id, uint8_t event)> event;
  /// `bytes` given to Server::vmc_send() left for the client's socket, or were dropped.
  std::function<void(uint8_t type, uint8_t id, size_t bytes)> sent;
};

struct ServerOptions {
  std::string addr = "127.0.0.1";
  uint16_t port = 5900;  ///< desktop i listens on port + i; 0 = no plaintext port (TLS only)
  /// The TLS port and certificate (tls.port + i for desktop i); tls.port 0 = no TLS.
  TlsOptions tls;
  TicketPolicy ticket;
  IoBackend io = IoBackend::automatic;
  ImageCompression compression = ImageCompression::automatic;
  WanCompression zlib_glz = WanCompression::automatic;
  /// Whether `auto` may send photographic tiles as JPEG (lossy), as QEMU's -spice
  /// jpeg-wan-compression: always; never (QUIC, lossless); auto = only on a WAN link, so
  /// never for now (every link counts as LAN, as for zlib_glz).
  WanCompression jpeg_wan = WanCompression::automatic;
  /// Tiles go to clients with a pixmap cache with CACHE_ME and repeats as FROM_CACHE
  /// (`--pixmap-cache`; off: every tile is sent in full, for comparisons).
  bool pixmap_cache = true;
  /// The server's video codec list (--video-codecs, spice_server_set_video_codecs), in
  /// order of preference; empty: every encoder backend in registry order. A client gets
  /// the first entry whose codec it decodes (reordered by its PREFERRED_VIDEO_CODEC_TYPE).
  std::vector<encode::VideoCodecChoice> video_codecs;
  /// A connection that has not completed the link stage by then is closed.
  std::chrono::milliseconds link_timeout{10'000};
  std::string name = "spiceflow";
  /// Client mouse mode (absolute positions) is offered. A host without an absolute pointing
  /// device (compat/: QEMU with no tablet) starts with false (server mode only) and calls
  /// Server::set_client_mouse() when one appears.
  bool client_mouse = true;
  /// The UUID sent in MAIN_UUID (a VM's, set by compat/); unset: a per-desktop default.
  std::optional<std::array<uint8_t, 16>> uuid;
  /// Called on the loop thread when a channel is linked (connected, then initialized) and
  /// when it closes (disconnected). Must not block.
  std::function<void(const ChannelEvent&)> on_channel_event;
  /// The guest agent's device (compat/); unset: no agent.
  AgentHooks agent;
  /// The host's spicevmc channels (compat/); unset: none.
  VmcHooks vmc;
};

struct ServerStats {
  uint64_t bytes_sent = 0;
  uint64_t bytes_received = 0;
  uint64_t links_ok = 0;
  uint64_t links_refused = 0;
  uint64_t display_messages = 0;
  uint64_t stream_frames = 0;          ///< STREAM_DATA(_SIZED) sent, all clients
  uint64_t stream_frames_skipped = 0;  ///< newer frames went instead (a client was behind)
};

class Server {
 public:
  /// Binds every port (set-up errors name the address and the reason).
  static Result<std::unique_ptr<Server>> create(const ServerOptions& opts,
                                                engine::Engine& engine);
  ~Server();

  IoBackend io_backend() const;
  /// Serves until stop(). Sends DISCONNECTING to every client on the way out.
  Status run();
  /// Thread-safe; makes run() return.
  void stop();
  /// Thread-safe snapshot (updated on the loop thread).
  ServerStats stats() const;
  /// Replaces the ticket policy for links authenticated from now on (established sessions
  /// are kept). Thread-safe: applied on the loop thread.
  void set_ticket(const TicketPolicy& ticket);
  /// Client sessions (main channels) connected now. Thread-safe.
  size_t session_count() const;
  /// Disconnects every client (DISCONNECTING, then close). Thread-safe.
  void disconnect_all(const std::string& reason);
  /// Offers (or withdraws) client mouse mode: every main channel switches to client mode
  /// (offered) or server mode (withdrawn) and sends MAIN_MOUSE_MODE. Thread-safe.
  void set_client_mouse(bool allowed);
  /// The guest keyboard's LEDs (SPICE_KEYBOARD_MODIFIER_FLAGS_*): sent to every inputs
  /// channel's client (INPUTS_KEY_MODIFIERS) and in later INPUTS_INIT. Thread-safe.
  void set_keyboard_leds(uint16_t leds);
  /// The guest's monitors on `desktop` (compat/: the QXL driver's monitors configuration):
  /// display clients with SPICE_DISPLAY_CAP_MONITORS_CONFIG get them now and after every
  /// primary surface. nullopt: one head covering the primary surface (the default).
  /// Thread-safe.
  void set_guest_monitors(int desktop, std::optional<GuestMonitors> monitors);
  /// Serves SPICE_CHANNEL_PLAYBACK (id 0) from `stream` from now on: it is linkable, listed
  /// in MAIN_CHANNELS_LIST (to sessions that ask after this), and its client is woken when
  /// the host changes the stream. Replacing or detaching (nullptr) closes the old stream's
  /// client. The server shares the stream; the host keeps calling it. Thread-safe.
  void set_playback(std::shared_ptr<PlaybackStream> stream);
  /// The same for SPICE_CHANNEL_RECORD.
  void set_record(std::shared_ptr<RecordStream> stream);

  /// Serves display channel `stream->channel_id()` (not 0) from the guest's own video stream
  /// (guest_stream.hpp): it is linkable and listed in MAIN_CHANNELS_LIST, also to sessions
  /// that got the list before. Replacing or detaching (nullptr) closes the old one's
  /// clients. Thread-safe.
  void set_guest_stream(std::shared_ptr<GuestStream> stream);

  /// At most this many pieces of agent output are between agent_send() and the clients'
  /// sockets; the host reads no more from its device meanwhile (the guest's port fills and
  /// the agent waits), so a slow client never makes agent data pile up here.
  static constexpr size_t kAgentInFlight = 16;
  /// The host's agent device appeared (true) or went away (false): every main channel sends
  /// AGENT_CONNECTED_TOKENS (or AGENT_CONNECTED) / AGENT_DISCONNECTED, and MAIN_INIT
  /// reports it to sessions that start later. Thread-safe.
  void set_agent_attached(bool attached);
  /// One piece of the agent's output (the data of a VDP_CLIENT_PORT chunk, at most
  /// agent::kMaxData bytes; `message_start` when it begins a VDAgentMessage) for every
  /// client that started the agent (AGENT_START); dropped when none did. Thread-safe.
  /// Returns false when kAgentInFlight pieces are now in flight: read no more until
  /// AgentHooks::room is called.
  bool agent_send(std::vector<uint8_t> piece, bool message_start);
  /// Whether agent_send() would be within kAgentInFlight now. Thread-safe.
  bool agent_has_room() const;
  /// A chunk from AgentHooks::to_device was written to the device or dropped. Thread-safe.
  void agent_consumed(uint32_t session, uint64_t generation);
  /// spice_server_set_agent_copypaste / _file_xfer: client data of the disabled kinds is
  /// dropped. Thread-safe.
  void set_agent_filter(bool copy_paste, bool file_xfer);

  /// The host reads at most this many bytes of a spicevmc device ahead of its client's
  /// socket (the reference's QUEUED_DATA_LIMIT); VmcHooks::sent gives them back.
  static constexpr size_t kVmcInFlight = 1024 * 1024;
  /// A spicevmc channel stops reading its client's socket while this many of its messages
  /// are with the host, not yet written (the reference's 128 device tokens).
  static constexpr uint32_t kVmcWrites = 128;
  /// Serves spicevmc channel `type`:`id` (SPICE_CHANNEL_PORT: `port_name` and `opened` go in
  /// PORT_INIT): CHANNELS_LIST has it, and sessions that already got the list are sent it.
  /// Thread-safe.
  void add_vmc_channel(uint8_t type, uint8_t id, std::string port_name, bool opened);
  /// Stops serving it; its client is disconnected. Thread-safe.
  void remove_vmc_channel(uint8_t type, uint8_t id);
  /// Device data for the channel's client (SPICEVMC_DATA); without a client it is dropped
  /// (VmcHooks::sent says so either way). Thread-safe.
  void vmc_send(uint8_t type, uint8_t id, std::vector<uint8_t> data);
  /// spice_server_port_event: OPENED/CLOSED are kept for PORT_INIT; every event goes to the
  /// client (PORT_EVENT). Thread-safe.
  void vmc_port_event(uint8_t type, uint8_t id, uint8_t event);
  /// A VmcHooks::to_device chunk was written or dropped. Thread-safe.
  void vmc_consumed(uint8_t type, uint8_t id, uint64_t connection);

  struct Impl;

 private:
  explicit Server(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

}  // namespace spiceflow::net
