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

/// How display images are compressed (names follow QEMU's -spice image-compression).
enum class ImageCompression {
  automatic,  ///< LZ4 when the client supports it, raw bitmaps otherwise
  lz4,        ///< same as automatic today (LZ4 is the only codec so far)
  off,        ///< raw bitmaps always
};
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

  struct Impl;

 private:
  explicit Server(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

}  // namespace spiceflow::net
