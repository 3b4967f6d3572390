// Per-tile hashes and change histories (RasterBackend::update_tile_hashes): the CPU backend
// against a hash written independently here, the history's window and what counts as a
// change, and the Vulkan backend (lavapipe in CI, validation layer on) identical to the CPU
// backend after every batch of random draws, on surfaces whose edge tiles are partial.
#include <gtest/gtest.h>

#include <memory>
#include <random>

#include "spiceflow/gpu/raster.hpp"

namespace spiceflow::gpu {
namespace {

constexpr int32_t kTile = TileHashes::kHashTile;

// FNV-1a of each row's RGB words, then of the row hashes.
uint32_t model_hash(const ImageView& img, int32_t tx, int32_t ty) {
  uint32_t h = 2166136261u;
  for (int32_t y = ty * kTile; y < std::min(img.height, (ty + 1) * kTile); ++y) {
    uint32_t r = 2166136261u;
    for (int32_t x = tx * kTile; x < std::min(img.width, (tx + 1) * kTile); ++x) {
      r = (r ^ (img.pixel(x, y) & 0xffffffu)) * 16777619u;
    }
    h = (h ^ r) * 16777619u;
  }
  return h;
}

DrawCommand fill(const Rect& r, uint32_t color) { return DrawCommand{1, {}, FillOp{r, color}, {}}; }

TEST(TileHashes, CpuHashesMatchTheModelAndCountChanges) {
  auto made = make_raster("cpu");
  ASSERT_TRUE(made.ok());
  RasterBackend& r = **made;
  const Size size{200, 130};  // 4 x 3 tiles, the last column and row partial
  ASSERT_TRUE(r.create_surface(1, size).ok());
  ASSERT_TRUE(r.apply(fill({10, 10, 150, 100}, 0xff336699u)).ok());
  auto first = r.update_tile_hashes(1, {});
  ASSERT_TRUE(first.ok());
  ASSERT_EQ(first->columns, 4);
  ASSERT_EQ(first->rows, 3);
  for (int32_t ty = 0; ty < 3; ++ty) {
    for (int32_t tx = 0; tx < 4; ++tx) {
      const size_t t = size_t(ty * 4 + tx);
      EXPECT_EQ(first->hash[t], model_hash(r.view(1), tx, ty)) << tx << "," << ty;
      EXPECT_EQ(first->history[t], 0u) << "the first update counts no change";
    }
  }
  // A change inside tile (1,1) only.
  const Rect paint{70, 70, 5, 5};
  ASSERT_TRUE(r.apply(fill(paint, 0xffff0000u)).ok());
  auto second = r.update_tile_hashes(1, std::span<const Rect>(&paint, 1));
  ASSERT_TRUE(second.ok());
  for (size_t t = 0; t < 12; ++t) EXPECT_EQ(second->history[t], t == 5 ? 1u : 0u) << t;
  EXPECT_EQ(second->hash[5], model_hash(r.view(1), 1, 1));
  EXPECT_NE(second->hash[5], first->hash[5]);
  // Repainting the same pixels is no change (the hash stays); the history moves on.
  ASSERT_TRUE(r.apply(fill(paint, 0xffff0000u)).ok());
  auto third = r.update_tile_hashes(1, std::span<const Rect>(&paint, 1));
  ASSERT_TRUE(third.ok());
  EXPECT_EQ(third->history[5], 2u);
  EXPECT_EQ(third->changes(5), 1);
  // The change leaves the window after kTileWindow updates.
  TileHashes last;
  for (int i = 0; i < TileHashes::kTileWindow - 2; ++i) last = *r.update_tile_hashes(1, {});
  EXPECT_EQ(last.changes(5), 1);
  last = *r.update_tile_hashes(1, {});
  EXPECT_EQ(last.changes(5), 0);
  EXPECT_FALSE(r.update_tile_hashes(9, {}).ok());
}

TEST(TileHashes, VulkanMatchesTheCpuBackend) {
  auto cpu = make_raster("cpu");
  ASSERT_TRUE(cpu.ok());
  RasterOptions o;
  o.vulkan_validation = true;
  auto vk = make_raster("vulkan", o);
  if (!vk) GTEST_SKIP() << "no Vulkan backend here: " << vk.error().message;
  std::mt19937 rng(5);
  for (Size size : {Size{1, 1}, Size{64, 64}, Size{200, 130}, Size{333, 257}}) {
    ASSERT_TRUE((*cpu)->create_surface(1, size).ok());
    ASSERT_TRUE((*vk)->create_surface(1, size).ok());
    for (int batch = 0; batch < 40; ++batch) {
      std::vector<DrawCommand> cmds;
      std::vector<Rect> damage;
      const int n = int(rng() % 4);  // some batches draw nothing
      for (int i = 0; i < n; ++i) {
        const int32_t x = int32_t(rng() % uint32_t(size.width)), y = int32_t(rng() % uint32_t(size.height));
        const Rect r{x, y, 1 + int32_t(rng() % 80), 1 + int32_t(rng() % 80)};
        // Few colours, so repaints with the same colour (no change) happen.
        cmds.push_back(fill(r, 0xff000000u | (rng() % 3) * 0x404040u));
        damage.push_back(r);
      }
      for (const auto& c : cmds) ASSERT_TRUE((*cpu)->apply(c).ok());
      for (const auto& res : (*vk)->apply_batch(cmds)) ASSERT_TRUE(res.ok());
      auto want = (*cpu)->update_tile_hashes(1, damage);
      auto got = (*vk)->update_tile_hashes(1, damage);
      ASSERT_TRUE(want.ok() && got.ok());
      ASSERT_EQ(got->columns, want->columns);
      ASSERT_EQ(got->rows, want->rows);
      ASSERT_EQ(got->hash, want->hash) << size.width << "x" << size.height << " batch " << batch;
      ASSERT_EQ(got->history, want->history) << size.width << "x" << size.height << " batch " << batch;
    }
  }
  EXPECT_FALSE((*vk)->update_tile_hashes(9, {}).ok());
  EXPECT_EQ((*vk)->stats().validation_errors, 0u);
}

}  // namespace
}  // namespace spiceflow::gpu
