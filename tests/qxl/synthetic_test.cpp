// Tests of the synthetic desktops through their public API, with the frames rendered by the
// reference CPU renderer in reference_raster.hpp.
#include "spiceflow/qxl/synthetic.hpp"

#include <gtest/gtest.h>

#include <map>
#include <set>
#include <string>

#include "reference_raster.hpp"

namespace spiceflow::qxl {
namespace {

using testing::apply;
using testing::diff_bounds;
using testing::pixel_hash;

std::vector<std::string> workload_names() {
  std::vector<std::string> names;
  for (const SyntheticInfo& info : list_synthetic()) names.push_back(info.name);
  return names;
}

std::unique_ptr<SyntheticDesktop> make(const std::string& name, Size size, bool frozen = false) {
  SyntheticOptions opts;
  opts.size = size;
  opts.frozen = frozen;
  auto r = make_synthetic(name, opts);
  EXPECT_TRUE(r.ok()) << (r.ok() ? "" : r.error().message);
  return r.ok() ? std::move(r).value() : nullptr;
}

// Scancodes (PC/XT set 1) for the test's typing.
constexpr uint32_t kShift = 0x2a;
constexpr uint32_t kBackspace = 0x0e;
constexpr uint32_t kEnter = 0x1c;
constexpr uint32_t kKeyA = 0x1e;
constexpr uint32_t kKeyH = 0x23;
constexpr uint32_t kKeyI = 0x17;

void press(SyntheticDesktop& d, uint32_t code) {
  d.on_input(KeyEvent{code, true});
  d.on_input(KeyEvent{code | 0x80, false});
}

// The pixels of `r` in `img`.
Image region(const Image& img, const Rect& r) { return Image::copy_of(img.view(), r); }

bool same_pixels(const Image& a, const Image& b) { return diff_bounds(a, b).empty(); }

// The top-left corner where every workload keeps its text box.
Rect text_box_area(Size s) { return Rect{0, 0, s.width * 3 / 4, s.height / 4}; }

TEST(SyntheticList, OfficeFirstAndAllDescribed) {
  const auto names = workload_names();
  ASSERT_EQ(names,
            (std::vector<std::string>{"office", "scroll-text", "window-drag", "video", "video-move",
                                      "game", "mixed"}));
  for (const SyntheticInfo& info : list_synthetic())
    EXPECT_FALSE(info.description.empty()) << info.name;
}

TEST(SyntheticList, UnknownNameListsChoices) {
  auto r = make_synthetic("spreadsheet", SyntheticOptions{});
  ASSERT_FALSE(r.ok());
  EXPECT_NE(r.error().message.find("spreadsheet"), std::string::npos);
  for (const auto& name : workload_names())
    EXPECT_NE(r.error().message.find(name), std::string::npos);
}

TEST(SyntheticList, SizeAndFpsLimits) {
  for (Size bad :
       {Size{63, 64}, Size{64, 63}, Size{8193, 100}, Size{100, 8193}, Size{0, 0}, Size{-5, 100}}) {
    SyntheticOptions opts;
    opts.size = bad;
    auto r = make_synthetic("office", opts);
    EXPECT_FALSE(r.ok()) << bad.width << "x" << bad.height;
    if (!r.ok()) {
      EXPECT_NE(r.error().message.find("64x64"), std::string::npos);
    }
  }
  SyntheticOptions opts;
  opts.fps = 0;
  EXPECT_FALSE(make_synthetic("office", opts).ok());
  for (Size good : {Size{64, 64}, Size{8192, 64}, Size{64, 8192}}) {
    opts = SyntheticOptions{};
    opts.size = good;
    EXPECT_TRUE(make_synthetic("scroll-text", opts).ok());
  }
}

class EveryWorkload : public ::testing::TestWithParam<std::string> {};

// Every command lies inside the surface (and a blit inside its image) at awkward sizes, with
// the pointer thrown at and past the edges; apply() fails the test on any stray command.
TEST_P(EveryWorkload, CommandsStayInBounds) {
  for (Size size :
       {Size{64, 64}, Size{333, 197}, Size{1024, 768}, Size{64, 1000}, Size{1000, 64}}) {
    SCOPED_TRACE(std::to_string(size.width) + "x" + std::to_string(size.height));
    auto d = make(GetParam(), size);
    ASSERT_TRUE(d);
    Image screen;
    const DrawBatch first = d->start();
    ASSERT_EQ(first.creates.size(), 1u);
    EXPECT_EQ(first.creates[0].surface_id, 0u);
    EXPECT_EQ(first.creates[0].size, size);
    EXPECT_FALSE(first.commands.empty());
    apply(screen, first);
    for (uint64_t f = 1; f <= 45; ++f) {
      if (f % 3 == 0)
        d->on_input(PointerEvent{int32_t(f * 97 % 1400) - 200, int32_t(f * 61 % 1200) - 100, 0});
      if (f % 5 == 0) d->on_input(MotionEvent{-300, 250, 0});
      if (f % 4 == 0) d->on_input(ButtonEvent{1, true, 1});
      if (f % 2 == 0) press(*d, uint32_t(0x10 + f % 10));
      const DrawBatch b = d->next_frame(f);
      EXPECT_TRUE(b.creates.empty());
      EXPECT_LT(b.commands.size(), 2000u);
      for (const DrawCommand& c : b.commands) {
        if (const auto* fill = std::get_if<FillOp>(&c.op)) {
          EXPECT_FALSE(fill->rect.empty());
        } else if (const auto* blit = std::get_if<BlitOp>(&c.op)) {
          EXPECT_FALSE(blit->dst.empty());
        } else {
          EXPECT_FALSE(std::get<CopyBitsOp>(c.op).dst.empty());
        }
      }
      apply(screen, b);
      if (::testing::Test::HasFailure()) return;
    }
  }
}

// Two instances fed the same frames and input produce the same pixels every frame.
TEST_P(EveryWorkload, Deterministic) {
  const Size size{320, 240};
  auto a = make(GetParam(), size);
  auto b = make(GetParam(), size);
  Image sa, sb;
  apply(sa, a->start());
  apply(sb, b->start());
  EXPECT_EQ(pixel_hash(sa), pixel_hash(sb));
  for (uint64_t f = 1; f <= 40; ++f) {
    for (auto* d : {a.get(), b.get()}) {
      if (f == 7) d->on_input(PointerEvent{40, 200, 0});
      if (f == 9) d->on_input(ButtonEvent{1, true, 1});
      if (f == 12) press(*d, kKeyH);
    }
    const DrawBatch ba = a->next_frame(f);
    const DrawBatch bb = b->next_frame(f);
    EXPECT_EQ(ba.commands.size(), bb.commands.size()) << "frame " << f;
    apply(sa, ba);
    apply(sb, bb);
    ASSERT_EQ(pixel_hash(sa), pixel_hash(sb)) << "frame " << f;
  }
}

// The final picture depends only on the frame number and the input, not on which frames
// were asked for on the way: consecutive frames, skipped frames and a single jump agree.
// This checks the incremental updates (scrolls, moves, overlay repair) against each other.
TEST_P(EveryWorkload, SkippedFramesGiveTheSamePicture) {
  for (Size size : {Size{320, 240}, Size{1280, 720}}) {
    SCOPED_TRACE(std::to_string(size.width) + "x" + std::to_string(size.height));
    auto steady = make(GetParam(), size);
    auto skipping = make(GetParam(), size);
    auto jumping = make(GetParam(), size);
    Image s1, s2, s3;
    apply(s1, steady->start());
    apply(s2, skipping->start());
    apply(s3, jumping->start());
    constexpr uint64_t kLast = 100;
    for (uint64_t f = 1; f <= kLast; ++f) {
      // Wander the pointer over the animated parts, leaving dots and typing as it goes.
      const InputEvent move = PointerEvent{int32_t(size.width * (f * 37 % 100) / 100),
                                           int32_t(size.height * (f * 53 % 100) / 100), 0};
      for (auto* d : {steady.get(), skipping.get(), jumping.get()}) {
        d->on_input(move);
        if (f % 9 == 0) d->on_input(ButtonEvent{1, true, 1});
        if (f % 11 == 0) press(*d, kKeyA);
      }
      apply(s1, steady->next_frame(f));
      if (f % 7 == 0 || f == kLast) apply(s2, skipping->next_frame(f));
    }
    apply(s3, jumping->next_frame(kLast));
    EXPECT_TRUE(same_pixels(s1, s2))
        << "differs at " << diff_bounds(s1, s2).x << "," << diff_bounds(s1, s2).y;
    EXPECT_TRUE(same_pixels(s1, s3))
        << "differs at " << diff_bounds(s1, s3).x << "," << diff_bounds(s1, s3).y;
  }
}

TEST_P(EveryWorkload, AnimatesWhenNotFrozen) {
  const Size size{320, 240};
  auto d = make(GetParam(), size);
  Image screen;
  apply(screen, d->start());
  const Image first = screen;
  for (uint64_t f = 1; f <= 60; ++f) apply(screen, d->next_frame(f));
  EXPECT_FALSE(same_pixels(first, screen));
  // Asking for the same frame again changes nothing.
  EXPECT_TRUE(d->next_frame(60).commands.empty());
}

TEST_P(EveryWorkload, FrozenDrawsOnlyInput) {
  const Size size{320, 240};
  auto d = make(GetParam(), size, true);
  Image screen;
  apply(screen, d->start());
  const Image first = screen;
  for (uint64_t f = 1; f <= 20; ++f) EXPECT_TRUE(d->next_frame(f).commands.empty()) << f;

  press(*d, kKeyH);
  press(*d, kKeyI);
  const DrawBatch typed = d->next_frame(21);
  EXPECT_FALSE(typed.commands.empty());
  apply(screen, typed);
  const Rect changed = diff_bounds(first, screen);
  EXPECT_FALSE(changed.empty());
  EXPECT_TRUE(text_box_area(size).contains(changed));
  EXPECT_TRUE(d->next_frame(22).commands.empty());

  // Backspacing both characters gives back the first picture exactly.
  press(*d, kBackspace);
  press(*d, kBackspace);
  apply(screen, d->next_frame(23));
  EXPECT_TRUE(same_pixels(first, screen));
}

// Typed text shows in the text box while the scene animates, and only there.
TEST_P(EveryWorkload, TypingChangesOnlyTheTextBox) {
  const Size size{640, 480};
  auto plain = make(GetParam(), size);
  auto typed = make(GetParam(), size);
  Image sp, st;
  apply(sp, plain->start());
  apply(st, typed->start());
  for (uint64_t f = 1; f <= 20; ++f) {
    if (f == 5) {
      press(*typed, kKeyH);
      press(*typed, kKeyI);
    }
    apply(sp, plain->next_frame(f));
    apply(st, typed->next_frame(f));
  }
  const Rect changed = diff_bounds(sp, st);
  EXPECT_FALSE(changed.empty());
  EXPECT_TRUE(text_box_area(size).contains(changed));
}

// The marker follows the pointer and leaves nothing behind; a click leaves a dot that stays.
TEST_P(EveryWorkload, PointerAndButtons) {
  const Size size{320, 240};
  const Point p{80, 180};
  // Where the marker was leaves no trace: a desktop whose pointer moved to p looks exactly
  // like one whose pointer was at p from the start.
  auto reference = make(GetParam(), size, true);
  reference->on_input(PointerEvent{p.x, p.y, 0});
  Image first;
  apply(first, reference->start());
  auto d = make(GetParam(), size, true);
  Image screen;
  apply(screen, d->start());
  EXPECT_FALSE(same_pixels(first, screen));
  d->on_input(PointerEvent{p.x, p.y, 0});
  apply(screen, d->next_frame(1));
  EXPECT_EQ(screen.pixel(p.x, p.y) & 0xffffff, 0xe61414u) << "marker centre";
  EXPECT_TRUE(same_pixels(first, screen));

  d->on_input(ButtonEvent{1, true, 1});
  d->on_input(ButtonEvent{1, false, 0});
  apply(screen, d->next_frame(2));
  const uint32_t dot = screen.pixel(p.x + 3, p.y + 3) & 0xffffff;
  EXPECT_NE(dot, first.pixel(p.x + 3, p.y + 3) & 0xffffff) << "dot visible beside the marker";

  d->on_input(MotionEvent{-1000, -1000, 0});  // clamped to the corner
  apply(screen, d->next_frame(3));
  EXPECT_EQ(screen.pixel(0, 0) & 0xffffff, 0xe61414u);
  EXPECT_EQ(screen.pixel(p.x, p.y) & 0xffffff, dot) << "the dot stays";
  // Against a desktop whose pointer sat in the corner all along, only the dot differs.
  auto cornered = make(GetParam(), size, true);
  cornered->on_input(PointerEvent{0, 0, 0});
  Image corner;
  apply(corner, cornered->start());
  const Rect changed = diff_bounds(corner, screen);
  EXPECT_TRUE((Rect{p.x - 4, p.y - 4, 9, 9}).contains(changed))
      << "changed " << changed.x << "," << changed.y << " " << changed.width << "x"
      << changed.height;
}

// A dot survives a scene that repaints everything under it every frame.
TEST_P(EveryWorkload, DotsSurviveAnimation) {
  const Size size{320, 240};
  auto d = make(GetParam(), size);
  Image screen;
  apply(screen, d->start());
  d->on_input(PointerEvent{250, 150, 0});
  d->on_input(ButtonEvent{1, true, 1});
  d->on_input(PointerEvent{30, 200, 0});
  for (uint64_t f = 1; f <= 30; ++f) apply(screen, d->next_frame(f));
  EXPECT_EQ(screen.pixel(250, 150) & 0xffffff, 0xff4040u);
}

// Images handed out in blits never change afterwards, even when the workload recycles memory.
TEST_P(EveryWorkload, BlitImagesAreImmutable) {
  auto d = make(GetParam(), Size{320, 240});
  std::vector<std::pair<std::shared_ptr<const Image>, uint64_t>> held;
  auto hold = [&](const DrawBatch& b) {
    for (const DrawCommand& c : b.commands) {
      if (const auto* blit = std::get_if<BlitOp>(&c.op))
        held.emplace_back(blit->src, pixel_hash(*blit->src));
    }
  };
  hold(d->start());
  for (uint64_t f = 1; f <= 12; ++f) {
    const DrawBatch b = d->next_frame(f);
    if (f <= 3) hold(b);
  }
  for (const auto& [img, hash] : held) EXPECT_EQ(pixel_hash(*img), hash);
  // They also outlive the desktop that made them.
  d.reset();
  for (const auto& [img, hash] : held) EXPECT_EQ(pixel_hash(*img), hash);
}

TEST_P(EveryWorkload, FullHdBatchesStaySmall) {
  auto d = make(GetParam(), Size{1920, 1080});
  EXPECT_LT(d->start().commands.size(), 2000u);
  for (uint64_t f = 1; f <= 8; ++f) {
    d->on_input(PointerEvent{int32_t(100 * f), int32_t(90 * f), 0});
    EXPECT_LT(d->next_frame(f).commands.size(), 2000u);
  }
}

INSTANTIATE_TEST_SUITE_P(Synthetic, EveryWorkload, ::testing::ValuesIn(workload_names()),
                         [](const auto& info) {
                           std::string n = info.param;
                           for (char& c : n) c = c == '-' ? '_' : c;
                           return n;
                         });

// Frame 0 at 320x200 is pinned: the workloads use integer maths only, so these hold for every
// compiler, optimisation level and libm (checked with GCC and Clang, -O0 and -O2). Update them
// only when a workload's look changes on purpose; print the new values with
//   qxl_tests --gtest_also_run_disabled_tests --gtest_filter='*PrintFrameZeroHashes'
const std::map<std::string, uint64_t> kFrameZeroHashes = {
    {"office", 0xc0a6374d3f2680b3ull},      {"scroll-text", 0x8ec5dd26bcbb32cfull},
    {"window-drag", 0x2cfd0da5bd3d10a6ull}, {"video", 0x294ec5cb7a1d61bbull},
    {"video-move", 0x84da8ebb6d19d24eull},
    {"game", 0x6abe10d3a9ecdbc8ull},        {"mixed", 0x41900b0a2bc00c39ull},
};

uint64_t frame_zero_hash(const std::string& name) {
  auto d = make(name, Size{320, 200});
  Image screen;
  apply(screen, d->start());
  return pixel_hash(screen);
}

TEST(SyntheticGolden, FrameZeroIsStable) {
  for (const auto& name : workload_names()) {
    EXPECT_EQ(frame_zero_hash(name), kFrameZeroHashes.at(name)) << name;
  }
}

TEST(SyntheticGolden, DISABLED_PrintFrameZeroHashes) {
  for (const auto& name : workload_names()) {
    std::printf("    {\"%s\", 0x%016llxull},\n", name.c_str(),
                (unsigned long long)frame_zero_hash(name));
  }
}

// Every printable character the keyboard can type looks different in the text box.
TEST(SyntheticInput, EveryCharacterIsDistinct) {
  const Size size{320, 240};
  auto d = make("office", size, true);
  Image screen;
  apply(screen, d->start());
  const Rect box = text_box_area(size);
  std::set<uint64_t> seen{pixel_hash(region(screen, box))};
  int typed = 0;
  for (bool shift : {false, true}) {
    for (uint32_t code = 0x02; code <= 0x39; ++code) {
      if (code == kBackspace || code == kEnter || code == 0x0f /* tab */ ||
          code == 0x1d /* ctrl */ || code == kShift || code == 0x36 || code == 0x38 /* alt */ ||
          code == 0x37 /* keypad * */) {
        continue;
      }
      if (shift) d->on_input(KeyEvent{kShift, true});
      press(*d, code);
      if (shift) d->on_input(KeyEvent{kShift | 0x80, false});
      apply(screen, d->next_frame(uint64_t(++typed)));
      const bool space = code == 0x39;
      if (!space || !shift) {
        EXPECT_TRUE(seen.insert(pixel_hash(region(screen, box))).second)
            << "scancode 0x" << std::hex << code << (shift ? " with shift" : "");
      }
      press(*d, kBackspace);
      apply(screen, d->next_frame(uint64_t(++typed)));
    }
  }
  EXPECT_EQ(seen.size(), 1u + 95u);  // the empty box and every printable character
}

TEST(SyntheticInput, EnterClearsTheBox) {
  auto d = make("office", Size{320, 240}, true);
  Image screen;
  apply(screen, d->start());
  const Image first = screen;
  press(*d, kKeyA);
  apply(screen, d->next_frame(1));
  EXPECT_FALSE(same_pixels(first, screen));
  press(*d, kEnter);
  apply(screen, d->next_frame(2));
  EXPECT_TRUE(same_pixels(first, screen));
}

}  // namespace
}  // namespace spiceflow::qxl
