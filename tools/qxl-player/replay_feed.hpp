#pragma once
/// ReplayFeed: the device's commands come from a record file (SPICE_WORKER_RECORD_FILENAME)
/// through the library's public replay API, as the reference's server/tests/replay.c feeds
/// them: the main thread reads commands with spice_replay_next_cmd (which also performs the
/// recorded primary-surface calls on the instance) into two bounded queues; the library's
/// worker takes them from there through get_command / get_cursor_command and hands each
/// back to spice_replay_free_cmd when it releases it. Commands are fed as fast as the
/// library takes them.
#include <spice.h>

#include <atomic>
#include <cstdint>
#include <deque>
#include <mutex>

#include "core_loop.hpp"

namespace spiceflow::player {

class QxlDevice;

class ReplayFeed {
 public:
  /// Takes ownership of `replay` (spice_replay_new's result).
  ReplayFeed(CoreLoop& loop, QxlDevice& dev, SpiceReplay* replay);
  ~ReplayFeed();
  ReplayFeed(const ReplayFeed&) = delete;
  ReplayFeed& operator=(const ReplayFeed&) = delete;

  /// Tops the queues up (main thread); wakes the device when it added commands.
  void fill();
  bool done() const { return end_; }
  /// The end of the file was reached and the library took every command.
  bool drained();
  uint64_t commands() const { return commands_; }

 private:
  static constexpr size_t kDepth = 50;  // commands queued ahead, as replay.c keeps

  bool get(std::deque<QXLCommandExt*>& queue, QXLCommandExt* ext);  // worker
  bool empty(std::deque<QXLCommandExt*>& queue);                    // worker
  void release(QXLReleaseInfoExt info);                             // worker

  QxlDevice& dev_;
  SpiceReplay* replay_;
  int refill_fd_ = -1;  // eventfd: the worker found a queue running low
  std::mutex mu_;
  std::deque<QXLCommandExt*> display_;  // guarded by mu_
  std::deque<QXLCommandExt*> cursor_;   // guarded by mu_
  bool end_ = false;        // main thread
  uint64_t commands_ = 0;   // main thread
};

}  // namespace spiceflow::player
