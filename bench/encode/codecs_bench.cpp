// Every image codec on 1080p desktop-like content: text (a page of glyphs), UI (windows,
// title bars, flat fills), a gradient wallpaper, and photo-like noise. Reports throughput
// over the raw pixel bytes (MB/s per core: one thread) and the compression ratio (raw
// bytes / payload bytes). Ceilings on the same pixels: liblz4 compressing the buffer in
// one call (no SPICE framing), and libjpeg-turbo is what the jpeg codec runs.
#include <benchmark/benchmark.h>
#include <lz4.h>

#include <algorithm>
#include <random>
#include <variant>
#include <vector>

#include "spiceflow/encode/glz_encoder.hpp"
#include "spiceflow/encode/image_encoder.hpp"
#include "spiceflow/encode/pixmap_cache.hpp"
#include "spiceflow/encode/quic_decoder.hpp"

namespace {

using spiceflow::Image;
using spiceflow::rgb;
namespace enc = spiceflow::encode;

constexpr int32_t kW = 1920, kH = 1080;

void fill(Image& img, int32_t x0, int32_t y0, int32_t w, int32_t h, uint32_t c) {
  for (int32_t y = std::max(0, y0); y < std::min(img.height(), y0 + h); ++y)
    std::fill(img.row(y) + std::max(0, x0), img.row(y) + std::min(img.width(), x0 + w), c);
}

// Glyphs from a set of 64 (text repeats glyphs), black on white, 14-pixel lines.
void draw_text(Image& img, int32_t x0, int32_t y0, int32_t w, int32_t h, std::mt19937& rng) {
  constexpr int kGlyphs = 64, kGw = 7, kGh = 11;
  static const std::vector<uint8_t> glyphs = [] {
    std::mt19937 g(42);
    std::vector<uint8_t> v(kGlyphs * kGw * kGh);
    for (auto& b : v) b = uint8_t(g() % 3 == 0);
    return v;
  }();
  for (int32_t ty = y0 + 4; ty + kGh < y0 + h; ty += 15) {
    const int32_t len = int32_t(rng() % uint32_t(std::max(1, w - 20)));
    for (int32_t tx = x0 + 6; tx < x0 + 6 + len && tx + kGw < x0 + w; tx += kGw + 1) {
      if (rng() % 7 == 0) continue;
      const uint8_t* g = glyphs.data() + (rng() % kGlyphs) * kGw * kGh;
      for (int32_t gy = 0; gy < kGh; ++gy)
        for (int32_t gx = 0; gx < kGw; ++gx)
          if (g[gy * kGw + gx]) img.row(ty + gy)[tx + gx] = rgb(25, 25, 30);
    }
  }
}

Image text() {
  Image img(kW, kH);
  fill(img, 0, 0, kW, kH, rgb(255, 255, 255));
  std::mt19937 rng(1);
  draw_text(img, 0, 0, kW, kH, rng);
  return img;
}

Image ui() {
  Image img(kW, kH);
  fill(img, 0, 0, kW, kH, rgb(46, 52, 64));
  fill(img, 0, kH - 40, kW, 40, rgb(30, 30, 36));
  std::mt19937 rng(2);
  struct Win {
    int32_t x, y, w, h;
  };
  for (const Win& win :
       {Win{60, 50, 900, 650}, Win{700, 180, 1000, 760}, Win{150, 520, 640, 420}}) {
    fill(img, win.x, win.y, win.w, 30, rgb(60, 63, 70));
    fill(img, win.x + win.w - 26, win.y + 6, 18, 18, rgb(200, 70, 60));
    fill(img, win.x, win.y + 30, win.w, win.h - 30, rgb(245, 245, 245));
    fill(img, win.x, win.y + 30, 180, win.h - 30, rgb(225, 228, 232));  // sidebar
    for (int32_t b = 0; b < 8; ++b)
      fill(img, win.x + 200 + b * 90, win.y + 40, 80, 24, rgb(210, 215, 225));
    draw_text(img, win.x + 190, win.y + 70, std::min(win.w - 200, kW - win.x - 200),
              std::min(win.h - 80, kH - win.y - 80), rng);
  }
  return img;
}

Image gradient() {
  Image img(kW, kH);
  for (int32_t y = 0; y < kH; ++y)
    for (int32_t x = 0; x < kW; ++x)
      img.row(y)[x] = rgb(uint8_t(20 + y * 90 / kH), uint8_t(60 + x * 120 / kW),
                          uint8_t(140 + (x + y) * 100 / (kW + kH)));
  return img;
}

Image photo() {
  Image img(kW, kH);
  std::mt19937 rng(3);
  for (int32_t y = 0; y < kH; ++y)
    for (int32_t x = 0; x < kW; ++x)
      img.row(y)[x] = rgb(uint8_t(x / 10 + (y / 30) % 40 + rng() % 16), uint8_t(y / 6 + rng() % 16),
                          uint8_t(90 + (x * y) % 60 + rng() % 16));
  return img;
}

const Image& content(int which) {
  static const Image images[] = {text(), ui(), gradient(), photo()};
  return images[which];
}
const char* kContentNames[] = {"text", "ui", "gradient", "photo"};

void report(benchmark::State& state, const Image& img, size_t out_bytes) {
  state.SetBytesProcessed(int64_t(state.iterations()) * int64_t(img.byte_size()));
  state.counters["ratio"] = double(img.byte_size()) / double(std::max<size_t>(1, out_bytes));
  state.counters["out_KiB"] = double(out_bytes) / 1024.0;
  state.SetLabel(kContentNames[state.range(0)]);
}

void BM_Codec(benchmark::State& state, enc::ImageCodec codec) {
  const Image& img = content(int(state.range(0)));
  auto e = enc::make_image_encoder(codec);
  size_t out_bytes = 0;
  for (auto _ : state) {
    auto res = e->encode(img.view());
    out_bytes = std::get<enc::EncodedImage>(res).data.size();
    benchmark::DoNotOptimize(out_bytes);
  }
  report(state, img, out_bytes);
}

// The QUIC decoder (guest QUIC images the QXL parser decodes) on our encoder's streams of
// the same content: throughput over the decoded pixel bytes.
void BM_QuicDecode(benchmark::State& state) {
  const Image& img = content(int(state.range(0)));
  const auto stream =
      std::get<enc::EncodedImage>(enc::make_image_encoder(enc::ImageCodec::quic)->encode(img.view()))
          .data;
  for (auto _ : state) {
    auto dec = enc::decode_quic(stream);
    if (!dec) state.SkipWithError(dec.error().message.c_str());
    benchmark::DoNotOptimize(dec);
  }
  report(state, img, stream.size());
}

// GLZ on a fresh window each time (restart() per image): what one image costs on its own,
// comparable with the codecs above. `zlib` adds the deflate pass of ZLIB_GLZ_RGB.
void BM_Glz(benchmark::State& state, bool zlib) {
  const Image& img = content(int(state.range(0)));
  auto dict = std::make_shared<enc::GlzDictionary>(enc::kGlzMaxWindowPixels);
  auto e = enc::make_glz_encoder(dict, zlib);
  size_t out_bytes = 0;
  for (auto _ : state) {
    dict->restart();
    auto res = e->encode(img.view());
    out_bytes = std::get<enc::EncodedImage>(res).data.size();
    benchmark::DoNotOptimize(out_bytes);
  }
  report(state, img, out_bytes);
}

// GLZ's own case: the picture changes a little between images (a line of text being
// typed), so each image copies most of itself from the previous one (the default hint:
// the newest image of the same size). The window holds four full pictures.
void BM_GlzTyping(benchmark::State& state) {
  const Image& base = content(int(state.range(0)));
  auto dict = std::make_shared<enc::GlzDictionary>(4 * kW * kH);
  auto e = enc::make_glz_encoder(dict, false);
  Image img = base;
  std::mt19937 rng(7);
  size_t out_bytes = 0, frames = 0;
  for (auto _ : state) {
    state.PauseTiming();
    // The next glyph of a line of text; lines wrap within 600 rows.
    const int32_t col = int32_t(frames % 200), line = int32_t(frames / 200 % 40);
    fill(img, 40 + col * 8, 200 + line * 15, 7, 11, rng() | 0xff000000u);
    state.ResumeTiming();
    auto res = e->encode(img.view());
    out_bytes += std::get<enc::EncodedImage>(res).data.size();
    ++frames;
  }
  report(state, img, out_bytes / std::max<size_t>(1, frames));
}

// liblz4 alone: one LZ4_compress_default over the whole buffer (the ceiling for lz4).
void BM_Liblz4Ceiling(benchmark::State& state) {
  const Image& img = content(int(state.range(0)));
  std::vector<char> out(size_t(LZ4_compressBound(int(img.byte_size()))));
  size_t out_bytes = 0;
  for (auto _ : state) {
    out_bytes = size_t(LZ4_compress_default(reinterpret_cast<const char*>(img.data()), out.data(),
                                            int(img.byte_size()), int(out.size())));
    benchmark::DoNotOptimize(out.data());
  }
  report(state, img, out_bytes);
}

BENCHMARK_CAPTURE(BM_Codec, lz4, enc::ImageCodec::lz4)
    ->DenseRange(0, 3)
    ->Unit(benchmark::kMillisecond);
BENCHMARK_CAPTURE(BM_Codec, quic, enc::ImageCodec::quic)
    ->DenseRange(0, 3)
    ->Unit(benchmark::kMillisecond);
BENCHMARK(BM_QuicDecode)->DenseRange(0, 3)->Unit(benchmark::kMillisecond);
BENCHMARK_CAPTURE(BM_Codec, lz, enc::ImageCodec::lz)
    ->DenseRange(0, 3)
    ->Unit(benchmark::kMillisecond);
// LZ_PLT: images of <= 256 colours as palette indices (text: 1 bpp), others as LZ_RGB.
BENCHMARK_CAPTURE(BM_Codec, lz_plt, enc::ImageCodec::lz_plt)
    ->DenseRange(0, 3)
    ->Unit(benchmark::kMillisecond);
BENCHMARK_CAPTURE(BM_Codec, jpeg, enc::ImageCodec::jpeg)
    ->DenseRange(0, 3)
    ->Unit(benchmark::kMillisecond);
// JPEG_ALPHA: the JPEG plus the alpha plane as LZ (the corpus is opaque: one long run).
BENCHMARK_CAPTURE(BM_Codec, jpeg_alpha, enc::ImageCodec::jpeg_alpha)
    ->DenseRange(0, 3)
    ->Unit(benchmark::kMillisecond);
BENCHMARK_CAPTURE(BM_Glz, glz, false)->DenseRange(0, 3)->Unit(benchmark::kMillisecond);
BENCHMARK_CAPTURE(BM_Glz, zlib_glz, true)->DenseRange(0, 3)->Unit(benchmark::kMillisecond);
BENCHMARK(BM_GlzTyping)->DenseRange(0, 3)->Unit(benchmark::kMillisecond);
// The pixmap cache's content key (a 128-bit hash of the pixels): what every tile sent to a
// client with a cache costs on top of its encoding.
void BM_PixmapCacheKey(benchmark::State& state) {
  const Image& img = content(int(state.range(0)));
  for (auto _ : state) {
    auto k = enc::content_key(img.view());
    benchmark::DoNotOptimize(k);
  }
  report(state, img, img.byte_size());
}

BENCHMARK(BM_PixmapCacheKey)->DenseRange(0, 3)->Unit(benchmark::kMillisecond);
BENCHMARK(BM_Liblz4Ceiling)->DenseRange(0, 3)->Unit(benchmark::kMillisecond);

}  // namespace
