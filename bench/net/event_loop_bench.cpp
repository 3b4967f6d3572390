// EventLoop costs per backend: a cross-thread post() round trip (eventfd wake-up included)
// and a one-byte socketpair ping-pong answered by a watch callback. The io_uring variants
// report an error where the probe says io_uring is blocked.
#include <benchmark/benchmark.h>
#include <fcntl.h>
#include <sys/socket.h>
#include <unistd.h>

#include <atomic>
#include <memory>
#include <string>
#include <thread>

#include "spiceflow/net/event_loop.hpp"

namespace spiceflow::net {
namespace {

std::unique_ptr<EventLoop> make_or_skip(benchmark::State& state, IoBackend backend) {
  auto made = make_event_loop(backend);
  if (!made.ok()) {
    state.SkipWithError(made.error().message.c_str());
    return nullptr;
  }
  return std::move(made).value();
}

/// Runs `loop` on its own thread for the benchmark's lifetime.
class LoopThread {
 public:
  explicit LoopThread(EventLoop& loop) : loop_(loop), thread_([this] { (void)loop_.run(); }) {}
  ~LoopThread() {
    loop_.stop();
    thread_.join();
  }

 private:
  EventLoop& loop_;
  std::thread thread_;
};

void post_round_trip(benchmark::State& state, IoBackend backend) {
  auto loop = make_or_skip(state, backend);
  if (!loop) return;
  LoopThread runner(*loop);
  std::atomic<uint64_t> done{0};
  uint64_t sent = 0;
  for (auto _ : state) {
    ++sent;
    loop->post([&done] {
      done.fetch_add(1, std::memory_order_release);
      done.notify_one();
    });
    for (uint64_t seen; (seen = done.load(std::memory_order_acquire)) < sent;) {
      done.wait(seen, std::memory_order_acquire);
    }
  }
}

void socket_ping_pong(benchmark::State& state, IoBackend backend) {
  auto loop = make_or_skip(state, backend);
  if (!loop) return;
  int fds[2];
  if (::socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, fds) != 0) {
    state.SkipWithError("socketpair failed");
    return;
  }
  // The loop's end is non-blocking; the benchmark's end blocks on the echo.
  ::fcntl(fds[0], F_SETFL, ::fcntl(fds[0], F_GETFL) | O_NONBLOCK);
  const int served = fds[0];
  const WatchId id = loop->watch(served, kReadable, [served](uint32_t) {
    char buf[64];
    const ssize_t n = ::read(served, buf, sizeof buf);
    if (n > 0) (void)!::write(served, buf, static_cast<size_t>(n));
  });
  {
    LoopThread runner(*loop);
    for (auto _ : state) {
      char c = 'x';
      if (::write(fds[1], &c, 1) != 1 || ::read(fds[1], &c, 1) != 1) {
        state.SkipWithError("ping-pong I/O failed");
        break;
      }
    }
  }
  loop->unwatch(id);
  ::close(fds[0]);
  ::close(fds[1]);
}

BENCHMARK_CAPTURE(post_round_trip, uring, IoBackend::uring)->UseRealTime();
BENCHMARK_CAPTURE(post_round_trip, epoll, IoBackend::epoll)->UseRealTime();
BENCHMARK_CAPTURE(socket_ping_pong, uring, IoBackend::uring)->UseRealTime();
BENCHMARK_CAPTURE(socket_ping_pong, epoll, IoBackend::epoll)->UseRealTime();

}  // namespace
}  // namespace spiceflow::net
