#include "core_loop.hpp"

#include <poll.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <ctime>

// The opaque handles of spice-core.h, defined by the host.
struct SpiceTimer {
  SpiceTimerFunc func;
  void* opaque;
  int64_t deadline_ms = 0;
  bool armed = false;
  bool removed = false;
  uint64_t seq = 0;  // bumped by start/cancel: a collected expiry is stale once it changed
};

struct SpiceWatch {
  int fd;
  int mask;
  SpiceWatchFunc func;
  void* opaque;
  bool removed = false;
};

namespace spiceflow::player {

namespace {

CoreLoop* g_loop = nullptr;  // the one live loop (see the constructor's comment)

}  // namespace

int64_t monotonic_ms() {
  timespec ts{};
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return int64_t(ts.tv_sec) * 1000 + ts.tv_nsec / 1000000;
}

CoreLoop::CoreLoop() {
  if (g_loop) {
    std::fprintf(stderr, "CoreLoop: only one loop may exist\n");
    std::abort();
  }
  g_loop = this;
  wake_fd_ = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
  if (wake_fd_ < 0) {
    std::perror("eventfd");
    std::abort();
  }
  iface_.base.type = SPICE_INTERFACE_CORE;
  iface_.base.description = "spiceflow-qxl-player main loop";
  iface_.base.major_version = SPICE_INTERFACE_CORE_MAJOR;
  iface_.base.minor_version = SPICE_INTERFACE_CORE_MINOR;
  iface_.timer_add = &CoreLoop::timer_add;
  iface_.timer_start = &CoreLoop::timer_start;
  iface_.timer_cancel = &CoreLoop::timer_cancel;
  iface_.timer_remove = &CoreLoop::timer_remove;
  iface_.watch_add = &CoreLoop::watch_add;
  iface_.watch_update_mask = &CoreLoop::watch_update_mask;
  iface_.watch_remove = &CoreLoop::watch_remove;
  iface_.channel_event = &CoreLoop::channel_event;
}

CoreLoop::~CoreLoop() {
  ::close(wake_fd_);
  g_loop = nullptr;
}

void CoreLoop::wake() {
  uint64_t one = 1;
  [[maybe_unused]] auto n = ::write(wake_fd_, &one, sizeof one);
}

void CoreLoop::add_fd(int fd, std::function<void()> on_readable) {
  fds_.push_back(Fd{fd, std::move(on_readable)});
}

SpiceTimer* CoreLoop::timer_add(SpiceTimerFunc func, void* opaque) {
  auto t = std::make_unique<SpiceTimer>();
  t->func = func;
  t->opaque = opaque;
  SpiceTimer* raw = t.get();
  std::lock_guard lock(g_loop->mu_);
  g_loop->timers_.push_back(std::move(t));
  return raw;
}

void CoreLoop::timer_start(SpiceTimer* timer, uint32_t ms) {
  {
    std::lock_guard lock(g_loop->mu_);
    timer->deadline_ms = monotonic_ms() + ms;
    timer->armed = true;
    ++timer->seq;
  }
  g_loop->wake();  // a poll() in progress may be waiting past this deadline
}

void CoreLoop::timer_cancel(SpiceTimer* timer) {
  std::lock_guard lock(g_loop->mu_);
  timer->armed = false;
  ++timer->seq;
}

void CoreLoop::timer_remove(SpiceTimer* timer) {
  std::lock_guard lock(g_loop->mu_);
  timer->armed = false;
  timer->removed = true;  // freed by reap(), after any dispatch round that collected it
}

SpiceWatch* CoreLoop::watch_add(int fd, int event_mask, SpiceWatchFunc func, void* opaque) {
  auto w = std::make_unique<SpiceWatch>();
  w->fd = fd;
  w->mask = event_mask;
  w->func = func;
  w->opaque = opaque;
  SpiceWatch* raw = w.get();
  {
    std::lock_guard lock(g_loop->mu_);
    g_loop->watches_.push_back(std::move(w));
  }
  g_loop->wake();
  return raw;
}

void CoreLoop::watch_update_mask(SpiceWatch* watch, int event_mask) {
  {
    std::lock_guard lock(g_loop->mu_);
    watch->mask = event_mask;
  }
  g_loop->wake();
}

void CoreLoop::watch_remove(SpiceWatch* watch) {
  std::lock_guard lock(g_loop->mu_);
  watch->removed = true;
}

void CoreLoop::channel_event(int event, SpiceChannelEventInfo* info) {
  switch (event) {
    case SPICE_CHANNEL_EVENT_CONNECTED: ++g_loop->events_.connected; break;
    case SPICE_CHANNEL_EVENT_INITIALIZED: ++g_loop->events_.initialized; break;
    case SPICE_CHANNEL_EVENT_DISCONNECTED: ++g_loop->events_.disconnected; break;
    default: break;
  }
}

void CoreLoop::run_timers() {
  struct Due {
    SpiceTimer* timer;
    uint64_t seq;
  };
  std::vector<Due> due;
  {
    std::lock_guard lock(mu_);
    const int64_t now = monotonic_ms();
    for (auto& t : timers_) {
      if (t->armed && !t->removed && t->deadline_ms <= now) {
        t->armed = false;  // one-shot: the callback re-arms it if it wants more
        due.push_back({t.get(), ++t->seq});
      }
    }
  }
  for (const Due& d : due) {
    SpiceTimerFunc func;
    void* opaque;
    {
      std::lock_guard lock(mu_);
      if (d.timer->removed || d.timer->seq != d.seq) continue;  // cancelled meanwhile
      func = d.timer->func;
      opaque = d.timer->opaque;
    }
    func(opaque);
  }
}

void CoreLoop::reap() {
  std::lock_guard lock(mu_);
  std::erase_if(timers_, [](const auto& t) { return t->removed; });
  std::erase_if(watches_, [](const auto& w) { return w->removed; });
}

void CoreLoop::run_once(int64_t timeout_ms) {
  std::vector<pollfd> pfds;
  std::vector<SpiceWatch*> polled;
  pfds.push_back({wake_fd_, POLLIN, 0});
  for (const Fd& f : fds_) pfds.push_back({f.fd, POLLIN, 0});
  {
    std::lock_guard lock(mu_);
    const int64_t now = monotonic_ms();
    for (const auto& t : timers_) {
      if (!t->armed || t->removed) continue;
      const int64_t left = std::max<int64_t>(0, t->deadline_ms - now);
      timeout_ms = timeout_ms < 0 ? left : std::min(timeout_ms, left);
    }
    for (const auto& w : watches_) {
      if (w->removed) continue;
      short events = 0;
      if (w->mask & SPICE_WATCH_EVENT_READ) events |= POLLIN;
      if (w->mask & SPICE_WATCH_EVENT_WRITE) events |= POLLOUT;
      if (!events) continue;
      pfds.push_back({w->fd, events, 0});
      polled.push_back(w.get());
    }
  }

  const int n = ::poll(pfds.data(), pfds.size(), timeout_ms < 0 ? -1 : int(timeout_ms));
  if (n < 0 && errno != EINTR) {
    std::perror("poll");
    std::abort();
  }
  if (n > 0) {
    if (pfds[0].revents) {
      uint64_t v;
      [[maybe_unused]] auto r = ::read(wake_fd_, &v, sizeof v);
    }
    for (size_t i = 0; i < fds_.size(); ++i) {
      if (pfds[1 + i].revents) fds_[i].on_readable();
    }
    const size_t base = 1 + fds_.size();
    for (size_t i = 0; i < polled.size(); ++i) {
      const short rev = pfds[base + i].revents;
      if (!rev) continue;
      SpiceWatch* w = polled[i];
      int event = 0;
      SpiceWatchFunc func;
      void* opaque;
      int fd;
      {
        std::lock_guard lock(mu_);
        if (w->removed) continue;  // removed by an earlier callback of this round
        // An error or hang-up is reported as whatever the watch waits for, as GLib and
        // QEMU's aio loop do: the library's read or write then sees the error.
        if (rev & (POLLIN | POLLERR | POLLHUP)) event |= w->mask & SPICE_WATCH_EVENT_READ;
        if (rev & (POLLOUT | POLLERR | POLLHUP)) event |= w->mask & SPICE_WATCH_EVENT_WRITE;
        func = w->func;
        opaque = w->opaque;
        fd = w->fd;
      }
      if (event) func(fd, event, opaque);
    }
  }
  run_timers();
  reap();
}

}  // namespace spiceflow::player
