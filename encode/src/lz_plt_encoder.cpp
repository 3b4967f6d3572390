// LZ_PLT (SPICE_IMAGE_TYPE_LZ_PLT): an image of at most 256 colours as palette indices,
// 1, 4 or 8 bits per pixel, compressed with SPICE's LZ over bytes, written from the format
// as spice-common's lz.c / lz_decompress_tmpl.c decode it (PLT1_BE, PLT4_BE, PLT8 to
// RGB32) and canvas_base.c's canvas_get_lz() calls it.
//
// Payload: the LZ header (big-endian u32s: magic "LZ  ", version 1.1, type 2 / 4 / 5 for
// PLT1_BE / PLT4_BE / PLT8, width, height, stride = the packed row's bytes, top_down 1),
// then operations over bytes until height * stride bytes are produced:
//   ctrl < 32:   ctrl + 1 literal bytes follow;
//   ctrl >= 32:  a copy of L >= 3 bytes from D bytes back: L - 2 in ctrl's top 3 bits (1..6),
//                or 7 there and L - 9 as 255-extension bytes; D as in LZ_RGB (2 or 4 bytes).
// Rows are packed most significant bits first (BE), padded with index 0 to whole bytes; the
// client expands every byte of a row (the padding lands past the image's width, in the row
// stride it allocates) and looks each index up in the palette: PLT8 without a range check,
// so every index we write is below the palette's size; PLT1 reads entries 0 and 1 always,
// so a one-colour image gets a two-entry palette.
//
// An image with more than 256 colours goes out as LZ_RGB (EncodedImage::codec says which).
#include <algorithm>
#include <array>
#include <bit>
#include <cassert>

#include "encoders.hpp"

namespace spiceflow::encode {
namespace {

// LzImageType values (lz_common.h's order: INVALID, PLT1_LE, PLT1_BE, PLT4_LE, PLT4_BE, PLT8).
constexpr uint32_t kTypePlt1Be = 2;
constexpr uint32_t kTypePlt4Be = 4;
constexpr uint32_t kTypePlt8 = 5;
constexpr size_t kMaxLiterals = 32;
constexpr uint32_t kMaxNear = 8191;                 // D <= kMaxNear: 2-byte distance
constexpr uint32_t kMaxFar = 65535 + kMaxNear + 1;  // D <= kMaxFar: 4-byte distance
constexpr size_t kMinMatch = 3;                     // the format's shortest copy (bias 2 + 1)
constexpr size_t kMaxShortMatch = 8;                // longer copies take extension bytes

// A small open-addressing set of up to 256 colours with their indices, first seen first.
class PaletteBuilder {
 public:
  // Adds `c` (X cleared); false once a 257th colour shows up.
  bool add(uint32_t c) {
    size_t h = (c * 2654435761u) >> (32 - kBits);
    while (true) {
      Slot& s = slots_[h];
      if (!s.used) {
        if (colours_.size() == kMaxColours) return false;
        s = Slot{true, uint8_t(colours_.size()), c};
        colours_.push_back(c);
        return true;
      }
      if (s.colour == c) return true;
      h = (h + 1) & (kSlots - 1);
    }
  }
  uint8_t index_of(uint32_t c) const {
    size_t h = (c * 2654435761u) >> (32 - kBits);
    while (slots_[h].colour != c || !slots_[h].used) h = (h + 1) & (kSlots - 1);
    return slots_[h].index;
  }
  const std::vector<uint32_t>& colours() const { return colours_; }

 private:
  static constexpr size_t kMaxColours = 256;
  static constexpr unsigned kBits = 10;  // 1024 slots for <= 256 colours: short probes
  static constexpr size_t kSlots = size_t(1) << kBits;
  struct Slot {
    bool used = false;
    uint8_t index = 0;
    uint32_t colour = 0;
  };
  std::array<Slot, kSlots> slots_{};
  std::vector<uint32_t> colours_;
};

void put_byte_copy(std::vector<uint8_t>& out, size_t length, uint32_t distance) {
  assert(length >= kMinMatch && distance >= 1 && distance <= kMaxFar);
  const uint32_t len_code = length <= kMaxShortMatch ? uint32_t(length - 2) : 7;
  const uint32_t ofs = distance - 1;
  const bool near = distance <= kMaxNear;
  out.push_back(uint8_t((len_code << 5) | (near ? ofs >> 8 : 31)));
  if (len_code == 7) {
    size_t rest = length - (kMaxShortMatch + 1);
    for (; rest >= 255; rest -= 255) out.push_back(255);
    out.push_back(uint8_t(rest));
  }
  if (near) {
    out.push_back(uint8_t(ofs & 0xff));
  } else {
    const uint32_t far = ofs - kMaxNear;
    out.push_back(255);
    out.push_back(uint8_t(far >> 8));
    out.push_back(uint8_t(far));
  }
}

void put_byte_literals(std::vector<uint8_t>& out, const uint8_t* b, size_t n) {
  while (n) {
    const size_t k = std::min(n, kMaxLiterals);
    out.push_back(uint8_t(k - 1));
    out.insert(out.end(), b, b + k);
    b += k;
    n -= k;
  }
}

inline uint32_t hash3(const uint8_t* p, unsigned bits) {
  const uint32_t v = uint32_t(p[0]) | uint32_t(p[1]) << 8 | uint32_t(p[2]) << 16;
  return (v * 2654435761u) >> (32 - bits);
}

}  // namespace

// Greedy LZ over bytes: the run (previous byte) and one hash probe of three bytes.
void lz::compress_bytes(const std::vector<uint8_t>& in, std::vector<uint8_t>& out) {
  const size_t n = in.size();
  const unsigned bits = std::clamp(unsigned(std::bit_width(n)), 10u, 16u);
  std::vector<uint32_t> table(size_t(1) << bits, 0);  // position + 1; 0 = empty
  auto extend = [&](size_t at, size_t from) {
    size_t len = 0;
    while (at + len < n && in[at + len] == in[from + len]) ++len;
    return len;
  };
  size_t lit_start = 0;
  size_t i = 0;
  while (i < n) {
    size_t best_len = 0;
    uint32_t best_dist = 0;
    if (i > 0 && in[i] == in[i - 1]) {
      best_len = extend(i, i - 1);
      best_dist = 1;
    }
    if (i + 2 < n) {
      uint32_t& slot = table[hash3(&in[i], bits)];
      const size_t cand = slot;
      slot = uint32_t(i + 1);
      if (cand != 0 && i - (cand - 1) <= kMaxFar && best_len < 64) {
        const size_t from = cand - 1;
        const size_t len = extend(i, from);
        if (len > best_len) {
          best_len = len;
          best_dist = uint32_t(i - from);
        }
      }
    }
    if (best_len < kMinMatch) {
      ++i;
      continue;
    }
    put_byte_literals(out, in.data() + lit_start, i - lit_start);
    put_byte_copy(out, best_len, best_dist);
    i += best_len;
    lit_start = i;
  }
  put_byte_literals(out, in.data() + lit_start, n - lit_start);
}

namespace {

class LzPltEncoder final : public ImageEncoder {
 public:
  ImageCodec codec() const override { return ImageCodec::lz_plt; }

