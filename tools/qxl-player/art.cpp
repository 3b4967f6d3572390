#include "art.hpp"

#include <algorithm>
#include <array>
#include <cmath>
#include <string_view>

namespace spiceflow::player {

namespace {

uint32_t clamp_channel(double v) { return uint32_t(std::clamp(v, 0.0, 223.0)); }

/// Procedural glyphs: stems, bars and dots picked per character, placed on the x-height,
/// cap-height, ascender and descender lines of an 8x16 cell, so a line of them has the
/// rhythm and the statistics of text (a small alphabet of repeated shapes).
std::array<std::array<uint8_t, kGlyphH>, 128> make_font() {
  std::array<std::array<uint8_t, kGlyphH>, 128> font{};
  for (int c = 33; c < 127; ++c) {
    auto& g = font[size_t(c)];
    const uint64_t h = mix64(uint64_t(c) * 7919u);
    const bool lower = c >= 'a' && c <= 'z';
    const bool alnum = lower || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9');
    if (!alnum) {  // punctuation: one to three dots or a short bar
      const int kind = int(h % 3);
      if (kind == 0) {
        g[12] = g[13] = 0x18;
      } else if (kind == 1) {
        g[6] = g[7] = 0x18;
        g[12] = g[13] = 0x18;
      } else {
        g[8] = 0x7c;
      }
      continue;
    }
    const int top = lower ? 6 : 3;
    const int bottom = 13;
    const int mid = (top + bottom) / 2;
    uint8_t left = 0x40, right = 0x04, center = 0x10;
    int strokes = int(h & 0x7f);
    if (__builtin_popcount(unsigned(strokes)) < 2) strokes |= 0x03;
    for (int y = top; y <= bottom; ++y) {
      uint8_t row = 0;
      if (strokes & 0x01) row |= left;
      if (strokes & 0x02 && !(strokes & 0x20)) row |= right;
      if (strokes & 0x20) row |= center;
      if (strokes & 0x40) row |= uint8_t(0x40 >> ((y - top) * 5 / (bottom - top + 1)));
      g[size_t(y)] = row;
    }
    if (strokes & 0x04) g[size_t(top)] |= 0x7c;
    if (strokes & 0x08) g[size_t(mid)] |= 0x7c;
    if (strokes & 0x10) g[size_t(bottom)] |= 0x7c;
    if (lower && std::string_view("bdfhklt").find(char(c)) != std::string_view::npos) {
      for (int y = 2; y < top; ++y) g[size_t(y)] |= (strokes & 0x01) ? left : right;
    }
    if (lower && std::string_view("gjpqy").find(char(c)) != std::string_view::npos) {
      for (int y = bottom + 1; y < kGlyphH; ++y) g[size_t(y)] |= right;
    }
  }
  return font;
}

}  // namespace

namespace {

/// Fractal value noise over a width x height area, in [0, 1): random values on lattices of
/// cells of 256 down to 4 pixels, smoothly interpolated, each octave at 0.55 times the
/// amplitude of the one before.
class ValueNoise {
 public:
  ValueNoise(int width, int height, uint64_t seed) {
    double amp = 0.5;
    for (int cell = 256; cell >= 4; cell /= 2, amp *= 0.55) {
      Octave o;
      o.cell = cell;
      o.amp = amp;
      o.cols = width / cell + 2;
      const int rows = height / cell + 2;
      o.lattice.resize(size_t(o.cols) * size_t(rows));
      for (size_t i = 0; i < o.lattice.size(); ++i) {
        o.lattice[i] = double(mix64(seed ^ (uint64_t(cell) << 40) ^ i) >> 11) / double(1ull << 53);
      }
      norm_ += amp;
      octaves_.push_back(std::move(o));
    }
  }
  double at(int x, int y) const {
    double sum = 0;
    for (const Octave& o : octaves_) {
      const int cx = x / o.cell, cy = y / o.cell;
      const double fx = smooth(double(x % o.cell) / o.cell), fy = smooth(double(y % o.cell) / o.cell);
      const double* r0 = &o.lattice[size_t(cy) * size_t(o.cols) + size_t(cx)];
      const double* r1 = r0 + o.cols;
      sum += o.amp * ((r0[0] * (1 - fx) + r0[1] * fx) * (1 - fy) + (r1[0] * (1 - fx) + r1[1] * fx) * fy);
    }
    return sum / norm_;
  }

