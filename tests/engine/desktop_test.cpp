#include <gtest/gtest.h>

#include <cstring>
#include <filesystem>
#include <thread>

#include "spiceflow/engine/engine.hpp"

namespace spiceflow::engine {
namespace {

std::unique_ptr<Desktop> make(const std::string& synthetic, bool frozen,
                              const std::string& dump = {}) {
  DesktopOptions o;
  o.synthetic = synthetic;
  o.source.size = {320, 200};
  o.source.fps = 30;
  o.source.frozen = frozen;
  o.dump_frame_path = dump;
  o.tile_size = 64;
  auto d = Desktop::create(0, o);
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

TEST(Desktop, FirstPassPublishesTheWholeSurface) {
  auto d = make("office", true);
  ASSERT_TRUE(d);
  EXPECT_EQ(d->latest(), nullptr);
  run_ticks(*d, 1);
  auto f = d->latest();
  ASSERT_NE(f, nullptr);
  EXPECT_EQ(f->size, (Size{320, 200}));
  EXPECT_EQ(f->tiles.size(), size_t(5 * 4));  // 64-pixel tiles, edge tiles clipped
  for (const auto& t : f->tiles) {
    ASSERT_NE(t, nullptr);
    EXPECT_EQ(t->version, f->version);
    ASSERT_NE(t->lz4, nullptr);
    EXPECT_EQ(t->pixels->size(), t->rect.size());
  }
  EXPECT_EQ(f->tiles.back()->rect, (Rect{256, 192, 64, 8}));
}

TEST(Desktop, FrozenDesktopChangesOnlyOnInput) {
  auto d = make("office", true);
  run_ticks(*d, 1);
  const auto v1 = d->latest()->version;
  run_ticks(*d, 5);
  EXPECT_EQ(d->latest()->version, v1);
  const Image before = d->latest()->assemble();
  d->post_input(KeyEvent{0x1e, true});   // 'a'
  d->post_input(KeyEvent{0x9e, false});
  run_ticks(*d, 2);
  auto f = d->latest();
  EXPECT_GT(f->version, v1);
  const Image after = f->assemble();
  size_t changed = 0;
  for (int y = 0; y < 200; ++y)
    for (int x = 0; x < 320; ++x) changed += before.pixel(x, y) != after.pixel(x, y);
  EXPECT_GT(changed, 0u);
  // Only the tiles that changed carry the new version.
  size_t newer = 0;
  for (const auto& t : f->tiles) newer += t->version == f->version;
  EXPECT_LT(newer, f->tiles.size());
}

TEST(Desktop, DumpFrameMatchesPublishedFrame) {
  const auto path = (std::filesystem::temp_directory_path() / "spiceflow_desktop_dump.ppm").string();
  std::filesystem::remove(path);
  auto d = make("office", true, path);
  run_ticks(*d, 1);
  auto img = read_ppm(path);
  ASSERT_TRUE(img.ok()) << img.error().message;
  const Image published = d->latest()->assemble();
  ASSERT_EQ(img->size(), published.size());
  for (int y = 0; y < 200; ++y)
    for (int x = 0; x < 320; ++x)
      ASSERT_EQ(img->pixel(x, y) & 0xffffff, published.pixel(x, y) & 0xffffff) << x << "," << y;
  std::filesystem::remove(path);
}

TEST(Desktop, AnimatedDesktopAdvancesVersions) {
  auto d = make("game", false);
  run_ticks(*d, 4);
  EXPECT_GE(d->latest()->version, 3u);
  EXPECT_EQ(d->stats().frames, 4u);
}

TEST(Desktop, InputQueueIsBounded) {
  auto d = make("office", true);
  run_ticks(*d, 1);
  for (int i = 0; i < 100000; ++i) d->post_input(PointerEvent{i % 320, i % 200, 0});
  EXPECT_EQ(d->queued_inputs(), Desktop::kMaxQueuedInputs);
  // Key events survive the overflow: pointer moves are dropped first.
  d->post_input(KeyEvent{0x1e, true});
  EXPECT_EQ(d->queued_inputs(), Desktop::kMaxQueuedInputs);
  run_ticks(*d, 1);
  EXPECT_EQ(d->queued_inputs(), 0u);
}

TEST(Desktop, PublishesTheSourcesCursor) {
  auto d = make("office", true);
  EXPECT_EQ(d->cursor()->shape, nullptr);
  run_ticks(*d, 1);
  auto c = d->cursor();
  ASSERT_NE(c->shape, nullptr);
  EXPECT_TRUE(c->visible);
  EXPECT_EQ(c->pos, (Point{160, 100}));
  const auto v = c->version;
  d->post_input(MotionEvent{5, -3, 0});  // server mouse mode: the cursor follows
  run_ticks(*d, 1);
  c = d->cursor();
  EXPECT_GT(c->version, v);
  EXPECT_EQ(c->pos, (Point{165, 97}));
  EXPECT_EQ(c->shape_version, 1u);

  auto g = make("game", true);
  run_ticks(*g, 1);
  EXPECT_FALSE(g->cursor()->visible);
}

TEST(Desktop, ScrollsArePublishedAsCopiesWithMovedTiles) {
  auto d = make("scroll-text", false);
  run_ticks(*d, 1);
  Image before = d->latest()->assemble();
  std::shared_ptr<const Frame> f;
  // The terminal starts scrolling once its screen is full.
  for (int i = 0; i < 60; ++i) {
    run_ticks(*d, 1);
    f = d->latest();
    if (!f->copies.empty()) break;
    before = f->assemble();
  }
  ASSERT_FALSE(f->copies.empty());
  size_t moved = 0, changed = 0;
  for (const auto& t : f->tiles) {
    if (t->version != f->version) continue;
    ++changed;
    moved += t->moved_only;
  }
  EXPECT_GT(moved, 0u);
  EXPECT_LT(moved, changed);  // the new line at the bottom is painted
  // Replaying the copies on the previous picture and then the painted tiles gives the
  // new picture: exactly what a client in sync receives.
  Image replay = before;
  for (const auto& c : f->copies) {
    const Image src = Image::copy_of(before.view(), Rect{c.src.x, c.src.y, c.dst.width, c.dst.height});
    for (int y = 0; y < c.dst.height; ++y) {
      std::memcpy(replay.row(c.dst.y + y) + c.dst.x, src.row(y), size_t(c.dst.width) * 4);
    }
  }
  for (const auto& t : f->tiles) {
    if (t->version != f->version || t->moved_only) continue;
    for (int y = 0; y < t->rect.height; ++y) {
      std::memcpy(replay.row(t->rect.y + y) + t->rect.x, t->pixels->row(y), size_t(t->rect.width) * 4);
    }
  }
  const Image now = f->assemble();
  for (int y = 0; y < 200; ++y)
    for (int x = 0; x < 320; ++x) ASSERT_EQ(replay.pixel(x, y), now.pixel(x, y)) << x << "," << y;
}

// What a client in sync receives, for every scene: the frame's copies replayed in order on
// its picture of the previous version, then per changed tile either nothing (moved only),
// its painted part (when the client holds the tile's base version) or the whole tile.
// That must give the new picture exactly, and scrolls and drags must use painted parts.
TEST(Desktop, CopiesThenPaintedPartsRebuildEveryFrame) {
  for (const std::string scene : {"office", "scroll-text", "window-drag", "video", "game", "mixed"}) {
    SCOPED_TRACE(scene);
    auto d = make(scene, false);
    run_ticks(*d, 1);
    auto prev = d->latest();
    ASSERT_TRUE(prev);
    Image client = prev->assemble();
    size_t deltas = 0, replayed = 0;
    for (int i = 0; i < 90; ++i) {
      run_ticks(*d, 1);
      const auto f = d->latest();
      if (f->version == prev->version) continue;
      ASSERT_EQ(f->version, prev->version + 1);
      ASSERT_EQ(f->tiles.size(), prev->tiles.size());
      for (const auto& c : f->copies) {
        const Image src =
            Image::copy_of(client.view(), Rect{c.src.x, c.src.y, c.dst.width, c.dst.height});
        for (int y = 0; y < c.dst.height; ++y) {
          std::memcpy(client.row(c.dst.y + y) + c.dst.x, src.row(y), size_t(c.dst.width) * 4);
        }
      }
      for (size_t k = 0; k < f->tiles.size(); ++k) {
        const Tile& t = *f->tiles[k];
        if (t.version != f->version || t.moved_only) continue;
        const bool delta = t.has_delta() && t.base_version == prev->tiles[k]->version;
        const Rect box = delta ? t.delta : t.rect;
        ASSERT_TRUE(t.rect.contains(box));
        deltas += delta;
        const ImageView part = t.pixels->view().sub(box.translated(-t.rect.x, -t.rect.y));
        for (int y = 0; y < box.height; ++y) {
          std::memcpy(client.row(box.y + y) + box.x, part.row(y), size_t(box.width) * 4);
        }
      }
      const Image now = f->assemble();
      ASSERT_EQ(std::memcmp(client.data(), now.data(), now.byte_size()), 0)
          << "version " << f->version;
      ++replayed;
      prev = f;
    }
    EXPECT_GT(replayed, 0u);
    if (scene == "scroll-text" || scene == "window-drag") {
      EXPECT_GT(replayed, 10u);
      EXPECT_GT(deltas, 0u);
    }
  }
}

TEST(Desktop, StopAfterHoldsThePicture) {
  DesktopOptions o;
  o.synthetic = "game";
  o.source.size = {160, 120};
  o.stop_after_frames = 3;
  auto d = Desktop::create(0, o);
  ASSERT_TRUE(d.ok());
  run_ticks(**d, 4);
  const auto v = (*d)->latest()->version;
  run_ticks(**d, 3);
  EXPECT_EQ((*d)->latest()->version, v);
}

TEST(Desktop, UnknownWorkloadIsAnError) {
  DesktopOptions o;
  o.synthetic = "no-such-desktop";
  EXPECT_FALSE(Desktop::create(0, o).ok());
}

TEST(Engine, TicksDesktopsAtTheirRate) {
  Engine e;
  e.add(make("game", false));
  e.start();
  std::this_thread::sleep_for(std::chrono::milliseconds(400));
  e.stop();
  const auto s = e.desktop(0).stats();
  EXPECT_GE(s.frames + s.skipped_ticks, 5u);  // 30 fps over 0.4 s, generous for slow CI
  EXPECT_LE(s.frames + s.skipped_ticks, 20u);
}

}  // namespace
}  // namespace spiceflow::engine
