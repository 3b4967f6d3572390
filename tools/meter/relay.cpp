#include "relay.hpp"

#include <fcntl.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <stdexcept>
#include <vector>

namespace spiceflow::meter {
namespace {

constexpr size_t kChunk = 256 * 1024;

// One direction: bytes read from `from` wait in `pending` until `to` takes them.
struct Pipe {
  int from;
  int to;
  std::vector<uint8_t> pending;
  size_t offset = 0;
  bool eof = false;
  bool empty() const { return offset == pending.size(); }
};

}  // namespace

Relay::Relay(int client_fd, int server_fd) : client_fd_(client_fd), server_fd_(server_fd) {
  if (pipe2(wake_, O_CLOEXEC) != 0) {
    ::close(client_fd_);
    ::close(server_fd_);
    throw std::runtime_error("pipe2 failed");
  }
  thread_ = std::thread([this] { run(); });
}

Relay::~Relay() { stop(); }

void Relay::stop() {
  if (stopped_.exchange(true)) return;
  const char b = 1;
  [[maybe_unused]] auto n = ::write(wake_[1], &b, 1);
  thread_.join();
  ::close(wake_[0]);
  ::close(wake_[1]);
  ::close(client_fd_);
  ::close(server_fd_);
}

DisplayWireWatcher Relay::snapshot() const {
  std::lock_guard lock(mutex_);
  return watcher_;
}

void Relay::run() {
  Pipe up{client_fd_, server_fd_, {}};
  Pipe down{server_fd_, client_fd_, {}};
  std::vector<uint8_t> chunk(kChunk);
  for (;;) {
    // Read a side only when what it sent before is gone; write a side while bytes wait.
    pollfd fds[3] = {{wake_[0], POLLIN, 0}, {client_fd_, 0, 0}, {server_fd_, 0, 0}};
    for (Pipe* p : {&up, &down}) {
      pollfd& from = fds[p->from == client_fd_ ? 1 : 2];
      pollfd& to = fds[p->to == client_fd_ ? 1 : 2];
      if (p->empty() && !p->eof) from.events |= POLLIN;
      if (!p->empty()) to.events |= POLLOUT;
    }
    if (::poll(fds, 3, -1) < 0) {
      if (errno == EINTR) continue;
      return;
    }
    if (fds[0].revents) return;
    for (Pipe* p : {&up, &down}) {
      const pollfd& from = fds[p->from == client_fd_ ? 1 : 2];
      const pollfd& to = fds[p->to == client_fd_ ? 1 : 2];
      if (p->empty() && !p->eof && (from.revents & (POLLIN | POLLHUP | POLLERR))) {
        const ssize_t n = ::read(p->from, chunk.data(), chunk.size());
        if (n < 0 && (errno == EINTR || errno == EAGAIN)) continue;
        if (n <= 0) {
          p->eof = true;
          ::shutdown(p->to, SHUT_WR);
          continue;
        }
        {
          std::lock_guard lock(mutex_);
          const std::span<const uint8_t> bytes(chunk.data(), size_t(n));
          if (p == &up) {
            watcher_.client_bytes(bytes);
          } else {
            watcher_.server_bytes(bytes);
          }
        }
        p->pending.assign(chunk.begin(), chunk.begin() + n);
        p->offset = 0;
        // Forward at once; what does not fit waits for POLLOUT.
        const ssize_t w = ::send(p->to, p->pending.data(), p->pending.size(), MSG_NOSIGNAL | MSG_DONTWAIT);
        if (w > 0) p->offset = size_t(w);
      } else if (!p->empty() && (to.revents & (POLLOUT | POLLERR | POLLHUP))) {
        const ssize_t w = ::send(p->to, p->pending.data() + p->offset, p->pending.size() - p->offset,
                                 MSG_NOSIGNAL | MSG_DONTWAIT);
        if (w < 0 && (errno == EINTR || errno == EAGAIN)) continue;
        if (w <= 0) return;  // the receiving side is gone
        p->offset += size_t(w);
      }
    }
    if (up.eof && down.eof && up.empty() && down.empty()) return;
  }
}

}  // namespace spiceflow::meter
