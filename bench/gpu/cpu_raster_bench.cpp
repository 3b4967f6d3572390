// The CPU raster backend's three ops on a full-HD surface.
#include <benchmark/benchmark.h>

#include <memory>

#include "spiceflow/gpu/raster.hpp"

namespace {

using namespace spiceflow;

std::unique_ptr<gpu::RasterBackend> full_hd() {
  auto r = gpu::make_raster("cpu");
  auto backend = std::move(r).value();
  (void)backend->create_surface(0, {1920, 1080});
  return backend;
}

void BM_FillFullHd(benchmark::State& state) {
  auto r = full_hd();
  uint32_t c = 0;
  for (auto _ : state) {
    auto res = r->apply({0, {}, FillOp{{0, 0, 1920, 1080}, rgb(uint8_t(c++), 0x40, 0x80)}});
    benchmark::DoNotOptimize(res);
  }
  state.SetBytesProcessed(int64_t(state.iterations()) * 1920 * 1080 * 4);
}
BENCHMARK(BM_FillFullHd)->Unit(benchmark::kMicrosecond);

void BM_Fill64(benchmark::State& state) {
  auto r = full_hd();
  for (auto _ : state) {
    auto res = r->apply({0, {}, FillOp{{500, 300, 64, 64}, rgb(1, 2, 3)}});
    benchmark::DoNotOptimize(res);
  }
  state.SetItemsProcessed(int64_t(state.iterations()));
}
BENCHMARK(BM_Fill64);

void BM_Blit256(benchmark::State& state) {
  auto r = full_hd();
  auto src = std::make_shared<Image>(256, 256);
  for (int32_t y = 0; y < 256; ++y)
    for (int32_t x = 0; x < 256; ++x) src->row(y)[x] = uint32_t(x * 7919 + y * 104729);
  int32_t i = 0;
  for (auto _ : state) {
    const int32_t x = (i * 97) % (1920 - 256), y = (i * 53) % (1080 - 256);
    ++i;
    auto res = r->apply({0, {}, BlitOp{{x, y, 256, 256}, src, {0, 0}}});
    benchmark::DoNotOptimize(res);
  }
  state.SetBytesProcessed(int64_t(state.iterations()) * 256 * 256 * 4);
}
BENCHMARK(BM_Blit256);

// A full-screen scroll by `range(0)` rows, up (positive) or down (negative).
void BM_ScrollFullHd(benchmark::State& state) {
  auto r = full_hd();
  const int32_t d = int32_t(state.range(0));
  const int32_t a = d > 0 ? d : -d;
  const Rect dst = d > 0 ? Rect{0, 0, 1920, 1080 - a} : Rect{0, a, 1920, 1080 - a};
  const Point src = d > 0 ? Point{0, a} : Point{0, 0};
  for (auto _ : state) {
    auto res = r->apply({0, {}, CopyBitsOp{dst, src}});
    benchmark::DoNotOptimize(res);
  }
  state.SetBytesProcessed(int64_t(state.iterations()) * 1920 * (1080 - a) * 4);
}
BENCHMARK(BM_ScrollFullHd)->Arg(16)->Arg(-16)->Arg(1)->Unit(benchmark::kMicrosecond);

}  // namespace
