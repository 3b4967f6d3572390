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
#include "quic_format.hpp"  // the format's shared tables (encode/src)
#include "test_images.hpp"

namespace spiceflow::encode {
namespace {

using namespace spiceflow::encode::testing;

using quic::kChaos;
constexpr const auto& kMelc = quic::kMelcLen;
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
