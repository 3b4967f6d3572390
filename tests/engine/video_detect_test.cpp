// Video-region detection through the Desktop pipeline, with scripted sources: a rectangle
// repainted every frame becomes a region (and its tiles stop being encoded), a one-off
// change does not, thin repaints (scrolling text's new lines) only under "all", and a
// region that stops changing ends with its tiles refreshed losslessly.
#include <gtest/gtest.h>

#include <algorithm>
#include <functional>

#include "spiceflow/engine/desktop.hpp"

namespace spiceflow::engine {
namespace {

constexpr Size kSize{512, 256};
constexpr int32_t kTile = 64;

// Paints a grey background, then whatever `paint(frame)` returns for frames >= 1.
class Scripted final : public qxl::SyntheticDesktop {
 public:
  explicit Scripted(std::function<std::vector<FillOp>(uint64_t)> paint) : paint_(std::move(paint)) {}
  std::string_view name() const override { return "scripted"; }
  DrawBatch start() override {
    DrawBatch b;
    b.creates.push_back(SurfaceCreate{0, kSize});
    b.commands.push_back(DrawCommand{0, {}, FillOp{Rect::from_size(kSize), 0x808080}, {}});
    return b;
  }
  DrawBatch next_frame(uint64_t frame) override {
    DrawBatch b;
    if (frame == last_) return b;  // the pipeline repeats the last frame after stop_after
    last_ = frame;
    for (const auto& f : paint_(frame)) b.commands.push_back(DrawCommand{0, {}, f, {}});
    return b;
  }
  void on_input(const InputEvent&) override {}

