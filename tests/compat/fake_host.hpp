#pragma once
// The host side of the libspice-server C ABI for compat's tests: a SpiceCoreInterface whose
// watches and timers this test binary keeps, and a main loop the test runs itself
// (fake_host::iterate). These are the binary's only definitions of the opaque SpiceWatch and
// SpiceTimer (the library never looks inside them; one definition per binary keeps the ODR).
#define SPICE_SERVER_INTERNAL 1
#include <gtest/gtest.h>
#include <poll.h>
#include <spice.h>

#include <algorithm>
#include <chrono>
#include <functional>
#include <vector>

#include "support/loopback.hpp"

struct SpiceWatch {
  int fd;
  int mask;
  SpiceWatchFunc func;
  void* opaque;
};
struct SpiceTimer {
  SpiceTimerFunc func;
  void* opaque;
  bool armed = false;
};

namespace fake_host {

inline std::vector<SpiceWatch*>& watches() {
  static std::vector<SpiceWatch*> w;
  return w;
}
inline std::vector<SpiceTimer*>& timers() {
  static std::vector<SpiceTimer*> t;
  return t;
}

inline SpiceTimer* timer_add(SpiceTimerFunc func, void* opaque) {
  timers().push_back(new SpiceTimer{func, opaque});
  return timers().back();
}
inline void timer_start(SpiceTimer* t, uint32_t) { t->armed = true; }
inline void timer_cancel(SpiceTimer* t) { t->armed = false; }
inline void timer_remove(SpiceTimer* t) {
  std::erase(timers(), t);
  delete t;
}
inline SpiceWatch* watch_add(int fd, int mask, SpiceWatchFunc func, void* opaque) {
  watches().push_back(new SpiceWatch{fd, mask, func, opaque});
  return watches().back();
}
inline void watch_update_mask(SpiceWatch* w, int mask) { w->mask = mask; }
inline void watch_remove(SpiceWatch* w) {
  std::erase(watches(), w);
  delete w;
}
inline void channel_event(int, SpiceChannelEventInfo*) {}

inline SpiceCoreInterface core() {
  SpiceCoreInterface core{};
  core.base.type = SPICE_INTERFACE_CORE;
  core.base.description = "test core";
  core.base.major_version = SPICE_INTERFACE_CORE_MAJOR;
  core.base.minor_version = SPICE_INTERFACE_CORE_MINOR;
  core.timer_add = timer_add;
  core.timer_start = timer_start;
  core.timer_cancel = timer_cancel;
  core.timer_remove = timer_remove;
  core.watch_add = watch_add;
  core.watch_update_mask = watch_update_mask;
  core.watch_remove = watch_remove;
  core.channel_event = channel_event;
  return core;
}

/// One main-loop iteration: watches whose fd is readable run (waiting up to `poll_ms`), then
/// armed timers fire (each iteration stands for their timeout).
inline void iterate(int poll_ms = 2) {
  std::vector<pollfd> fds;
  for (auto* w : watches()) fds.push_back({w->fd, POLLIN, 0});
  ::poll(fds.data(), fds.size(), poll_ms);
  for (const auto& p : fds) {
    if (!(p.revents & POLLIN)) continue;
    for (auto* w : std::vector<SpiceWatch*>(watches())) {
      if (w->fd == p.fd && std::count(watches().begin(), watches().end(), w)) {
        w->func(w->fd, SPICE_WATCH_EVENT_READ, w->opaque);
      }
    }
  }
  for (auto* t : std::vector<SpiceTimer*>(timers())) {
    if (std::count(timers().begin(), timers().end(), t) && t->armed) {
      t->armed = false;
      t->func(t->opaque);
    }
  }
}

/// Runs the main loop until `pred` holds (checked before each iteration) or `ms` passed.
inline bool run_until(const std::function<bool()>& pred, int ms = 5000) {
  const auto end = std::chrono::steady_clock::now() + std::chrono::milliseconds(ms);
  while (std::chrono::steady_clock::now() < end) {
    if (pred()) return true;
    iterate();
  }
  return pred();
}

/// A test whose SpiceServer runs on the fake host: no ticket, a free 127.0.0.1 port,
/// initialised, the VM running. Destroyed at the end, after which the host must hold none of
/// its watches or timers.
class ServerTest : public ::testing::Test {
 protected:
  void SetUp() override {
    s_ = spice_server_new();
    port_ = spiceflow::testing::free_loopback_port();
    ASSERT_EQ(spice_server_set_port(s_, port_), 0);
    spice_server_set_addr(s_, "127.0.0.1", 0);
    ASSERT_EQ(spice_server_set_noauth(s_), 0);
    ASSERT_EQ(spice_server_init(s_, &core_), 0);
    spice_server_vm_start(s_);
  }
  void TearDown() override {
    spice_server_destroy(s_);
    EXPECT_TRUE(watches().empty());
    EXPECT_TRUE(timers().empty());
  }

  SpiceCoreInterface core_ = core();
  SpiceServer* s_ = nullptr;
  int port_ = 0;
};

}  // namespace fake_host
