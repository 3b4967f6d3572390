#pragma once
/// The event loop that drives every socket of a server: readiness callbacks for file
/// descriptors, one-shot and periodic timers, and cross-thread `post`. Two backends behind
/// this one interface: io_uring (liburing, IORING_OP_POLL_ADD and timeouts) and epoll
/// (epoll + timerfd + eventfd). `make_event_loop` picks one by probing; the CPU-only path
/// (epoll) is always available.
///
/// Threading: one loop runs on the thread that calls run(). Every method except post() and
/// stop() must be called from that thread (or before run() starts). post() and stop() are
/// safe from any thread. Callbacks run on the loop thread, one at a time.
#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <string_view>

#include "spiceflow/core/result.hpp"

namespace spiceflow::net {

enum class IoBackend { automatic, uring, epoll };

/// Parses "auto", "uring", "epoll".
Result<IoBackend> parse_io_backend(std::string_view name);
std::string_view to_string(IoBackend b);

/// Readiness bits passed to watchers.
enum : uint32_t {
  kReadable = 1u << 0,
  kWritable = 1u << 1,
  kHangup = 1u << 2,  ///< peer closed or error (POLLHUP/POLLERR); always reported
};

using WatchId = uint64_t;
using TimerId = uint64_t;

class EventLoop {
 public:
  virtual ~EventLoop() = default;

  /// The backend actually in use (never `automatic`).
  virtual IoBackend backend() const = 0;

  /// Watches `fd` (which the caller owns and keeps open until unwatch) for `events`
  /// (kReadable|kWritable). The callback gets the ready bits; it is level-triggered: it
  /// is called again while the condition holds. Returns an id for modify/unwatch.
  virtual WatchId watch(int fd, uint32_t events, std::function<void(uint32_t ready)> cb) = 0;
  /// Changes the interest set of a watch (e.g. add kWritable while output is queued).
  virtual void modify(WatchId id, uint32_t events) = 0;
  /// Stops watching; safe to call from inside that watch's own callback. After it returns
  /// the callback is never called again.
  virtual void unwatch(WatchId id) = 0;

  /// Calls `cb` once after `delay`. Safe to cancel from inside any callback.
  virtual TimerId add_timer(std::chrono::milliseconds delay, std::function<void()> cb) = 0;
  /// Calls `cb` every `period` until cancelled.
  virtual TimerId add_periodic(std::chrono::milliseconds period, std::function<void()> cb) = 0;
  virtual void cancel_timer(TimerId id) = 0;

  /// Runs `fn` on the loop thread soon. Thread-safe; wakes the loop.
  virtual void post(std::function<void()> fn) = 0;

  /// Runs until stop() is called. Returns an error only if the backend fails.
  virtual Status run() = 0;
  /// Makes run() return after the current callback. Thread-safe.
  virtual void stop() = 0;
};

/// Whether io_uring can be used here (it may be compiled in but blocked, e.g. by a
/// container's seccomp policy). `why` gets the reason when it cannot.
bool io_uring_available(std::string* why = nullptr);

/// Creates a loop on the requested backend. `automatic` tries io_uring first and falls
/// back to epoll, logging which was chosen and why. An explicit `uring` that is
/// unavailable is an error.
Result<std::unique_ptr<EventLoop>> make_event_loop(IoBackend requested);

}  // namespace spiceflow::net
