#include "char_device.hpp"

#include <algorithm>

namespace spiceflow::compat {

namespace {
// The reference's CHAR_DEVICE_WRITE_TO_TIMEOUT.
constexpr uint32_t kWriteRetryMs = 100;
}  // namespace

CharDevice::~CharDevice() {
  if (timer_) core_->timer_remove(timer_);
}

void CharDevice::on_timer(void* opaque) { static_cast<CharDevice*>(opaque)->pump(); }

void CharDevice::attach_device(SpiceCharDeviceInstance* sin) {
  sin_ = sin;
  ++generation_;
  writes_.clear();
  const auto* s = sif();
  // A device that calls wakeup when it can take more data (QEMU) needs no retry timer.
  if (s->base.minor_version <= 2 || !(s->flags & SPICE_CHAR_DEVICE_NOTIFY_WRITABLE)) {
    timer_ = core_->timer_add(&CharDevice::on_timer, this);
  }
}

SpiceCharDeviceInstance* CharDevice::detach_device() {
  SpiceCharDeviceInstance* sin = sin_;
  writes_.clear();
  if (timer_) {
    core_->timer_remove(timer_);
    timer_ = nullptr;
  }
  sin_ = nullptr;
  ++generation_;
  return sin;
}

void CharDevice::set_running(bool running) {
  running_ = running;
  if (running) {
    pump();
  } else if (timer_) {
    core_->timer_cancel(timer_);
  }
}

void CharDevice::queue_write(std::vector<uint8_t> bytes, int tag, std::function<void()> written) {
  writes_.push_back(Write{std::move(bytes), 0, tag, std::move(written)});
}

void CharDevice::pump() {
  if (pumping_) {
    again_ = true;  // called back from inside a device callback: the running pass repeats
    // Woken from inside `write` (a device that answers at once, as QEMU's smartcard
    // passthru): read now, as the reference's wakeup does; the host expects its data taken
    // before the wakeup returns and drops it otherwise.
    if (writing_ && !reading_) {
      reading_ = true;
      read_some();
      reading_ = false;
    }
    return;
  }
  pumping_ = true;
  do {
    again_ = false;
    writing_ = true;
    write_some();
    writing_ = false;
    // What reading queued (the server's answers to the device) goes out in the same pass.
    reading_ = true;
    const bool read = read_some();
    reading_ = false;
    if (read && running_ && sin_ && !writes_.empty()) again_ = true;
  } while (again_);
  pumping_ = false;
  if (timer_) {
    if (running_ && sin_ && !writes_.empty()) {
      core_->timer_start(timer_, kWriteRetryMs);
    } else {
      core_->timer_cancel(timer_);
    }
  }
}

bool CharDevice::write_some() {
  bool progress = false;
  while (running_ && sin_ && !writes_.empty()) {
    const uint64_t gen = generation_;
    Write& w = writes_.front();
    const int n = sif()->write(sin_, w.bytes.data() + w.pos, int(w.bytes.size() - w.pos));
    if (generation_ != gen) return true;  // detached from inside write: `w` is gone
    if (n <= 0) break;
    progress = true;
    w.pos += std::min(size_t(n), w.bytes.size() - w.pos);
    if (w.pos < w.bytes.size()) continue;  // the device took part: offer it the rest
    auto written = std::move(w.written);
    writes_.pop_front();
    if (written) written();
  }
  return progress;
}

}  // namespace spiceflow::compat
