#include "event_loop_common.hpp"

#include <sys/eventfd.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>

namespace spiceflow::net::detail {

std::string errno_text(const char* what, int err) {
  return std::string(what) + ": " + std::strerror(err);
}

void UniqueFd::reset(int fd) {
  if (fd_ >= 0) ::close(fd_);
  fd_ = fd;
}

Status PostQueue::init() {
  wake_fd_.reset(::eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK));
  if (wake_fd_.get() < 0) return make_error(errno_text("eventfd", errno));
  return Status::success();
}

void PostQueue::push(std::function<void()> fn) {
  bool need_wake;
  {
    std::lock_guard lock(mutex_);
    posted_.push_back(std::move(fn));
    need_wake = !wake_pending_;
    wake_pending_ = true;
  }
  if (need_wake) wake();
}

void PostQueue::wake() {
  const uint64_t one = 1;
  // EAGAIN means the counter is saturated, which still wakes the loop.
  [[maybe_unused]] ssize_t n = ::write(wake_fd_.get(), &one, sizeof one);
}

void PostQueue::drain() {
  uint64_t count;
  [[maybe_unused]] ssize_t n = ::read(wake_fd_.get(), &count, sizeof count);
  std::lock_guard lock(mutex_);
  for (auto& fn : posted_) ready_.push_back(std::move(fn));
  posted_.clear();
  wake_pending_ = false;
}

TimerId EventLoopBase::add_timer(std::chrono::milliseconds delay, std::function<void()> cb) {
  return schedule(std::max(delay, std::chrono::milliseconds(0)), Clock::duration::zero(),
                  std::move(cb));
}

TimerId EventLoopBase::add_periodic(std::chrono::milliseconds period,
                                    std::function<void()> cb) {
  // A zero period would fire on every pass and starve I/O; 1 ms is the API's resolution.
  const auto p = std::max(period, std::chrono::milliseconds(1));
  return schedule(p, p, std::move(cb));
}

Status EventLoopBase::run() {
  // exchange() consumes the request, so the loop can be run again after it returns.
  while (!stop_requested_.exchange(false, std::memory_order_acq_rel)) {
    if (Status s = run_once(); !s) return s;
  }
  return Status::success();
}

void EventLoopBase::stop() {
  stop_requested_.store(true, std::memory_order_release);
  posts_.wake();
}

}  // namespace spiceflow::net::detail
