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

#include <sys/socket.h>

#include "spiceflow/core/result.hpp"
#include "spiceflow/engine/engine.hpp"
#include "spiceflow/net/event_loop.hpp"
#include "spiceflow/net/link.hpp"

namespace spiceflow::net {

/// How display images are compressed (names follow QEMU's -spice image-compression). A
/// client never receives a codec it lacks: where the choice needs a capability the client
/// did not announce (LZ4), it gets LZ. A client's DISPLAY_PREFERRED_COMPRESSION replaces
/// this for that client. An image a codec declines goes out raw.
enum class ImageCompression {
  automatic,  ///< "auto", "auto_lz": LZ4 when the client supports it, LZ otherwise
  lz4,        ///< LZ4 (SPICE_DISPLAY_CAP_LZ4_COMPRESSION), LZ otherwise
  quic,       ///< QUIC always (every client decodes it)
  lz,         ///< LZ_RGB always (every client decodes it)
  jpeg,       ///< JPEG always: lossy, for bandwidth tests and photo-heavy desktops
  off,        ///< raw bitmaps always
};
/// Accepts auto, auto_lz, lz4, quic, lz, jpeg, off; auto_glz and glz name codecs that are
/// not implemented yet and are refused with an error saying so.
Result<ImageCompression> parse_image_compression(std::string_view name);

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
};

struct ServerOptions {
  std::string addr = "127.0.0.1";
  uint16_t port = 5900;  ///< desktop i listens on port + i
  TicketPolicy ticket;
  IoBackend io = IoBackend::automatic;
  ImageCompression compression = ImageCompression::automatic;
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
};

struct ServerStats {
  uint64_t bytes_sent = 0;
  uint64_t bytes_received = 0;
  uint64_t links_ok = 0;
  uint64_t links_refused = 0;
  uint64_t display_messages = 0;
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
  /// Offers (or withdraws) client mouse mode: every main channel switches to client mode
  /// (offered) or server mode (withdrawn) and sends MAIN_MOUSE_MODE. Thread-safe.
  void set_client_mouse(bool allowed);
  /// The guest keyboard's LEDs (SPICE_KEYBOARD_MODIFIER_FLAGS_*): sent to every inputs
  /// channel's client (INPUTS_KEY_MODIFIERS) and in later INPUTS_INIT. Thread-safe.
  void set_keyboard_leds(uint16_t leds);

  struct Impl;

 private:
  explicit Server(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

}  // namespace spiceflow::net
