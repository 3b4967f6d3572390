#pragma once
/// A byte relay between spice-client-glib's end of a socket pair and the server's TCP
/// socket, on its own thread, showing every byte to a DisplayWireWatcher. It forwards as
/// soon as bytes arrive (poll, then read and write without waiting for more), so the
/// client sees the server's messages one local hop later. Buffers are bounded: a side
/// that does not read stops the other side from being read.
#include <atomic>
#include <mutex>
#include <thread>

#include "wire.hpp"

namespace spiceflow::meter {

class Relay {
 public:
  /// Takes ownership of both sockets. `client_fd` is the relay's end of the pair whose
  /// other end the client uses; `server_fd` is connected to the server.
  Relay(int client_fd, int server_fd);
  ~Relay();
  Relay(const Relay&) = delete;
  Relay& operator=(const Relay&) = delete;

  /// Stops the thread and closes both sockets (idempotent).
  void stop();
  /// A copy of what the watcher saw so far (taken under the relay's lock).
  DisplayWireWatcher snapshot() const;

 private:
  void run();

  int client_fd_;
  int server_fd_;
  int wake_[2] = {-1, -1};
  mutable std::mutex mutex_;
  DisplayWireWatcher watcher_;  // guarded by mutex_
  std::thread thread_;
  std::atomic<bool> stopped_{false};
};

}  // namespace spiceflow::meter
