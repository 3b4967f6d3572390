#include <gtest/gtest.h>

#include "spiceflow/gpu/raster.hpp"

namespace spiceflow::gpu {
namespace {

TEST(DamageGrid, GeometryRoundsUp) {
  DamageGrid g({100, 65}, 32);
  EXPECT_EQ(g.tile(), 32);
  EXPECT_EQ(g.columns(), 4);
  EXPECT_EQ(g.rows(), 3);
  EXPECT_FALSE(g.any());
  EXPECT_EQ(g.tile_rect(0), (Rect{0, 0, 32, 32}));
  // Edge tiles are clipped to the surface.
  EXPECT_EQ(g.tile_rect(3), (Rect{96, 0, 4, 32}));
  EXPECT_EQ(g.tile_rect(11), (Rect{96, 64, 4, 1}));
}

TEST(DamageGrid, MarkCoversTouchedTilesOnly) {
  DamageGrid g({128, 128}, 32);
  g.mark({31, 31, 2, 2});  // touches the four tiles around (32, 32)
  EXPECT_TRUE(g.any());
  EXPECT_EQ(g.take_indices(), (std::vector<int32_t>{0, 1, 4, 5}));
  EXPECT_FALSE(g.any());
  EXPECT_TRUE(g.take().empty());
}

TEST(DamageGrid, ExactTileBoundaryDoesNotSpill) {
  DamageGrid g({128, 128}, 32);
  g.mark({32, 32, 32, 32});
  EXPECT_EQ(g.take(), (std::vector<Rect>{{32, 32, 32, 32}}));
}

TEST(DamageGrid, TakeReturnsRowMajorClippedRects) {
  DamageGrid g({70, 40}, 32);
  g.mark({64, 35, 100, 100});
  g.mark({0, 0, 1, 1});
  g.mark({0, 0, 1, 1});  // marking twice counts once
  const std::vector<Rect> want{{0, 0, 32, 32}, {64, 32, 6, 8}};
  EXPECT_EQ(g.take(), want);
}

TEST(DamageGrid, IgnoresRectsOffTheSurfaceAndEmptyOnes) {
  DamageGrid g({64, 64}, 16);
  g.mark({64, 0, 10, 10});
  g.mark({-20, -20, 20, 20});
  g.mark({10, 10, 0, 10});
  EXPECT_FALSE(g.any());
  g.mark({-5, -5, 10, 10});
  EXPECT_EQ(g.take_indices(), (std::vector<int32_t>{0}));
}

TEST(DamageGrid, MarkAllThenTake) {
  DamageGrid g({50, 20}, 16);
  g.mark_all();
  EXPECT_TRUE(g.any());
  const auto rects = g.take();
  ASSERT_EQ(rects.size(), size_t(4 * 2));
  int64_t area = 0;
  for (const Rect& r : rects) area += r.area();
  EXPECT_EQ(area, 50 * 20);
  EXPECT_FALSE(g.any());
}

TEST(DamageGrid, EmptySurfaceHasNoTiles) {
  DamageGrid g({0, 0}, 64);
  EXPECT_EQ(g.columns(), 0);
  EXPECT_EQ(g.rows(), 0);
  g.mark({0, 0, 10, 10});
  g.mark_all();
  EXPECT_FALSE(g.any());
  EXPECT_TRUE(g.take().empty());
}

TEST(DamageGrid, FollowsRasterDamage) {
  auto raster = make_raster("cpu");
  ASSERT_TRUE(raster.ok());
  ASSERT_TRUE((*raster)->create_surface(0, {256, 256}).ok());
  DamageGrid g({256, 256}, 64);
  auto d = (*raster)->apply({0, {}, FillOp{{100, 10, 50, 10}, rgb(9, 9, 9)}});
  ASSERT_TRUE(d.ok());
  g.mark(*d);
  EXPECT_EQ(g.take_indices(), (std::vector<int32_t>{1, 2}));
}

}  // namespace
}  // namespace spiceflow::gpu
