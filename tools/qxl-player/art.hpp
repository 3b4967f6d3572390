#pragma once
/// Deterministic pixel sources for the scenes: a photographic-like texture (smooth shading
/// with fine grain), a film-grain noise tile, text in a procedural 8x16 glyph set, and an
/// arrow cursor. Everything is 32-bit xRGB with every channel <= 0xEF, so a noise value
/// (<= 0x0F per channel) can be added to a whole pixel without carries.
#include <algorithm>
#include <cstdint>
#include <string>
#include <vector>

namespace spiceflow::player {

/// SplitMix64: the scenes' only source of "randomness".
inline uint64_t mix64(uint64_t x) {
  x += 0x9e3779b97f4a7c15ull;
  x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9ull;
  x = (x ^ (x >> 27)) * 0x94d049bb133111ebull;
  return x ^ (x >> 31);
}

inline uint32_t rgb(uint32_t r, uint32_t g, uint32_t b) { return (r << 16) | (g << 8) | b; }

/// A w x h picture, row-major.
struct Picture {
  int width = 0;
  int height = 0;
  std::vector<uint32_t> pixels;
  const uint32_t* row(int y) const { return &pixels[size_t(y) * size_t(width)]; }
  uint32_t* row(int y) { return &pixels[size_t(y) * size_t(width)]; }
};

/// A landscape-like picture: smooth shading at several scales plus fine static grain.
Picture make_texture(int width, int height, uint64_t seed);

/// A 256x256 tile of per-channel noise in [0, 15].
Picture make_noise_tile(uint64_t seed);

/// One "camera" frame of moving footage: a w x h window of `tex` at (ox, oy), the noise
/// tile added at offset (nx, ny), and a lighter disc of radius r at (cx, cy). Writes row
/// by row through `row_of(y)`.
template <typename RowOf>
void render_footage(const Picture& tex, const Picture& noise, int w, int h, int ox, int oy,
                    int nx, int ny, int cx, int cy, int r, RowOf&& row_of);

constexpr int kGlyphW = 8;
constexpr int kGlyphH = 16;

/// Text that reads like prose or a terminal: words of letters, some capitalised, digits,
/// punctuation. `line` seeds the line; at most `max_chars` characters.
std::string text_line(uint64_t line, int max_chars);

/// Draws `text` with its top-left at (x, y) into rows reachable through `row_of(y)`, each
/// character an 8x16 cell of `fg` on `bg`.
template <typename RowOf>
void draw_text(RowOf&& row_of, int x, int y, const std::string& text, uint32_t fg, uint32_t bg);

/// The 16 rows of one glyph, bit 7 = leftmost pixel.
const uint8_t* glyph(char c);

/// A 32x32 ARGB arrow, hot spot (0, 0).
std::vector<uint32_t> arrow_cursor();

// ---- template definitions

template <typename RowOf>
void render_footage(const Picture& tex, const Picture& noise, int w, int h, int ox, int oy,
                    int nx, int ny, int cx, int cy, int r, RowOf&& row_of) {
  for (int y = 0; y < h; ++y) {
    uint32_t* dst = row_of(y);
    const uint32_t* src = tex.row(oy + y) + ox;
    const uint32_t* nrow = noise.row((y + ny) & 255);
    for (int x = 0; x < w;) {
      const int nxo = (x + nx) & 255;
      const int run = std::min(w - x, 256 - nxo);
      for (int i = 0; i < run; ++i) dst[x + i] = src[x + i] + nrow[nxo + i];
      x += run;
    }
    const int dy = y - cy;
    if (dy * dy < r * r) {
      int half = 0;
      while ((half + 1) * (half + 1) + dy * dy < r * r) ++half;
      const int x0 = std::max(0, cx - half);
      const int x1 = std::min(w, cx + half);
      for (int x = x0; x < x1; ++x) dst[x] = ((dst[x] >> 1) & 0x7f7f7f) + 0x606060;
    }
  }
}

template <typename RowOf>
void draw_text(RowOf&& row_of, int x, int y, const std::string& text, uint32_t fg, uint32_t bg) {
  for (int gy = 0; gy < kGlyphH; ++gy) {
    uint32_t* dst = row_of(y + gy) + x;
    for (char c : text) {
      const uint8_t bits = glyph(c)[gy];
      for (int gx = 0; gx < kGlyphW; ++gx) dst[gx] = (bits & (0x80 >> gx)) ? fg : bg;
      dst += kGlyphW;
    }
  }
}

}  // namespace spiceflow::player