 private:
  std::function<std::vector<FillOp>(uint64_t)> paint_;
  uint64_t last_ = 0;
};

std::unique_ptr<Desktop> make(std::function<std::vector<FillOp>(uint64_t)> paint,
                              StreamingVideo mode = StreamingVideo::filter, uint64_t stop = 0) {
  DesktopOptions o;
  o.source.size = kSize;
  o.tile_size = kTile;
  o.streaming_video = mode;
  o.stop_after_frames = stop;
  auto d = Desktop::create(0, o, std::make_unique<Scripted>(std::move(paint)));
  EXPECT_TRUE(d.ok()) << (d.ok() ? "" : d.error().message);
  return d.ok() ? std::move(*d) : nullptr;
}

void run_ticks(Desktop& d, int n) {
  for (int i = 0; i < n; ++i) {
    d.wait_idle();
    d.tick();
  }
  d.wait_idle();
}

uint32_t colour(uint64_t frame) { return uint32_t(frame * 0x10305 + 0x203040) & 0xffffff; }

const Rect kVideo{64, 64, 192, 128};  // 3 x 2 tiles

std::vector<FillOp> video(uint64_t frame) { return {FillOp{kVideo, colour(frame)}}; }

TEST(VideoDetect, RegionRepaintedEveryFrameBecomesAStream) {
  auto d = make(video);
  ASSERT_TRUE(d);
  run_ticks(*d, 6);
  EXPECT_TRUE(d->latest()->video.empty()) << "a region needs a steady rate first";
  run_ticks(*d, 20);
  auto f = d->latest();
  ASSERT_EQ(f->video.size(), 1u);
  const VideoRegion& v = f->video[0];
  EXPECT_EQ(v.rect, kVideo);
  ASSERT_NE(v.pixels, nullptr);
  EXPECT_EQ(v.pixels->size(), kVideo.size());
  EXPECT_EQ(v.version, f->version);
  // The region's picture is the surface's (the newest fill colour).
  const Image whole = f->assemble();
  EXPECT_EQ(v.pixels->pixel(0, 0) & 0xffffff, whole.pixel(kVideo.x, kVideo.y) & 0xffffff);
  // Tiles inside still carry the exact pixels, but no lossless encoding is made for them.
  for (const auto& t : f->tiles) {
    if (kVideo.contains(t->rect) && t->version == f->version) {
      EXPECT_EQ(t->lz4, nullptr);
    }
  }
  EXPECT_EQ(d->stats().video_regions, 1u);
  // The region keeps its id while it keeps changing.
  run_ticks(*d, 10);
  ASSERT_EQ(d->latest()->video.size(), 1u);
  EXPECT_EQ(d->latest()->video[0].id, v.id);
  EXPECT_GT(d->latest()->video[0].version, v.version);
}

TEST(VideoDetect, TextThatChangesOnceIsNoStream) {
  auto d = make([](uint64_t frame) {
    std::vector<FillOp> ops;
    if (frame == 5) ops.push_back(FillOp{Rect{10, 10, 200, 12}, 0x000000});  // a line of "text"
    if (frame % 20 == 0) ops.push_back(FillOp{Rect{300, 200, 8, 12}, colour(frame)});  // a caret
    return ops;
  });
  ASSERT_TRUE(d);
  run_ticks(*d, 60);
  EXPECT_TRUE(d->latest()->video.empty());
  EXPECT_EQ(d->stats().video_regions, 0u);
}

// New lines of scrolling text: two rows of pixels per tile per frame.
std::vector<FillOp> thin(uint64_t frame) {
  return {FillOp{Rect{0, 190, 512, 2}, colour(frame)}};
}

TEST(VideoDetect, ThinRepaintsAreNoVideoUnderFilter) {
  auto d = make(thin, StreamingVideo::filter);
  ASSERT_TRUE(d);
  run_ticks(*d, 40);
  EXPECT_TRUE(d->latest()->video.empty());
}

TEST(VideoDetect, AllStreamsAnySteadyRegion) {
  auto d = make(thin, StreamingVideo::all);
  ASSERT_TRUE(d);
  run_ticks(*d, 40);
  ASSERT_EQ(d->latest()->video.size(), 1u);
  EXPECT_EQ(d->latest()->video[0].rect, (Rect{0, 128, 512, 64}));
}

TEST(VideoDetect, OffNeverStreams) {
  auto d = make(video, StreamingVideo::off);
  ASSERT_TRUE(d);
  run_ticks(*d, 40);
  EXPECT_TRUE(d->latest()->video.empty());
}

TEST(VideoDetect, RegionThatStopsEndsWithExactTiles) {
  auto d = make(video, StreamingVideo::filter, /*stop=*/30);
  ASSERT_TRUE(d);
  run_ticks(*d, 30);
  ASSERT_EQ(d->latest()->video.size(), 1u);
  // Still for kEndAfterStill passes, then one more for the refresh.
  run_ticks(*d, 30);
  auto f = d->latest();
  EXPECT_TRUE(f->video.empty()) << "the region did not end";
  // Every tile of the old region was refreshed (newest version) with lossless encodings.
  uint64_t refreshed = 0;
  for (const auto& t : f->tiles) {
    if (!kVideo.contains(t->rect)) continue;
    ASSERT_NE(t->lz4, nullptr);
    refreshed = std::max(refreshed, t->version);
  }
  EXPECT_EQ(refreshed, f->version);
  const Image whole = f->assemble();
  EXPECT_EQ(whole.pixel(kVideo.x + 5, kVideo.y + 5) & 0xffffff, colour(30));
  // Nothing changes any more, so the region does not come back.
  run_ticks(*d, 20);
  EXPECT_TRUE(d->latest()->video.empty());
  EXPECT_EQ(d->stats().video_regions, 1u);
}

}  // namespace
}  // namespace spiceflow::engine

namespace spiceflow::engine {
namespace {

// The scroll-text workload at full HD: the terminal scrolls (forwarded COPY_BITS) and new
// lines are painted at the bottom every frame. That is text moving, not video: no region.
TEST(VideoDetect, ScrollingTerminalIsNoVideo) {
  DesktopOptions o;
  o.synthetic = "scroll-text";
  o.source.size = {1920, 1080};
  o.streaming_video = StreamingVideo::filter;
  auto d = Desktop::create(0, o);
  ASSERT_TRUE(d.ok()) << d.error().message;
  bool copies = false;
  for (int i = 0; i < 60; ++i) {
    run_ticks(**d, 1);
    copies |= !(*d)->latest()->copies.empty();
    ASSERT_TRUE((*d)->latest()->video.empty()) << "streamed at pass " << i;
  }
  EXPECT_TRUE(copies);
}

}  // namespace
}  // namespace spiceflow::engine

