// spiceflow-meter's counting: 60 Hz tick grouping, nearest-rank percentiles, latency
// samples from pixel codes.
#include <gtest/gtest.h>

#include "stats.hpp"

namespace spiceflow::meter {
namespace {

TEST(VsyncTicks, UpdatesInOneTickAreOneFrame) {
  VsyncTicks t;
  EXPECT_TRUE(t.add(0));
  EXPECT_FALSE(t.add(1000));
  EXPECT_FALSE(t.add(16666));  // 16666 us * 60 < 1 s: still tick 0
  EXPECT_TRUE(t.add(16667));   // tick 1
  EXPECT_FALSE(t.add(33333));
  EXPECT_TRUE(t.add(33334));   // tick 2
  EXPECT_EQ(t.frames(), 3u);
  EXPECT_EQ(t.updates(), 6u);
}

TEST(VsyncTicks, GapsCountOnlyTicksWithUpdates) {
  VsyncTicks t;
  // One update every 100 ms for a second: 10 frames, whatever the ticks in between.
  for (int i = 0; i < 10; ++i) t.add(int64_t(i) * 100000);
  EXPECT_EQ(t.frames(), 10u);
  // A burst of 50 updates within 2 ms is one frame.
  VsyncTicks b;
  for (int i = 0; i < 50; ++i) b.add(2000000 + i * 40);
  EXPECT_EQ(b.frames(), 1u);
  EXPECT_EQ(b.updates(), 50u);
}

TEST(VsyncTicks, SteadyStreamAt60HzIsOneFramePerTick) {
  VsyncTicks t;
  // Two updates per tick (e.g. a draw and a stream frame) for 3 s at 60 Hz.
  for (int i = 0; i < 180; ++i) {
    t.add(int64_t(i) * 1000000 / 60 + 100);
    t.add(int64_t(i) * 1000000 / 60 + 8000);
  }
  EXPECT_EQ(t.frames(), 180u);
  EXPECT_EQ(t.updates(), 360u);
}

TEST(VsyncTicks, TickOfRoundsDown) {
  VsyncTicks t;
  EXPECT_EQ(t.tick_of(0), 0);
  EXPECT_EQ(t.tick_of(16666), 0);
  EXPECT_EQ(t.tick_of(16667), 1);
  EXPECT_EQ(t.tick_of(1000000), 60);
  EXPECT_EQ(t.tick_of(-1), -1);
  VsyncTicks t30(30);
  EXPECT_EQ(t30.tick_of(33333), 0);
  EXPECT_EQ(t30.tick_of(33334), 1);
}

TEST(Percentile, NearestRank) {
  std::vector<double> v;
  for (int i = 100; i >= 1; --i) v.push_back(i);  // unsorted on purpose
  EXPECT_EQ(*percentile(v, 50), 50);
  EXPECT_EQ(*percentile(v, 95), 95);
  EXPECT_EQ(*percentile(v, 99), 99);
  EXPECT_EQ(*percentile(v, 100), 100);
  EXPECT_EQ(*percentile(v, 0.5), 1);
}

TEST(Percentile, SmallSets) {
  EXPECT_FALSE(percentile({}, 50));
  EXPECT_EQ(*percentile({7}, 50), 7);
  EXPECT_EQ(*percentile({7}, 99), 7);
  // {1, 2, 3, 4}: p50 is the 2nd value, p95 and p99 the 4th.
  EXPECT_EQ(*percentile({4, 1, 3, 2}, 50), 2);
  EXPECT_EQ(*percentile({4, 1, 3, 2}, 95), 4);
  // One outlier in 20 samples shows at p99 and p95 (rank 19 of 20 is still 1.0) ...
  std::vector<double> v(19, 1.0);
  v.push_back(500);
  EXPECT_EQ(*percentile(v, 50), 1.0);
  EXPECT_EQ(*percentile(v, 95), 1.0);
  EXPECT_EQ(*percentile(v, 99), 500);
}

TEST(LatencyRecorder, OneSamplePerNewFrame) {
  LatencyRecorder r;
  EXPECT_FALSE(r.summary());
  EXPECT_TRUE(r.offer({1, 1000}, 3000));    // 2 ms
  EXPECT_FALSE(r.offer({1, 1000}, 9000));   // the same frame read again
  EXPECT_TRUE(r.offer({2, 2000}, 6000));    // 4 ms
  EXPECT_FALSE(r.offer({1, 1000}, 10000));  // an older frame
  EXPECT_TRUE(r.offer({5, 5000}, 11000));   // frames skipped: 6 ms
  EXPECT_EQ(r.repeats(), 2u);
  ASSERT_EQ(r.samples_ms().size(), 3u);
  const auto s = r.summary();
  ASSERT_TRUE(s);
  EXPECT_EQ(s->samples, 3u);
  EXPECT_DOUBLE_EQ(s->p50_ms, 4.0);
  EXPECT_DOUBLE_EQ(s->p95_ms, 6.0);
  EXPECT_DOUBLE_EQ(s->p99_ms, 6.0);
  EXPECT_DOUBLE_EQ(s->max_ms, 6.0);
}

TEST(LatencyRecorder, ClockAndIdsWrap) {
  LatencyRecorder r;
  // The stamp was taken 500 us before the 32-bit microsecond clock wrapped.
  EXPECT_TRUE(r.offer({0xffffffffu, 0xffffffffu - 499}, 1000));
  EXPECT_DOUBLE_EQ(r.samples_ms().back(), 1.5);
  // Frame id 0 after 0xffffffff is newer.
  EXPECT_TRUE(r.offer({0, 2000}, 2250));
  EXPECT_DOUBLE_EQ(r.samples_ms().back(), 0.25);
}

TEST(LatencyRecorder, CodesReadFromAPicture) {
  // The round trip the meter does: a code painted into a surface, read back.
  const int w = 800, h = 16;
  std::vector<uint8_t> pixels(size_t(w) * h * 4, 0x80);
  pixel_code::write(pixels.data(), size_t(w) * 4, 0, 0, {42, 123456});
  const auto stamp = pixel_code::read(pixels.data(), size_t(w) * 4, w, h);
  ASSERT_TRUE(stamp);
  LatencyRecorder r;
  EXPECT_TRUE(r.offer(*stamp, 123456 + 2500));
  EXPECT_DOUBLE_EQ(r.summary()->p50_ms, 2.5);
}

}  // namespace
}  // namespace spiceflow::meter
