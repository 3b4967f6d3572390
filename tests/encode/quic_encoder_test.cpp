// QUIC: every encoded image is decoded by a test-only decoder written after spice-common's
// quic.c as spice-gtk runs it (the real client decodes the same streams in
// tests/interop/codec_test.cpp). The decoder reads the window-and-look-ahead bit reader,
// rejects any read past the data (spice-gtk errors there), and checks the header words.
#include <gtest/gtest.h>

#include <array>
#include <bit>
#include <cstring>
#include <optional>
#include <string>
#include <variant>

#include "spiceflow/encode/image_encoder.hpp"
#include "test_images.hpp"

namespace spiceflow::encode {
namespace {

using namespace spiceflow::encode::testing;

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
constexpr std::array<int, 32> kMelc = {0, 0, 0, 0, 1, 1, 1, 1, 2, 2, 2,  2,  3,  3,  3,  3,
                                       4, 4, 5, 5, 6, 6, 7, 7, 8, 9, 10, 11, 12, 13, 14, 15};
constexpr std::array<unsigned, 11> kTrigger = {110, 550, 900, 800, 550, 400,
                                               350, 250, 140, 160, 140};

// The decoder's Golomb family for 8 bits per channel, code length limit 26.
struct Family {
  unsigned n_gr[8], escape_len[8], escape_suffix[8], gr_mask[8];
  unsigned len[8][256];
  Family() {
    for (unsigned l = 0; l < 8; ++l) {
      unsigned prefix = 26 - 8;
      if (prefix > (1u << (8 - l)) - 1) prefix = (1u << (8 - l)) - 1;
      const unsigned alt = 256 - (prefix << l);
      unsigned suffix = 0;
      while ((1u << suffix) < alt) ++suffix;
      n_gr[l] = prefix << l;
      escape_suffix[l] = suffix;
      escape_len[l] = prefix + suffix;
      gr_mask[l] = prefix >= 32 ? 0 : 0xffffffffu >> prefix;  // words at or below: escape
      for (unsigned n = 0; n < 256; ++n) len[l][n] = n < n_gr[l] ? (n >> l) + l + 1 : escape_len[l];
    }
  }
};
const Family kFamily;

struct Bucket {
  unsigned counters[8] = {};
  unsigned best = 7;
};

class Decoder {
 public:
  explicit Decoder(const std::vector<uint8_t>& data) : data_(data) {}

  std::optional<std::string> run(std::vector<uint32_t>& pixels, int& width, int& height) {
    if (data_.size() % 4 != 0 || data_.size() < 4) return "size not a whole number of words";
    word_ = next_ = load(0);
    pos_ = 1;
    avail_ = 0;
    uint32_t header[5];
    for (auto& h : header) {
      h = word_;
      eat(16);
      eat(16);
    }
    if (header[0] != 0x43495551) return "bad magic";
    if (header[1] != 0) return "bad version";
    if (header[2] != 4) return "type is not RGB32";
    width = int(header[3]);
    height = int(header[4]);
    if (width <= 0 || height <= 0) return "bad size";
    pixels.assign(size_t(width) * size_t(height), 0);
    for (auto& c : corr_) c.assign(size_t(width) + 1, 0);
    for (int y = 0; y < height && !overrun_; ++y) {
      uint32_t* cur = pixels.data() + size_t(y) * size_t(width);
      const uint32_t* prev = y ? cur - width : nullptr;
      for (auto& c : corr_) c[0] = y ? c[1] : 0;
      unsigned pos = 0, w = unsigned(width);
      while (wmidx_ < 6 && wmileft_ <= w) {
        if (wmileft_) {
          segment(prev, cur, int(pos), int(pos + wmileft_));
          w -= wmileft_;
          pos += wmileft_;
        }
        ++wmidx_;
        trigger_ = kTrigger[std::min(wmidx_, 10u)];
        wmileft_ = 2048;
      }
      if (w) {
        segment(prev, cur, int(pos), int(pos + w));
        if (wmidx_ < 6) wmileft_ -= w;
      }
    }
    if (overrun_) return "read past the end of the data";
    if (error_) return error_;
    return std::nullopt;
  }

