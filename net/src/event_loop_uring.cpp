#include "event_loop_uring.hpp"

#include <liburing.h>
#include <poll.h>

#include <cassert>
#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <deque>
#include <functional>
#include <string>
#include <utility>

#include "event_loop_common.hpp"
#include "spiceflow/core/log.hpp"

namespace spiceflow::net {
namespace {

using detail::Clock;
using detail::errno_text;

/// Submission queue size. Each watch has at most two requests in flight (a poll being
/// replaced and its replacement), each timer one; a full SQ is simply submitted early.
constexpr unsigned kSqEntries = 256;
/// Completion queue size, larger than the SQ because every in-flight poll and timer can
/// complete in the same round. Past this the kernel queues overflow (IORING_FEAT_NODROP).
constexpr unsigned kCqEntries = 4096;

// user_data layout: kind in the top 8 bits, the rest depends on the kind.
//   poll:  arm sequence (24 bits) << 32 | watch slot index (32 bits)
//   timer: TimerId (56 bits; ids are never reused, so no generation is needed)
// Every completion is checked against the current state before acting, so the completion of
// a poll or timer that was removed, replaced by modify(), or whose slot was reused is
// ignored rather than delivered to the wrong owner.
enum class Kind : uint64_t { ignore = 0, poll = 1, timer = 2, wake = 3 };
constexpr int kKindShift = 56;
constexpr uint64_t kPayloadMask = (uint64_t{1} << kKindShift) - 1;
constexpr uint32_t kSeqMask = 0xffffff;

constexpr uint64_t tag(Kind kind, uint64_t payload = 0) {
  return (static_cast<uint64_t>(kind) << kKindShift) | (payload & kPayloadMask);
}

/// Owns an io_uring instance. Not movable: liburing's struct is used in place.
class Ring {
 public:
  Ring() = default;
  Ring(const Ring&) = delete;
  Ring& operator=(const Ring&) = delete;
  ~Ring() {
    // Tearing the ring down cancels every request still in flight and drops the file
    // references the polls hold.
    if (initialized_) io_uring_queue_exit(&ring_);
  }

  /// Returns 0 or a negative errno, as liburing does.
  int init(unsigned entries, io_uring_params* params) {
    assert(!initialized_);
    const int ret = io_uring_queue_init_params(entries, &ring_, params);
    initialized_ = ret == 0;
    return ret;
  }
  io_uring* get() { return &ring_; }

 private:
  io_uring ring_{};
  bool initialized_ = false;
};

struct ProbeDeleter {
  void operator()(io_uring_probe* p) const { io_uring_free_probe(p); }
};

unsigned to_poll(uint32_t events) {
  // POLLERR, POLLHUP, POLLNVAL and POLLRDHUP need not be asked for: the kernel always
  // reports them to an io_uring poll.
  unsigned mask = 0;
  if (events & kReadable) mask |= POLLIN;
  if (events & kWritable) mask |= POLLOUT;
  return mask;
}

uint32_t from_poll(unsigned revents) {
  uint32_t ready = 0;
  if (revents & (POLLIN | POLLPRI)) ready |= kReadable;
  if (revents & POLLOUT) ready |= kWritable;
  // POLLRDHUP counts as a hangup: io_uring reports it unasked, so ignoring it would leave
  // a level-triggered poll completing forever on a half-closed TCP socket.
  if (revents & (POLLHUP | POLLERR | POLLNVAL | POLLRDHUP)) ready |= kHangup;
  return ready;
}

__kernel_timespec to_kernel_time(Clock::time_point t) {
  // steady_clock is CLOCK_MONOTONIC on Linux, the clock IORING_TIMEOUT_ABS uses by default.
  const auto ns = std::chrono::duration_cast<std::chrono::nanoseconds>(t.time_since_epoch());
  __kernel_timespec ts{};
  ts.tv_sec = ns.count() / 1'000'000'000;
  ts.tv_nsec = ns.count() % 1'000'000'000;
  return ts;
}

class UringEventLoop final : public detail::EventLoopBase {
 public:
  UringEventLoop() = default;

