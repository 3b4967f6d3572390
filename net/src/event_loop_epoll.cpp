#include "event_loop_epoll.hpp"

#include <sys/epoll.h>

#include <array>
#include <cerrno>
#include <climits>
#include <cstring>
#include <functional>
#include <queue>
#include <utility>
#include <vector>

#include "event_loop_common.hpp"
#include "spiceflow/core/log.hpp"

namespace spiceflow::net {
namespace {

using detail::Clock;
using detail::errno_text;
using detail::UniqueFd;

/// Events taken from the kernel per epoll_wait; more simply wait for the next round.
constexpr int kMaxEventsPerWait = 256;
/// epoll_event.data of the wake eventfd. WatchIds never take this value (their generation,
/// in the high half, is never 0).
constexpr uint64_t kWakeToken = 0;
/// The heap of timer deadlines is rebuilt when cancelled entries outnumber live ones by
/// this factor, so adding and cancelling long timers cannot grow it without bound.
constexpr size_t kHeapSlack = 2;
constexpr size_t kHeapMinRebuild = 64;

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

class EpollEventLoop final : public detail::EventLoopBase {
 public:
  explicit EpollEventLoop(UniqueFd epoll_fd) : epoll_fd_(std::move(epoll_fd)) {}

  IoBackend backend() const override { return IoBackend::epoll; }

  WatchId watch(int fd, uint32_t events, std::function<void(uint32_t)> cb) override {
    const WatchId id = watches_.add(fd, events, std::move(cb));
    Watch& w = *watches_.find(id);
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
    Watch* w = watches_.set_events(id, events);
    if (w == nullptr || w->broken) return;
    epoll_event ev{};
    ev.events = to_epoll(w->events);
    ev.data.u64 = id;
    if (::epoll_ctl(epoll_fd_.get(), EPOLL_CTL_MOD, w->fd, &ev) < 0) {
      log::warn("event loop: epoll_ctl(MOD) on fd {}: {}", w->fd, std::strerror(errno));
    }
  }

  void unwatch(WatchId id) override {
    Watch* w = watches_.find(id);
    if (w == nullptr) return;
    if (w->broken) {
      --broken_count_;
      w->broken = false;
    } else {
      // Fails only if the owner already closed the fd, which removed it from the set anyway.
      ::epoll_ctl(epoll_fd_.get(), EPOLL_CTL_DEL, w->fd, nullptr);
    }
    watches_.remove(id);
  }

  void cancel_timer(TimerId id) override {
    // The heap entry stays and is skipped when it surfaces (or dropped by a rebuild).
    if (timers_.erase(id)) maybe_rebuild_heap();
  }

  Status init() {
    if (Status s = posts_.init(); !s) return s;
    epoll_event ev{};
    ev.events = EPOLLIN;
    ev.data.u64 = kWakeToken;
    if (::epoll_ctl(epoll_fd_.get(), EPOLL_CTL_ADD, posts_.fd(), &ev) < 0) {
      return make_error(errno_text("epoll_ctl(eventfd)", errno));
    }
    return Status::success();
  }

 private:
  struct Watch : detail::WatchSlot {
    bool broken = false;  ///< epoll_ctl(ADD) failed; reported as kHangup every pass
  };

  struct HeapEntry {
    Clock::time_point deadline;
    TimerId id;
    bool operator>(const HeapEntry& o) const {
      return deadline != o.deadline ? deadline > o.deadline : id > o.id;
    }
  };

  Status run_once() override {
    const int n =
        ::epoll_wait(epoll_fd_.get(), events_.data(), kMaxEventsPerWait, wait_timeout_ms());
    if (n < 0) {
      if (errno == EINTR) return Status::success();
      return make_error(errno_text("epoll_wait", errno));
    }
    for (int i = 0; i < n && !stopping(); ++i) {
      if (events_[i].data.u64 == kWakeToken) {
        posts_.drain();
      } else {
        watches_.deliver(events_[i].data.u64, from_epoll(events_[i].events));
      }
    }
    // Anything skipped here is still level-triggered or queued, so run() resumes it.
    if (!stopping()) run_timers();
    if (!stopping()) run_broken();
    if (!stopping()) run_posts();
    return Status::success();
  }

  void run_broken() {
    if (broken_count_ == 0) return;
    const size_t n = watches_.size();
    for (size_t i = 0; i < n && !stopping(); ++i) {
      const auto index = static_cast<uint32_t>(i);
      if (i < watches_.size() && watches_.slot(index).active && watches_.slot(index).broken) {
        watches_.deliver(watches_.id_at(index), kHangup);
      }
    }
  }

  TimerId schedule(Clock::duration delay, Clock::duration period,
                   std::function<void()> cb) override {
    const TimerId id = timers_.add(delay, period, std::move(cb));
    heap_.push({timers_.find(id)->deadline, id});
    return id;
  }

  bool is_stale(const HeapEntry& e) const {
    const detail::TimerSlot* t = timers_.find(e.id);
    return t == nullptr || t->deadline != e.deadline;
  }

  void maybe_rebuild_heap() {
    if (heap_.size() < kHeapMinRebuild || heap_.size() < kHeapSlack * timers_.size()) return;
    std::vector<HeapEntry> live;
    live.reserve(timers_.size());
    for (const auto& [id, t] : timers_) live.push_back({t.deadline, id});
    heap_ = decltype(heap_)(std::greater<>(), std::move(live));
  }

  int wait_timeout_ms() {
    if (posts_.has_ready() || broken_count_ > 0) return 0;
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
      if (is_stale(top)) continue;
      if (auto next = timers_.fire(top.id)) heap_.push({*next, top.id});
    }
  }

  UniqueFd epoll_fd_;

  // Loop thread only.
  std::array<epoll_event, kMaxEventsPerWait> events_{};
  detail::WatchTable<Watch> watches_;
  size_t broken_count_ = 0;
  detail::TimerTable<detail::TimerSlot> timers_;
  std::priority_queue<HeapEntry, std::vector<HeapEntry>, std::greater<>> heap_;
};

}  // namespace

Result<std::unique_ptr<EventLoop>> make_epoll_event_loop() {
  UniqueFd epoll_fd(::epoll_create1(EPOLL_CLOEXEC));
  if (epoll_fd.get() < 0) return make_error(errno_text("epoll_create1", errno));
  auto loop = std::make_unique<EpollEventLoop>(std::move(epoll_fd));
  if (Status s = loop->init(); !s) return s.error();
  return std::unique_ptr<EventLoop>(std::move(loop));
}

}  // namespace spiceflow::net
