// LZ_RGB (SPICE_IMAGE_TYPE_LZ_RGB) for 32-bit xRGB, written from the format as
// spice-common's lz.c / lz_decompress_tmpl.c decode it (LZ_IMAGE_TYPE_RGB32).
//
// Payload: seven big-endian u32 header fields -- magic "LZ  " (0x20205a4c), version 1.1,
// image type (RGB32 = 8), width, height, stride (must be width * 4), top_down (1) -- then
// a byte stream of operations over pixels until width * height pixels are produced:
//   ctrl < 32:   ctrl + 1 literal pixels follow, 3 bytes each (B, G, R; X becomes 0);
//   ctrl >= 32:  a copy of L pixels from D pixels back (overlap allowed: runs are D = 1).
//                L: ctrl >> 5 (1..6), or 7 plus extension bytes summed until one is not
//                255. D - 1 < 8191: low 5 bits of ctrl are its high bits, one byte the
//                low ones. Farther: ctrl's low bits all ones and a 255 byte, then D - 8192
//                as a big-endian u16 (so D <= 73727).
// The decoder insists that the operations end exactly on the last pixel and that every
// byte is consumed.
//
// The matcher is our own: a greedy single-probe hash of two pixels plus a run check, the
// cheapest thing that catches what desktops repeat (flat areas, repeated glyphs and rows).
#include <algorithm>
#include <bit>
#include <cassert>

#include "encoders.hpp"

namespace spiceflow::encode {
namespace {

constexpr uint32_t kMagic = 0x20205a4c;
constexpr uint32_t kVersion = 0x00010001;
constexpr uint32_t kTypeRgb32 = 8;  // LzImageType: INVALID, PLT1_LE, PLT1_BE, PLT4_LE,
                                    // PLT4_BE, PLT8, RGB16, RGB24, RGB32, ...
constexpr size_t kMaxLiterals = 32;
constexpr uint32_t kMaxNear = 8191;                 // D <= kMaxNear: 2-byte form
constexpr uint32_t kMaxFar = 65535 + kMaxNear + 1;  // D <= kMaxFar: 4-byte form
constexpr size_t kMinMatch = 2;                     // a 1-pixel copy saves nothing over a literal

class LzWriter {
 public:
  explicit LzWriter(std::vector<uint8_t>& out) : out_(out) {}

  void u32(uint32_t v) { lz::put_u32(out_, v); }
  void literals(const uint32_t* px, size_t n) { lz::put_literals(out_, px, n); }

  void copy(size_t length, uint32_t distance) {
    assert(length >= 1 && distance >= 1 && distance <= kMaxFar);
    const uint32_t len_code = length < 7 ? uint32_t(length) : 7;
    const uint32_t ofs = distance - 1;
    const bool near = distance <= kMaxNear;
    out_.push_back(uint8_t((len_code << 5) | (near ? ofs >> 8 : 31)));
    if (len_code == 7) lz::put_length_extension(out_, length);
    if (near) {
      out_.push_back(uint8_t(ofs & 0xff));
    } else {
      const uint32_t far = ofs - kMaxNear;
      out_.push_back(255);
      out_.push_back(uint8_t(far >> 8));
      out_.push_back(uint8_t(far));
    }
  }

 private:
  std::vector<uint8_t>& out_;
};

inline uint32_t hash2(uint32_t a, uint32_t b, unsigned bits) {
  return ((a * 2654435761u) ^ (b * 2246822519u)) >> (32 - bits);
}

class LzEncoder final : public ImageEncoder {
 public:
  ImageCodec codec() const override { return ImageCodec::lz; }

  EncodeResult encode(const ImageView& img) const override {
    if (img.width <= 0 || img.height <= 0) return Unsupported{"empty image"};
    assert(img.data != nullptr && img.stride >= img.width * 4);
    const size_t n = size_t(img.width) * size_t(img.height);
    // Copies refer across rows, so the pixels go into one array, X cleared (the client
    // never sees X: equal colours must compare equal whatever their X byte).
    std::vector<uint32_t> px(n);
    lz::copy_rgb(img, px.data());
    // Small images get a small table: its set-up is per call.
    const unsigned bits = std::clamp(unsigned(std::bit_width(n)), 10u, 16u);
    std::vector<uint32_t> table(size_t(1) << bits, 0);  // position + 1; 0 = empty

    EncodedImage out{ImageCodec::lz, img.width, img.height, {}};
    out.data.reserve(28 + n);
    LzWriter w(out.data);
    for (uint32_t v : {kMagic, kVersion, kTypeRgb32, uint32_t(img.width), uint32_t(img.height),
                       uint32_t(img.width) * 4, 1u}) {
      w.u32(v);
    }

    auto extend = [&](size_t at, size_t from) {
      size_t len = 0;
      while (at + len < n && px[at + len] == px[from + len]) ++len;
      return len;
    };
    size_t lit_start = 0;
    size_t i = 0;
    while (i < n) {
      size_t best_len = 0;
      uint32_t best_dist = 0;
      if (i > 0 && px[i] == px[i - 1]) {
        best_len = extend(i, i - 1);
        best_dist = 1;
      }
      if (i + 1 < n) {
        uint32_t& slot = table[hash2(px[i], px[i + 1], bits)];
        const size_t cand = slot;
        slot = uint32_t(i + 1);
        if (cand != 0 && i - (cand - 1) <= kMaxFar && best_len < 64) {
          const size_t from = cand - 1;
          if (px[from] == px[i] && px[from + 1] == px[i + 1]) {
            const size_t len = extend(i, from);
            if (len > best_len) {
              best_len = len;
              best_dist = uint32_t(i - from);
            }
          }
        }
      }
      if (best_len < kMinMatch) {
        ++i;
        continue;
      }
      w.literals(px.data() + lit_start, i - lit_start);
      w.copy(best_len, best_dist);
      i += best_len;
      lit_start = i;
      // Remember where the match ended, so the next repeat of what follows is found.
      if (i >= 2 && i < n) table[hash2(px[i - 2], px[i - 1], bits)] = uint32_t(i - 1);
    }
    w.literals(px.data() + lit_start, n - lit_start);
    return out;
  }
};

}  // namespace

namespace lz {

void put_u32(std::vector<uint8_t>& out, uint32_t v) {
  for (int s = 24; s >= 0; s -= 8) out.push_back(uint8_t(v >> s));
}

void put_literals(std::vector<uint8_t>& out, const uint32_t* px, size_t n) {
  while (n) {
    const size_t k = std::min(n, kMaxLiterals);
    out.push_back(uint8_t(k - 1));
    for (size_t i = 0; i < k; ++i) {
      out.push_back(uint8_t(px[i]));        // B
      out.push_back(uint8_t(px[i] >> 8));   // G
      out.push_back(uint8_t(px[i] >> 16));  // R
    }
    px += k;
    n -= k;
  }
}

void put_length_extension(std::vector<uint8_t>& out, size_t len) {
  assert(len >= 7);
  size_t rest = len - 7;
  for (; rest >= 255; rest -= 255) out.push_back(255);
  out.push_back(uint8_t(rest));
}

void copy_rgb(const ImageView& img, uint32_t* out) {
  const size_t w = size_t(img.width);
  for (int32_t y = 0; y < img.height; ++y) {
    const uint32_t* row = img.row(y);
    uint32_t* dst = out + size_t(y) * w;
    for (size_t x = 0; x < w; ++x) dst[x] = row[x] & 0x00ffffffu;
  }
}

}  // namespace lz

std::unique_ptr<ImageEncoder> make_lz_encoder() { return std::make_unique<LzEncoder>(); }

}  // namespace spiceflow::encode
