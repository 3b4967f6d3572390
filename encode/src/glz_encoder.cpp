// GLZ_RGB (SPICE_IMAGE_TYPE_GLZ_RGB) and ZLIB_GLZ_RGB for 32-bit xRGB, written from the
// format as spice-gtk's decode-glz.c / decode-glz-tmpl.c read it (LZ_IMAGE_TYPE_RGB32,
// constants from spice-common's lz_common.h).
//
// Header, big-endian: magic "LZ  " (u32 0x20205a4c), version 1.1 (u32), one byte
// type | top_down << 4, width, height, stride (u32 each; the decoder sizes RGB images
// from width * height), the image id (u64) and win_head_dist (u32): once this image is
// decoded (and every earlier id has arrived), the client frees images older than
// id - win_head_dist.
//
// Then operations until width * height pixels are out:
//   ctrl < 32:  ctrl + 1 literal pixels, 3 bytes each (B, G, R).
//   ctrl >= 32: a copy of `len` pixels. len = ctrl >> 5, or 7 plus extension bytes summed
//     up to the first that is not 255. Bit 4 (pixel_flag) picks the offset form; the low
//     nibble holds offset bits 0..3 and the next byte bits 4..11. Then one byte with
//     image_flag (how many image-distance bytes follow) in its top two bits:
//       pixel_flag 0: image_dist = its low 6 bits + the next image_flag bytes << 6, 14, 22;
//       pixel_flag 1: its bit 5 says one more offset byte (bits 17..24) comes last, its
//         low 5 bits are offset bits 12..16, and image_dist = the next image_flag bytes
//         (little-endian).
//     image_dist 0: a copy inside this image from offset + 1 pixels back (overlap allowed).
//     Otherwise: from image id - image_dist, starting at pixel `offset` of it; the client
//     checks only that offset is inside that image, so the copy must end inside it too, and
//     that image must still be in the client's window (or the decoder waits for it forever).
//
// The dictionary is our copy of the client's window: the images, oldest first, with
// consecutive ids, each with its own pixels (X cleared). Before an image is encoded, the
// oldest images leave until it fits in the window; it may then reference any image still
// there. One hash table over 3-pixel sequences covers the window and the image being
// encoded: entries hold (image id, offset), are never cleaned up, and are checked against
// the window and the pixels when used. Besides it the matcher tries the run (previous
// pixel) and the pixel above, and takes the candidate that saves the most bytes.
#include "spiceflow/encode/glz_encoder.hpp"

#include <zlib.h>

#include <algorithm>
#include <cassert>
#include <deque>
#include <unordered_map>
#include <vector>

#include "encoders.hpp"

namespace spiceflow::encode {
namespace {

constexpr uint32_t kMagic = 0x20205a4c;
constexpr uint32_t kVersion = 0x00010001;
constexpr uint8_t kTypeRgb32 = 8;  // LzImageType, as in LZ_RGB
constexpr uint8_t kTopDown = 1 << 4;
constexpr uint32_t kOffsetBits = 25;                 // pixel offsets: 4 + 8 + 5 + 8 bits
constexpr uint32_t kShortOffsets = 1u << 12;         // pixel_flag 0
constexpr uint32_t kLongOffsets = 1u << 17;          // pixel_flag 1 without the extra byte
constexpr uint64_t kOffsetMask = (uint64_t(1) << kOffsetBits) - 1;
// Image distances every offset form can carry (pixel_flag 1 has three bytes for it); the
// window never holds more images than that.
constexpr size_t kMaxWindowImages = size_t(1) << 20;
static_assert(kMaxWindowImages < (size_t(1) << 24));
// Hash slots: 512 KiB of table stays in cache; bigger tables (up to 8 MiB) found no
// more matches on bench/encode's pictures and ran up to 35% slower (cache misses).
constexpr unsigned kHashBits = 16;
// A copy replaces 3 bytes per pixel; it must save at least this much to be worth breaking
// a run of literals (which costs a control byte to resume).
constexpr int kMinGain = 3;

inline uint32_t hash3(uint32_t a, uint32_t b, uint32_t c, unsigned bits) {
  return ((a * 2654435761u) ^ (b * 2246822519u) ^ (c * 3266489917u)) >> (32 - bits);
}

// How many image-distance bytes follow a copy's image byte: with a short pixel offset that
// byte keeps the distance's low 6 bits, with a long one none of it.
int distance_bytes(uint32_t image_dist, bool short_ofs) {
  const uint32_t rest = short_ofs ? image_dist >> 6 : image_dist;
  return rest == 0 ? 0 : rest < (1u << 8) ? 1 : rest < (1u << 16) ? 2 : 3;
}

// The bytes a copy takes on the wire.
int copy_cost(size_t len, uint32_t image_dist, uint32_t ofs) {
  int cost = 3;  // ctrl, offset byte, image byte
  if (len >= 7) cost += 1 + int((len - 7) / 255);
  cost += distance_bytes(image_dist, ofs < kShortOffsets);
  if (ofs >= kLongOffsets) ++cost;
  return cost;
}

class GlzWriter {
 public:
  explicit GlzWriter(std::vector<uint8_t>& out) : out_(out) {}

