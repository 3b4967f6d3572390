#pragma once
/// Private to spiceflow::net: what the epoll and io_uring backends of EventLoop share, so
/// that each backend file holds only what its kernel interface makes different.
///   EventLoopBase  the run()/stop() skeleton, post() and the timer clamping of the API
///   PostQueue      the cross-thread queue behind post(), with the eventfd that wakes a loop
///   WatchTable     watch slots and their generation-tagged WatchIds
///   TimerTable     live timers by TimerId and the firing of one (one-shot or periodic)
/// Threading is that of EventLoop: everything here is loop-thread only unless it says so.
#include <atomic>
#include <cassert>
#include <chrono>
#include <cstdint>
#include <deque>
#include <functional>
#include <mutex>
#include <optional>
#include <string>
#include <unordered_map>
#include <utility>
#include <vector>

#include "spiceflow/core/result.hpp"
#include "spiceflow/net/event_loop.hpp"

namespace spiceflow::net::detail {

using Clock = std::chrono::steady_clock;

/// "what: strerror(err)".
std::string errno_text(const char* what, int err);

/// Owns one file descriptor.
class UniqueFd {
 public:
  UniqueFd() = default;
  explicit UniqueFd(int fd) : fd_(fd) {}
  UniqueFd(UniqueFd&& other) noexcept : fd_(std::exchange(other.fd_, -1)) {}
  UniqueFd& operator=(UniqueFd&& other) noexcept {
    if (this != &other) reset(std::exchange(other.fd_, -1));
    return *this;
  }
  UniqueFd(const UniqueFd&) = delete;
  UniqueFd& operator=(const UniqueFd&) = delete;
  ~UniqueFd() { reset(); }

  int get() const { return fd_; }
  void reset(int fd = -1);

 private:
  int fd_ = -1;
};

/// The queue behind post(): callables pushed from any thread, run in order on the loop
/// thread. Its eventfd is what the backend waits on (epoll_wait or a ring poll) to learn of
/// new posts and of stop().
class PostQueue {
 public:
  /// Creates the eventfd; fails only on descriptor exhaustion.
  Status init();
  /// The eventfd, for the backend to wait on; readable after wake().
  int fd() const { return wake_fd_.get(); }

  /// Queues `fn` and wakes the loop unless a wake is already pending. Any thread.
  void push(std::function<void()> fn);
  /// Makes the eventfd readable. Any thread.
  void wake();
  /// Called when the eventfd is readable: resets it and moves the pushed callables to the
  /// ready list.
  void drain();

  bool has_ready() const { return !ready_.empty(); }
  /// Runs ready callables in order while `stopping()` is false; the rest wait for the next
  /// call.
  template <typename Stopping>
  void run_ready(Stopping stopping) {
    while (!ready_.empty() && !stopping()) {
      auto fn = std::move(ready_.front());
      ready_.pop_front();
      fn();
    }
  }

 private:
  UniqueFd wake_fd_;  // eventfd: written by push()/wake() from any thread

  std::deque<std::function<void()>> ready_;  // loop thread only: taken from posted_

  std::mutex mutex_;
  std::vector<std::function<void()>> posted_;  // guarded by mutex_
  bool wake_pending_ = false;  // guarded by mutex_: wake_fd_ written, not yet drained
};

/// What a backend's watch slot holds at least; a backend derives its own slot from it.
struct WatchSlot {
  int fd = -1;
  uint32_t events = 0;      ///< kReadable|kWritable
  uint32_t generation = 1;  ///< high half of the WatchId; bumped on remove, never 0
  bool active = false;
  std::function<void(uint32_t)> cb;
};

/// Watch slots indexed by the low half of a WatchId; the high half is the slot's generation,
/// so the id of a removed watch stops matching once its slot is reused. Generations are
/// never 0, so no WatchId is 0 (a backend may use 0 as a token of its own).
template <typename Slot>
class WatchTable {
 public:
  static constexpr uint32_t kInterest = kReadable | kWritable;

  static uint32_t index_of(WatchId id) { return static_cast<uint32_t>(id & 0xffffffffu); }

  /// Takes a free slot (or a new one) for `fd` and returns the watch's id.
  WatchId add(int fd, uint32_t events, std::function<void(uint32_t)> cb) {
    assert(cb);
    uint32_t index;
    if (free_.empty()) {
      index = static_cast<uint32_t>(slots_.size());
      slots_.emplace_back();
    } else {
      index = free_.back();
      free_.pop_back();
    }
    Slot& w = slots_[index];
    w.fd = fd;
    w.events = events & kInterest;
    w.active = true;
    w.cb = std::move(cb);
    return id_at(index);
  }

  /// The live watch `id` names, or nullptr if it was removed (or never existed).
  Slot* find(WatchId id) {
    const uint32_t index = index_of(id);
    if (index >= slots_.size()) return nullptr;
    Slot& w = slots_[index];
    if (!w.active || w.generation != static_cast<uint32_t>(id >> 32)) return nullptr;
    return &w;
  }

  /// Sets the interest of watch `id`; returns it when the interest changed, else nullptr.
  Slot* set_events(WatchId id, uint32_t events) {
    Slot* w = find(id);
    if (w == nullptr) return nullptr;
    events &= kInterest;
    if (events == w->events) return nullptr;
    w->events = events;
    return w;
  }

