#pragma once
// CharDevice: one host character device (SpiceCharDeviceInstance) driven the way the
// reference's RedCharDevice drives it, the base of AgentPort ("vdagent") and VmcPort ("port").
//
// The device's callbacks run on the host thread that drives it: the caller of
// spice_server_char_device_wakeup, add/remove_interface and vm start/stop (QEMU: main loop
// or vCPU thread, big lock held), and the host main loop, which runs this object's
// write-retry timer and the work the net loop posts for it (HostMailbox).
// Writes keep the host's semantics: `write` may take part of a buffer or nothing; the rest
// is offered again on the next wakeup, or every 100 ms when the device does not announce
// SPICE_CHAR_DEVICE_NOTIFY_WRITABLE (the reference's CHAR_DEVICE_WRITE_TO_TIMEOUT). Reads
// are the subclass's (read_some), run after the writes on every pump, and at once when the
// host calls wakeup from inside a `write` (its answer must be taken before that returns).
#include <cstdint>
#include <deque>
#include <functional>
#include <vector>

#include "abi.hpp"

namespace spiceflow::compat {

class CharDevice {
 public:
  virtual ~CharDevice();
  CharDevice(const CharDevice&) = delete;
  CharDevice& operator=(const CharDevice&) = delete;

  /// The attached device (null: none).
  SpiceCharDeviceInstance* device() const { return sin_; }
  bool attached() const { return sin_ != nullptr; }
  /// spice_server_char_device_wakeup: write what is pending, read what is there. Host
  /// thread; QEMU expects the guest's data to be read before this returns.
  void wakeup() { pump(); }
  /// The VM runs (spice_server_vm_start) or stops: the device is only used while it runs.
  void set_running(bool running);

 protected:
  struct Write {
    std::vector<uint8_t> bytes;
    size_t pos = 0;
    int tag = 0;                   // the subclass's kind of write (e.g. one it may replace)
    std::function<void()> written;  // runs once every byte was taken (not when dropped)
  };

  explicit CharDevice(const SpiceCoreInterface* core) : core_(core) {}
  /// Reads while the subclass wants to; returns whether anything was read.
  virtual bool read_some() = 0;

  void attach_device(SpiceCharDeviceInstance* sin);
  /// Drops pending writes and the retry timer, forgets the device. Returns it.
  SpiceCharDeviceInstance* detach_device();
  const SpiceCharDeviceInterface* sif() const {
    return reinterpret_cast<const SpiceCharDeviceInterface*>(sin_->base.sif);
  }
  void queue_write(std::vector<uint8_t> bytes, int tag = 0, std::function<void()> written = {});
  std::deque<Write>& writes() { return writes_; }
  /// Writes, then reads, until neither makes progress; re-entry (a host callback that calls
  /// wakeup) is folded into the running pass.
  void pump();
  bool running() const { return running_; }
  /// Changes with every attach and detach: a device callback that detached the device
  /// (seen as a changed generation) ends the pass that called it.
  uint64_t generation() const { return generation_; }

  const SpiceCoreInterface* core_;

 private:
  static void on_timer(void* opaque);
  bool write_some();

  SpiceTimer* timer_ = nullptr;  // write retry, for devices without NOTIFY_WRITABLE
  SpiceCharDeviceInstance* sin_ = nullptr;
  uint64_t generation_ = 0;
  bool running_ = false;
  std::deque<Write> writes_;
  bool pumping_ = false;
  bool again_ = false;
  bool writing_ = false;  // inside write_some (a wakeup from `write` reads at once)
  bool reading_ = false;  // inside read_some
};

}  // namespace spiceflow::compat