  void u32(uint32_t v) { lz::put_u32(out_, v); }
  void u64(uint64_t v) {
    u32(uint32_t(v >> 32));
    u32(uint32_t(v));
  }
  void literals(const uint32_t* px, size_t n) { lz::put_literals(out_, px, n); }

  // `ofs`: inside this image (image_dist 0) the distance - 1, else the pixel offset in
  // image id - image_dist.
  void copy(size_t len, uint32_t image_dist, uint32_t ofs) {
    assert(len >= 1 && ofs <= kOffsetMask && image_dist < (1u << 24));
    const uint32_t len_code = len < 7 ? uint32_t(len) : 7;
    const bool short_ofs = ofs < kShortOffsets;
    out_.push_back(uint8_t(len_code << 5 | (short_ofs ? 0 : 0x10) | (ofs & 0x0f)));
    if (len_code == 7) lz::put_length_extension(out_, len);
    out_.push_back(uint8_t(ofs >> 4));
    const int n = distance_bytes(image_dist, short_ofs);
    if (short_ofs) {
      out_.push_back(uint8_t(n << 6 | (image_dist & 0x3f)));
      for (int i = 0; i < n; ++i) out_.push_back(uint8_t(image_dist >> (6 + 8 * i)));
    } else {
      const bool very_long = ofs >= kLongOffsets;
      out_.push_back(uint8_t(n << 6 | (very_long ? 0x20 : 0) | ((ofs >> 12) & 0x1f)));
      for (int i = 0; i < n; ++i) out_.push_back(uint8_t(image_dist >> (8 * i)));
      if (very_long) out_.push_back(uint8_t(ofs >> 17));
    }
  }

 private:
  std::vector<uint8_t>& out_;
};

}  // namespace

struct GlzDictionary::State {
  struct WindowImage {
    uint64_t id = 0;
    size_t width = 0;
    std::vector<uint32_t> px;  // width * height, X cleared
  };
  std::deque<WindowImage> images;  // oldest first, consecutive ids
  uint64_t next_id = 0;
  uint64_t pixels = 0;  // in `images`
  std::vector<uint64_t> table;  // id << kOffsetBits | offset; made on first use
  // The newest image of each size in the window (size_key -> id).
  std::unordered_map<uint64_t, uint64_t> last_of_size;
  Stats stats;

  uint64_t head_id() const { return images.empty() ? next_id : images.front().id; }

  static uint64_t size_key(size_t width, size_t height) {
    return uint64_t(width) << 32 | uint64_t(height);
  }

