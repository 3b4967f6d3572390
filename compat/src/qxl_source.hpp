#pragma once
// QxlSource: the display source of a Desktop whose commands come from a QXL device (QEMU,
// Xspice) instead of a synthetic workload. It has qxl::SyntheticDesktop's shape, so the
// engine pipeline runs it unchanged: the QXL worker thread pushes parsed DrawBatches into
// a bounded queue, the pipeline's ingest stage takes them (merging neighbours whose order
// allows it) at each tick, and input events the ingest stage hands over go to the input
// sink (the guest's keyboard/mouse/tablet, see input_bridge.hpp).
//
// Threading: push side (try_push, has_room, pushed, wait_taken) from the QXL worker thread;
// take side (start, next_frame, on_input) from the pipeline's ingest stage (one thread at a
// time). The queue is guarded by mu_ and bounded by kMaxBatches: when it is full the worker
// stops fetching commands from the guest's ring (the guest then waits, as with the reference
// server when its pipes are full); nothing is dropped and nothing grows. Memory: at most
// kMaxQueuedBytes of guest images, plus one oversized batch.
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <deque>
#include <functional>
#include <mutex>

#include "spiceflow/qxl/synthetic.hpp"

namespace spiceflow::compat {

class QxlSource final : public qxl::SyntheticDesktop {
 public:
  static constexpr size_t kMaxBatches = 8;
  /// Image bytes queued at most (a batch is always accepted into an empty queue).
  static constexpr size_t kMaxQueuedBytes = size_t{64} << 20;
  using InputSink = std::function<void(const InputEvent&)>;

  explicit QxlSource(InputSink sink) : sink_(std::move(sink)) {}

  std::string_view name() const override { return "qxl"; }
  DrawBatch start() override { return take(); }
  DrawBatch next_frame(uint64_t) override { return take(); }
  void on_input(const InputEvent& ev) override {
    if (sink_) sink_(ev);
  }

  /// Queues `batch` (holding `bytes` of image data) unless the queue is full (then returns
  /// false and leaves it alone).
  bool try_push(DrawBatch& batch, size_t bytes = 0);
  bool has_room() const;
  /// Registers the producer's wake-up, called (on the ingest thread) after batches were taken.
  void set_room_callback(std::function<void()> cb);
  /// Sequence number of the last batch pushed.
  uint64_t pushed() const;
  /// Waits until every batch up to `seq` has been taken by the pipeline; false on timeout.
  bool wait_taken(uint64_t seq, std::chrono::milliseconds timeout);

 private:
  DrawBatch take();

  InputSink sink_;
  mutable std::mutex mu_;
  std::condition_variable taken_cv_;
  std::deque<DrawBatch> queue_;  // guarded by mu_, at most kMaxBatches
  std::deque<size_t> queue_bytes_;  // guarded by mu_, parallel to queue_
  size_t queued_bytes_ = 0;          // guarded by mu_, at most kMaxQueuedBytes (see try_push)
  uint64_t pushed_ = 0;          // guarded by mu_
  uint64_t taken_ = 0;           // guarded by mu_
  std::function<void()> room_cb_;  // guarded by mu_
};

}  // namespace spiceflow::compat
