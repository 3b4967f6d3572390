#include "event_loop_epoll.hpp"

#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include <algorithm>
#include <array>
#include <atomic>
#include <cassert>
#include <cerrno>
#include <climits>
#include <cstring>
#include <deque>
#include <functional>
#include <mutex>
#include <queue>
#include <string>
#include <unordered_map>
#include <utility>
#include <vector>

#include "spiceflow/core/log.hpp"

namespace spiceflow::net {
namespace {

using Clock = std::chrono::steady_clock;

/// Events taken from the kernel per epoll_wait; more simply wait for the next round.
constexpr int kMaxEventsPerWait = 256;
/// epoll_event.data of the wake eventfd. WatchIds never take this value (their generation,
/// in the high half, is never 0).
constexpr uint64_t kWakeToken = 0;
/// The heap of timer deadlines is rebuilt when cancelled entries outnumber live ones by
/// this factor, so adding and cancelling long timers cannot grow it without bound.
constexpr size_t kHeapSlack = 2;
constexpr size_t kHeapMinRebuild = 64;

std::string errno_text(const char* what, int err) {
  return std::string(what) + ": " + std::strerror(err);
}

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
  void reset(int fd = -1) {
    if (fd_ >= 0) ::close(fd_);
    fd_ = fd;
  }

 private:
  int fd_ = -1;
};

uint32_t to_epoll(uint32_t events) {
  // EPOLLRDHUP is always asked for so that a TCP peer's close (a FIN, which alone raises
  // neither EPOLLHUP nor EPOLLERR) reports kHangup, as io_uring's poll always does.
  uint32_t e = EPOLLRDHUP;
  if (events & kReadable) e |= EPOLLIN;
  if (events & kWritable) e |= EPOLLOUT;
  return e;
}

uint32_t from_epoll(uint32_t e) {
  uint32_t ready = 0;
  if (e & (EPOLLIN | EPOLLPRI)) ready |= kReadable;
  if (e & EPOLLOUT) ready |= kWritable;
  if (e & (EPOLLHUP | EPOLLERR | EPOLLRDHUP)) ready |= kHangup;
  return ready;
}

class EpollEventLoop final : public EventLoop {
 public:
  EpollEventLoop(UniqueFd epoll_fd, UniqueFd wake_fd)
      : epoll_fd_(std::move(epoll_fd)), wake_fd_(std::move(wake_fd)) {}

  IoBackend backend() const override { return IoBackend::epoll; }

  WatchId watch(int fd, uint32_t events, std::function<void(uint32_t)> cb) override {
    assert(cb);
    uint32_t index;
    if (free_slots_.empty()) {
      index = static_cast<uint32_t>(slots_.size());
      slots_.emplace_back();
    } else {
      index = free_slots_.back();
      free_slots_.pop_back();
    }
    Watch& w = slots_[index];
    w.fd = fd;
    w.events = events & (kReadable | kWritable);
    w.active = true;
    w.broken = false;
    w.cb = std::move(cb);
    const WatchId id = make_id(index, w.generation);

    epoll_event ev{};
    ev.events = to_epoll(w.events);
    ev.data.u64 = id;
    if (::epoll_ctl(epoll_fd_.get(), EPOLL_CTL_ADD, fd, &ev) < 0) {
      // watch() has no error path, so the owner learns of the failure the way io_uring
      // reports a bad descriptor: kHangup, for as long as the watch exists.
      log::warn("event loop: epoll refuses fd {} ({}); reporting hangup", fd,
                std::strerror(errno));
      w.broken = true;
      ++broken_count_;
    }
    return id;
  }

  void modify(WatchId id, uint32_t events) override {
    Watch* w = find(id);
    if (w == nullptr) return;
    events &= kReadable | kWritable;
    if (events == w->events) return;
    w->events = events;
    if (w->broken) return;
    epoll_event ev{};
    ev.events = to_epoll(events);
    ev.data.u64 = id;
    if (::epoll_ctl(epoll_fd_.get(), EPOLL_CTL_MOD, w->fd, &ev) < 0) {
      log::warn("event loop: epoll_ctl(MOD) on fd {}: {}", w->fd, std::strerror(errno));
    }
  }

  void unwatch(WatchId id) override {
    Watch* w = find(id);
    if (w == nullptr) return;
    if (w->broken) {
      --broken_count_;
    } else {
      // Fails only if the owner already closed the fd, which removed it from the set anyway.
      ::epoll_ctl(epoll_fd_.get(), EPOLL_CTL_DEL, w->fd, nullptr);
    }
    const uint32_t index = static_cast<uint32_t>(id & 0xffffffffu);
    // If this runs inside the watch's own callback, the callable lives in dispatch_watch's
    // local and is destroyed after it returns, not here.
    w->cb = nullptr;
    w->active = false;
    w->broken = false;
    if (++w->generation == 0) w->generation = 1;
    free_slots_.push_back(index);
  }

