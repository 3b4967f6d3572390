// The engine on the Vulkan raster backend draws exactly what it draws on the CPU backend:
// every synthetic desktop, frozen (the --dump-frame picture, as `spiceflow serve --raster
// vulkan --frozen --dump-frame` writes it) and animated for a few frames (the published
// frames). Skips, saying why, where no Vulkan device exists.
#include <gtest/gtest.h>

#include <cctype>
#include <cstring>
#include <filesystem>

#include "spiceflow/engine/engine.hpp"
#include "spiceflow/gpu/raster.hpp"
#include "spiceflow/qxl/synthetic.hpp"

namespace spiceflow::engine {
namespace {

std::unique_ptr<Desktop> make(const std::string& synthetic, const std::string& raster, bool frozen,
                              const std::string& dump) {
  DesktopOptions o;
  o.synthetic = synthetic;
  o.raster = raster;
  o.source.size = {333, 207};  // odd sizes: partial tiles on both edges
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

bool same(const Image& a, const Image& b) {
  if (a.size() != b.size()) return false;
  for (int32_t y = 0; y < a.height(); ++y) {
    if (std::memcmp(a.row(y), b.row(y), size_t(a.width()) * 4) != 0) return false;
  }
  return true;
}

class RasterBackends : public ::testing::TestWithParam<std::string> {
 protected:
  void SetUp() override {
    auto vk = gpu::make_raster("vulkan");
    if (!vk) GTEST_SKIP() << "no Vulkan backend here: " << vk.error().message;
  }
};

TEST_P(RasterBackends, FrozenDumpFrameIsTheSame) {
  const auto dir = std::filesystem::temp_directory_path();
  std::string dumps[2];
  const char* rasters[2] = {"cpu", "vulkan"};
  for (int i = 0; i < 2; ++i) {
    dumps[i] = (dir / ("spiceflow_raster_" + GetParam() + "_" + rasters[i] + ".ppm")).string();
    std::filesystem::remove(dumps[i]);
    auto d = make(GetParam(), rasters[i], true, dumps[i]);
    ASSERT_TRUE(d);
    EXPECT_EQ(d->raster_name(), rasters[i]);
    run_ticks(*d, 2);
  }
  auto a = read_ppm(dumps[0]);
  auto b = read_ppm(dumps[1]);
  ASSERT_TRUE(a.ok()) << a.error().message;
  ASSERT_TRUE(b.ok()) << b.error().message;
  EXPECT_TRUE(same(*a, *b)) << GetParam() << ": --dump-frame differs between cpu and vulkan";
  std::filesystem::remove(dumps[0]);
  std::filesystem::remove(dumps[1]);
}

TEST_P(RasterBackends, AnimatedFramesAreTheSame) {
  auto cpu = make(GetParam(), "cpu", false, {});
  auto vk = make(GetParam(), "vulkan", false, {});
  ASSERT_TRUE(cpu && vk);
  for (int frame = 1; frame <= 12; ++frame) {
    run_ticks(*cpu, 1);
    run_ticks(*vk, 1);
    auto a = cpu->latest();
    auto b = vk->latest();
    ASSERT_TRUE(a && b);
    ASSERT_EQ(a->version, b->version) << GetParam() << " frame " << frame;
    ASSERT_TRUE(same(a->assemble(), b->assemble())) << GetParam() << " frame " << frame;
  }
}

std::vector<std::string> synthetic_names() {
  std::vector<std::string> names;
  for (const auto& s : qxl::list_synthetic()) names.push_back(s.name);
  return names;
}

INSTANTIATE_TEST_SUITE_P(EverySyntheticDesktop, RasterBackends, ::testing::ValuesIn(synthetic_names()),
                         [](const auto& info) {
                           std::string n = info.param;
                           for (char& c : n) c = std::isalnum(static_cast<unsigned char>(c)) ? c : '_';
                           return n;
                         });

}  // namespace
}  // namespace spiceflow::engine