  void evict_front() {
    const WindowImage& img = images.front();
    // Keep last_of_size as small as the window.
    const auto it = last_of_size.find(size_key(img.width, img.px.size() / img.width));
    if (it != last_of_size.end() && it->second == img.id) last_of_size.erase(it);
    pixels -= img.px.size();
    images.pop_front();
    ++stats.evicted;
  }
};

GlzDictionary::GlzDictionary(int64_t window_pixels)
    : window_limit_(uint32_t(std::clamp<int64_t>(window_pixels, 0, kGlzMaxWindowPixels))),
      state_(std::make_unique<State>()) {}

GlzDictionary::~GlzDictionary() = default;

void GlzDictionary::restart() {
  std::lock_guard lock(mu_);
  while (!state_->images.empty()) state_->evict_front();
}

GlzDictionary::Stats GlzDictionary::stats() const {
  std::lock_guard lock(mu_);
  Stats s = state_->stats;
  s.window_images = state_->images.size();
  s.window_pixels = state_->pixels;
  return s;
}

GlzEncoder::GlzEncoder(std::shared_ptr<GlzDictionary> dict, bool zlib)
    : dict_(std::move(dict)), zlib_(zlib) {
  assert(dict_);
}

EncodeResult GlzEncoder::encode(const ImageView& img) const {
  return encode(img, std::nullopt, nullptr);
}

EncodeResult GlzEncoder::encode(const ImageView& img, std::optional<GlzHint> hint,
                                uint64_t* id_out) const {
  if (img.width <= 0 || img.height <= 0) return Unsupported{"empty image"};
  assert(img.data != nullptr && img.stride >= img.width * 4);
  const size_t n = size_t(img.width) * size_t(img.height);
  if (n > dict_->window_limit_) return Unsupported{"image larger than the GLZ window"};
  const size_t w = size_t(img.width);

  EncodedImage out{ImageCodec::glz, img.width, img.height, {}, 0};
  {
    std::lock_guard lock(dict_->mu_);
    GlzDictionary::State& st = *dict_->state_;
    if (st.table.empty()) st.table.assign(size_t(1) << kHashBits, ~uint64_t(0));
    // Slide the window first: this image may reference only what stays.
    while (!st.images.empty() &&
           (st.pixels + n > dict_->window_limit_ || st.images.size() >= kMaxWindowImages)) {
      st.evict_front();
    }
    const uint64_t head = st.head_id();
    const uint64_t id = st.next_id++;
    if (id_out) *id_out = id;
    auto held = [&](uint64_t ref_id) -> const GlzDictionary::State::WindowImage* {
      return ref_id >= head && ref_id < id ? &st.images[size_t(ref_id - head)] : nullptr;
    };
    // Without a hint: the newest earlier image of the same size, at the same offsets.
    const uint64_t key = GlzDictionary::State::size_key(w, size_t(img.height));
    if (!hint) {
      if (auto it = st.last_of_size.find(key); it != st.last_of_size.end()) {
        hint = GlzHint{it->second, 0, 0};
      }
    }
    st.last_of_size[key] = id;
    const GlzDictionary::State::WindowImage* like = hint ? held(hint->id) : nullptr;

    auto& cur_image = st.images.emplace_back();
    cur_image.id = id;
    cur_image.width = w;
    cur_image.px.resize(n);
    lz::copy_rgb(img, cur_image.px.data());
    st.pixels += n;
    const uint32_t* px = cur_image.px.data();

    out.data.reserve(33 + n);
    GlzWriter wr(out.data);
    wr.u32(kMagic);
    wr.u32(kVersion);
    out.data.push_back(kTypeRgb32 | kTopDown);
    wr.u32(uint32_t(img.width));
    wr.u32(uint32_t(img.height));
    wr.u32(uint32_t(img.width) * 4);
    wr.u64(id);
    wr.u32(uint32_t(id - head));

    constexpr unsigned bits = kHashBits;
    uint64_t* table = st.table.data();
    // The hint: pixel (x, y) here probably equals (x + dx, y + dy) of `like`.
    const int64_t like_w = like ? int64_t(like->width) : 0;
    const int64_t like_h = like ? int64_t(like->px.size() / like->width) : 0;
    // The "repeat" candidate: the alignment of the last copy from an earlier image, tried
    // at every position (a picture matching an old one resumes right after a difference).
    const std::vector<uint32_t>* rep = nullptr;
    uint64_t rep_id = 0;
    int64_t rep_delta = 0;  // offset in `rep` minus offset here
    bool referencing = false;
    size_t lit_start = 0;
    size_t i = 0;
    size_t row_start = 0, y = 0;
    while (i < n) {
      while (i >= row_start + w) {
        row_start += w;
        ++y;
      }
      size_t best_len = 0;
      uint32_t best_dist = 0, best_ofs = 0;
      int best_gain = kMinGain - 1;
      auto consider = [&](size_t len, uint32_t dist, uint32_t ofs) {
        const int gain = int(std::min<size_t>(len, 1u << 20)) * 3 - copy_cost(len, dist, ofs);
        if (gain > best_gain) {
          best_gain = gain;
          best_len = len;
          best_dist = dist;
          best_ofs = ofs;
        }
      };
      // In-image copies from `from` pixels back (overlapping the output is fine).
      auto in_image = [&](size_t from) {
        size_t len = 0;
        while (i + len < n && px[i + len] == px[from + len]) ++len;
        consider(len, 0, uint32_t(i - from - 1));
      };
      // Copies from an earlier image; they must end inside it.
      auto from_image = [&](uint64_t ref_id, const std::vector<uint32_t>& ref, size_t ofs) {
        const size_t limit = std::min(n - i, ref.size() - ofs);
        size_t len = 0;
        while (len < limit && px[i + len] == ref[ofs + len]) ++len;
        consider(len, uint32_t(id - ref_id), uint32_t(ofs));
      };
      if (like) {
        const int64_t lx = int64_t(i - row_start) + hint->dx, ly = int64_t(y) + hint->dy;
        if (lx >= 0 && lx < like_w && ly >= 0 && ly < like_h) {
          const size_t ofs = size_t(ly * like_w + lx);
          if (like->px[ofs] == px[i]) from_image(like->id, like->px, ofs);
        }
      }
      if (rep && best_len < 64) {
        const int64_t ofs = int64_t(i) + rep_delta;
        if (ofs >= 0 && size_t(ofs) < rep->size() && (*rep)[size_t(ofs)] == px[i]) {
          from_image(rep_id, *rep, size_t(ofs));
        }
      }
      if (best_len < 64 && i > 0 && px[i] == px[i - 1]) in_image(i - 1);
      if (best_len < 16 && w > 1 && i >= w && px[i] == px[i - w]) in_image(i - w);
      if (i + 2 < n) {
        uint64_t& slot = table[hash3(px[i], px[i + 1], px[i + 2], bits)];
        const uint64_t cand = slot;
        slot = id << kOffsetBits | i;
        const uint64_t cand_id = cand >> kOffsetBits;
        const size_t cand_ofs = size_t(cand & kOffsetMask);
        if (best_len >= 64) {
          // long enough already
        } else if (cand_id == id) {
          if (cand_ofs < i && px[cand_ofs] == px[i] && px[cand_ofs + 1] == px[i + 1]) {
            in_image(cand_ofs);
          }
        } else if (const auto* ref = held(cand_id)) {
          if (cand_ofs + 2 < ref->px.size() && ref->px[cand_ofs] == px[i] &&
              ref->px[cand_ofs + 1] == px[i + 1] && ref->px[cand_ofs + 2] == px[i + 2]) {
            from_image(cand_id, ref->px, cand_ofs);
          }
        }
      }
      if (best_len == 0) {
        ++i;
        continue;
      }
      wr.literals(px + lit_start, i - lit_start);
      wr.copy(best_len, best_dist, best_ofs);
      if (best_dist != 0) {
        referencing = true;
        st.stats.cross_pixels += best_len;
        rep_id = id - best_dist;
        rep = &held(rep_id)->px;
        rep_delta = int64_t(best_ofs) - int64_t(i);
      }
      i += best_len;
      lit_start = i;
      // Index where the copy ended, so the next repeat of what follows is found.
      if (i >= 3 && i < n) {
        table[hash3(px[i - 3], px[i - 2], px[i - 1], bits)] = id << kOffsetBits | (i - 3);
      }
    }
    wr.literals(px + lit_start, n - lit_start);
    ++st.stats.images;
    if (referencing) ++st.stats.referencing;
    st.stats.last_id = id;
  }
  if (zlib_) {
    uLongf size = compressBound(uLong(out.data.size()));
    std::vector<uint8_t> z(size);
    if (compress2(z.data(), &size, out.data.data(), uLong(out.data.size()), kGlzZlibLevel) ==
            Z_OK &&
        size < out.data.size()) {
      z.resize(size);
      out.glz_size = uint32_t(out.data.size());
      out.data = std::move(z);
      out.codec = ImageCodec::zlib_glz;
    }
  }
  return out;
}

std::unique_ptr<GlzEncoder> make_glz_encoder(std::shared_ptr<GlzDictionary> dict, bool zlib) {
  return std::make_unique<GlzEncoder>(std::move(dict), zlib);
}

std::unique_ptr<ImageEncoder> make_standalone_glz_encoder(bool zlib) {
  return make_glz_encoder(std::make_shared<GlzDictionary>(kGlzDefaultWindowPixels), zlib);
}

}  // namespace spiceflow::encode
