#pragma once
// HostMailbox: work for the host's main loop from other threads. The net loop's hooks for
// the char devices (the guest agent, spicevmc ports) post closures here; an eventfd watched
// through the host's SpiceCoreInterface::watch_add wakes the main loop, which runs them in
// order. Bounded by what posts: each protocol path that posts has its own window (agent
// tokens, kVmcWrites, in-flight bytes), so no closure is ever refused.
//
// Threading: post() from any thread; create(), the destructor and the closures on the host
// main-loop thread.
#include <deque>
#include <functional>
#include <memory>
#include <mutex>

#include "abi.hpp"
#include "spiceflow/core/result.hpp"

namespace spiceflow::compat {

class HostMailbox {
 public:
  static Result<std::unique_ptr<HostMailbox>> create(const SpiceCoreInterface* core);
  ~HostMailbox();
  HostMailbox(const HostMailbox&) = delete;
  HostMailbox& operator=(const HostMailbox&) = delete;

  /// Runs `fn` on the host main loop, after what was posted before it. Any thread.
  void post(std::function<void()> fn);

 private:
  HostMailbox(const SpiceCoreInterface* core, int fd) : core_(core), fd_(fd) {}
  static void on_ready(int fd, int event, void* opaque);

  const SpiceCoreInterface* core_;
  int fd_ = -1;
  SpiceWatch* watch_ = nullptr;
  std::mutex mu_;
  std::deque<std::function<void()>> queue_;  // guarded by mu_
};

}  // namespace spiceflow::compat
