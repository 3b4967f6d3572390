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

namespace spiceflow::encode {
namespace {

constexpr uint32_t kMagic = 0x43495551;  // "QUIC" read as a little-endian word
constexpr uint32_t kVersion = 0;
constexpr uint32_t kTypeRgb32 = 4;  // QuicImageType: INVALID, GRAY, RGB16, RGB24, RGB32, RGBA

constexpr unsigned kBpc = 8;
constexpr unsigned kCodeLenLimit = 26;    // longest codeword the decoder's family allows
constexpr unsigned kBuckets = 8;          // contexts 0 | 1-2 | 3-6 | 7-14 | ... | 127-255
constexpr unsigned kWaitMaskMax = 6;      // the model learns from 1 in up to 2^6 pixels...
constexpr unsigned kWaitMaskStep = 2048;  // ...and samples sparser every 2048 pixels

// Counter-halving thresholds per wait-mask index (model evolution 3: buckets 1 2 4 8...).
constexpr std::array<uint16_t, 11> kHalveAbove = {110, 550, 900, 800, 550, 400,
                                                  350, 250, 140, 160, 140};
// Run-length (MELCODE) states: a state's expected run is 2^kMelcLen[state].
constexpr std::array<uint8_t, 32> kMelcLen = {0, 0, 0, 0, 1, 1, 1, 1, 2, 2, 2,  2,  3,  3,  3,  3,
                                              4, 4, 5, 5, 6, 6, 7, 7, 8, 9, 10, 11, 12, 13, 14, 15};
// The pseudo-random sampling gaps both sides draw (format data: the decoder has the same).
constexpr std::array<uint32_t, 256> kChaos = {
    0x02c57542, 0x35427717, 0x2f5a2153, 0x9244f155, 0x7bd26d07, 0x354c6052, 0x57329b28, 0x2993868e,
    0x6cd8808c, 0x147b46e0, 0x99db66af, 0xe32b4cac, 0x1b671264, 0x9d433486, 0x62a4c192, 0x06089a4b,
    0x9e3dce44, 0xdaabee13, 0x222425ea, 0xa46f331d, 0xcd589250, 0x8bb81d7f, 0xc8b736b9, 0x35948d33,
    0xd7ac7fd0, 0x5fbe2803, 0x2cfbc105, 0x013dbc4e, 0x7a37820f, 0x39f88e9e, 0xedd58794, 0xc5076689,
    0xfcada5a4, 0x64c2f46d, 0xb3ba3243, 0x8974b4f9, 0x5a05aebd, 0x20afcd00, 0x39e2b008, 0x88a18a45,
    0x600bde29, 0xf3971ace, 0xf37b0a6b, 0x7041495b, 0x70b707ab, 0x06beffbb, 0x4206051f, 0xe13c4ee3,
    0xc1a78327, 0x91aa067c, 0x8295f72a, 0x732917a6, 0x1d871b4d, 0x4048f136, 0xf1840e7e, 0x6a6048c1,
    0x696cb71a, 0x7ff501c3, 0x0fc6310b, 0x57e0f83d, 0x8cc26e74, 0x11a525a2, 0x946934c7, 0x7cd888f0,
    0x8f9d8604, 0x4f86e73b, 0x04520316, 0xdeeea20c, 0xf1def496, 0x67687288, 0xf540c5b2, 0x22401484,
    0x3478658a, 0xc2385746, 0x01979c2c, 0x5dad73c8, 0x0321f58b, 0xf0fedbee, 0x92826ddf, 0x284bec73,
    0x5b1a1975, 0x03df1e11, 0x20963e01, 0xa17cf12b, 0x740d776e, 0xa7a6bf3c, 0x01b5cce4, 0x1118aa76,
    0xfc6fac0a, 0xce927e9b, 0x00bf2567, 0x806f216c, 0xbca69056, 0x795bd3e9, 0xc9dc4557, 0x8929b6c2,
    0x789d52ec, 0x3f3fbf40, 0xb9197368, 0xa38c15b5, 0xc3b44fa8, 0xca8333b0, 0xb7e8d590, 0xbe807feb,
    0xbf5f8360, 0xd99e2f5c, 0x372928e1, 0x7c757c4c, 0x0db5b154, 0xc01ede02, 0x1fc86e78, 0x1f3985be,
    0xb4805c77, 0x00c880fa, 0x974c1b12, 0x35ab0214, 0xb2dc840d, 0x5b00ae37, 0xd313b026, 0xb260969d,
    0x7f4c8879, 0x1734c4d3, 0x49068631, 0xb9f6a021, 0x6b863e6f, 0xcee5debf, 0x29f8c9fb, 0x53dd6880,
    0x72b61223, 0x1f67a9fd, 0x0a0f6993, 0x13e59119, 0x11cca12e, 0xfe6b6766, 0x16b6effc, 0x97918fc4,
    0xc2b8a563, 0x94f2f741, 0x0bfa8c9a, 0xd1537ae8, 0xc1da349c, 0x873c60ca, 0x95005b85, 0x9b5c080e,
    0xbc8abbd9, 0xe1eab1d2, 0x6dac9070, 0x4ea9ebf1, 0xe0cf30d4, 0x1ef5bd7b, 0xd161043e, 0x5d2fa2e2,
    0xff5d3cae, 0x86ed9f87, 0x2aa1daa1, 0xbd731a34, 0x9e8f4b22, 0xb1c2c67a, 0xc21758c9, 0xa182215d,
    0xccb01948, 0x8d168df7, 0x04238cfe, 0x368c3dbc, 0x0aeadca5, 0xbad21c24, 0x0a71fee5, 0x9fc5d872,
    0x54c152c6, 0xfc329483, 0x6783384a, 0xeddb3e1c, 0x65f90e30, 0x884ad098, 0xce81675a, 0x4b372f7d,
    0x68bf9a39, 0x43445f1e, 0x40f8d8cb, 0x90d5acb6, 0x4cd07282, 0x349eeb06, 0x0c9d5332, 0x520b24ef,
    0x80020447, 0x67976491, 0x2f931ca3, 0xfe9b0535, 0xfcd30220, 0x61a9e6cc, 0xa487d8d7, 0x3f7c5dd1,
    0x7d0127c5, 0x48f51d15, 0x60dea871, 0xc9a91cb7, 0x58b53bb3, 0x9d5e0b2d, 0x624a78b4, 0x30dbee1b,
    0x9bdf22e7, 0x1df5c299, 0x2d5643a7, 0xf4dd35ff, 0x03ca8fd6, 0x53b47ed8, 0x6f2c19aa, 0xfeb0c1f4,
    0x49e54438, 0x2f2577e6, 0xbf876969, 0x72440ea9, 0xfa0bafb8, 0x74f5b3a0, 0x7dd357cd, 0x89ce1358,
    0x6ef2cdda, 0x1e7767f3, 0xa6be9fdb, 0x4f5f88f8, 0xba994a3a, 0x08ca6b65, 0xe0893818, 0x9e00a16a,
    0xf42bfc8f, 0x9972eedc, 0x749c8b51, 0x32c05f5e, 0xd706805f, 0x6bfbb7cf, 0xd9210a10, 0x31a1db97,
    0x923a9559, 0x37a7a1f6, 0x059f8861, 0xca493e62, 0x65157e81, 0x8f6467dd, 0xab85ff9f, 0x9331aff2,
    0x8616b9f5, 0xedbd5695, 0xee7e29b1, 0x313ac44f, 0xb903112f, 0x432ef649, 0xdc0a36c0, 0x61cf2bba,
    0x81474925, 0xa8b6c7ad, 0xee5931de, 0xb2f8158d, 0x59fb7409, 0x2e3dfaed, 0x9af25a3f, 0xe1fed4d5};

// Golomb-Rice codes with parameter l for every folded value, capped at kCodeLenLimit bits:
// values past the cap get a fixed-length escape (a zero prefix, then the offset).
struct CodeTables {
  std::array<std::array<uint32_t, 256>, kBpc> code{};
  std::array<std::array<uint8_t, 256>, kBpc> len{};
  std::array<uint8_t, 256> fold{};    // prediction error (mod 256) -> 0, 1, 2... by size
  std::array<uint8_t, 256> bucket{};  // context value -> bucket
};

constexpr unsigned ceil_log2(unsigned v) { return v <= 1 ? 0 : unsigned(std::bit_width(v - 1)); }

constexpr CodeTables make_tables() {
  CodeTables t;
  for (unsigned l = 0; l < kBpc; ++l) {
    const unsigned max_prefix = (1u << (kBpc - l)) - 1;
    const unsigned prefix = std::min(kCodeLenLimit - kBpc, max_prefix);
    const unsigned gr_values = prefix << l;
    const unsigned escape_bits = ceil_log2(256 - gr_values);
    for (unsigned n = 0; n < 256; ++n) {
      if (n < gr_values) {
        t.code[l][n] = (1u << l) | (n & ((1u << l) - 1));
        t.len[l][n] = uint8_t((n >> l) + l + 1);
      } else {
        t.code[l][n] = n - gr_values;
        t.len[l][n] = uint8_t(prefix + escape_bits);
      }
    }
  }
  for (unsigned s = 0; s < 256; ++s) {
    t.fold[s] = uint8_t(s < 128 ? s << 1 : ((255 - s) << 1) + 1);
    t.bucket[s] = uint8_t(std::min(kBuckets - 1, unsigned(std::bit_width(s + 1)) - 1));
  }
  return t;
}
constexpr CodeTables kTables = make_tables();

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
