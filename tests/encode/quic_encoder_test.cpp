// QUIC: every encoded image is decoded by our production decoder (encode/quic_decoder.hpp,
// written after spice-common's quic.c as spice-gtk runs it; the real client decodes the
// same streams in tests/interop/codec_test.cpp). The decoder reads the window-and-look-ahead
// bit reader, rejects any read past the data (spice-gtk errors there), and checks the header.
#include <gtest/gtest.h>

#include <cstring>
#include <variant>

#include "spiceflow/encode/image_encoder.hpp"
#include "spiceflow/encode/quic_decoder.hpp"
#include "test_images.hpp"

namespace spiceflow::encode {
namespace {

using namespace spiceflow::encode::testing;

size_t expect_round_trip(const ImageView& img) {
  auto res = make_image_encoder(ImageCodec::quic)->encode(img);
  EXPECT_TRUE(std::holds_alternative<EncodedImage>(res));
  if (!std::holds_alternative<EncodedImage>(res)) return 0;
  const auto& e = std::get<EncodedImage>(res);
  EXPECT_EQ(e.codec, ImageCodec::quic);
  EXPECT_EQ(e.width, img.width);
  EXPECT_EQ(e.height, img.height);
  auto dec = decode_quic(e.data);
  EXPECT_TRUE(dec.ok()) << dec.error().message;
  if (!dec) return 0;
  const Image& px = dec->image;
  EXPECT_FALSE(dec->has_alpha);
  EXPECT_EQ(px.width(), img.width);
  EXPECT_EQ(px.height(), img.height);
  for (int32_t y = 0; y < img.height; ++y)
    for (int32_t x = 0; x < img.width; ++x)
      if (px.pixel(x, y) != (0xff000000u | rgb_of(img, x, y))) {
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
