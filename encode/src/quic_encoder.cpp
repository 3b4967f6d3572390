// QUIC (SPICE_IMAGE_TYPE_QUIC) for 32-bit xRGB, written from the format as spice-common's
// decoder (quic.c, quic_tmpl.c, quic_family_tmpl.c) reads it. QUIC is SFALIC: per colour
// channel a predictor, a sign-folding map, and adaptive Golomb-Rice codes whose parameter
// comes from a context bucket; flat stretches are coded as runs. The decoder mirrors every
// model update, so each decision below (what is coded, when the model learns, when a run
// starts) is exactly the decoder's, and nothing may be "improved" without breaking it.
//
// Stream: 32-bit words, each stored little-endian, bits packed from the most significant
// end. Header words: magic "QUIC", version 0, image type (RGB32 = 4), width, height. Then
// the rows top-down, every pixel as the three codes r, g, b (X is not coded: the client
// sets it to 0). After the last bit: padding to the word end and one more zero word (the
// decoder keeps one word of look-ahead and must not run off the data).
#include <algorithm>
#include <array>
#include <bit>
#include <cassert>
#include <cstring>

#include "encoders.hpp"
#include "quic_format.hpp"

namespace spiceflow::encode {
namespace {

using quic::kMagic;
using quic::kVersion;
constexpr uint32_t kTypeRgb32 = quic::kTypeRgb32;

using quic::kBpc;
using quic::kBuckets;
using quic::kTables;
constexpr unsigned kWaitMaskMax = quic::kWaitMaskMax;
constexpr unsigned kWaitMaskStep = quic::kWaitMaskStep;

using quic::kChaos;
using quic::kHalveAbove;
using quic::kMelcLen;

// Bits out, most significant first, into little-endian 32-bit words.
class BitWriter {
 public:
  explicit BitWriter(size_t reserve_words) { words_.reserve(reserve_words); }
  void put(uint32_t value, unsigned len) {  // 1 <= len <= 32, value < 2^len
    if (len < free_) {
      free_ -= len;
      acc_ |= value << free_;
      return;
    }
    const unsigned rest = len - free_;
    acc_ |= rest == 32 ? 0 : value >> rest;
    words_.push_back(acc_);
    free_ = 32 - rest;
    acc_ = rest == 0 ? 0 : value << free_;
  }
  void put_ones(unsigned n) {
    for (; n >= 16; n -= 16) put(0xffff, 16);
    if (n) put((1u << n) - 1, n);
  }
  std::vector<uint8_t> finish() {
    if (free_ < 32) words_.push_back(acc_);
    words_.push_back(0);
    std::vector<uint8_t> out(words_.size() * 4);
    for (size_t i = 0; i < words_.size(); ++i) {
      const uint32_t w = words_[i];
      out[i * 4 + 0] = uint8_t(w);
      out[i * 4 + 1] = uint8_t(w >> 8);
      out[i * 4 + 2] = uint8_t(w >> 16);
      out[i * 4 + 3] = uint8_t(w >> 24);
    }
    return out;
  }

 private:
  std::vector<uint32_t> words_;
  uint32_t acc_ = 0;
  unsigned free_ = 32;
};

struct Bucket {
  std::array<uint32_t, kBpc> cost{};  // accumulated code length per parameter
  uint8_t best = kBpc - 1;
};

// One channel's adaptive state: its buckets and the folded errors of the current row
// (index 0 is the slot before the first pixel: the previous row's first value).
struct Channel {
  std::array<Bucket, kBuckets> buckets;
  std::vector<uint8_t> folded;
  Bucket& bucket_for(uint8_t context) { return buckets[kTables.bucket[context]]; }
};

// Shared by the three channels: sampling and run-length state.
struct SharedState {
  unsigned wait = 0;
  unsigned seed = 0xff;
  unsigned wm_index = 0;
  unsigned wm_left = kWaitMaskStep;
  unsigned halve_above = kHalveAbove[0];
  unsigned melc_state = 0;
  unsigned melc_len = kMelcLen[0];
  unsigned melc_order = 1u << kMelcLen[0];

  unsigned next_random() { return kChaos[++seed & 0xff]; }
};

// Channel order in the stream (r, g, b) as byte offsets in a B,G,R,X pixel.
constexpr std::array<int, 3> kByte = {2, 1, 0};

class QuicCoder {
 public:
  QuicCoder(int32_t width, size_t reserve_words) : width_(width), out_(reserve_words) {
    for (auto& c : ch_) c.folded.assign(size_t(width) + 1, 0);
  }

  BitWriter& out() { return out_; }

  void row(const uint8_t* prev, const uint8_t* cur) {
    // The context of a row's first pixel is the previous row's first folded value.
    for (auto& c : ch_) c.folded[0] = prev ? c.folded[1] : 0;
    unsigned pos = 0;
    unsigned left = unsigned(width_);
    while (st_.wm_index < kWaitMaskMax && st_.wm_left <= left) {
      if (st_.wm_left) {
        segment(prev, cur, int(pos), int(pos + st_.wm_left), wait_mask());
        left -= st_.wm_left;
        pos += st_.wm_left;
      }
      ++st_.wm_index;
      st_.halve_above = kHalveAbove[std::min(st_.wm_index, 10u)];
      st_.wm_left = kWaitMaskStep;
    }
    if (left) {
      segment(prev, cur, int(pos), int(pos + left), wait_mask());
      if (st_.wm_index < kWaitMaskMax) st_.wm_left -= left;
    }
  }

 private:
  unsigned wait_mask() const { return (1u << st_.wm_index) - 1; }