 private:
  uint32_t load(size_t i) {
    if (i * 4 + 4 > data_.size()) {
      overrun_ = true;
      return 0;
    }
    const uint8_t* p = data_.data() + i * 4;
    return uint32_t(p[0]) | uint32_t(p[1]) << 8 | uint32_t(p[2]) << 16 | uint32_t(p[3]) << 24;
  }
  void eat(unsigned len) {
    word_ <<= len;
    if (avail_ >= len) {
      avail_ -= len;
      word_ |= next_ >> avail_;
      return;
    }
    const unsigned d = len - avail_;
    word_ |= next_ << d;
    next_ = load(pos_++);
    avail_ = 32 - d;
    word_ |= next_ >> avail_;
  }
  unsigned golomb(unsigned l) {
    unsigned len, v;
    if (word_ > kFamily.gr_mask[l]) {
      const unsigned zeros = unsigned(std::countl_zero(word_));
      len = zeros + 1 + l;
      v = (zeros << l) | ((word_ >> (32 - len)) & ((1u << l) - 1));
    } else {
      len = kFamily.escape_len[l];
      v = kFamily.n_gr[l] + ((word_ >> (32 - len)) & ((1u << kFamily.escape_suffix[l]) - 1));
    }
    eat(len);
    return v & 0xff;
  }
  static unsigned bucket_index(unsigned ctx) {
    unsigned b = 0;
    while (b < 7 && ctx + 1 >= (2u << b)) ++b;
    return b;
  }
  void update(unsigned c, int i) {  // i: index in corr_ (1-based pixel slot)
    Bucket& b = buckets_[c][bucket_index(corr_[c][size_t(i) - 1])];
    const unsigned v = corr_[c][size_t(i)];
    unsigned best = 7, best_len = (b.counters[7] += kFamily.len[7][v]);
    for (int l = 6; l >= 0; --l) {
      const unsigned x = (b.counters[l] += kFamily.len[l][v]);
      if (x < best_len) best_len = x, best = unsigned(l);
    }
    b.best = best;
    if (best_len > trigger_)
      for (auto& x : b.counters) x >>= 1;
  }
  static unsigned chan(uint32_t p, unsigned c) { return (p >> (16 - 8 * c)) & 0xff; }  // r, g, b
  void decode_pixel(const uint32_t* prev, uint32_t* cur, int i) {
    uint32_t out = 0;
    for (unsigned c = 0; c < 3; ++c) {
      const unsigned ctx = corr_[c][size_t(i)];
      const unsigned v = golomb(buckets_[c][bucket_index(ctx)].best);
      corr_[c][size_t(i) + 1] = uint8_t(v);
      const unsigned delta = (v & 1) ? 255 - (v >> 1) : v >> 1;
      unsigned pred;
      if (!prev)
        pred = i ? chan(cur[i - 1], c) : 0;
      else if (i == 0)
        pred = chan(prev[0], c);
      else
        pred = (chan(cur[i - 1], c) + chan(prev[i], c)) >> 1;
      out |= ((delta + pred) & 0xff) << (16 - 8 * c);
    }
    cur[i] = out;
  }
  void learn(int i) {
    for (unsigned c = 0; c < 3; ++c) update(c, i + 1);
  }
  unsigned decode_run() {
    unsigned run = 0;
    for (;;) {
      const unsigned ones = unsigned(std::countl_one(uint8_t(word_ >> 24)));
      for (unsigned h = 0; h < ones; ++h) {
        run += 1u << melclen_;
        if (melcstate_ < 31) melclen_ = unsigned(kMelc[size_t(++melcstate_)]);
      }
      if (ones != 8) {
        eat(ones + 1);
        break;
      }
      eat(8);
    }
    if (melclen_) {
      run += word_ >> (32 - melclen_);
      eat(melclen_);
    }
    if (melcstate_) melclen_ = unsigned(kMelc[size_t(--melcstate_)]);
    return run;
  }
  void segment(const uint32_t* prev, uint32_t* cur, int i, int end) {
    const unsigned mask = (1u << wmidx_) - 1;
    int stop;
    if (i == 0) {
      decode_pixel(prev, cur, 0);
      if (waitcnt_)
        --waitcnt_;
      else {
        waitcnt_ = kChaos[++seed_ & 0xff] & mask;
        learn(0);
      }
      stop = ++i + int(waitcnt_);
    } else {
      stop = i + int(waitcnt_);
    }
    int run_index = 0;
    auto starts_run = [&](int k) {
      return prev && prev[k - 1] == prev[k] && run_index != k && k > 2 && cur[k - 1] == cur[k - 2];
    };
    for (;;) {
      int k = -1;
      while (k < 0 && stop < end) {
        for (; i <= stop; ++i) {
          if (starts_run(i)) {
            k = i;
            break;
          }
          decode_pixel(prev, cur, i);
        }
        if (k >= 0) break;
        learn(stop);
        stop = i + int(kChaos[++seed_ & 0xff] & mask);
      }
      if (k < 0) {
        for (; i < end; ++i) {
          if (starts_run(i)) {
            k = i;
            break;
          }
          decode_pixel(prev, cur, i);
        }
        if (k < 0) {
          waitcnt_ = unsigned(stop - end);
          return;
        }
      }
      waitcnt_ = unsigned(stop - i);
      run_index = i;
      const unsigned run = decode_run();
      if (run > unsigned(end - i)) {
        error_ = "run past the segment end";
        overrun_ = true;
        return;
      }
      for (unsigned r = 0; r < run; ++r, ++i) cur[i] = cur[i - 1];
      if (i == end) return;
      stop = i + int(waitcnt_);
      if (overrun_) return;
    }
  }

