#pragma once
// Test pictures shared by the codec tests: each stresses a different path of a codec
// (noise: literals and escapes; gradients: prediction; solid: runs and long matches;
// text: short repeats; stripes: matches across rows).
#include <algorithm>
#include <cstdint>
#include <random>

#include "spiceflow/core/image.hpp"

namespace spiceflow::encode::testing {

inline Image noise(int32_t w, int32_t h, uint32_t seed) {
  Image img(w, h);
  std::mt19937 rng(seed);
  for (int32_t y = 0; y < h; ++y)
    for (int32_t x = 0; x < w; ++x) img.row(y)[x] = rng();  // X random too: must not matter
  return img;
}

inline Image gradient(int32_t w, int32_t h) {
  Image img(w, h);
  for (int32_t y = 0; y < h; ++y)
    for (int32_t x = 0; x < w; ++x)
      img.row(y)[x] = rgb(uint8_t(x * 255 / std::max(1, w - 1)),
                          uint8_t(y * 255 / std::max(1, h - 1)), uint8_t((x + y) & 0xff));
  return img;
}

inline Image solid(int32_t w, int32_t h, uint32_t c) {
  Image img(w, h);
  for (int32_t y = 0; y < h; ++y) std::fill(img.row(y), img.row(y) + w, c);
  return img;
}

// Dark "glyphs" from a small set on white lines, a title bar, and flat areas: what a
// desktop mostly is.
inline Image text(int32_t w, int32_t h, uint32_t seed) {
  Image img = solid(w, h, rgb(255, 255, 255));
  std::mt19937 rng(seed);
  constexpr int kGlyphs = 40, kGw = 6, kGh = 9;
  uint8_t glyphs[kGlyphs][kGh][kGw];
  for (auto& g : glyphs)
    for (auto& row : g)
      for (auto& b : row) b = uint8_t(rng() % 3 == 0);
  for (int32_t y = 0; y < std::min(h, 20); ++y)
    std::fill(img.row(y), img.row(y) + w, rgb(60, 63, 70));
  for (int32_t ty = 24; ty + kGh <= h; ty += 12) {
    for (int32_t tx = 4; tx + kGw <= w; tx += kGw + 1) {
      if (rng() % 9 == 0) continue;  // spaces
      const auto& g = glyphs[rng() % kGlyphs];
      for (int gy = 0; gy < kGh; ++gy)
        for (int gx = 0; gx < kGw; ++gx)
          if (g[gy][gx]) img.row(ty + gy)[tx + gx] = rgb(20, 20, 30);
    }
  }
  return img;
}

// Smooth colour plus low-amplitude noise: a photograph's statistics.
inline Image photo(int32_t w, int32_t h, uint32_t seed) {
  Image img(w, h);
  std::mt19937 rng(seed);
  for (int32_t y = 0; y < h; ++y)
    for (int32_t x = 0; x < w; ++x)
      img.row(y)[x] = rgb(uint8_t(x * 200 / std::max(1, w) + rng() % 12),
                          uint8_t(y * 200 / std::max(1, h) + rng() % 12),
                          uint8_t(100 + ((x / 7 + y / 5) % 40) + rng() % 12));
  return img;
}

// Colours equal except for the X byte: codecs must treat them as equal.
inline Image x_varies(int32_t w, int32_t h) {
  Image img(w, h);
  for (int32_t y = 0; y < h; ++y)
    for (int32_t x = 0; x < w; ++x)
      img.row(y)[x] =
          (uint32_t((x * 7 + y) & 0xff) << 24) | (((x / 16) & 1) ? 0x123456u : 0xabcdefu);
  return img;
}

/// Pixel (x, y) of `v` without its X byte.
inline uint32_t rgb_of(const ImageView& v, int32_t x, int32_t y) {
  return v.pixel(x, y) & 0xffffffu;
}

}  // namespace spiceflow::encode::testing