  static uint8_t at(const uint8_t* row, int i, int c) {
    return row[size_t(i) * 4 + size_t(kByte[c])];
  }
  static bool same_rgb(const uint8_t* row, int i, int j) {
    const uint8_t* a = row + size_t(i) * 4;
    const uint8_t* b = row + size_t(j) * 4;
    return a[0] == b[0] && a[1] == b[1] && a[2] == b[2];
  }

  // Codes pixel i's three channels given each channel's predicted value.
  void code_pixel(const uint8_t* prev, const uint8_t* cur, int i) {
    for (int c = 0; c < 3; ++c) {
      unsigned predicted;
      if (prev == nullptr) {
        predicted = i == 0 ? 0 : at(cur, i - 1, c);
      } else if (i == 0) {
        predicted = at(prev, 0, c);
      } else {
        predicted = (unsigned(at(cur, i - 1, c)) + at(prev, i, c)) >> 1;
      }
      Channel& ch = ch_[size_t(c)];
      const uint8_t v = kTables.fold[(at(cur, i, c) - predicted) & 0xff];
      ch.folded[size_t(i) + 1] = v;
      const unsigned l = ch.bucket_for(ch.folded[size_t(i)]).best;
      out_.put(kTables.code[l][v], kTables.len[l][v]);
    }
  }

  void learn(int i) {
    for (auto& ch : ch_) {
      Bucket& b = ch.bucket_for(ch.folded[size_t(i)]);
      const uint8_t v = ch.folded[size_t(i) + 1];
      unsigned best = kBpc - 1;
      unsigned best_cost = (b.cost[best] += kTables.len[best][v]);
      for (int l = int(kBpc) - 2; l >= 0; --l) {
        const unsigned cost = (b.cost[size_t(l)] += kTables.len[size_t(l)][v]);
        if (cost < best_cost) {
          best = unsigned(l);
          best_cost = cost;
        }
      }
      b.best = uint8_t(best);
      if (best_cost > st_.halve_above) {
        for (auto& x : b.cost) x >>= 1;
      }
    }
  }

  void code_run(unsigned length) {
    unsigned hits = 0;
    while (length >= st_.melc_order) {
      ++hits;
      length -= st_.melc_order;
      if (st_.melc_state < kMelcLen.size() - 1) {
        st_.melc_len = kMelcLen[++st_.melc_state];
        st_.melc_order = 1u << st_.melc_len;
      }
    }
    out_.put_ones(hits);
    out_.put(length, st_.melc_len + 1);  // a 0, then the remainder in melc_len bits
    if (st_.melc_state) {
      st_.melc_len = kMelcLen[--st_.melc_state];
      st_.melc_order = 1u << st_.melc_len;
    }
  }

  // Pixels [i, end) of a row (prev == nullptr for the first row, which has no runs).
  void segment(const uint8_t* prev, const uint8_t* cur, int i, const int end, const unsigned mask) {
    int stop;
    if (i == 0) {
      code_pixel(prev, cur, 0);
      if (st_.wait) {
        --st_.wait;
      } else {
        st_.wait = st_.next_random() & mask;
        learn(0);
      }
      stop = ++i + int(st_.wait);
    } else {
      stop = i + int(st_.wait);
    }
    int run_start = 0;
    // A run starts where the row above repeats and this row already repeated: the
    // decoder checks the same, so runs need no flag in the stream.
    auto run_here = [&](int k) {
      return prev != nullptr && same_rgb(prev, k - 1, k) && run_start != k && k > 2 &&
             same_rgb(cur, k - 1, k - 2);
    };
    for (;;) {
      bool run = false;
      while (!run && stop < end) {
        for (; i <= stop; ++i) {
          if (run_here(i)) {
            run = true;
            break;
          }
          code_pixel(prev, cur, i);
        }
        if (run) break;
        learn(stop);
        stop = i + int(st_.next_random() & mask);
      }
      if (!run) {
        for (; i < end; ++i) {
          if (run_here(i)) {
            run = true;
            break;
          }
          code_pixel(prev, cur, i);
        }
        if (!run) {
          st_.wait = unsigned(stop - end);
          return;
        }
      }
      run_start = i;
      st_.wait = unsigned(stop - i);
      unsigned length = 0;
      while (same_rgb(cur, i, i - 1)) {
        ++length;
        if (++i == end) {
          code_run(length);
          return;
        }
      }
      code_run(length);
      stop = i + int(st_.wait);
    }
  }

  const int32_t width_;
  BitWriter out_;
  std::array<Channel, 3> ch_;
  SharedState st_;
};

class QuicEncoder final : public ImageEncoder {
 public:
  ImageCodec codec() const override { return ImageCodec::quic; }

  EncodeResult encode(const ImageView& img) const override {
    if (img.width <= 0 || img.height <= 0) return Unsupported{"empty image"};
    assert(img.data != nullptr && img.stride >= img.width * 4);
    // Typical desktop content codes to well under a quarter of the raw size.
    QuicCoder coder(img.width, size_t(img.width) * size_t(img.height) / 4 + 16);
    BitWriter& out = coder.out();
    for (uint32_t w : {kMagic, kVersion, kTypeRgb32, uint32_t(img.width), uint32_t(img.height)}) {
      out.put(w >> 16, 16);
      out.put(w & 0xffff, 16);
    }
    const uint8_t* prev = nullptr;
    for (int32_t y = 0; y < img.height; ++y) {
      const uint8_t* cur = img.data + size_t(y) * size_t(img.stride);
      coder.row(prev, cur);
      prev = cur;
    }
    return EncodedImage{ImageCodec::quic, img.width, img.height, out.finish()};
  }
};

}  // namespace

std::unique_ptr<ImageEncoder> make_quic_encoder() { return std::make_unique<QuicEncoder>(); }

}  // namespace spiceflow::encode