namespace spiceflow::engine {
namespace {

// Thin strips and small changes next to a video (issue 8: the pixel code, a clock, a
// progress bar): they change as often as the video but repaint little of their tiles, so
// they never become part of a region.

bool overlaps(const Rect& a, const Rect& b) { return !intersect(a, b).empty(); }

// Tiles wholly outside every region carry lossless encodings on the frame that changed them.
void expect_lossless_outside_regions(const Frame& f) {
  for (const auto& t : f.tiles) {
    if (t->version != f.version) continue;
    const bool in_region = std::any_of(f.video.begin(), f.video.end(),
                                       [&](const VideoRegion& v) {
                                         return v.rect.contains(t->rect);
                                       });
    if (!in_region) {
      EXPECT_NE(t->lz4, nullptr) << t->rect.x << "," << t->rect.y;
    }
  }
}

// A strip 8 pixels high across the top, repainted every frame (the pixel code), one tile
// row above the video: before, its steady tiles joined the video's region (0,0 512x192).
TEST(VideoDetect, ThinStripBesideVideoIsNotMerged) {
  const Rect strip{0, 0, 512, 8};
  auto d = make([&](uint64_t frame) {
    return std::vector<FillOp>{FillOp{kVideo, colour(frame)}, FillOp{strip, colour(frame * 7)}};
  });
  ASSERT_TRUE(d);
  run_ticks(*d, 40);
  auto f = d->latest();
  ASSERT_EQ(f->video.size(), 1u);
  EXPECT_EQ(f->video[0].rect, kVideo);
  EXPECT_FALSE(overlaps(f->video[0].rect, strip));
  expect_lossless_outside_regions(*f);
}

// The strip shares the video's top tile row (video from y=80, strip at y=64..72): the
// region leaves the strip's band out, the shared tiles stay lossless, and the strip
// going on after the video stopped does not keep the stream alive.
TEST(VideoDetect, StripSharingTilesWithVideoStaysOutOfTheRegion) {
  const Rect vid{64, 80, 192, 112};
  const Rect strip{0, 64, 512, 8};
  auto d = make([&](uint64_t frame) {
    std::vector<FillOp> ops{FillOp{strip, colour(frame * 7)}};
    if (frame < 40) ops.push_back(FillOp{vid, colour(frame)});
    return ops;
  });
  ASSERT_TRUE(d);
  run_ticks(*d, 30);
  auto f = d->latest();
  ASSERT_EQ(f->video.size(), 1u);
  // The video's tiles (64,64 192x128) less the strip's band.
  EXPECT_EQ(f->video[0].rect, (Rect{64, 72, 192, 120}));
  EXPECT_TRUE(f->video[0].rect.contains(vid));
  EXPECT_FALSE(overlaps(f->video[0].rect, strip));
  expect_lossless_outside_regions(*f);
  // The video stops at frame 40; the strip goes on. The region ends, and the picture is
  // exact.
  run_ticks(*d, 40);
  f = d->latest();
  EXPECT_TRUE(f->video.empty()) << "the strip kept the region alive";
  const Image whole = f->assemble();
  EXPECT_EQ(whole.pixel(vid.x + 5, vid.y + 5) & 0xffffff, colour(39));
}

// The strip is painted over the video's own pixels (the pixel code over a window dragged
// to the top of the screen): the region is cut below it.
TEST(VideoDetect, StripPaintedOverTheVideoIsCutOff) {
  const Rect vid{64, 0, 192, 192};
  const Rect strip{0, 0, 512, 8};
  auto d = make([&](uint64_t frame) {
    return std::vector<FillOp>{FillOp{vid, colour(frame)}, FillOp{strip, colour(frame * 7)}};
  });
  ASSERT_TRUE(d);
  run_ticks(*d, 30);
  auto f = d->latest();
  ASSERT_EQ(f->video.size(), 1u);
  EXPECT_EQ(f->video[0].rect, (Rect{64, 8, 192, 184}));
  expect_lossless_outside_regions(*f);
}

// A small clock: once a second (every 30th frame) is no steady rate, alone or beside a
// video; a small box redrawn every frame (a seconds counter with milliseconds, a spinner)
// repaints too little of its tiles to be video.
TEST(VideoDetect, SmallClockIsNeverVideo) {
  const Rect clock{400, 230, 48, 16};
  auto d = make([&](uint64_t frame) {
    std::vector<FillOp> ops;
    if (frame % 30 == 1) ops.push_back(FillOp{clock, colour(frame)});
    return ops;
  });
  ASSERT_TRUE(d);
  run_ticks(*d, 120);
  EXPECT_TRUE(d->latest()->video.empty());
  EXPECT_EQ(d->stats().video_regions, 0u);

  auto every = make(
      [&](uint64_t frame) { return std::vector<FillOp>{FillOp{clock, colour(frame)}}; });
  ASSERT_TRUE(every);
  run_ticks(*every, 60);
  EXPECT_TRUE(every->latest()->video.empty());
  EXPECT_EQ(every->stats().video_regions, 0u);

  // Beside a video (the clock's tile touches the video's): the region is the video's.
  const Rect near{256, 100, 40, 12};
  auto beside = make([&](uint64_t frame) {
    return std::vector<FillOp>{FillOp{kVideo, colour(frame)}, FillOp{near, colour(frame * 3)}};
  });
  ASSERT_TRUE(beside);
  run_ticks(*beside, 40);
  ASSERT_EQ(beside->latest()->video.size(), 1u);
  EXPECT_EQ(beside->latest()->video[0].rect, kVideo);
}

}  // namespace
}  // namespace spiceflow::engine

