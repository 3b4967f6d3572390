// Colour conversion of a whole surface to I420 / NV12 (RasterBackend::convert) per backend,
// at 1080p and 4K: the time to have the YUV picture in host memory (for a device backend:
// the conversion on the device, waiting for it, and reading back only the YUV bytes). A
// backend that cannot be created here (no Vulkan device) reports an error row.
#include <benchmark/benchmark.h>

#include <memory>

#include "spiceflow/gpu/raster.hpp"

namespace {

using namespace spiceflow;

void BM_Convert(benchmark::State& state, const char* backend, YuvFormat format, Size size) {
  auto made = gpu::make_raster(backend);
  if (!made) {
    state.SkipWithError(made.error().message.c_str());
    return;
  }
  auto r = std::move(made).value();
  (void)r->create_surface(0, size);
  auto img = std::make_shared<Image>(size.width, size.height);
  for (int32_t y = 0; y < size.height; ++y)
    for (int32_t x = 0; x < size.width; ++x) img->row(y)[x] = 0xff000000u | uint32_t(x * 7919 + y * 104729);
  const Rect all = Rect::from_size(size);
  (void)r->apply({0, {}, BlitOp{all, img, {0, 0}}, {}});
  (void)r->convert(0, all, format);  // warm up: lavapipe compiles the shader on first use
  for (auto _ : state) {
    auto yuv = r->convert(0, all, format);
    benchmark::DoNotOptimize(yuv);
  }
  state.counters["Mpixel/s"] = benchmark::Counter(double(all.area()) * double(state.iterations()) / 1e6,
                                                  benchmark::Counter::kIsRate);
}

constexpr Size kFullHd{1920, 1080};
constexpr Size k4k{3840, 2160};

#define SPICEFLOW_CONVERT(name, ...) \
  BENCHMARK_CAPTURE(BM_Convert, name, __VA_ARGS__)->Unit(benchmark::kMillisecond)->UseRealTime()

SPICEFLOW_CONVERT(i420_1080p_cpu, "cpu", YuvFormat::i420, kFullHd);
SPICEFLOW_CONVERT(i420_1080p_vulkan, "vulkan", YuvFormat::i420, kFullHd);
SPICEFLOW_CONVERT(nv12_1080p_cpu, "cpu", YuvFormat::nv12, kFullHd);
SPICEFLOW_CONVERT(nv12_1080p_vulkan, "vulkan", YuvFormat::nv12, kFullHd);
SPICEFLOW_CONVERT(i420_4k_cpu, "cpu", YuvFormat::i420, k4k);
SPICEFLOW_CONVERT(i420_4k_vulkan, "vulkan", YuvFormat::i420, k4k);
SPICEFLOW_CONVERT(nv12_4k_cpu, "cpu", YuvFormat::nv12, k4k);
SPICEFLOW_CONVERT(nv12_4k_vulkan, "vulkan", YuvFormat::nv12, k4k);

}  // namespace