  const std::vector<uint8_t>& data_;
  uint32_t word_ = 0, next_ = 0;
  size_t pos_ = 0;
  unsigned avail_ = 0;
  bool overrun_ = false;
  const char* error_ = nullptr;
  std::array<std::vector<uint8_t>, 3> corr_;
  std::array<std::array<Bucket, 8>, 3> buckets_;
  unsigned waitcnt_ = 0, seed_ = 0xff, wmidx_ = 0, wmileft_ = 2048, trigger_ = kTrigger[0];
  unsigned melcstate_ = 0, melclen_ = 0;
};

size_t expect_round_trip(const ImageView& img) {
  auto res = make_image_encoder(ImageCodec::quic)->encode(img);
  EXPECT_TRUE(std::holds_alternative<EncodedImage>(res));
  if (!std::holds_alternative<EncodedImage>(res)) return 0;
  const auto& e = std::get<EncodedImage>(res);
  EXPECT_EQ(e.codec, ImageCodec::quic);
  EXPECT_EQ(e.width, img.width);
  EXPECT_EQ(e.height, img.height);
  std::vector<uint32_t> px;
  int w = 0, h = 0;
  Decoder dec(e.data);
  auto err = dec.run(px, w, h);
  EXPECT_FALSE(err) << *err;
  if (err) return 0;
  EXPECT_EQ(w, img.width);
  EXPECT_EQ(h, img.height);
  for (int32_t y = 0; y < img.height; ++y)
    for (int32_t x = 0; x < img.width; ++x)
      if (px[size_t(y) * size_t(w) + size_t(x)] != rgb_of(img, x, y)) {
        ADD_FAILURE() << "pixel " << x << "," << y << " differs";
        return 0;
      }
  return e.data.size();
}

TEST(QuicEncoder, HeaderWords) {
  const Image img = solid(5, 3, rgb(1, 2, 3));
  auto res = make_image_encoder(ImageCodec::quic)->encode(img.view());
  const auto& d = std::get<EncodedImage>(res).data;
  ASSERT_GE(d.size(), 24u);
  EXPECT_EQ(0, std::memcmp(d.data(), "QUIC", 4));  // the magic, as a little-endian word
  auto word = [&](size_t i) {
    return uint32_t(d[i * 4]) | uint32_t(d[i * 4 + 1]) << 8 | uint32_t(d[i * 4 + 2]) << 16 |
           uint32_t(d[i * 4 + 3]) << 24;
  };
  EXPECT_EQ(word(1), 0u);  // version
  EXPECT_EQ(word(2), 4u);  // RGB32
  EXPECT_EQ(word(3), 5u);
  EXPECT_EQ(word(4), 3u);
  EXPECT_EQ(word(d.size() / 4 - 1), 0u);  // the trailing zero word
}

TEST(QuicEncoder, OnePixel) {
  expect_round_trip(noise(1, 1, 1).view());
  expect_round_trip(solid(1, 1, rgb(255, 0, 128)).view());
}
TEST(QuicEncoder, OddWidths) {
  for (int32_t w : {1, 2, 3, 5, 7, 31, 33, 333, 1023}) {
    SCOPED_TRACE(w);
    expect_round_trip(noise(w, 5, uint32_t(w)).view());
    expect_round_trip(gradient(w, 17).view());
    expect_round_trip(text(w, 30, uint32_t(w)).view());
  }
}
TEST(QuicEncoder, AllEqualUsesRuns) {
  const Image img = solid(640, 480, rgb(0x20, 0x40, 0x60));
  const size_t n = expect_round_trip(img.view());
  EXPECT_LT(n, img.byte_size() / 200);
}
TEST(QuicEncoder, Noise) { expect_round_trip(noise(257, 129, 7).view()); }
TEST(QuicEncoder, Gradient) {
  const Image img = gradient(300, 200);
  EXPECT_LT(expect_round_trip(img.view()), img.byte_size() / 3);
}
TEST(QuicEncoder, TextAndPhoto) {
  expect_round_trip(text(500, 300, 3).view());
  expect_round_trip(photo(500, 300, 4).view());
}
TEST(QuicEncoder, XByteIgnored) { expect_round_trip(x_varies(300, 40).view()); }
// Rows longer than the 2048-pixel sampling step cross the wait-mask changes mid-row.
TEST(QuicEncoder, LongRowsAndColumns) {
  expect_round_trip(gradient(5000, 3).view());
  expect_round_trip(text(4500, 40, 5).view());
  expect_round_trip(gradient(1, 4000).view());
}
TEST(QuicEncoder, FullHd) {
  expect_round_trip(text(1920, 1080, 9).view());
  expect_round_trip(noise(1920, 1080, 10).view());
}
TEST(QuicEncoder, StridedSubView) {
  const Image big = text(400, 300, 11);
  expect_round_trip(big.view().sub({13, 7, 101, 77}));
}
TEST(QuicEncoder, EmptyImageIsUnsupported) {
  const Image img(4, 4);
  ImageView v = img.view();
  v.height = 0;
  EXPECT_TRUE(std::holds_alternative<Unsupported>(make_image_encoder(ImageCodec::quic)->encode(v)));
}

}  // namespace
}  // namespace spiceflow::encode