  /// Frees the slot of live watch `id`; the id never matches again.
  void remove(WatchId id) {
    Slot* w = find(id);
    assert(w != nullptr);
    // If this runs inside the watch's own callback, the callable lives in deliver()'s local
    // and is destroyed after it returns, not here.
    w->cb = nullptr;
    w->active = false;
    if (++w->generation == 0) w->generation = 1;
    free_.push_back(index_of(id));
  }

  /// Calls the callback of watch `id` with `ready` limited to its interest and kHangup,
  /// unless nothing is left of it. Returns whether the watch still exists afterwards.
  bool deliver(WatchId id, uint32_t ready) {
    // The id, not a pointer, is carried through: an earlier callback in this batch may have
    // removed the watch or reused its slot, and then the id no longer matches.
    Slot* w = find(id);
    if (w == nullptr) return false;
    ready &= w->events | kHangup;
    if (ready == 0) return true;
    // Moved out so that unwatch() from inside the callback cannot destroy the running
    // callable, and so that watch() growing the slots cannot move it.
    auto cb = std::move(w->cb);
    cb(ready);
    Slot* again = find(id);
    if (again == nullptr) return false;
    again->cb = std::move(cb);
    return true;
  }

  size_t size() const { return slots_.size(); }
  Slot& slot(uint32_t index) { return slots_[index]; }
  WatchId id_at(uint32_t index) const {
    return (static_cast<uint64_t>(slots_[index].generation) << 32) | index;
  }

 private:
  std::vector<Slot> slots_;
  std::vector<uint32_t> free_;
};

/// What a backend's timer holds at least; a backend derives its own timer from it.
struct TimerSlot {
  std::function<void()> cb;
  Clock::duration period{};  ///< zero for one-shot
  Clock::time_point deadline;
};

/// Live timers by id. Ids count up from 1 and are never reused, so a cancelled timer's id
/// never matches another timer.
template <typename Timer>
class TimerTable {
 public:
  using Map = std::unordered_map<TimerId, Timer>;

  /// Adds a timer due `delay` from now; its deadline is in find(id)->deadline.
  TimerId add(Clock::duration delay, Clock::duration period, std::function<void()> cb) {
    assert(cb);
    const TimerId id = next_id_++;
    Timer& t = timers_[id];
    t.cb = std::move(cb);
    t.period = period;
    t.deadline = Clock::now() + delay;
    return id;
  }

  Timer* find(TimerId id) {
    auto it = timers_.find(id);
    return it == timers_.end() ? nullptr : &it->second;
  }
  const Timer* find(TimerId id) const {
    auto it = timers_.find(id);
    return it == timers_.end() ? nullptr : &it->second;
  }
  /// Forgets timer `id`; returns whether it was live.
  bool erase(TimerId id) { return timers_.erase(id) > 0; }

  /// Runs the callback of live timer `id`, which is due. A one-shot timer is forgotten
  /// first. A periodic one gets its next deadline, returned for the backend to schedule,
  /// unless its callback cancelled it.
  std::optional<Clock::time_point> fire(TimerId id) {
    auto it = timers_.find(id);
    assert(it != timers_.end());
    // Moved out for the same reason as in WatchTable::deliver: cancel_timer() from inside.
    auto cb = std::move(it->second.cb);
    const auto period = it->second.period;
    const auto deadline = it->second.deadline;
    if (period == Clock::duration::zero()) {
      timers_.erase(it);
      cb();
      return std::nullopt;
    }
    cb();
    auto again = timers_.find(id);
    if (again == timers_.end()) return std::nullopt;
    // Keeps the phase (no drift) unless the loop fell a whole period behind; then it skips
    // the missed ticks rather than firing them back to back.
    const auto now = Clock::now();
    auto next = deadline + period;
    if (next <= now) next = now + period;
    again->second.cb = std::move(cb);
    again->second.deadline = next;
    return next;
  }

  size_t size() const { return timers_.size(); }
  typename Map::const_iterator begin() const { return timers_.begin(); }
  typename Map::const_iterator end() const { return timers_.end(); }

 private:
  Map timers_;
  TimerId next_id_ = 1;
};

/// The part of EventLoop both backends implement alike: run() repeats the backend's
/// run_once() until stop(); post() goes through a PostQueue whose eventfd the backend
/// waits on; add_timer()/add_periodic() clamp their argument and call schedule().
class EventLoopBase : public EventLoop {
 public:
  TimerId add_timer(std::chrono::milliseconds delay, std::function<void()> cb) final;
  TimerId add_periodic(std::chrono::milliseconds period, std::function<void()> cb) final;
  void post(std::function<void()> fn) final { posts_.push(std::move(fn)); }
  Status run() final;
  void stop() final;

 protected:
  /// Waits for the kernel once and runs what became due, ending with run_posts(). Returns
  /// an error only when the backend fails; run() then returns it.
  virtual Status run_once() = 0;
  /// Adds a timer (period zero for one-shot) and returns its id.
  virtual TimerId schedule(Clock::duration delay, Clock::duration period,
                           std::function<void()> cb) = 0;

  /// Whether stop() was called; callbacks still pending then wait for the next run().
  bool stopping() const { return stop_requested_.load(std::memory_order_acquire); }
  void run_posts() {
    posts_.run_ready([this] { return stopping(); });
  }

  // In the base so that a backend's members (an io_uring polling its eventfd) are torn down
  // before it.
  PostQueue posts_;

 private:
  std::atomic<bool> stop_requested_{false};  // any thread
};

}  // namespace spiceflow::net::detail
