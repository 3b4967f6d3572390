// The raster backends side by side on a full-HD surface: fill, blit, copy-bits, opaque,
// rop3, composite and stroke in Mpixel/s (batches of commands, as the engine's render
// stage applies them, timed until the device has finished), and the Vulkan backend's upload
// and readback in bytes/s. (Composite and stroke run on the Vulkan backend's CPU twin.)
// A backend that cannot be created here (no Vulkan device) reports an error row.
#include <benchmark/benchmark.h>
#include <spice/enums.h>

#include <memory>
#include <vector>

#include "spiceflow/gpu/raster.hpp"

namespace {

using namespace spiceflow;

constexpr Size kFullHd{1920, 1080};

std::unique_ptr<gpu::RasterBackend> make(benchmark::State& state, const char* name, bool staging = false) {
  gpu::RasterOptions o;
  o.vulkan_staging_readback = staging;
  auto r = gpu::make_raster(name, o);
  if (!r) {
    state.SkipWithError(r.error().message.c_str());
    return nullptr;
  }
  auto backend = std::move(r).value();
  (void)backend->create_surface(0, kFullHd);
  // Warm up: lavapipe compiles the shader on its first dispatch.
  (void)backend->apply({0, {}, FillOp{{0, 0, 64, 64}, 0}, {}});
  const Rect one{0, 0, 1, 1};
  (void)backend->view(0, std::span<const Rect>(&one, 1));
  return backend;
}

// Waits for the device: reading one pixel back needs everything before it done.
void finish(gpu::RasterBackend& r) {
  const Rect one{0, 0, 1, 1};
  benchmark::DoNotOptimize(r.view(0, std::span<const Rect>(&one, 1)).data);
}

void report_pixels(benchmark::State& state, int64_t pixels_per_iteration) {
  state.counters["Mpixel/s"] = benchmark::Counter(double(pixels_per_iteration) * double(state.iterations()) / 1e6,
                                                  benchmark::Counter::kIsRate);
}

std::shared_ptr<Image> noise(int32_t w, int32_t h) {
  auto img = std::make_shared<Image>(w, h);
  for (int32_t y = 0; y < h; ++y)
    for (int32_t x = 0; x < w; ++x) img->row(y)[x] = uint32_t(x * 7919 + y * 104729);
  return img;
}

// 64 fills of 256x256 per batch.
void BM_Fill(benchmark::State& state, const char* backend) {
  auto r = make(state, backend);
  if (!r) return;
  std::vector<DrawCommand> batch;
  for (int i = 0; i < 64; ++i) {
    batch.push_back({0, {}, FillOp{{(i * 97) % (1920 - 256), (i * 53) % (1080 - 256), 256, 256}, uint32_t(i) * 0x10305u}, {}});
  }
  for (auto _ : state) {
    benchmark::DoNotOptimize(r->apply_batch(batch));
    finish(*r);
  }
  report_pixels(state, 64 * 256 * 256);
}
BENCHMARK_CAPTURE(BM_Fill, cpu, "cpu")->Unit(benchmark::kMillisecond)->UseRealTime();
BENCHMARK_CAPTURE(BM_Fill, vulkan, "vulkan")->Unit(benchmark::kMillisecond)->UseRealTime();

// 64 blits of a 256x256 bitmap per batch (uploads included).
void BM_Blit(benchmark::State& state, const char* backend) {
  auto r = make(state, backend);
  if (!r) return;
  auto src = noise(256, 256);
  std::vector<DrawCommand> batch;
  for (int i = 0; i < 64; ++i) {
    batch.push_back({0, {}, BlitOp{{(i * 97) % (1920 - 256), (i * 53) % (1080 - 256), 256, 256}, src, {0, 0}}, {}});
  }
  for (auto _ : state) {
    benchmark::DoNotOptimize(r->apply_batch(batch));
    finish(*r);
  }
  report_pixels(state, 64 * 256 * 256);
}
BENCHMARK_CAPTURE(BM_Blit, cpu, "cpu")->Unit(benchmark::kMillisecond)->UseRealTime();
BENCHMARK_CAPTURE(BM_Blit, vulkan, "vulkan")->Unit(benchmark::kMillisecond)->UseRealTime();

// 8 full-screen scrolls by 16 rows per batch.
void BM_CopyBits(benchmark::State& state, const char* backend) {
  auto r = make(state, backend);
  if (!r) return;
  std::vector<DrawCommand> batch(8, DrawCommand{0, {}, CopyBitsOp{{0, 0, 1920, 1080 - 16}, {0, 16}}, {}});
  for (auto _ : state) {
    benchmark::DoNotOptimize(r->apply_batch(batch));
    finish(*r);
  }
  report_pixels(state, 8 * 1920 * (1080 - 16));
}
BENCHMARK_CAPTURE(BM_CopyBits, cpu, "cpu")->Unit(benchmark::kMillisecond)->UseRealTime();
BENCHMARK_CAPTURE(BM_CopyBits, vulkan, "vulkan")->Unit(benchmark::kMillisecond)->UseRealTime();

// 64 draws of a 256x256 op per batch, at scattered positions; `make_op(i)` builds one.
template <class MakeOp>
void run_tiles(benchmark::State& state, const char* backend, MakeOp make_op) {
  auto r = make(state, backend);
  if (!r) return;
  std::vector<DrawCommand> batch;
  for (int i = 0; i < 64; ++i) batch.push_back({0, {}, make_op(i, Rect{(i * 97) % (1920 - 256), (i * 53) % (1080 - 256), 256, 256}), {}});
  for (auto _ : state) {
    benchmark::DoNotOptimize(r->apply_batch(batch));
    finish(*r);
  }
  report_pixels(state, 64 * 256 * 256);
}

// DRAW_OPAQUE: a bitmap combined with a solid brush (xor).
void BM_Opaque(benchmark::State& state, const char* backend) {
  auto src = noise(256, 256);
  run_tiles(state, backend, [&](int i, Rect box) {
    OpaqueOp o;
    o.box = box;
    o.src.image = src;
    o.src_area = {0, 0, 256, 256};
    o.brush = Brush{Brush::Kind::solid, uint32_t(i) * 0x10305u, {}, {}};
    o.rop_descriptor = SPICE_ROPD_OP_XOR;
    return DrawOp{o};
  });
}
BENCHMARK_CAPTURE(BM_Opaque, cpu, "cpu")->Unit(benchmark::kMillisecond)->UseRealTime();
BENCHMARK_CAPTURE(BM_Opaque, vulkan, "vulkan")->Unit(benchmark::kMillisecond)->UseRealTime();

// DRAW_ROP3 0xb8 (PSDPxax, a GDI favourite) with a solid brush.
void BM_Rop3(benchmark::State& state, const char* backend) {
  auto src = noise(256, 256);
  run_tiles(state, backend, [&](int i, Rect box) {
    Rop3Op o;
    o.box = box;
    o.src.image = src;
    o.src_area = {0, 0, 256, 256};
    o.brush = Brush{Brush::Kind::solid, uint32_t(i) * 0x10305u, {}, {}};
    o.rop3 = 0xb8;
    return DrawOp{o};
  });
}
BENCHMARK_CAPTURE(BM_Rop3, cpu, "cpu")->Unit(benchmark::kMillisecond)->UseRealTime();
BENCHMARK_CAPTURE(BM_Rop3, vulkan, "vulkan")->Unit(benchmark::kMillisecond)->UseRealTime();

// DRAW_COMPOSITE: a premultiplied ARGB bitmap OVER the surface.
void BM_Composite(benchmark::State& state, const char* backend) {
  auto src = noise(256, 256);
  for (int32_t y = 0; y < 256; ++y)
    for (int32_t x = 0; x < 256; ++x) {
      const uint32_t a = uint32_t(x);
      const uint32_t c = src->row(y)[x];
      src->row(y)[x] = a << 24 | (((c >> 16) & 0xff) * a / 255) << 16 | (((c >> 8) & 0xff) * a / 255) << 8 |
                       ((c & 0xff) * a / 255);
    }
  run_tiles(state, backend, [&](int, Rect box) {
    CompositeOp o;
    o.box = box;
    o.flags = 3;  // PIXMAN_OP_OVER
    o.src.image = src;
    o.src.has_alpha = true;
    return DrawOp{o};
  });
}
BENCHMARK_CAPTURE(BM_Composite, cpu, "cpu")->Unit(benchmark::kMillisecond)->UseRealTime();
BENCHMARK_CAPTURE(BM_Composite, vulkan, "vulkan")->Unit(benchmark::kMillisecond)->UseRealTime();

// DRAW_STROKE: 256 zero-width polylines of four 400-pixel segments per batch (pixels = the
// segments' lengths along their major axis).
void BM_Stroke(benchmark::State& state, const char* backend) {
  auto r = make(state, backend);
  if (!r) return;
  std::vector<DrawCommand> batch;
  for (int i = 0; i < 256; ++i) {
    const int32_t x = (i * 37) % 1400, y = (i * 11) % 600;
    StrokeOp o;
    o.box = {x - 100, y, 501, 501};  // the path's bounds, as a guest sends it
    PathSegment seg;
    seg.flags = SPICE_PATH_BEGIN | SPICE_PATH_END;
    for (Point p : {Point{x, y}, Point{x + 400, y + 100}, Point{x + 300, y + 500}, Point{x - 100, y + 400}, Point{x, y}}) {
      seg.points.push_back({p.x * 16, p.y * 16});
    }
    o.path.push_back(seg);
    o.brush = Brush{Brush::Kind::solid, uint32_t(i) * 0x10305u, {}, {}};
    o.fore_mode = SPICE_ROPD_OP_PUT;
    batch.push_back({0, {}, o, {}});
  }
  for (auto _ : state) {
    benchmark::DoNotOptimize(r->apply_batch(batch));
    finish(*r);
  }
  report_pixels(state, 256 * 4 * 400);
}
BENCHMARK_CAPTURE(BM_Stroke, cpu, "cpu")->Unit(benchmark::kMillisecond)->UseRealTime();
BENCHMARK_CAPTURE(BM_Stroke, vulkan, "vulkan")->Unit(benchmark::kMillisecond)->UseRealTime();

// Upload: one full-HD bitmap per batch, host -> surface.
void BM_Upload(benchmark::State& state, const char* backend) {
  auto r = make(state, backend);
  if (!r) return;
  auto src = noise(kFullHd.width, kFullHd.height);
  const std::vector<DrawCommand> batch{{0, {}, BlitOp{Rect::from_size(kFullHd), src, {0, 0}}, {}}};
  for (auto _ : state) {
    benchmark::DoNotOptimize(r->apply_batch(batch));
    finish(*r);
  }
  state.SetBytesProcessed(int64_t(state.iterations()) * kFullHd.width * kFullHd.height * 4);
}
BENCHMARK_CAPTURE(BM_Upload, vulkan, "vulkan")->Unit(benchmark::kMillisecond)->UseRealTime();

// Readback of the whole surface after a change (staged: copied to a host buffer, as on a
// discrete GPU; mapped: host-cached device memory read in place, as on lavapipe/UMA, where
// nothing is copied and the figure is the wait for the device per surface byte).
void BM_Readback(benchmark::State& state, const char* backend, bool staging) {
  auto r = make(state, backend, staging);
  if (!r) return;
  const Rect whole = Rect::from_size(kFullHd);
  uint32_t c = 0;
  uint64_t sum = 0;
  for (auto _ : state) {
    state.PauseTiming();
    (void)r->apply({0, {}, FillOp{{0, 0, 8, 8}, c++}, {}});
    state.ResumeTiming();
    const ImageView v = r->view(0, std::span<const Rect>(&whole, 1));
    for (int32_t y = 0; y < v.height; y += 64) sum += v.row(y)[y % v.width];  // touch it
  }
  benchmark::DoNotOptimize(sum);
  state.SetBytesProcessed(int64_t(state.iterations()) * kFullHd.width * kFullHd.height * 4);
}
BENCHMARK_CAPTURE(BM_Readback, vulkan_staged, "vulkan", true)->Unit(benchmark::kMillisecond)->UseRealTime();
BENCHMARK_CAPTURE(BM_Readback, vulkan_mapped, "vulkan", false)->Unit(benchmark::kMillisecond)->UseRealTime();

}  // namespace