  EncodeResult encode(const ImageView& img) const override {
    if (img.width <= 0 || img.height <= 0) return Unsupported{"empty image"};
    assert(img.data != nullptr && img.stride >= img.width * 4);
    PaletteBuilder pal;
    for (int32_t y = 0; y < img.height; ++y) {
      const uint32_t* row = img.row(y);
      uint32_t last = ~0u;  // rows mostly repeat their previous colour: skip the lookup
      for (int32_t x = 0; x < img.width; ++x) {
        const uint32_t c = row[x] & 0x00ffffffu;
        if (c == last) continue;
        last = c;
        if (!pal.add(c)) return rgb_->encode(img);
      }
    }
    return encode_indexed(img, pal);
  }

 private:
  static EncodedImage encode_indexed(const ImageView& img, const PaletteBuilder& pal) {
    const size_t colours = pal.colours().size();
    const unsigned bpp = colours <= 2 ? 1 : colours <= 16 ? 4 : 8;
    const uint32_t type = bpp == 1 ? kTypePlt1Be : bpp == 4 ? kTypePlt4Be : kTypePlt8;
    const size_t stride = (size_t(img.width) * bpp + 7) / 8;
    std::vector<uint8_t> packed(stride * size_t(img.height), 0);
    for (int32_t y = 0; y < img.height; ++y) {
      const uint32_t* row = img.row(y);
      uint8_t* dst = packed.data() + size_t(y) * stride;
      uint32_t last = ~0u;  // runs of one colour: one lookup
      unsigned idx = 0;
      unsigned acc = 0, bits = 0;  // MSB first: earlier pixels in the higher bits
      for (int32_t x = 0; x < img.width; ++x) {
        const uint32_t c = row[x] & 0x00ffffffu;
        if (c != last) {
          idx = pal.index_of(c);
          last = c;
        }
        acc = acc << bpp | idx;
        bits += bpp;
        if (bits == 8) {
          *dst++ = uint8_t(acc);
          acc = 0;
          bits = 0;
        }
      }
      if (bits) *dst = uint8_t(acc << (8 - bits));  // padding: index 0
    }
    EncodedImage out{ImageCodec::lz_plt, img.width, img.height, {}};
    out.palette = pal.colours();
    if (bpp == 1 && out.palette.size() < 2) out.palette.push_back(0);  // PLT1 reads entry 1
    out.palette_id = palette_id(out.palette);
    out.data.reserve(28 + packed.size() / 2);
    for (uint32_t v : {lz::kMagic, lz::kVersion, type, uint32_t(img.width), uint32_t(img.height),
                       uint32_t(stride), 1u}) {
      lz::put_u32(out.data, v);
    }
    lz::compress_bytes(packed, out.data);
    return out;
  }

  std::unique_ptr<ImageEncoder> rgb_ = make_lz_encoder();
};

}  // namespace

uint64_t palette_id(const std::vector<uint32_t>& palette) {
  // splitmix64 steps over the entries and the count: equal palettes, equal ids.
  uint64_t h = 0x9e3779b97f4a7c15ull * (palette.size() + 1);
  for (uint32_t c : palette) {
    h ^= c;
    h *= 0xbf58476d1ce4e5b9ull;
    h ^= h >> 31;
  }
  h = (h ^ (h >> 30)) * 0x94d049bb133111ebull;
  return h ^ (h >> 31);
}

std::unique_ptr<ImageEncoder> make_lz_plt_encoder() { return std::make_unique<LzPltEncoder>(); }

}  // namespace spiceflow::encode
