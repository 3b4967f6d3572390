// The pixel code on synthetic desktops (SyntheticOptions::pixel_code, `spiceflow serve
// --pixel-code`): every frame ends with the code at (0,0), ids increase, the time is now,
// the rest of the picture is exactly the desktop without the code, and frozen desktops
// stay as they were.
#include <gtest/gtest.h>

#include "reference_raster.hpp"
#include "spiceflow/core/pixel_code.hpp"
#include "spiceflow/qxl/synthetic.hpp"

namespace spiceflow::qxl {
namespace {

using testing::apply;
using testing::pixel_hash;

std::unique_ptr<SyntheticDesktop> make(const std::string& name, Size size, bool code,
                                       bool frozen = false) {
  SyntheticOptions opts;
  opts.size = size;
  opts.pixel_code = code;
  opts.frozen = frozen;
  auto r = make_synthetic(name, opts);
  EXPECT_TRUE(r.ok()) << (r.ok() ? "" : r.error().message);
  return r.ok() ? std::move(r).value() : nullptr;
}

std::optional<pixel_code::Stamp> read_code(const Image& img) {
  return pixel_code::read(img.data(), size_t(img.stride()), img.width(), img.height());
}

// Equal outside the code's rectangle.
bool same_outside_code(const Image& a, const Image& b) {
  if (a.size() != b.size()) return false;
  for (int y = 0; y < a.height(); ++y) {
    for (int x = 0; x < a.width(); ++x) {
      if (y < pixel_code::kHeight && x < pixel_code::kWidth) continue;
      if (a.pixel(x, y) != b.pixel(x, y)) {
        ADD_FAILURE() << "differs at " << x << "," << y;
        return false;
      }
    }
  }
  return true;
}

class PixelCodeWorkload : public ::testing::TestWithParam<std::string> {};

TEST_P(PixelCodeWorkload, EveryFrameCarriesANewCodeOverTheSamePicture) {
  const Size size{800, 600};
  auto coded = make(GetParam(), size, true);
  auto plain = make(GetParam(), size, false);
  Image a, b;
  apply(a, coded->start());
  apply(b, plain->start());
  auto stamp = read_code(a);
  ASSERT_TRUE(stamp);
  EXPECT_EQ(stamp->frame_id, 0u);
  EXPECT_LT(pixel_code::elapsed_us(stamp->time_us, pixel_code::now_us()), 5'000'000u);
  EXPECT_TRUE(same_outside_code(a, b));
  for (uint64_t f = 1; f <= 60; ++f) {
    // Input that moves overlay pieces over the code's corner and around.
    for (auto* d : {coded.get(), plain.get()}) {
      d->on_input(PointerEvent{int32_t(f * 53 % 900), int32_t(f * 7 % 40), 0});
      if (f % 6 == 0) d->on_input(ButtonEvent{1, true, 1});
    }
    const DrawBatch batch = coded->next_frame(f);
    // The code is the last command, so nothing of the frame covers it.
    ASSERT_FALSE(batch.commands.empty()) << "frame " << f;
    const auto* last = std::get_if<BlitOp>(&batch.commands.back().op);
    ASSERT_TRUE(last) << "frame " << f;
    EXPECT_EQ(last->dst, (Rect{0, 0, pixel_code::kWidth, pixel_code::kHeight}));
    apply(a, batch);
    apply(b, plain->next_frame(f));
    const auto s = read_code(a);
    ASSERT_TRUE(s) << "frame " << f;
    EXPECT_EQ(s->frame_id, uint32_t(f)) << "frame " << f;
    EXPECT_LT(pixel_code::elapsed_us(s->time_us, pixel_code::now_us()), 5'000'000u);
    ASSERT_TRUE(same_outside_code(a, b)) << "frame " << f;
  }
}

TEST_P(PixelCodeWorkload, FrozenIgnoresIt) {
  const Size size{800, 600};
  auto coded = make(GetParam(), size, true, true);
  auto plain = make(GetParam(), size, false, true);
  Image a, b;
  apply(a, coded->start());
  apply(b, plain->start());
  EXPECT_FALSE(read_code(a));
  EXPECT_EQ(pixel_hash(a), pixel_hash(b));
  for (uint64_t f = 1; f <= 5; ++f) {
    EXPECT_TRUE(coded->next_frame(f).commands.empty());
  }
}

TEST_P(PixelCodeWorkload, NarrowDesktopStaysInBounds) {
  // Narrower than the code: it is clipped (apply() fails on a stray command) and unreadable.
  auto d = make(GetParam(), Size{320, 240}, true);
  Image screen;
  apply(screen, d->start());
  for (uint64_t f = 1; f <= 10; ++f) apply(screen, d->next_frame(f));
  EXPECT_FALSE(read_code(screen));
}

std::vector<std::string> names() {
  std::vector<std::string> v;
  for (const SyntheticInfo& i : list_synthetic()) v.push_back(i.name);
  return v;
}

INSTANTIATE_TEST_SUITE_P(All, PixelCodeWorkload, ::testing::ValuesIn(names()),
                         [](const auto& info) {
                           std::string n = info.param;
                           std::erase(n, '-');
                           return n;
                         });

}  // namespace
}  // namespace spiceflow::qxl
