#include "qxl_source.hpp"

#include <iterator>

namespace spiceflow::compat {

namespace {
// Two consecutive batches can be applied as one when doing so keeps the order the device
// gave: a batch applies creates, cursor, commands, destroys in that order, so `b` may join
// `a` only if `a` destroys nothing and `b` creates nothing.
bool mergeable(const DrawBatch& a, const DrawBatch& b) {
  return a.destroys.empty() && b.creates.empty();
}

template <typename T>
void append(std::vector<T>& dst, std::vector<T>& src) {
  dst.insert(dst.end(), std::make_move_iterator(src.begin()), std::make_move_iterator(src.end()));
}
}  // namespace

bool QxlSource::try_push(DrawBatch& batch, size_t bytes) {
  std::lock_guard lock(mu_);
  if (queue_.size() >= kMaxBatches) return false;
  if (!queue_.empty() && queued_bytes_ + bytes > kMaxQueuedBytes) return false;
  queue_.push_back(std::move(batch));
  queue_bytes_.push_back(bytes);
  queued_bytes_ += bytes;
  batch = DrawBatch{};
  ++pushed_;
  return true;
}

bool QxlSource::has_room() const {
  std::lock_guard lock(mu_);
  return queue_.size() < kMaxBatches && queued_bytes_ < kMaxQueuedBytes;
}

void QxlSource::set_room_callback(std::function<void()> cb) {
  std::lock_guard lock(mu_);
  room_cb_ = std::move(cb);
}

uint64_t QxlSource::pushed() const {
  std::lock_guard lock(mu_);
  return pushed_;
}

bool QxlSource::wait_taken(uint64_t seq, std::chrono::milliseconds timeout) {
  std::unique_lock lock(mu_);
  return taken_cv_.wait_for(lock, timeout, [&] { return taken_ >= seq; });
}

DrawBatch QxlSource::take() {
  DrawBatch out;
  std::function<void()> cb;
  {
    std::lock_guard lock(mu_);
    if (queue_.empty()) return out;
    out = std::move(queue_.front());
    queue_.pop_front();
    queued_bytes_ -= queue_bytes_.front();
    queue_bytes_.pop_front();
    ++taken_;
    while (!queue_.empty() && mergeable(out, queue_.front())) {
      DrawBatch& next = queue_.front();
      append(out.cursor, next.cursor);
      append(out.commands, next.commands);
      append(out.destroys, next.destroys);
      queue_.pop_front();
      queued_bytes_ -= queue_bytes_.front();
      queue_bytes_.pop_front();
      ++taken_;
    }
    cb = room_cb_;
  }
  taken_cv_.notify_all();
  if (cb) cb();
  return out;
}

}  // namespace spiceflow::compat