namespace spiceflow::engine {
namespace {

// A region follows its picture (issue 8): a video window dragged across the desktop keeps
// its region (same id, no second region where it was), and a part of the picture that
// something covers (a note on top, painted around by the video) is listed as covered.

constexpr int32_t kDragStart = 30;  // frames at rest before the drag
constexpr int32_t kDragFrames = 16;
constexpr int32_t kDragStep = 8;

Rect moving_video_at(uint64_t frame) {
  const int32_t steps =
      std::clamp<int32_t>(int32_t(frame) - kDragStart, 0, kDragFrames);
  return Rect{kVideo.x + steps * kDragStep, kVideo.y, kVideo.width, kVideo.height};
}

std::vector<FillOp> moving_video(uint64_t frame) {
  std::vector<FillOp> ops;
  const Rect now = moving_video_at(frame);
  const Rect before = moving_video_at(frame - 1);
  if (now != before) {
    // The uncovered wallpaper: a thin strip.
    ops.push_back(FillOp{Rect{before.x, before.y, now.x - before.x, before.height}, 0x808080});
  }
  ops.push_back(FillOp{now, colour(frame)});
  return ops;
}

TEST(VideoFollow, DraggedPictureMovesItsRegion) {
  auto d = make(moving_video);
  ASSERT_TRUE(d);
  run_ticks(*d, kDragStart - 2);
  ASSERT_EQ(d->latest()->video.size(), 1u);
  const VideoRegion first = d->latest()->video[0];
  EXPECT_EQ(first.rect, kVideo);
  for (int i = 0; i < kDragFrames + 4; ++i) {
    run_ticks(*d, 1);
    auto f = d->latest();
    ASSERT_EQ(f->video.size(), 1u) << "pass " << i << " of the drag";
    EXPECT_EQ(f->video[0].id, first.id);
    // The region holds the picture as it is now (tile-aligned around it).
    const Rect pic = moving_video_at(uint64_t(kDragStart - 2 + i));
    EXPECT_TRUE(f->video[0].rect.contains(pic))
        << "pass " << i << ": region " << f->video[0].rect.x << "," << f->video[0].rect.width;
    ASSERT_NE(f->video[0].pixels, nullptr);
    EXPECT_EQ(f->video[0].pixels->size(), f->video[0].rect.size());
  }
  const Rect end = moving_video_at(kDragStart + kDragFrames);
  run_ticks(*d, 20);
  auto f = d->latest();
  ASSERT_EQ(f->video.size(), 1u);
  EXPECT_EQ(f->video[0].id, first.id);
  // It kept the size it took on the first step (the picture then straddled 4 tiles), so
  // clients only moved their stream; the still part beside the picture is covered.
  EXPECT_EQ(f->video[0].rect, (Rect{128, 64, 256, 128})) << "tile-aligned around " << end.x;
  EXPECT_TRUE(f->video[0].rect.contains(end));
  ASSERT_EQ(f->video[0].covered.size(), 1u);
  EXPECT_EQ(f->video[0].covered[0], (Rect{128, 64, 64, 128}));
  EXPECT_EQ(d->stats().video_regions, 1u) << "a second region started where the video was";
}

const Rect kNote{128, 96, 64, 32};  // on the 8-pixel grid, inside kVideo
const Rect kStillPatch{80, 160, 16, 16};  // inside kVideo, apart from the note

std::vector<FillOp> covered_video(uint64_t frame) {
  // The picture around the note (as a window system clips it), then the still note.
  std::vector<FillOp> ops;
  ops.push_back(FillOp{Rect::from_ltrb(kVideo.x, kVideo.y, kVideo.right(), kNote.y), colour(frame)});
  ops.push_back(FillOp{Rect::from_ltrb(kVideo.x, kNote.y, kNote.x, kNote.bottom()), colour(frame)});
  ops.push_back(FillOp{Rect::from_ltrb(kNote.right(), kNote.y, kVideo.right(), kNote.bottom()),
                       colour(frame)});
  ops.push_back(FillOp{Rect::from_ltrb(kVideo.x, kNote.bottom(), kVideo.right(), kVideo.bottom()),
                       colour(frame)});
  if (frame == 1) ops.push_back(FillOp{kNote, 0xf0e080});
  // A small patch of the picture that holds still (a logo, a dark corner): too small to be
  // a window, it stays in the stream.
  ops.push_back(FillOp{kStillPatch, 0x102030});
  return ops;
}

TEST(VideoFollow, StillPartOverThePictureIsCovered) {
  auto d = make(covered_video);
  ASSERT_TRUE(d);
  run_ticks(*d, 20);
  ASSERT_EQ(d->latest()->video.size(), 1u);
  EXPECT_TRUE(d->latest()->video[0].covered.empty()) << "covered before it held still";
  run_ticks(*d, 30);
  const auto f = d->latest();
  ASSERT_EQ(f->video.size(), 1u);
  const VideoRegion& v = f->video[0];
  ASSERT_FALSE(v.covered.empty());
  int64_t covered = 0, shown = 0;
  for (const Rect& c : v.covered) {
    EXPECT_TRUE(kNote.contains(c)) << c.x << "," << c.y << " " << c.width << "x" << c.height;
    covered += c.area();
  }
  for (const Rect& s : v.shown) {
    EXPECT_TRUE(intersect(s, kNote).empty());
    EXPECT_TRUE(v.rect.contains(s));
    shown += s.area();
  }
  EXPECT_EQ(covered, kNote.area()) << "the small still patch was clipped out too";
  EXPECT_EQ(covered + shown, v.rect.area());
}

}  // namespace
}  // namespace spiceflow::engine

