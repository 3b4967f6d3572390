// One update of the per-tile hashes (RasterBackend::update_tile_hashes) per backend at 1080p
// and 4K: every tile damaged (full-screen motion, the worst case), or one 256x256 area (a
// small animation). A backend that cannot be created here (no Vulkan device) reports an
// error row.
#include <benchmark/benchmark.h>

#include <memory>

#include "spiceflow/gpu/raster.hpp"

namespace {

using namespace spiceflow;

void BM_TileHashes(benchmark::State& state, const char* backend, Size size, bool everything) {
  auto made = gpu::make_raster(backend);
  if (!made) {
    state.SkipWithError(made.error().message.c_str());
    return;
  }
  auto r = std::move(made).value();
  (void)r->create_surface(0, size);
  const Rect damage = everything ? Rect::from_size(size) : Rect{128, 128, 256, 256};
  (void)r->update_tile_hashes(0, {});  // the first update hashes everything
  for (auto _ : state) {
    auto h = r->update_tile_hashes(0, std::span<const Rect>(&damage, 1));
    benchmark::DoNotOptimize(h);
  }
  state.counters["Mpixel/s"] = benchmark::Counter(double(damage.area()) * double(state.iterations()) / 1e6,
                                                  benchmark::Counter::kIsRate);
}

constexpr Size kFullHd{1920, 1080};
constexpr Size k4k{3840, 2160};

#define SPICEFLOW_TILE_HASHES(name, ...) \
  BENCHMARK_CAPTURE(BM_TileHashes, name, __VA_ARGS__)->Unit(benchmark::kMillisecond)->UseRealTime()

SPICEFLOW_TILE_HASHES(all_1080p_cpu, "cpu", kFullHd, true);
SPICEFLOW_TILE_HASHES(all_1080p_vulkan, "vulkan", kFullHd, true);
SPICEFLOW_TILE_HASHES(all_4k_cpu, "cpu", k4k, true);
SPICEFLOW_TILE_HASHES(all_4k_vulkan, "vulkan", k4k, true);
SPICEFLOW_TILE_HASHES(area_1080p_cpu, "cpu", kFullHd, false);
SPICEFLOW_TILE_HASHES(area_1080p_vulkan, "vulkan", kFullHd, false);

}  // namespace