  IoBackend backend() const override { return IoBackend::uring; }

  WatchId watch(int fd, uint32_t events, std::function<void(uint32_t)> cb) override {
    const WatchId id = watches_.add(fd, events, std::move(cb));
    arm_poll(watches_.index_of(id));
    return id;
  }

  void modify(WatchId id, uint32_t events) override {
    Watch* w = watches_.set_events(id, events);
    if (w == nullptr) return;
    // Inside the watch's own callback nothing is armed; the re-arm after it uses the new
    // interest. Otherwise the armed poll has the old mask and is replaced; its completion,
    // if it races the removal, carries the old sequence and is ignored.
    const uint32_t index = watches_.index_of(id);
    if (w->armed) {
      remove_poll(*w, index);
      arm_poll(index);
    }
  }

  void unwatch(WatchId id) override {
    Watch* w = watches_.find(id);
    if (w == nullptr) return;
    if (w->armed) {
      remove_poll(*w, watches_.index_of(id));
      // Submitted now rather than on the next round: an armed poll holds a reference to
      // the file, so until the removal reaches the kernel the owner's close() would not
      // close the socket and the peer would not see the hangup.
      flush();
    }
    watches_.remove(id);
  }

  void cancel_timer(TimerId id) override {
    Timer* t = timers_.find(id);
    if (t == nullptr) return;
    if (t->armed) {
      io_uring_sqe* sqe = get_sqe();
      io_uring_prep_timeout_remove(sqe, tag(Kind::timer, id), 0);
      io_uring_sqe_set_data64(sqe, tag(Kind::ignore));
    }
    // Inside the timer's own callback the callable lives in TimerTable::fire's local.
    timers_.erase(id);
  }

  Status init() {
    io_uring_params params{};
    params.flags = IORING_SETUP_CQSIZE | IORING_SETUP_SUBMIT_ALL;
    params.cq_entries = kCqEntries;
    int ret = ring_.init(kSqEntries, &params);
    if (ret == -EINVAL) {
      // SUBMIT_ALL needs 5.18. Without it a failing request stops the rest of its batch,
      // which flush() copes with by keeping the timeout specs until the SQ is empty.
      params = {};
      params.flags = IORING_SETUP_CQSIZE;
      params.cq_entries = kCqEntries;
      ret = ring_.init(kSqEntries, &params);
    }
    if (ret < 0) return make_error(errno_text("io_uring_queue_init", -ret));
    if (Status s = posts_.init(); !s) return s;
    arm_wake();
    return Status::success();
  }

 private:
  struct Watch : detail::WatchSlot {
    uint32_t arm_seq = 0;  ///< sequence of the latest poll; never reset, even on reuse
    bool armed = false;    ///< a poll with arm_seq is in flight
  };

  struct Timer : detail::TimerSlot {
    bool armed = false;  ///< its IORING_OP_TIMEOUT is in flight
  };

  Status run_once() override {
    // Submits the re-arms and new requests of the previous round and waits in one call.
    const unsigned wait_nr = posts_.has_ready() ? 0 : 1;
    const int ret = io_uring_submit_and_wait(ring_.get(), wait_nr);
    if (ret < 0 && ret != -EINTR && ret != -EAGAIN && ret != -EBUSY) {
      return make_error(errno_text("io_uring_enter", -ret));
    }
    submitted();
    reap();
    if (!stopping()) run_posts();
    return Status::success();
  }

  static uint64_t poll_token(uint32_t index, uint32_t seq) {
    return tag(Kind::poll, (static_cast<uint64_t>(seq & kSeqMask) << 32) | index);
  }

  io_uring_sqe* get_sqe() {
    io_uring_sqe* sqe = io_uring_get_sqe(ring_.get());
    if (sqe == nullptr) {
      flush();
      sqe = io_uring_get_sqe(ring_.get());
    }
    if (sqe == nullptr) {
      // The kernel took nothing from a full SQ: no way to keep the loop's promises.
      log::error("event loop: io_uring submission queue stuck full");
      std::abort();
    }
    return sqe;
  }

