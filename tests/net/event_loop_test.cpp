// EventLoop behaviour, run once per backend: the io_uring instance skips where the probe
// says io_uring is blocked; the epoll instance must always pass. Every test ends from its
// own callbacks; the timers named `guard` only turn a hang into a failure.
#include "spiceflow/net/event_loop.hpp"

#include <gtest/gtest.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <memory>
#include <ostream>
#include <string>
#include <thread>
#include <vector>

namespace spiceflow::net {

// Names the parameter in gtest's failure messages (found by ADL, so outside the anonymous
// namespace).
void PrintTo(IoBackend b, std::ostream* os) { *os << to_string(b); }

namespace {

using namespace std::chrono_literals;
using Clock = std::chrono::steady_clock;

constexpr auto kGuard = 2000ms;

/// A connected, non-blocking AF_UNIX stream pair, closed on destruction.
class SocketPair {
 public:
  SocketPair() {
    int fds[2];
    if (::socketpair(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0, fds) == 0) {
      a_ = fds[0];
      b_ = fds[1];
    }
  }
  SocketPair(const SocketPair&) = delete;
  SocketPair& operator=(const SocketPair&) = delete;
  ~SocketPair() {
    close_a();
    close_b();
  }
  bool ok() const { return a_ >= 0 && b_ >= 0; }
  int a() const { return a_; }
  int b() const { return b_; }
  void close_a() { close_fd(a_); }
  void close_b() { close_fd(b_); }

 private:
  static void close_fd(int& fd) {
    if (fd >= 0) ::close(fd);
    fd = -1;
  }
  int a_ = -1;
  int b_ = -1;
};

bool write_byte(int fd, char c = 'x') { return ::write(fd, &c, 1) == 1; }

size_t read_all(int fd) {
  char buf[256];
  size_t total = 0;
  ssize_t n;
  while ((n = ::read(fd, buf, sizeof buf)) > 0) total += static_cast<size_t>(n);
  return total;
}

class EventLoopTest : public ::testing::TestWithParam<IoBackend> {
 protected:
  void SetUp() override {
    if (GetParam() == IoBackend::uring) {
      std::string why;
      if (!io_uring_available(&why)) GTEST_SKIP() << "io_uring unavailable here: " << why;
    }
    auto made = make_event_loop(GetParam());
    ASSERT_TRUE(made.ok()) << made.error().message;
    loop_ = std::move(made).value();
  }

  /// Runs the loop until a callback stops it; failing, and stopping it, after `guard`.
  void run_guarded(std::chrono::milliseconds guard = kGuard) {
    bool timed_out = false;
    const TimerId t = loop_->add_timer(guard, [&] {
      timed_out = true;
      loop_->stop();
    });
    Status s = loop_->run();
    ASSERT_TRUE(s.ok()) << s.error().message;
    EXPECT_FALSE(timed_out) << "the loop hit the failure guard";
    loop_->cancel_timer(t);
  }

  /// Runs the loop for `d`: for tests that check something does *not* happen.
  void run_for(std::chrono::milliseconds d) {
    const TimerId t = loop_->add_timer(d, [&] { loop_->stop(); });
    Status s = loop_->run();
    ASSERT_TRUE(s.ok()) << s.error().message;
    loop_->cancel_timer(t);
  }

