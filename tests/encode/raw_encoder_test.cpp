#include <gtest/gtest.h>

#include <cstring>
#include <variant>

#include "spiceflow/encode/image_encoder.hpp"

namespace spiceflow::encode {
namespace {

TEST(ImageCodecNames, ToString) {
  EXPECT_EQ(to_string(ImageCodec::raw), "raw");
  EXPECT_EQ(to_string(ImageCodec::lz4), "lz4");
}

TEST(ImageEncoderFactory, MakesEachCodec) {
  for (ImageCodec c : {ImageCodec::raw, ImageCodec::lz4}) {
    auto enc = make_image_encoder(c);
    ASSERT_NE(enc, nullptr);
    EXPECT_EQ(enc->codec(), c);
  }
}

Image numbered(int32_t w, int32_t h) {
  Image img(w, h);
  for (int32_t y = 0; y < h; ++y)
    for (int32_t x = 0; x < w; ++x)
      img.row(y)[x] = 0x01000000u * uint32_t(x + y) + uint32_t(y * 1000 + x);
  return img;
}

TEST(RawEncoder, PackedImageIsCopiedVerbatim) {
  const Image img = numbered(13, 7);
  auto res = make_image_encoder(ImageCodec::raw)->encode(img.view());
  ASSERT_TRUE(std::holds_alternative<EncodedImage>(res));
  const auto& e = std::get<EncodedImage>(res);
  EXPECT_EQ(e.codec, ImageCodec::raw);
  EXPECT_EQ(e.width, 13);
  EXPECT_EQ(e.height, 7);
  ASSERT_EQ(e.data.size(), img.byte_size());
  EXPECT_EQ(0, std::memcmp(e.data.data(), img.data(), img.byte_size()));
}

TEST(RawEncoder, StridedViewIsPackedTopDown) {
  const Image big = numbered(50, 40);
  const ImageView sub = big.view().sub({7, 3, 11, 9});
  auto res = make_image_encoder(ImageCodec::raw)->encode(sub);
  ASSERT_TRUE(std::holds_alternative<EncodedImage>(res));
  const auto& e = std::get<EncodedImage>(res);
  ASSERT_EQ(e.data.size(), size_t(11 * 9 * 4));
  for (int32_t y = 0; y < 9; ++y) {
    for (int32_t x = 0; x < 11; ++x) {
      const uint8_t* p = e.data.data() + (size_t(y) * 11 + size_t(x)) * 4;
      const uint32_t want = big.pixel(7 + x, 3 + y);
      // Wire bytes are B, G, R, X.
      ASSERT_EQ(p[0], uint8_t(want));
      ASSERT_EQ(p[1], uint8_t(want >> 8));
      ASSERT_EQ(p[2], uint8_t(want >> 16));
      ASSERT_EQ(p[3], uint8_t(want >> 24));
    }
  }
}

TEST(RawEncoder, EmptyImageIsUnsupported) {
  const Image img(4, 4);
  ImageView v = img.view();
  v.height = 0;
  EXPECT_TRUE(std::holds_alternative<Unsupported>(make_image_encoder(ImageCodec::raw)->encode(v)));
}

}  // namespace
}  // namespace spiceflow::encode
