// The production QUIC decoder on hostile input: truncated, corrupt and oversized streams
// give an error, never a crash or a read past the data (streams are decoded from exact-size
// heap copies, so an ASan build catches any overread), and thousands of random mutations
// of valid streams decode or fail cleanly.
#include <gtest/gtest.h>

#include <cstring>
#include <fstream>
#include <iterator>
#include <random>
#include <variant>

#include "spiceflow/encode/image_encoder.hpp"
#include "spiceflow/encode/quic_decoder.hpp"
#include "test_images.hpp"

namespace spiceflow::encode {
namespace {

using namespace spiceflow::encode::testing;

std::vector<uint8_t> quic_of(const Image& img) {
  auto res = make_image_encoder(ImageCodec::quic)->encode(img.view());
  return std::get<EncodedImage>(res).data;
}

void put_word(std::vector<uint8_t>& d, size_t i, uint32_t v) {
  if (d.size() < i * 4 + 4) d.resize(i * 4 + 4);
  for (int b = 0; b < 4; ++b) d[i * 4 + size_t(b)] = uint8_t(v >> (8 * b));
}

// Decodes a heap copy of exactly `n` bytes, so that any read past them is a heap overflow.
Result<QuicDecoded> decode_prefix(const std::vector<uint8_t>& d, size_t n,
                                  const QuicDecodeLimits& lim = {}) {
  std::unique_ptr<uint8_t[]> copy(new uint8_t[n ? n : 1]);
  std::memcpy(copy.get(), d.data(), n);
  return decode_quic({copy.get(), n}, lim);
}

// The picture of the spice-common reference streams in data/ (data/README.md).
uint32_t reference_pixel(int x, int y) {
  if ((x / 16 + y / 10) % 2) return 0x80a0b0c0u;
  if (y % 10 > 2) return 0x3f102030u;
  return uint32_t((x * 2 + y * 3) & 0xff) << 24 | uint32_t(x * 4 & 0xff) << 16 |
         uint32_t(y * 5 & 0xff) << 8 | uint32_t((x + y) * 2 & 0xff);
}

std::vector<uint8_t> data_file(const std::string& name) {
  std::ifstream f(std::string(SPICEFLOW_ENCODE_TEST_DATA) + "/" + name, std::ios::binary);
  EXPECT_TRUE(f.good()) << name;
  return {std::istreambuf_iterator<char>(f), std::istreambuf_iterator<char>()};
}

// RGB16 keeps each channel's top 5 bits and widens them back as v << 3 | v >> 2.
uint32_t through_555(uint32_t c) {
  uint32_t out = 0xff000000u;
  for (int shift : {16, 8, 0}) {
    const uint32_t v = (c >> (shift + 3)) & 0x1f;
    out |= (v << 3 | v >> 2) << shift;
  }
  return out;
}

void expect_reference_picture(const std::string& file, bool alpha, bool rgb16 = false) {
  auto dec = decode_quic(data_file(file));
  ASSERT_TRUE(dec.ok()) << dec.error().message;
  EXPECT_EQ(dec->has_alpha, alpha);
  ASSERT_EQ(dec->image.size(), (Size{48, 44}));
  for (int y = 0; y < 44; ++y)
    for (int x = 0; x < 48; ++x) {
      const uint32_t p = reference_pixel(x, y);
      const uint32_t want = rgb16 ? through_555(p) : alpha ? p : p | 0xff000000u;
      ASSERT_EQ(dec->image.pixel(x, y), want) << x << "," << y;
    }
}

// Streams from spice-common's encoder, for the types ours does not write.
TEST(QuicDecoder, SpiceCommonRgbaStream) {
  expect_reference_picture("spice_common_rgba_48x44.quic", true);
}
TEST(QuicDecoder, SpiceCommonRgb24Stream) {
  expect_reference_picture("spice_common_rgb24_48x44.quic", false);
}
TEST(QuicDecoder, SpiceCommonRgb16Stream) {
  expect_reference_picture("spice_common_rgb16_48x44.quic", false, true);
}

TEST(QuicDecoder, RgbaAndRgb16MutationsNeverCrash) {
  const std::vector<uint8_t> good[] = {data_file("spice_common_rgba_48x44.quic"),
                                       data_file("spice_common_rgb16_48x44.quic")};
  std::mt19937 rng(5);
  for (int round = 0; round < 2000; ++round) {
    auto d = good[round % 2];
    d[20 + rng() % (d.size() - 20)] ^= uint8_t(1u << (rng() % 8));
    if (round % 4 == 0) d.resize(20 + rng() % (d.size() - 20));
    auto dec = decode_prefix(d, d.size());
    if (dec.ok()) {
      EXPECT_EQ(dec->image.size(), (Size{48, 44}));
    }
  }
}

TEST(QuicDecoder, RoundTripCorpus) {
  for (const Image& img : {noise(64, 33, 1), gradient(300, 20), text(257, 64, 2),
                           photo(200, 100, 3), solid(70, 70, rgb(9, 8, 7))}) {
    auto dec = decode_quic(quic_of(img));
    ASSERT_TRUE(dec.ok()) << dec.error().message;
    ASSERT_EQ(dec->image.size(), img.size());
    for (int32_t y = 0; y < img.height(); ++y)
      for (int32_t x = 0; x < img.width(); ++x)
        ASSERT_EQ(dec->image.pixel(x, y), 0xff000000u | rgb_of(img.view(), x, y)) << x << "," << y;
  }
}

// RGB24 streams code the same three channels as RGB32; only the header's type differs.
TEST(QuicDecoder, Rgb24DecodesLikeRgb32) {
  const Image img = text(120, 40, 5);
  auto d = quic_of(img);
  put_word(d, 2, 3);  // QUIC_IMAGE_TYPE_RGB24
  auto dec = decode_quic(d);
  ASSERT_TRUE(dec.ok()) << dec.error().message;
  EXPECT_EQ(dec->image.pixel(17, 23), 0xff000000u | rgb_of(img.view(), 17, 23));
}

TEST(QuicDecoder, RejectsBadHeaders) {
  const auto good = quic_of(noise(16, 16, 4));
  auto expect_error = [](std::vector<uint8_t> d, const char* what) {
    auto dec = decode_quic(d);
    EXPECT_FALSE(dec.ok()) << what;
    if (!dec.ok()) {
      EXPECT_NE(dec.error().message.find("QUIC"), std::string::npos);
    }
  };
  auto d = good;
  put_word(d, 0, 0x12345678);
  expect_error(d, "magic");
  d = good;
  put_word(d, 1, 1);
  expect_error(d, "version");
  for (uint32_t t : {0u, 1u, 6u, 0xffffffffu}) {  // invalid, GRAY, unknown
    d = good;
    put_word(d, 2, t);
    expect_error(d, "type");
  }
  d = good;
  put_word(d, 3, 0);
  expect_error(d, "zero width");
  d = good;
  put_word(d, 4, 0x80000000u);
  expect_error(d, "huge height");
  expect_error({}, "empty");
  expect_error(std::vector<uint8_t>(good.begin(), good.begin() + 19), "short header");
}

TEST(QuicDecoder, SizeLimitsApplyBeforeAllocating) {
  const auto d = quic_of(solid(100, 50, rgb(1, 2, 3)));
  EXPECT_TRUE(decode_quic(d, {100, 5000}).ok());
  EXPECT_FALSE(decode_quic(d, {99, 5000}).ok());
  EXPECT_FALSE(decode_quic(d, {100, 4999}).ok());
}

TEST(QuicDecoder, EveryTruncationFails) {
  const auto d = quic_of(text(90, 30, 6));
  for (size_t n = 0; n < d.size() - 4; ++n) {  // the last word is the encoder's padding
    EXPECT_FALSE(decode_prefix(d, n).ok()) << n << " of " << d.size();
  }
  EXPECT_TRUE(decode_prefix(d, d.size()).ok());
}

TEST(QuicDecoder, GarbageAfterHeaderFailsOrDecodes) {
  std::mt19937 rng(7);
  for (int round = 0; round < 200; ++round) {
    std::vector<uint8_t> d(20 + rng() % 400);
    for (auto& b : d) b = uint8_t(rng());
    put_word(d, 0, 0x43495551);
    put_word(d, 1, 0);
    put_word(d, 2, 2 + uint32_t(round) % 4);  // RGB16, RGB24, RGB32, RGBA
    put_word(d, 3, 1 + rng() % 300);
    put_word(d, 4, 1 + rng() % 300);
    auto dec = decode_prefix(d, d.size());
    if (dec.ok()) {
      EXPECT_EQ(dec->image.width(), int32_t(d[12] | d[13] << 8 | d[14] << 16));
    }
  }
}

// A few thousand random mutations (bit flips, byte stores, cuts) of valid streams: each
// must decode to an image of the declared size or fail with an error, never crash.
TEST(QuicDecoder, RandomMutationsNeverCrash) {
  std::mt19937 rng(11);
  const std::vector<std::vector<uint8_t>> streams = {
      quic_of(text(130, 40, 8)), quic_of(photo(64, 64, 9)),
      quic_of(solid(300, 20, rgb(200, 100, 50))), quic_of(gradient(2100, 3))};
  int failed = 0, decoded = 0;
  for (int round = 0; round < 4000; ++round) {
    auto d = streams[size_t(round) % streams.size()];
    const int edits = 1 + int(rng() % 4);
    for (int e = 0; e < edits; ++e) {
      const size_t at = rng() % d.size();
      switch (rng() % 3) {
        case 0: d[at] ^= uint8_t(1u << (rng() % 8)); break;
        case 1: d[at] = uint8_t(rng()); break;
        default: d.resize(std::max<size_t>(at, 1)); break;
      }
    }
    auto dec = decode_prefix(d, d.size(), {4096, 1 << 20});
    if (dec.ok()) {
      ++decoded;
      EXPECT_GT(dec->image.width(), 0);
    } else {
      ++failed;
    }
  }
  EXPECT_GT(failed, 0);
  EXPECT_GT(decoded, 0);  // flips in pixel data mostly still decode (to other pixels)
}

}  // namespace
}  // namespace spiceflow::encode
