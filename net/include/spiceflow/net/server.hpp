#pragma once
/// The SPICE server: listens on one TCP port per desktop, runs the link stage (ticket
/// auth), and serves the main, display, inputs and cursor channels of every connected
/// client from the engine's desktops. All sockets are driven by one EventLoop (io_uring or
/// epoll) on the thread that calls run().
#include <chrono>
#include <cstdint>
#include <memory>
#include <string>

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

struct ServerOptions {
  std::string addr = "127.0.0.1";
  uint16_t port = 5900;  ///< desktop i listens on port + i
  TicketPolicy ticket;
  IoBackend io = IoBackend::automatic;
  ImageCompression compression = ImageCompression::automatic;
  /// A connection that has not completed the link stage by then is closed.
  std::chrono::milliseconds link_timeout{10'000};
  std::string name = "spiceflow";
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

  struct Impl;

 private:
  explicit Server(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

}  // namespace spiceflow::net