  TimerId add_timer(std::chrono::milliseconds delay, std::function<void()> cb) override {
    return add(std::max(delay, std::chrono::milliseconds(0)), Clock::duration::zero(),
               std::move(cb));
  }

  TimerId add_periodic(std::chrono::milliseconds period, std::function<void()> cb) override {
    // A zero period would fire on every pass and starve I/O; 1 ms is the API's resolution.
    const auto p = std::max(period, std::chrono::milliseconds(1));
    return add(p, p, std::move(cb));
  }

  void cancel_timer(TimerId id) override {
    // The heap entry stays and is skipped when it surfaces (or dropped by a rebuild).
    if (timers_.erase(id) > 0) maybe_rebuild_heap();
  }

  void post(std::function<void()> fn) override {
    bool need_wake;
    {
      std::lock_guard lock(post_mutex_);
      posted_.push_back(std::move(fn));
      need_wake = !wake_pending_;
      wake_pending_ = true;
    }
    if (need_wake) wake();
  }

  Status run() override {
    // exchange() consumes the request, so the loop can be run again after it returns.
    while (!stop_requested_.exchange(false, std::memory_order_acq_rel)) {
      const int n =
          ::epoll_wait(epoll_fd_.get(), events_.data(), kMaxEventsPerWait, wait_timeout_ms());
      if (n < 0) {
        if (errno == EINTR) continue;
        return make_error(errno_text("epoll_wait", errno));
      }
      for (int i = 0; i < n && !stopping(); ++i) {
        if (events_[i].data.u64 == kWakeToken) {
          drain_wake();
        } else {
          dispatch_watch(events_[i].data.u64, from_epoll(events_[i].events));
        }
      }
      // Anything skipped here is still level-triggered or queued, so run() resumes it.
      if (!stopping()) run_timers();
      if (!stopping()) run_broken();
      if (!stopping()) run_posts();
    }
    return Status::success();
  }

  void stop() override {
    stop_requested_.store(true, std::memory_order_release);
    wake();
  }

  Status init() {
    epoll_event ev{};
    ev.events = EPOLLIN;
    ev.data.u64 = kWakeToken;
    if (::epoll_ctl(epoll_fd_.get(), EPOLL_CTL_ADD, wake_fd_.get(), &ev) < 0) {
      return make_error(errno_text("epoll_ctl(eventfd)", errno));
    }
    return Status::success();
  }

 private:
  struct Watch {
    int fd = -1;
    uint32_t events = 0;
    uint32_t generation = 1;  ///< high half of the WatchId; bumped on unwatch
    bool active = false;
    bool broken = false;  ///< epoll_ctl(ADD) failed; reported as kHangup every pass
    std::function<void(uint32_t)> cb;
  };

  struct Timer {
    std::function<void()> cb;
    Clock::duration period;  ///< zero for one-shot
    Clock::time_point deadline;
  };

  struct HeapEntry {
    Clock::time_point deadline;
    TimerId id;
    bool operator>(const HeapEntry& o) const {
      return deadline != o.deadline ? deadline > o.deadline : id > o.id;
    }
  };

  static WatchId make_id(uint32_t index, uint32_t generation) {
    return (static_cast<uint64_t>(generation) << 32) | index;
  }

  Watch* find(WatchId id) {
    const uint64_t index = id & 0xffffffffu;
    if (index >= slots_.size()) return nullptr;
    Watch& w = slots_[index];
    if (!w.active || w.generation != static_cast<uint32_t>(id >> 32)) return nullptr;
    return &w;
  }

  bool stopping() const { return stop_requested_.load(std::memory_order_acquire); }

  void wake() {
    const uint64_t one = 1;
    // EAGAIN means the counter is saturated, which still wakes the loop.
    [[maybe_unused]] ssize_t n = ::write(wake_fd_.get(), &one, sizeof one);
  }

  void drain_wake() {
    uint64_t count;
    [[maybe_unused]] ssize_t n = ::read(wake_fd_.get(), &count, sizeof count);
    std::lock_guard lock(post_mutex_);
    for (auto& fn : posted_) ready_posts_.push_back(std::move(fn));
    posted_.clear();
    wake_pending_ = false;
  }

  void dispatch_watch(WatchId id, uint32_t ready) {
    // The id, not a pointer, is carried through: an earlier callback in this batch may have
    // removed the watch or reused its slot, and then the id no longer matches.
    Watch* w = find(id);
    if (w == nullptr) return;
    ready &= w->events | kHangup;
    if (ready == 0) return;
    // Moved out so that unwatch() from inside the callback cannot destroy the running
    // callable, and so that watch() growing slots_ cannot move it.
    auto cb = std::move(w->cb);
    cb(ready);
    if (Watch* again = find(id)) again->cb = std::move(cb);
  }