  void flush() {
    const int ret = io_uring_submit(ring_.get());
    if (ret < 0 && ret != -EINTR && ret != -EAGAIN && ret != -EBUSY) {
      log::error("event loop: io_uring_submit: {}", std::strerror(-ret));
    }
    submitted();
  }

  void submitted() {
    // The kernel copies a timeout's timespec when it takes the SQE, so the specs can go
    // once the SQ is empty (and not before: a failed request can leave the rest queued).
    if (io_uring_sq_ready(ring_.get()) == 0) timespecs_.clear();
  }

  void arm_poll(uint32_t index) {
    io_uring_sqe* sqe = get_sqe();
    Watch& w = watches_.slot(index);
    w.arm_seq = (w.arm_seq + 1) & kSeqMask;
    io_uring_prep_poll_add(sqe, w.fd, to_poll(w.events));
    io_uring_sqe_set_data64(sqe, poll_token(index, w.arm_seq));
    w.armed = true;
  }

  void remove_poll(Watch& w, uint32_t index) {
    const uint64_t token = poll_token(index, w.arm_seq);
    w.armed = false;
    io_uring_sqe* sqe = get_sqe();
    io_uring_prep_poll_remove(sqe, token);
    io_uring_sqe_set_data64(sqe, tag(Kind::ignore));
  }

  void arm_wake() {
    io_uring_sqe* sqe = get_sqe();
    io_uring_prep_poll_add(sqe, posts_.fd(), POLLIN);
    io_uring_sqe_set_data64(sqe, tag(Kind::wake));
  }

  TimerId schedule(Clock::duration delay, Clock::duration period,
                   std::function<void()> cb) override {
    const TimerId id = timers_.add(delay, period, std::move(cb));
    assert(id <= kPayloadMask);
    arm_timer(id, timers_.find(id)->deadline);
    return id;
  }

  void arm_timer(TimerId id, Clock::time_point deadline) {
    io_uring_sqe* sqe = get_sqe();  // before the spec: get_sqe may flush and clear them
    __kernel_timespec& ts = timespecs_.emplace_back(to_kernel_time(deadline));
    // Absolute deadlines keep a periodic timer's phase however late its callback ran.
    io_uring_prep_timeout(sqe, &ts, 0, IORING_TIMEOUT_ABS);
    io_uring_sqe_set_data64(sqe, tag(Kind::timer, id));
    timers_.find(id)->armed = true;
  }

  void reap() {
    io_uring_cqe* cqe;
    while (!stopping() && io_uring_peek_cqe(ring_.get(), &cqe) == 0) {
      const uint64_t data = io_uring_cqe_get_data64(cqe);
      const int res = cqe->res;
      // Seen before dispatch: a callback may stop the loop, and the rest stay queued.
      io_uring_cqe_seen(ring_.get(), cqe);
      switch (static_cast<Kind>(data >> kKindShift)) {
        case Kind::poll:
          dispatch_poll(data & kPayloadMask, res);
          break;
        case Kind::timer:
          dispatch_timer(data & kPayloadMask, res);
          break;
        case Kind::wake:
          posts_.drain();
          arm_wake();
          break;
        case Kind::ignore:
          break;
      }
    }
  }

  void dispatch_poll(uint64_t payload, int res) {
    const uint32_t index = static_cast<uint32_t>(payload & 0xffffffffu);
    const uint32_t seq = static_cast<uint32_t>(payload >> 32);
    if (index >= watches_.size()) return;
    Watch& w = watches_.slot(index);
    if (!w.active || !w.armed || w.arm_seq != seq) return;  // stale: removed or replaced
    w.armed = false;
    const WatchId id = watches_.id_at(index);
    uint32_t ready;
    if (res >= 0) {
      ready = from_poll(static_cast<unsigned>(res));
    } else {
      // A poll fails when the fd is bad (closed before unwatch). Reported like epoll's
      // hangup so the owner tears the watch down.
      ready = res == -ECANCELED ? 0u : uint32_t{kHangup};
    }
    if (!watches_.deliver(id, ready)) return;
    // One-shot poll re-armed after the callback: the kernel checks the condition when it
    // arms, which is what makes delivery level-triggered (multishot polls are edge-like).
    if (!watches_.slot(index).armed) arm_poll(index);
  }

