#pragma once
/// CoreLoop: the host's main loop, as QEMU's is to libspice-server: a poll()-based loop that
/// implements SpiceCoreInterface (timers, fd watches, channel_event) for the library, and
/// also serves the player's own fds (the QXL device's interrupt eventfd).
///
/// Threading: run_once() runs on the main thread only, and every callback (library timers
/// and watches, the player's fd handlers) runs there. The SpiceCoreInterface entry points may
/// be called from any thread (a library may arm a timer or report a channel event from one of
/// its own threads): they take the loop's mutex and wake a poll() in progress.
#include <spice.h>

#include <atomic>
#include <cstdint>
#include <functional>
#include <memory>
#include <mutex>
#include <vector>

struct SpiceTimer;
struct SpiceWatch;

namespace spiceflow::player {

/// Milliseconds of CLOCK_MONOTONIC.
int64_t monotonic_ms();

struct ChannelEventCounts {
  std::atomic<uint64_t> connected{0};
  std::atomic<uint64_t> initialized{0};
  std::atomic<uint64_t> disconnected{0};
};

class CoreLoop {
 public:
  /// There is at most one CoreLoop at a time: SpiceCoreInterface's callbacks carry no
  /// context pointer, so they reach the loop through a process-wide pointer set here.
  CoreLoop();
  ~CoreLoop();
  CoreLoop(const CoreLoop&) = delete;
  CoreLoop& operator=(const CoreLoop&) = delete;

  /// The interface to hand to spice_server_init(); valid while this loop lives.
  SpiceCoreInterface* core() { return &iface_; }

  /// Polls once for at most `timeout_ms` (clamped to the next timer; -1 = until an event),
  /// then runs the expired timers and the ready watches and fds. Main thread only.
  void run_once(int64_t timeout_ms);

  /// The player's own fd: `on_readable` runs on the main thread when `fd` is readable.
  void add_fd(int fd, std::function<void()> on_readable);

  /// Makes a run_once() in progress return (any thread; async-signal-safe).
  void wake();

  const ChannelEventCounts& channel_events() const { return events_; }

 private:
  struct Fd {
    int fd;
    std::function<void()> on_readable;
  };

  static SpiceTimer* timer_add(SpiceTimerFunc func, void* opaque);
  static void timer_start(SpiceTimer* timer, uint32_t ms);
  static void timer_cancel(SpiceTimer* timer);
  static void timer_remove(SpiceTimer* timer);
  static SpiceWatch* watch_add(int fd, int event_mask, SpiceWatchFunc func, void* opaque);
  static void watch_update_mask(SpiceWatch* watch, int event_mask);
  static void watch_remove(SpiceWatch* watch);
  static void channel_event(int event, SpiceChannelEventInfo* info);

  void run_timers();
  void reap();

  SpiceCoreInterface iface_{};
  int wake_fd_ = -1;  // eventfd
  ChannelEventCounts events_;

  std::mutex mu_;  // guards timers_, watches_ and every field of their elements
  std::vector<std::unique_ptr<SpiceTimer>> timers_;
  std::vector<std::unique_ptr<SpiceWatch>> watches_;
  std::vector<Fd> fds_;  // main thread only
};

}  // namespace spiceflow::player