 private:
  struct Octave {
    int cell, cols;
    double amp;
    std::vector<double> lattice;
  };
  static double smooth(double t) { return t * t * (3 - 2 * t); }
  std::vector<Octave> octaves_;
  double norm_ = 0;
};

}  // namespace

Picture make_texture(int width, int height, uint64_t seed) {
  Picture p;
  p.width = width;
  p.height = height;
  p.pixels.resize(size_t(width) * size_t(height));
  // Brightness and hue from two noise fields, a sky-to-ground tint by height, and a fine
  // static grain: soft shapes at every scale, as in a photograph.
  const ValueNoise light(width, height, seed), hue(width, height, seed + 1);
  for (int y = 0; y < height; ++y) {
    uint32_t* row = p.row(y);
    const double sky = double(y) / height;
    for (int x = 0; x < width; ++x) {
      const double l = light.at(x, y) * 1.6 - 0.3;
      const double t = hue.at(x, y);
      const double g = double(mix64(seed ^ (uint64_t(y) << 32 | uint64_t(x))) & 0xff) / 255.0 * 0.04;
      row[x] = rgb(clamp_channel((l + g) * (150 + 90 * t) + 30 * (1 - sky)),
                   clamp_channel((l + g) * (120 + 80 * (1 - t)) + 25 * sky),
                   clamp_channel((l + g) * (90 + 110 * (1 - sky)) * (1.2 - t)));
    }
  }
  return p;
}

Picture make_noise_tile(uint64_t seed) {
  Picture p;
  p.width = p.height = 256;
  p.pixels.resize(256 * 256);
  for (size_t i = 0; i < p.pixels.size(); ++i) {
    const uint64_t h = mix64(seed * 65536 + i);
    p.pixels[i] = rgb(uint32_t(h & 15), uint32_t((h >> 8) & 15), uint32_t((h >> 16) & 15));
  }
  return p;
}

std::string text_line(uint64_t line, int max_chars) {
  static constexpr std::string_view kLetters = "etaoinshrdlucmfwypvbgkjqxz";
  std::string s;
  uint64_t h = mix64(line + 1);
  const int target = int(max_chars * (0.35 + double(h % 65) / 100.0));
  uint64_t k = 0;
  while (int(s.size()) < target) {
    const uint64_t w = mix64(line * 1000003u + ++k);
    const int len = 1 + int(w % 9);
    for (int i = 0; i < len && int(s.size()) < max_chars; ++i) {
      const uint64_t r = mix64(w + uint64_t(i));
      if (w % 11 == 0) {
        s.push_back(char('0' + r % 10));
      } else {
        const size_t idx = size_t((r % 26) * (r % 26) / 26);  // frequent letters first
        char c = kLetters[idx];
        if (i == 0 && w % 7 == 0) c = char(c - 'a' + 'A');
        s.push_back(c);
      }
    }
    if (w % 5 == 0 && int(s.size()) < max_chars) s.push_back(w % 2 ? ',' : '.');
    if (int(s.size()) < max_chars) s.push_back(' ');
  }
  return s;
}

const uint8_t* glyph(char c) {
  static const auto font = make_font();
  const auto i = static_cast<unsigned char>(c);
  return font[i < 128 ? i : 0].data();
}

std::vector<uint32_t> arrow_cursor() {
  std::vector<uint32_t> px(32 * 32, 0);
  for (int y = 0; y < 21; ++y) {
    const int w = y * 2 / 3 + 1;
    for (int x = 0; x < w; ++x) {
      const bool edge = x == 0 || x == w - 1 || y == 20;
      px[size_t(y * 32 + x)] = edge ? 0xff000000u : 0xffffffffu;
    }
  }
  for (int y = 14; y < 28; ++y) {  // the tail
    const int x0 = 4 + (y - 14) / 3;
    for (int x = x0; x < x0 + 3; ++x) {
      px[size_t(y * 32 + x)] = (x == x0 || x == x0 + 2) ? 0xff000000u : 0xffffffffu;
    }
  }
  return px;
}

}  // namespace spiceflow::player