  void dispatch_timer(TimerId id, int res) {
    if (res == -ECANCELED) return;  // removed by cancel_timer, already forgotten
    Timer* t = timers_.find(id);
    if (t == nullptr) return;
    // Any other result is -ETIME (expired).
    t->armed = false;
    if (auto next = timers_.fire(id)) arm_timer(id, *next);
  }

  // Declared before ring_ so that it outlives it: the kernel is done with the specs once the
  // ring is torn down. (The eventfd the ring polls lives in the base, which outlives both.)
  std::deque<__kernel_timespec> timespecs_;  // specs of timeouts not yet taken by the kernel
  Ring ring_;

  // Loop thread only.
  detail::WatchTable<Watch> watches_;
  detail::TimerTable<Timer> timers_;
};

}  // namespace

bool probe_io_uring(std::string* why) {
  auto fail = [why](std::string reason) {
    if (why != nullptr) *why = std::move(reason);
    return false;
  };
  Ring ring;
  io_uring_params params{};
  if (int ret = ring.init(4, &params); ret < 0) {
    std::string reason = errno_text("io_uring_setup", -ret);
    if (ret == -EPERM || ret == -ENOSYS) {
      reason += " (blocked by seccomp, kernel.io_uring_disabled, or not built in)";
    }
    return fail(std::move(reason));
  }
  if ((params.features & IORING_FEAT_NODROP) == 0) {
    // Without it a burst of completions past the CQ would be lost, and with them polls.
    return fail("kernel lacks IORING_FEAT_NODROP (older than 5.5)");
  }
  std::unique_ptr<io_uring_probe, ProbeDeleter> ops(io_uring_get_probe_ring(ring.get()));
  if (!ops) return fail("kernel cannot list io_uring opcodes (older than 5.6)");
  static constexpr struct {
    int op;
    const char* name;
  } kNeeded[] = {{IORING_OP_NOP, "NOP"},
                 {IORING_OP_POLL_ADD, "POLL_ADD"},
                 {IORING_OP_POLL_REMOVE, "POLL_REMOVE"},
                 {IORING_OP_TIMEOUT, "TIMEOUT"},
                 {IORING_OP_TIMEOUT_REMOVE, "TIMEOUT_REMOVE"}};
  for (const auto& n : kNeeded) {
    if (!io_uring_opcode_supported(ops.get(), n.op)) {
      return fail(std::string("io_uring opcode ") + n.name + " unsupported");
    }
  }
  // Setting up a ring is not enough: seccomp policies exist that allow io_uring_setup but
  // refuse io_uring_enter, and sandboxes exist that accept SQEs they never complete.
  io_uring_sqe* sqe = io_uring_get_sqe(ring.get());
  io_uring_prep_nop(sqe);
  if (int ret = io_uring_submit(ring.get()); ret != 1) {
    return fail(ret < 0 ? errno_text("io_uring_enter", -ret) : "io_uring_enter took no SQE");
  }
  io_uring_cqe* cqe = nullptr;
  __kernel_timespec timeout{};
  timeout.tv_sec = 1;
  if (int ret = io_uring_wait_cqe_timeout(ring.get(), &cqe, &timeout); ret < 0) {
    return fail(errno_text("waiting for a NOP completion", -ret));
  }
  const int res = cqe->res;
  io_uring_cqe_seen(ring.get(), cqe);
  if (res < 0) return fail(errno_text("io_uring NOP", -res));
  return true;
}

Result<std::unique_ptr<EventLoop>> make_uring_event_loop() {
  auto loop = std::make_unique<UringEventLoop>();
  if (Status s = loop->init(); !s) return s.error();
  return std::unique_ptr<EventLoop>(std::move(loop));
}

}  // namespace spiceflow::net