  void run_broken() {
    if (broken_count_ == 0) return;
    const size_t n = slots_.size();
    for (size_t i = 0; i < n && !stopping(); ++i) {
      if (i < slots_.size() && slots_[i].active && slots_[i].broken) {
        dispatch_watch(make_id(static_cast<uint32_t>(i), slots_[i].generation), kHangup);
      }
    }
  }

  TimerId add(Clock::duration delay, Clock::duration period, std::function<void()> cb) {
    assert(cb);
    const TimerId id = next_timer_id_++;
    const auto deadline = Clock::now() + delay;
    timers_.emplace(id, Timer{std::move(cb), period, deadline});
    heap_.push({deadline, id});
    return id;
  }

  bool is_stale(const HeapEntry& e) const {
    auto it = timers_.find(e.id);
    return it == timers_.end() || it->second.deadline != e.deadline;
  }

  void maybe_rebuild_heap() {
    if (heap_.size() < kHeapMinRebuild || heap_.size() < kHeapSlack * timers_.size()) return;
    std::vector<HeapEntry> live;
    live.reserve(timers_.size());
    for (const auto& [id, t] : timers_) live.push_back({t.deadline, id});
    heap_ = decltype(heap_)(std::greater<>(), std::move(live));
  }

  int wait_timeout_ms() {
    if (!ready_posts_.empty() || broken_count_ > 0) return 0;
    while (!heap_.empty() && is_stale(heap_.top())) heap_.pop();
    if (heap_.empty()) return -1;
    const auto left = heap_.top().deadline - Clock::now();
    if (left <= Clock::duration::zero()) return 0;
    // Rounded up: waking a little early would only spin until the deadline.
    const auto ms = std::chrono::ceil<std::chrono::milliseconds>(left).count();
    return ms > INT_MAX ? INT_MAX : static_cast<int>(ms);
  }

  void run_timers() {
    const auto now = Clock::now();
    while (!heap_.empty() && !stopping()) {
      const HeapEntry top = heap_.top();
      if (top.deadline > now) break;
      heap_.pop();
      auto it = timers_.find(top.id);
      if (it == timers_.end() || it->second.deadline != top.deadline) continue;
      // Moved out for the same reason as in dispatch_watch: cancel_timer() from inside.
      auto cb = std::move(it->second.cb);
      const auto period = it->second.period;
      if (period == Clock::duration::zero()) {
        timers_.erase(it);
        cb();
        continue;
      }
      cb();
      auto again = timers_.find(top.id);
      if (again == timers_.end()) continue;
      // Keeps the phase (no drift) unless the loop fell a whole period behind; then it
      // skips the missed ticks rather than firing them back to back.
      auto next = top.deadline + period;
      if (next <= now) next = now + period;
      again->second.cb = std::move(cb);
      again->second.deadline = next;
      heap_.push({next, top.id});
    }
  }

  void run_posts() {
    while (!ready_posts_.empty() && !stopping()) {
      auto fn = std::move(ready_posts_.front());
      ready_posts_.pop_front();
      fn();
    }
  }

  UniqueFd epoll_fd_;
  UniqueFd wake_fd_;  // eventfd: written by post()/stop() from any thread

  // Loop thread only.
  std::array<epoll_event, kMaxEventsPerWait> events_{};
  std::vector<Watch> slots_;
  std::vector<uint32_t> free_slots_;
  size_t broken_count_ = 0;
  std::unordered_map<TimerId, Timer> timers_;
  std::priority_queue<HeapEntry, std::vector<HeapEntry>, std::greater<>> heap_;
  TimerId next_timer_id_ = 1;
  std::deque<std::function<void()>> ready_posts_;  // taken from posted_, run in order

  std::atomic<bool> stop_requested_{false};  // any thread

  std::mutex post_mutex_;
  std::vector<std::function<void()>> posted_;  // guarded by post_mutex_
  bool wake_pending_ = false;  // guarded by post_mutex_: wake_fd_ written, not yet drained
};

}  // namespace

Result<std::unique_ptr<EventLoop>> make_epoll_event_loop() {
  UniqueFd epoll_fd(::epoll_create1(EPOLL_CLOEXEC));
  if (epoll_fd.get() < 0) return make_error(errno_text("epoll_create1", errno));
  UniqueFd wake_fd(::eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK));
  if (wake_fd.get() < 0) return make_error(errno_text("eventfd", errno));
  auto loop = std::make_unique<EpollEventLoop>(std::move(epoll_fd), std::move(wake_fd));
  if (Status s = loop->init(); !s) return s.error();
  return std::unique_ptr<EventLoop>(std::move(loop));
}

}  // namespace spiceflow::net