  std::unique_ptr<EventLoop> loop_;
};

TEST_P(EventLoopTest, ReportsItsBackend) { EXPECT_EQ(loop_->backend(), GetParam()); }

TEST_P(EventLoopTest, ReadableWhenPeerWrites) {
  SocketPair sp;
  ASSERT_TRUE(sp.ok());
  ASSERT_EQ(::write(sp.b(), "hello", 5), 5);
  std::string got;
  WatchId id = 0;
  id = loop_->watch(sp.a(), kReadable, [&](uint32_t ready) {
    EXPECT_TRUE(ready & kReadable);
    EXPECT_FALSE(ready & kWritable) << "not asked for";
    char buf[16];
    ssize_t n = ::read(sp.a(), buf, sizeof buf);
    if (n > 0) got.append(buf, static_cast<size_t>(n));
    loop_->unwatch(id);
    loop_->stop();
  });
  run_guarded();
  EXPECT_EQ(got, "hello");
}

TEST_P(EventLoopTest, WritableOnIdleSocket) {
  SocketPair sp;
  ASSERT_TRUE(sp.ok());
  uint32_t seen = 0;
  WatchId id = 0;
  id = loop_->watch(sp.a(), kWritable, [&](uint32_t ready) {
    seen = ready;
    loop_->unwatch(id);
    loop_->stop();
  });
  run_guarded();
  EXPECT_EQ(seen, kWritable);
}

TEST_P(EventLoopTest, LevelTriggeredRedelivery) {
  SocketPair sp;
  ASSERT_TRUE(sp.ok());
  ASSERT_TRUE(write_byte(sp.b()));
  int calls = 0;
  WatchId id = 0;
  id = loop_->watch(sp.a(), kReadable, [&](uint32_t ready) {
    EXPECT_TRUE(ready & kReadable);
    // Not reading: the condition still holds, so the callback must come again.
    if (++calls == 3) {
      loop_->unwatch(id);
      loop_->stop();
    }
  });
  run_guarded();
  EXPECT_EQ(calls, 3);
  EXPECT_EQ(read_all(sp.a()), 1u);
}

TEST_P(EventLoopTest, ModifyChangesInterest) {
  SocketPair sp;
  ASSERT_TRUE(sp.ok());
  bool widened = false;
  int writable = 0;
  int readable = 0;
  WatchId id = 0;
  id = loop_->watch(sp.a(), kReadable, [&](uint32_t ready) {
    EXPECT_TRUE(widened) << "writable reported before it was asked for";
    if (ready & kWritable) {
      ++writable;
      // Narrowed from inside the callback, then made readable: only kReadable may follow.
      loop_->modify(id, kReadable);
      EXPECT_TRUE(write_byte(sp.b()));
    }
    if (ready & kReadable) {
      ++readable;
      read_all(sp.a());
      loop_->unwatch(id);
      loop_->stop();
    }
  });
  // Widened from outside the callback, while the readable-only wait is in flight.
  loop_->add_timer(20ms, [&] {
    widened = true;
    loop_->modify(id, kReadable | kWritable);
  });
  run_guarded();
  EXPECT_EQ(writable, 1);
  EXPECT_EQ(readable, 1);
}

TEST_P(EventLoopTest, ModifyToNothingSilencesWatch) {
  SocketPair sp;
  ASSERT_TRUE(sp.ok());
  int calls = 0;
  WatchId id = 0;
  id = loop_->watch(sp.a(), kWritable, [&](uint32_t) {
    ++calls;
    loop_->modify(id, 0);
  });
  run_for(50ms);
  EXPECT_EQ(calls, 1);
  loop_->unwatch(id);
}

TEST_P(EventLoopTest, UnwatchInsideOwnCallback) {
  SocketPair sp;
  ASSERT_TRUE(sp.ok());
  int calls = 0;
  auto token = std::make_shared<int>(0);
  std::weak_ptr<int> alive = token;
  WatchId id = 0;
  id = loop_->watch(sp.a(), kWritable, [&, token](uint32_t) {
    ++calls;
    loop_->unwatch(id);
    // The running callable must survive its own unwatch.
    EXPECT_EQ(*token, 0);
  });
  token.reset();
  run_for(50ms);
  EXPECT_EQ(calls, 1);
  EXPECT_TRUE(alive.expired()) << "the callback was not released after unwatch";
}

TEST_P(EventLoopTest, UnwatchOtherReadyWatchInSameRound) {
  // Both fds are readable before run(), so both events arrive in one batch. The first
  // callback removes both watches (its own last, so the slot freed last is the other's)
  // and at once watches an fd that is never readable, reusing the other's slot. The
  // other's event, already delivered by the kernel, is stale: it must reach neither the
  // removed callback nor the new watch.
  SocketPair p1, p2, idle;
  ASSERT_TRUE(p1.ok() && p2.ok() && idle.ok());
  ASSERT_TRUE(write_byte(p1.b()));
  ASSERT_TRUE(write_byte(p2.b()));
  int first_calls = 0;
  int new_calls = 0;
  WatchId w1 = 0, w2 = 0, fresh = 0;
  auto on_ready = [&](WatchId self, WatchId other) {
    ++first_calls;
    loop_->unwatch(self);
    loop_->unwatch(other);
    fresh = loop_->watch(idle.a(), kReadable, [&](uint32_t) { ++new_calls; });
  };
  w1 = loop_->watch(p1.a(), kReadable, [&](uint32_t) { on_ready(w1, w2); });
  w2 = loop_->watch(p2.a(), kReadable, [&](uint32_t) { on_ready(w2, w1); });
  run_for(50ms);
  EXPECT_EQ(first_calls, 1);
  EXPECT_EQ(new_calls, 0);

  // The reused slot still works for real readiness.
  ASSERT_TRUE(write_byte(idle.b()));
  WatchId reused = fresh;
  loop_->unwatch(reused);
  fresh = loop_->watch(idle.a(), kReadable, [&](uint32_t ready) {
    EXPECT_TRUE(ready & kReadable);
    loop_->unwatch(fresh);
    loop_->stop();
  });
  run_guarded();
}

TEST_P(EventLoopTest, UnwatchReleasesFdSoPeerSeesClose) {
  // An io_uring poll pins the file: unless unwatch() reaches the kernel at once, the
  // owner's close() would not close the socket.
  SocketPair sp;
  ASSERT_TRUE(sp.ok());
  const WatchId id = loop_->watch(sp.a(), kReadable, [](uint32_t) {});
  run_for(10ms);
  loop_->unwatch(id);
  sp.close_a();
  pollfd p{sp.b(), POLLIN, 0};
  ASSERT_EQ(::poll(&p, 1, 500), 1);
  EXPECT_TRUE(p.revents & POLLHUP);
}

TEST_P(EventLoopTest, HangupWhenPeerCloses) {
  SocketPair sp;
  ASSERT_TRUE(sp.ok());
  uint32_t seen = 0;
  WatchId id = 0;
  id = loop_->watch(sp.a(), kReadable, [&](uint32_t ready) {
    seen = ready;
    loop_->unwatch(id);
    loop_->stop();
  });
  sp.close_b();
  run_guarded();
  EXPECT_TRUE(seen & kHangup);
}

TEST_P(EventLoopTest, HangupReportedWithoutInterest) {
  SocketPair sp;
  ASSERT_TRUE(sp.ok());
  uint32_t seen = 0;
  WatchId id = 0;
  id = loop_->watch(sp.a(), 0, [&](uint32_t ready) {
    seen = ready;
    loop_->unwatch(id);
    loop_->stop();
  });
  loop_->add_timer(10ms, [&] { sp.close_b(); });
  run_guarded();
  EXPECT_EQ(seen, kHangup);
}

TEST_P(EventLoopTest, BadFdReportsHangup) {
  // watch() has no error path; a descriptor the kernel refuses is reported as a hangup.
  uint32_t seen = 0;
  WatchId id = 0;
  id = loop_->watch(-1, kReadable, [&](uint32_t ready) {
    seen = ready;
    loop_->unwatch(id);
    loop_->stop();
  });
  run_guarded();
  EXPECT_EQ(seen, kHangup);
}

TEST_P(EventLoopTest, OneShotTimerFiresOnce) {
  int fired = 0;
  const auto start = Clock::now();
  Clock::duration elapsed{};
  loop_->add_timer(20ms, [&] {
    ++fired;
    elapsed = Clock::now() - start;
  });
  loop_->add_timer(60ms, [&] { loop_->stop(); });
  run_guarded();
  EXPECT_EQ(fired, 1);
  EXPECT_GE(elapsed, 20ms);
}

TEST_P(EventLoopTest, ZeroDelayTimerFires) {
  bool fired = false;
  loop_->add_timer(0ms, [&] {
    fired = true;
    loop_->stop();
  });
  run_guarded();
  EXPECT_TRUE(fired);
}

TEST_P(EventLoopTest, PeriodicTimerCancelledFromItsOwnCallback) {
  int ticks = 0;
  const auto start = Clock::now();
  Clock::duration elapsed{};
  TimerId id = 0;
  id = loop_->add_periodic(5ms, [&] {
    if (++ticks == 5) {
      elapsed = Clock::now() - start;
      loop_->cancel_timer(id);
      loop_->add_timer(30ms, [&] { loop_->stop(); });
    }
  });
  run_guarded();
  EXPECT_EQ(ticks, 5);
  EXPECT_GE(elapsed, 25ms);
}

TEST_P(EventLoopTest, CancelledTimerNeverFires) {
  bool fired = false;
  const TimerId id = loop_->add_timer(20ms, [&] { fired = true; });
  loop_->cancel_timer(id);
  run_for(50ms);
  EXPECT_FALSE(fired);
}

TEST_P(EventLoopTest, TimerCancelsAnotherDueAtTheSameTime) {
  int fired = 0;
  TimerId t1 = 0, t2 = 0;
  t1 = loop_->add_timer(10ms, [&] {
    ++fired;
    loop_->cancel_timer(t2);
  });
  t2 = loop_->add_timer(10ms, [&] {
    ++fired;
    loop_->cancel_timer(t1);
  });
  run_for(50ms);
  EXPECT_EQ(fired, 1);
}

TEST_P(EventLoopTest, PeriodicCancelledFromAnotherTimer) {
  int ticks = 0;
  int ticks_at_cancel = -1;
  const TimerId periodic = loop_->add_periodic(5ms, [&] { ++ticks; });
  loop_->add_timer(23ms, [&] {
    ticks_at_cancel = ticks;
    loop_->cancel_timer(periodic);
  });
  run_for(60ms);
  EXPECT_GE(ticks_at_cancel, 1);
  EXPECT_EQ(ticks, ticks_at_cancel);
}

TEST_P(EventLoopTest, PostFromAnotherThreadWakesBlockedLoop) {
  const auto loop_thread = std::this_thread::get_id();
  std::thread::id ran_on;
  const auto start = Clock::now();
  std::thread poster([&] {
    std::this_thread::sleep_for(20ms);
    loop_->post([&] {
      ran_on = std::this_thread::get_id();
      loop_->stop();
    });
  });
  run_guarded();
  poster.join();
  EXPECT_EQ(ran_on, loop_thread);
  EXPECT_LT(Clock::now() - start, 1s);
}

TEST_P(EventLoopTest, PostsFromManyThreadsRunInOrderPerThread) {
  constexpr int kThreads = 4;
  constexpr int kPerThread = 1000;
  int total = 0;
  std::vector<int> next(kThreads, 0);
  std::vector<std::thread> posters;
  for (int t = 0; t < kThreads; ++t) {
    posters.emplace_back([&, t] {
      for (int i = 0; i < kPerThread; ++i) {
        loop_->post([&, t, i] {
          EXPECT_EQ(next[t], i);
          next[t] = i + 1;
          if (++total == kThreads * kPerThread) loop_->stop();
        });
      }
    });
  }
  run_guarded();
  for (auto& p : posters) p.join();
  EXPECT_EQ(total, kThreads * kPerThread);
}

TEST_P(EventLoopTest, StopFromAnotherThread) {
  const auto start = Clock::now();
  std::thread stopper([&] {
    std::this_thread::sleep_for(20ms);
    loop_->stop();
  });
  run_guarded();
  stopper.join();
  EXPECT_LT(Clock::now() - start, 1s);
}

TEST_P(EventLoopTest, StopTakesEffectAfterCurrentCallbackAndRunResumes) {
  std::string order;
  loop_->post([&] {
    order += 'a';
    loop_->stop();
  });
  loop_->post([&] { order += 'b'; });
  loop_->post([&] {
    order += 'c';
    loop_->stop();
  });
  run_guarded();
  EXPECT_EQ(order, "a");
  run_guarded();
  EXPECT_EQ(order, "abc");
}

TEST_P(EventLoopTest, StopBeforeRunMakesRunReturn) {
  loop_->stop();
  const auto start = Clock::now();
  run_guarded();
  EXPECT_LT(Clock::now() - start, 1s);
}

TEST_P(EventLoopTest, ManySocketPairs) {
  constexpr int kPairs = 200;
  std::vector<std::unique_ptr<SocketPair>> pairs;
  std::vector<WatchId> ids(kPairs);
  int done = 0;
  for (int i = 0; i < kPairs; ++i) {
    pairs.push_back(std::make_unique<SocketPair>());
    ASSERT_TRUE(pairs.back()->ok());
    ids[i] = loop_->watch(pairs[i]->a(), kReadable, [&, i](uint32_t ready) {
      EXPECT_TRUE(ready & kReadable);
      char c = 0;
      EXPECT_EQ(::read(pairs[i]->a(), &c, 1), 1);
      EXPECT_EQ(c, static_cast<char>('0' + i % 64));
      // Echo once so that the peer side sees the loop answer every connection.
      EXPECT_TRUE(write_byte(pairs[i]->a(), c));
      loop_->unwatch(ids[i]);
      if (++done == kPairs) loop_->stop();
    });
  }
  for (int i = 0; i < kPairs; ++i) {
    ASSERT_TRUE(write_byte(pairs[i]->b(), static_cast<char>('0' + i % 64)));
  }
  run_guarded();
  EXPECT_EQ(done, kPairs);
  for (int i = 0; i < kPairs; ++i) EXPECT_EQ(read_all(pairs[i]->b()), 1u) << i;
}

INSTANTIATE_TEST_SUITE_P(Backends, EventLoopTest,
                         ::testing::Values(IoBackend::uring, IoBackend::epoll),
                         [](const ::testing::TestParamInfo<IoBackend>& info) {
                           return std::string(to_string(info.param));
                         });

TEST(EventLoopSelection, ParsesBackendNames) {
  ASSERT_TRUE(parse_io_backend("auto").ok());
  EXPECT_EQ(*parse_io_backend("auto"), IoBackend::automatic);
  EXPECT_EQ(*parse_io_backend("uring"), IoBackend::uring);
  EXPECT_EQ(*parse_io_backend("epoll"), IoBackend::epoll);
  EXPECT_FALSE(parse_io_backend("kqueue").ok());
  EXPECT_FALSE(parse_io_backend("").ok());
  for (IoBackend b : {IoBackend::automatic, IoBackend::uring, IoBackend::epoll}) {
    EXPECT_EQ(*parse_io_backend(to_string(b)), b);
  }
}

TEST(EventLoopSelection, AutomaticPrefersUringWhenAvailable) {
  auto loop = make_event_loop(IoBackend::automatic);
  ASSERT_TRUE(loop.ok()) << loop.error().message;
  EXPECT_EQ((*loop)->backend(), io_uring_available() ? IoBackend::uring : IoBackend::epoll);
}

TEST(EventLoopSelection, ExplicitUringFailsWhenUnavailable) {
  std::string why;
  if (io_uring_available(&why)) GTEST_SKIP() << "io_uring is available here";
  auto loop = make_event_loop(IoBackend::uring);
  ASSERT_FALSE(loop.ok());
  EXPECT_NE(loop.error().message.find(why), std::string::npos) << loop.error().message;
}

TEST(EventLoopSelection, EpollAlwaysAvailable) {
  auto loop = make_event_loop(IoBackend::epoll);
  ASSERT_TRUE(loop.ok()) << loop.error().message;
  EXPECT_EQ((*loop)->backend(), IoBackend::epoll);
}

}  // namespace
}  // namespace spiceflow::net
