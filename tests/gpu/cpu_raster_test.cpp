#include <gtest/gtest.h>

#include <memory>
#include <random>

#include "spiceflow/gpu/raster.hpp"

namespace spiceflow::gpu {
namespace {

constexpr uint32_t kBlack = 0xff000000u;

std::unique_ptr<RasterBackend> make_cpu() {
  auto r = make_raster("cpu");
  EXPECT_TRUE(r.ok());
  return std::move(r).value();
}

// A source image whose every pixel encodes its position (X byte deliberately 0, as an
// Image is created, to show that surfaces end up opaque anyway).
std::shared_ptr<Image> pattern_image(int32_t w, int32_t h) {
  auto img = std::make_shared<Image>(w, h);
  for (int32_t y = 0; y < h; ++y) {
    for (int32_t x = 0; x < w; ++x) img->row(y)[x] = (uint32_t(y) << 12) | uint32_t(x);
  }
  return img;
}

// Fills a surface so that pixel (x, y) holds a unique opaque value.
void paint_coordinates(RasterBackend& r, uint32_t id, Size size) {
  auto img = pattern_image(size.width, size.height);
  auto res = r.apply({id, {}, BlitOp{Rect::from_size(size), img, {0, 0}}});
  ASSERT_TRUE(res.ok());
}

uint32_t coord(int32_t x, int32_t y) { return 0xff000000u | (uint32_t(y) << 12) | uint32_t(x); }

class CpuRasterTest : public ::testing::Test {
 protected:
  void SetUp() override {
    raster_ = make_cpu();
    ASSERT_TRUE(raster_->create_surface(0, {64, 48}).ok());
  }
  ImageView surface() const { return raster_->view(0); }
  std::unique_ptr<RasterBackend> raster_;
};

// A Vulkan loader that has nothing, so "auto" cannot find a GPU whatever this machine has.
void (*no_vulkan(void*, const char*))() { return nullptr; }

TEST(RasterRegistry, AutoAndCpuGiveCpu) {
  RasterOptions no_gpu;
  no_gpu.vulkan_get_instance_proc_addr = no_vulkan;
  auto a = make_raster("auto", no_gpu);
  ASSERT_TRUE(a.ok()) << a.error().message;
  EXPECT_EQ((*a)->name(), "cpu");
  auto c = make_raster("cpu");
  ASSERT_TRUE(c.ok());
  EXPECT_EQ((*c)->name(), "cpu");
}

TEST(RasterRegistry, UnknownNameListsValidOnes) {
  auto r = make_raster("opengl");
  ASSERT_FALSE(r.ok());
  EXPECT_NE(r.error().message.find("opengl"), std::string::npos);
  EXPECT_NE(r.error().message.find("auto"), std::string::npos);
  EXPECT_NE(r.error().message.find("cpu"), std::string::npos);
}

TEST_F(CpuRasterTest, NewSurfaceIsOpaqueBlack) {
  const ImageView v = surface();
  ASSERT_EQ(v.width, 64);
  ASSERT_EQ(v.height, 48);
  for (int32_t y = 0; y < v.height; ++y) {
    for (int32_t x = 0; x < v.width; ++x) ASSERT_EQ(v.pixel(x, y), kBlack);
  }
}

TEST_F(CpuRasterTest, MissingSurfaceViewIsEmpty) {
  EXPECT_EQ(raster_->view(7).data, nullptr);
  raster_->destroy_surface(0);
  EXPECT_EQ(raster_->view(0).data, nullptr);
}

TEST_F(CpuRasterTest, RejectsBadSurfaceSizes) {
  EXPECT_FALSE(raster_->create_surface(1, {0, 10}).ok());
  EXPECT_FALSE(raster_->create_surface(1, {-5, 10}).ok());
  EXPECT_FALSE(raster_->create_surface(1, {1 << 20, 1 << 20}).ok());
}

TEST_F(CpuRasterTest, RecreateResizesAndClears) {
  ASSERT_TRUE(raster_->apply({0, {}, FillOp{{0, 0, 64, 48}, rgb(1, 2, 3)}}).ok());
  ASSERT_TRUE(raster_->create_surface(0, {10, 5}).ok());
  EXPECT_EQ(surface().width, 10);
  EXPECT_EQ(surface().height, 5);
  EXPECT_EQ(surface().pixel(9, 4), kBlack);
}

TEST_F(CpuRasterTest, FillWritesExactColourAndReturnsDamage) {
  const uint32_t c = rgb(0x12, 0x34, 0x56);
  auto res = raster_->apply({0, {}, FillOp{{5, 6, 10, 4}, c}});
  ASSERT_TRUE(res.ok());
  EXPECT_EQ(*res, (Rect{5, 6, 10, 4}));
  const ImageView v = surface();
  for (int32_t y = 0; y < v.height; ++y) {
    for (int32_t x = 0; x < v.width; ++x) {
      const bool in = x >= 5 && x < 15 && y >= 6 && y < 10;
      ASSERT_EQ(v.pixel(x, y), in ? c : kBlack) << x << "," << y;
    }
  }
}

TEST_F(CpuRasterTest, FillForcesOpaqueXByte) {
  ASSERT_TRUE(raster_->apply({0, {}, FillOp{{0, 0, 1, 1}, 0x00abcdefu}}).ok());
  EXPECT_EQ(surface().pixel(0, 0), 0xffabcdefu);
}

TEST_F(CpuRasterTest, FillClippedToSurfaceAndClip) {
  auto res = raster_->apply({0, {}, FillOp{{-10, -10, 20, 100}, rgb(255, 0, 0)}});
  ASSERT_TRUE(res.ok());
  EXPECT_EQ(*res, (Rect{0, 0, 10, 48}));

  auto clipped = raster_->apply({0, {30, 30, 5, 5}, FillOp{{20, 20, 40, 40}, rgb(0, 255, 0)}});
  ASSERT_TRUE(clipped.ok());
  EXPECT_EQ(*clipped, (Rect{30, 30, 5, 5}));
  EXPECT_EQ(surface().pixel(30, 30), rgb(0, 255, 0));
  EXPECT_EQ(surface().pixel(34, 34), rgb(0, 255, 0));
  EXPECT_EQ(surface().pixel(35, 34), kBlack);
  EXPECT_EQ(surface().pixel(29, 30), kBlack);
  EXPECT_EQ(surface().pixel(20, 20), kBlack);
}

TEST_F(CpuRasterTest, FillOutsideEverythingIsEmptyDamage) {
  auto off = raster_->apply({0, {}, FillOp{{100, 100, 5, 5}, rgb(1, 1, 1)}});
  ASSERT_TRUE(off.ok());
  EXPECT_TRUE(off->empty());
  auto disjoint_clip = raster_->apply({0, {0, 0, 4, 4}, FillOp{{10, 10, 5, 5}, rgb(1, 1, 1)}});
  ASSERT_TRUE(disjoint_clip.ok());
  EXPECT_TRUE(disjoint_clip->empty());
  auto empty_rect = raster_->apply({0, {}, FillOp{{3, 3, 0, 5}, rgb(1, 1, 1)}});
  ASSERT_TRUE(empty_rect.ok());
  EXPECT_TRUE(empty_rect->empty());
}

TEST_F(CpuRasterTest, MissingSurfaceIsError) {
  auto res = raster_->apply({9, {}, FillOp{{0, 0, 1, 1}, rgb(1, 1, 1)}});
  EXPECT_FALSE(res.ok());
}

TEST_F(CpuRasterTest, OverflowingRectIsError) {
  auto res = raster_->apply({0, {}, FillOp{{0x7fffff00, 0, 0x1000, 1}, rgb(1, 1, 1)}});
  EXPECT_FALSE(res.ok());
}

TEST_F(CpuRasterTest, BlitCopiesSubRectangle) {
  auto src = pattern_image(100, 100);
  auto res = raster_->apply({0, {}, BlitOp{{4, 5, 20, 10}, src, {30, 40}}});
  ASSERT_TRUE(res.ok());
  EXPECT_EQ(*res, (Rect{4, 5, 20, 10}));
  const ImageView v = surface();
  for (int32_t y = 0; y < v.height; ++y) {
    for (int32_t x = 0; x < v.width; ++x) {
      const bool in = x >= 4 && x < 24 && y >= 5 && y < 15;
      const uint32_t want = in ? coord(30 + x - 4, 40 + y - 5) : kBlack;
      ASSERT_EQ(v.pixel(x, y), want) << x << "," << y;
    }
  }
}

TEST_F(CpuRasterTest, BlitClippedKeepsSourceAlignment) {
  auto src = pattern_image(100, 100);
  // Destination hangs off the top-left of the surface and is clipped further by the clip.
  auto res = raster_->apply({0, {0, 0, 10, 8}, BlitOp{{-3, -2, 20, 20}, src, {50, 60}}});
  ASSERT_TRUE(res.ok());
  EXPECT_EQ(*res, (Rect{0, 0, 10, 8}));
  const ImageView v = surface();
  for (int32_t y = 0; y < 8; ++y) {
    for (int32_t x = 0; x < 10; ++x) ASSERT_EQ(v.pixel(x, y), coord(50 + x + 3, 60 + y + 2));
  }
  EXPECT_EQ(v.pixel(10, 0), kBlack);
  EXPECT_EQ(v.pixel(0, 8), kBlack);
}

TEST_F(CpuRasterTest, BlitSourceOutOfRangeIsErrorAndChangesNothing) {
  auto src = pattern_image(16, 16);
  EXPECT_FALSE(raster_->apply({0, {}, BlitOp{{0, 0, 10, 10}, src, {8, 0}}}).ok());
  EXPECT_FALSE(raster_->apply({0, {}, BlitOp{{0, 0, 10, 10}, src, {-1, 0}}}).ok());
  EXPECT_FALSE(raster_->apply({0, {}, BlitOp{{0, 0, 10, 10}, src, {0, 7}}}).ok());
  // Still an error when the clip would hide the missing part.
  EXPECT_FALSE(raster_->apply({0, {0, 0, 1, 1}, BlitOp{{0, 0, 17, 1}, src, {0, 0}}}).ok());
  EXPECT_FALSE(raster_->apply({0, {}, BlitOp{{0, 0, 4, 4}, nullptr, {0, 0}}}).ok());
  const ImageView v = surface();
  for (int32_t y = 0; y < v.height; ++y) {
    for (int32_t x = 0; x < v.width; ++x) ASSERT_EQ(v.pixel(x, y), kBlack);
  }
}

TEST_F(CpuRasterTest, BlitWholeSourceAtEdgeIsAllowed) {
  auto src = pattern_image(16, 16);
  auto res = raster_->apply({0, {}, BlitOp{{60, 40, 16, 16}, src, {0, 0}}});
  ASSERT_TRUE(res.ok());
  EXPECT_EQ(*res, (Rect{60, 40, 4, 8}));
  EXPECT_EQ(surface().pixel(63, 47), coord(3, 7));
}

// Reference result of a copy-bits: every destination pixel inside the (clipped) target
// takes the value its source pixel had before the operation.
void expect_copy_bits(RasterBackend& r, Size size, Rect clip, Rect dst, Point src, Rect want) {
  ASSERT_TRUE(r.create_surface(3, size).ok());
  paint_coordinates(r, 3, size);
  const Image before = Image::copy_of(r.view(3), Rect::from_size(size));
  auto res = r.apply({3, clip, CopyBitsOp{dst, src}});
  ASSERT_TRUE(res.ok()) << res.error().message;
  EXPECT_EQ(*res, want);
  const ImageView v = r.view(3);
  const int32_t dx = dst.x - src.x;
  const int32_t dy = dst.y - src.y;
  for (int32_t y = 0; y < size.height; ++y) {
    for (int32_t x = 0; x < size.width; ++x) {
      const uint32_t expected =
          want.contains(Point{x, y}) ? before.pixel(x - dx, y - dy) : before.pixel(x, y);
      ASSERT_EQ(v.pixel(x, y), expected) << x << "," << y;
    }
  }
}

TEST_F(CpuRasterTest, CopyBitsScrollUpOverlapping) {
  // Content moves up by 3 rows (the usual terminal scroll).
  expect_copy_bits(*raster_, {40, 30}, {}, {0, 0, 40, 27}, {0, 3}, {0, 0, 40, 27});
}

TEST_F(CpuRasterTest, CopyBitsScrollDownOverlapping) {
  expect_copy_bits(*raster_, {40, 30}, {}, {0, 3, 40, 27}, {0, 0}, {0, 3, 40, 27});
}

TEST_F(CpuRasterTest, CopyBitsScrollByOneRowBothWays) {
  expect_copy_bits(*raster_, {17, 23}, {}, {0, 1, 17, 22}, {0, 0}, {0, 1, 17, 22});
  expect_copy_bits(*raster_, {17, 23}, {}, {0, 0, 17, 22}, {0, 1}, {0, 0, 17, 22});
}

TEST_F(CpuRasterTest, CopyBitsSidewaysOverlapping) {
  expect_copy_bits(*raster_, {40, 30}, {}, {5, 2, 30, 20}, {2, 2}, {5, 2, 30, 20});
  expect_copy_bits(*raster_, {40, 30}, {}, {2, 2, 30, 20}, {5, 2}, {2, 2, 30, 20});
}

TEST_F(CpuRasterTest, CopyBitsDiagonalOverlapping) {
  expect_copy_bits(*raster_, {40, 30}, {}, {4, 5, 30, 20}, {6, 2}, {4, 5, 30, 20});
  expect_copy_bits(*raster_, {40, 30}, {}, {6, 2, 30, 20}, {4, 5}, {6, 2, 30, 20});
}

TEST_F(CpuRasterTest, CopyBitsClippedToClip) {
  expect_copy_bits(*raster_, {40, 30}, {0, 10, 40, 5}, {0, 0, 40, 27}, {0, 3}, {0, 10, 40, 5});
}

TEST_F(CpuRasterTest, CopyBitsSourceOffSurfaceIsClipped) {
  // The destination's lower part would read below the surface; only the readable part moves.
  expect_copy_bits(*raster_, {40, 30}, {}, {0, 0, 40, 30}, {0, 10}, {0, 0, 40, 20});
  // Destination partly off the surface.
  expect_copy_bits(*raster_, {40, 30}, {}, {30, 25, 20, 20}, {0, 0}, {30, 25, 10, 5});
}

TEST_F(CpuRasterTest, CopyBitsFarAwayIsEmpty) {
  expect_copy_bits(*raster_, {40, 30}, {}, {0, 0, 10, 10}, {1000, 0}, {});
  expect_copy_bits(*raster_, {40, 30}, {}, {0, 0, 10, 10}, {0, -1000000}, {});
}

TEST_F(CpuRasterTest, CopyBitsMissingSurfaceIsError) {
  EXPECT_FALSE(raster_->apply({5, {}, CopyBitsOp{{0, 0, 4, 4}, {1, 1}}}).ok());
}

TEST_F(CpuRasterTest, RandomOpsMatchReference) {
  // A straightforward per-pixel model of the three ops; pixman's fast paths must agree.
  constexpr Size kSize{97, 61};
  ASSERT_TRUE(raster_->create_surface(1, kSize).ok());
  Image model(kSize.width, kSize.height);
  for (int32_t y = 0; y < kSize.height; ++y) {
    for (int32_t x = 0; x < kSize.width; ++x) model.row(y)[x] = kBlack;
  }
  auto src = pattern_image(128, 128);
  std::mt19937 rng(42);
  auto rnd = [&](int lo, int hi) { return std::uniform_int_distribution<int>(lo, hi)(rng); };
  const Rect surf = Rect::from_size(kSize);
  for (int i = 0; i < 300; ++i) {
    const Rect clip =
        rnd(0, 2) == 0 ? Rect{} : Rect{rnd(-10, 90), rnd(-10, 60), rnd(1, 80), rnd(1, 60)};
    const Rect bounds = clip.empty() ? surf : intersect(clip, surf);
    const Rect dst{rnd(-20, 100), rnd(-20, 70), rnd(0, 60), rnd(0, 50)};
    const Rect r = intersect(dst, bounds);
    Result<Rect> res = Rect{};
    Rect want = r;
    switch (rnd(0, 2)) {
      case 0: {
        const uint32_t c = rgb(uint8_t(rnd(0, 255)), uint8_t(rnd(0, 255)), uint8_t(rnd(0, 255)));
        res = raster_->apply({1, clip, FillOp{dst, c}});
        for (int32_t y = r.top(); y < r.bottom(); ++y)
          for (int32_t x = r.left(); x < r.right(); ++x) model.row(y)[x] = c;
        break;
      }
      case 1: {
        const Point sp{rnd(0, 128 - dst.width), rnd(0, 128 - dst.height)};
        res = raster_->apply({1, clip, BlitOp{dst, src, sp}});
        for (int32_t y = r.top(); y < r.bottom(); ++y)
          for (int32_t x = r.left(); x < r.right(); ++x)
            model.row(y)[x] = 0xff000000u | src->pixel(sp.x + x - dst.x, sp.y + y - dst.y);
        break;
      }
      default: {
        const Point sp{rnd(-20, 100), rnd(-20, 70)};
        res = raster_->apply({1, clip, CopyBitsOp{dst, sp}});
        const int32_t dx = dst.x - sp.x, dy = dst.y - sp.y;
        const Rect w = intersect(r, surf.translated(dx, dy));
        want = w;
        const Image before = model;
        for (int32_t y = w.top(); y < w.bottom(); ++y)
          for (int32_t x = w.left(); x < w.right(); ++x)
            model.row(y)[x] = before.pixel(x - dx, y - dy);
        break;
      }
    }
    ASSERT_TRUE(res.ok()) << i << ": " << res.error().message;
    ASSERT_EQ(*res, want) << "op " << i;
    const ImageView v = raster_->view(1);
    for (int32_t y = 0; y < kSize.height; ++y) {
      ASSERT_EQ(0, std::memcmp(v.row(y), model.row(y), size_t(kSize.width) * 4))
          << "op " << i << " row " << y;
    }
  }
}

}  // namespace
}  // namespace spiceflow::gpu
