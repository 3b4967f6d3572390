// LZ4 image encoding of full-HD frames: desktop-like content (what a VDI session mostly
// sends) and noise (the worst case). Reports throughput over the raw pixel bytes and the
// compression ratio (raw bytes / payload bytes).
#include <benchmark/benchmark.h>

#include <algorithm>
#include <random>
#include <variant>

#include "spiceflow/encode/image_encoder.hpp"

namespace {

using spiceflow::Image;
using spiceflow::rgb;

void fill(Image& img, int32_t x0, int32_t y0, int32_t w, int32_t h, uint32_t c) {
  for (int32_t y = y0; y < std::min(img.height(), y0 + h); ++y)
    std::fill(img.row(y) + x0, img.row(y) + std::min(img.width(), x0 + w), c);
}

// A wallpaper gradient, a taskbar, and windows with title bars, "text" (random 6x10
// glyphs drawn from a small set, as real text repeats glyphs) and one photo-like area.
Image desktop(int32_t w, int32_t h) {
  Image img(w, h);
  for (int32_t y = 0; y < h; ++y)
    for (int32_t x = 0; x < w; ++x)
      img.row(y)[x] =
          rgb(uint8_t(20 + y * 60 / h), uint8_t(60 + x * 80 / w), uint8_t(140 + y * 60 / h));
  std::mt19937 rng(7);
  constexpr int kGlyphs = 64, kGw = 6, kGh = 10;
  std::vector<uint8_t> glyphs(kGlyphs * kGw * kGh);
  for (auto& g : glyphs) g = (rng() % 3 == 0);
  fill(img, 0, h - 40, w, 40, rgb(30, 30, 36));
  struct Win {
    int32_t x, y, w, h;
  };
  for (const Win& win :
       {Win{80, 60, 900, 700}, Win{700, 200, 1000, 760}, Win{150, 500, 600, 420}}) {
    fill(img, win.x, win.y, win.w, 28, rgb(60, 63, 70));
    fill(img, win.x, win.y + 28, win.w, win.h - 28, rgb(255, 255, 255));
    for (int32_t ty = win.y + 40; ty + kGh < win.y + win.h - 10 && ty + kGh < h; ty += 14) {
      const int32_t line_len = int32_t(rng() % uint32_t(win.w - 40));
      for (int32_t tx = win.x + 10; tx < win.x + 10 + line_len && tx + kGw < w; tx += kGw + 1) {
        const uint8_t* g = glyphs.data() + (rng() % kGlyphs) * kGw * kGh;
        for (int32_t gy = 0; gy < kGh; ++gy)
          for (int32_t gx = 0; gx < kGw; ++gx)
            if (g[gy * kGw + gx]) img.row(ty + gy)[tx + gx] = rgb(20, 20, 20);
      }
    }
  }
  // Photo-like: smooth colour plus low-amplitude noise.
  for (int32_t y = 250; y < 550; ++y)
    for (int32_t x = 1100; x < 1500; ++x)
      img.row(y)[x] =
          rgb(uint8_t(x / 3 + rng() % 8), uint8_t(y / 3 + rng() % 8), uint8_t(128 + rng() % 8));
  return img;
}

Image noise(int32_t w, int32_t h) {
  Image img(w, h);
  std::mt19937 rng(1);
  for (int32_t y = 0; y < h; ++y)
    for (int32_t x = 0; x < w; ++x) img.row(y)[x] = rng() | 0xff000000u;
  return img;
}

void run(benchmark::State& state, const Image& img) {
  auto enc = spiceflow::encode::make_image_encoder(spiceflow::encode::ImageCodec::lz4);
  size_t out_bytes = 0;
  for (auto _ : state) {
    auto res = enc->encode(img.view());
    out_bytes = std::get<spiceflow::encode::EncodedImage>(res).data.size();
    benchmark::DoNotOptimize(out_bytes);
  }
  state.SetBytesProcessed(int64_t(state.iterations()) * int64_t(img.byte_size()));
  state.counters["ratio"] = double(img.byte_size()) / double(out_bytes);
  state.counters["out_bytes"] = double(out_bytes);
}

void BM_Lz4Desktop1080p(benchmark::State& state) {
  static const Image img = desktop(1920, 1080);
  run(state, img);
}
BENCHMARK(BM_Lz4Desktop1080p)->Unit(benchmark::kMillisecond);

void BM_Lz4Noise1080p(benchmark::State& state) {
  static const Image img = noise(1920, 1080);
  run(state, img);
}
BENCHMARK(BM_Lz4Noise1080p)->Unit(benchmark::kMillisecond);

void BM_Lz4DesktopTile64(benchmark::State& state) {
  // A damage tile: the per-call set-up cost matters here, not the bulk speed.
  static const Image full = desktop(1920, 1080);
  static const Image img = Image::copy_of(full.view(), {100, 100, 64, 64});
  run(state, img);
}
BENCHMARK(BM_Lz4DesktopTile64);

}  // namespace