namespace spiceflow::engine {
namespace {

// A player window made larger, then smaller: the region grows once the larger picture has
// held a few passes, and shrinks with the smaller one (keeping at least half its area) at
// once; the same region throughout.
constexpr uint64_t kGrowAt = 30, kShrinkAt = 50;
const Rect kLarge{64, 64, 320, 128};  // 5 x 2 tiles
const Rect kSmall{64, 64, 192, 128};  // 3 x 2 tiles, 60 % of kLarge

std::vector<FillOp> resized_video(uint64_t frame) {
  std::vector<FillOp> ops;
  if (frame == kShrinkAt) ops.push_back(FillOp{kLarge, 0x808080});  // the old window's place
  const Rect now = frame < kGrowAt ? kVideo : frame < kShrinkAt ? kLarge : kSmall;
  ops.push_back(FillOp{now, colour(frame)});
  return ops;
}

TEST(VideoFollow, ResizedPictureResizesItsRegion) {
  auto d = make(resized_video);
  ASSERT_TRUE(d);
  run_ticks(*d, int(kGrowAt));
  ASSERT_EQ(d->latest()->video.size(), 1u);
  const uint32_t id = d->latest()->video[0].id;
  EXPECT_EQ(d->latest()->video[0].rect, kVideo);
  run_ticks(*d, 1);
  EXPECT_EQ(d->latest()->video[0].rect, kVideo) << "grew on the first pass of a larger paint";
  run_ticks(*d, int(kShrinkAt - kGrowAt) - 1);
  ASSERT_EQ(d->latest()->video.size(), 1u);
  EXPECT_EQ(d->latest()->video[0].id, id);
  EXPECT_EQ(d->latest()->video[0].rect, kLarge);
  run_ticks(*d, 2);
  ASSERT_EQ(d->latest()->video.size(), 1u);
  EXPECT_EQ(d->latest()->video[0].id, id);
  EXPECT_EQ(d->latest()->video[0].rect, kSmall);
  EXPECT_EQ(d->stats().video_regions, 1u);
}

}  // namespace
}  // namespace spiceflow::engine
