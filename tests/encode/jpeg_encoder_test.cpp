// JPEG: decoded with libjpeg-turbo (as spice-gtk decodes it) and compared with the source
// by PSNR; desktop-like pictures at the default quality stay above 30 dB.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <csetjmp>
#include <cstddef>
#include <cstdio>
#include <random>
#include <variant>

// jpeglib.h needs size_t and FILE declared before it.
// clang-format off
#include <jpeglib.h>
// clang-format on

#include "spiceflow/encode/image_encoder.hpp"
#include "lz_bytes_decoder.hpp"
#include "test_images.hpp"

namespace spiceflow::encode {
namespace {

using namespace spiceflow::encode::testing;

struct Err {
  jpeg_error_mgr pub;
  std::jmp_buf jump;
};

// Decodes to packed B,G,R,X rows; false on a libjpeg error.
bool decode(const std::vector<uint8_t>& data, int& w, int& h, std::vector<uint8_t>& out) {
  jpeg_decompress_struct cinfo;
  Err err;
  cinfo.err = jpeg_std_error(&err.pub);
  err.pub.error_exit = [](j_common_ptr c) {
    std::longjmp(reinterpret_cast<Err*>(c->err)->jump, 1);
  };
  if (setjmp(err.jump)) {
    jpeg_destroy_decompress(&cinfo);
    return false;
  }
  jpeg_create_decompress(&cinfo);
  jpeg_mem_src(&cinfo, data.data(), static_cast<unsigned long>(data.size()));
  jpeg_read_header(&cinfo, TRUE);
  cinfo.out_color_space = JCS_EXT_BGRX;
  jpeg_start_decompress(&cinfo);
  w = int(cinfo.output_width);
  h = int(cinfo.output_height);
  out.resize(size_t(w) * size_t(h) * 4);
  while (cinfo.output_scanline < cinfo.output_height) {
    JSAMPROW row = out.data() + size_t(cinfo.output_scanline) * size_t(w) * 4;
    jpeg_read_scanlines(&cinfo, &row, 1);
  }
  jpeg_finish_decompress(&cinfo);
  jpeg_destroy_decompress(&cinfo);
  return true;
}

double psnr(const ImageView& img, const std::vector<uint8_t>& dec) {
  double se = 0;
  for (int32_t y = 0; y < img.height; ++y)
    for (int32_t x = 0; x < img.width; ++x)
      for (int c = 0; c < 3; ++c) {
        const double d =
            double(img.data[size_t(y) * size_t(img.stride) + size_t(x) * 4 + size_t(c)]) -
            double(dec[(size_t(y) * size_t(img.width) + size_t(x)) * 4 + size_t(c)]);
        se += d * d;
      }
  const double mse = se / (double(img.width) * img.height * 3);
  return mse == 0 ? 99.0 : 10 * std::log10(255.0 * 255.0 / mse);
}

double round_trip_psnr(const ImageView& img, size_t* bytes = nullptr) {
  auto res = make_image_encoder(ImageCodec::jpeg)->encode(img);
  EXPECT_TRUE(std::holds_alternative<EncodedImage>(res));
  if (!std::holds_alternative<EncodedImage>(res)) return 0;
  const auto& e = std::get<EncodedImage>(res);
  EXPECT_EQ(e.codec, ImageCodec::jpeg);
  if (bytes) *bytes = e.data.size();
  int w = 0, h = 0;
  std::vector<uint8_t> px;
  EXPECT_TRUE(decode(e.data, w, h, px));
  EXPECT_EQ(w, img.width);
  EXPECT_EQ(h, img.height);
  if (w != img.width || h != img.height) return 0;
  return psnr(img, px);
}

TEST(JpegEncoder, IsAJfifStream) {
  const Image img = gradient(16, 16);
  auto res = make_image_encoder(ImageCodec::jpeg)->encode(img.view());
  const auto& d = std::get<EncodedImage>(res).data;
  ASSERT_GE(d.size(), 4u);
  EXPECT_EQ(d[0], 0xff);  // SOI
  EXPECT_EQ(d[1], 0xd8);
  EXPECT_EQ(d[d.size() - 2], 0xff);  // EOI
  EXPECT_EQ(d[d.size() - 1], 0xd9);
  EXPECT_FALSE(is_lossless(ImageCodec::jpeg));
}
TEST(JpegEncoder, PsnrOnDesktopContent) {
  EXPECT_GT(round_trip_psnr(gradient(300, 200).view()), 32.0);
  EXPECT_GT(round_trip_psnr(photo(320, 240, 1).view()), 30.0);
  EXPECT_GT(round_trip_psnr(text(320, 240, 2).view()), 25.0);  // sharp edges: JPEG's worst
  EXPECT_GT(round_trip_psnr(solid(64, 64, rgb(10, 200, 30)).view()), 40.0);
}
TEST(JpegEncoder, SmallAndOddSizes) {
  for (int32_t w : {1, 2, 7, 9, 17, 333}) {
    SCOPED_TRACE(w);
    EXPECT_GT(round_trip_psnr(solid(w, 3, rgb(100, 150, 200)).view()), 35.0);
    round_trip_psnr(noise(w, 11, uint32_t(w)).view());  // decodes, any quality
  }
}
TEST(JpegEncoder, PhotoCompressesWell) {
  const Image img = photo(1920, 1080, 3);
  size_t bytes = 0;
  EXPECT_GT(round_trip_psnr(img.view(), &bytes), 30.0);
  EXPECT_LT(bytes, img.byte_size() / 8);
}
TEST(JpegEncoder, StridedSubView) {
  const Image big = gradient(400, 300);
  EXPECT_GT(round_trip_psnr(big.view().sub({13, 7, 101, 77})), 35.0);
}
TEST(JpegEncoder, QualityMatters) {
  const Image img = photo(256, 256, 4);
  auto lo = make_jpeg_encoder(20)->encode(img.view());
  auto hi = make_jpeg_encoder(95)->encode(img.view());
  EXPECT_LT(std::get<EncodedImage>(lo).data.size(), std::get<EncodedImage>(hi).data.size());
}
TEST(JpegEncoder, EmptyImageIsUnsupported) {
  const Image img(4, 4);
  ImageView v = img.view();
  v.width = 0;
  EXPECT_TRUE(std::holds_alternative<Unsupported>(make_image_encoder(ImageCodec::jpeg)->encode(v)));
}

// JPEG_ALPHA: the JPEG part decodes with libjpeg like JPEG; the alpha part is an LZ
// stream of type XXXA (10) that spice-common's lz_rgb_alpha_decompress() reads: same
// width and height as the JPEG, top-down, width * height alpha bytes, all exact.
Image with_alpha(const Image& colour, int pattern) {
  Image img = colour;
  std::mt19937 rng{static_cast<uint32_t>(pattern)};
  for (int32_t y = 0; y < img.height(); ++y)
    for (int32_t x = 0; x < img.width(); ++x) {
      uint32_t a = 0;
      switch (pattern) {
        case 0: a = 255; break;                                    // opaque
        case 1: a = uint32_t(x * 255 / std::max(1, img.width() - 1)); break;  // ramp
        case 2: a = (x / 8 + y / 8) % 2 ? 255 : 0; break;          // cut-out
        default: a = rng() & 0xff; break;                          // noise
      }
      img.row(y)[x] = (img.row(y)[x] & 0x00ffffffu) | a << 24;
    }
  return img;
}

void expect_jpeg_alpha(const ImageView& img, double min_psnr) {
  auto res = make_image_encoder(ImageCodec::jpeg_alpha)->encode(img);
  ASSERT_TRUE(std::holds_alternative<EncodedImage>(res));
  const auto& e = std::get<EncodedImage>(res);
  EXPECT_EQ(e.codec, ImageCodec::jpeg_alpha);
  ASSERT_LT(e.jpeg_size, e.data.size());
  const std::vector<uint8_t> jpeg(e.data.begin(), e.data.begin() + e.jpeg_size);
  int w = 0, h = 0;
  std::vector<uint8_t> px;
  ASSERT_TRUE(decode(jpeg, w, h, px));
  ASSERT_EQ(w, img.width);
  ASSERT_EQ(h, img.height);
  EXPECT_GT(psnr(img, px), min_psnr);
  testing::LzBytesHeader hdr;
  std::vector<uint8_t> alpha;
  auto err = testing::decode_lz_bytes(
      e.data, e.jpeg_size, &hdr,
      [](const testing::LzBytesHeader& hd) { return size_t(hd.width) * hd.height; }, &alpha,
      nullptr);
  ASSERT_FALSE(err) << *err;
  EXPECT_EQ(hdr.type, 10u);  // LZ_IMAGE_TYPE_XXXA
  EXPECT_EQ(hdr.width, uint32_t(img.width));
  EXPECT_EQ(hdr.height, uint32_t(img.height));
  EXPECT_EQ(hdr.top_down, 1u);
  for (int32_t y = 0; y < img.height; ++y)
    for (int32_t x = 0; x < img.width; ++x)
      ASSERT_EQ(alpha[size_t(y) * size_t(img.width) + size_t(x)], img.pixel(x, y) >> 24)
          << x << "," << y;
}

TEST(JpegAlphaEncoder, ColourWithinPsnrAlphaExact) {
  for (int pattern = 0; pattern < 4; ++pattern) {
    SCOPED_TRACE(pattern);
    expect_jpeg_alpha(with_alpha(gradient(300, 200), pattern).view(), 32.0);
    expect_jpeg_alpha(with_alpha(photo(320, 240, 1), pattern).view(), 30.0);
  }
  EXPECT_FALSE(is_lossless(ImageCodec::jpeg_alpha));
  EXPECT_EQ(to_string(ImageCodec::jpeg_alpha), "jpeg_alpha");
}
TEST(JpegAlphaEncoder, OnePixelOddWidthsAndPaddedStride) {
  expect_jpeg_alpha(with_alpha(solid(1, 1, rgb(1, 2, 3)), 3).view(), 30.0);
  for (int32_t w : {1, 2, 7, 9, 17, 333}) {
    SCOPED_TRACE(w);
    expect_jpeg_alpha(with_alpha(solid(w, 5, rgb(100, 150, 200)), 1).view(), 35.0);
    expect_jpeg_alpha(with_alpha(solid(w, 5, rgb(100, 150, 200)), 3).view(), 35.0);
  }
  const Image big = with_alpha(gradient(400, 300), 2);
  expect_jpeg_alpha(big.view().sub({13, 7, 101, 77}), 35.0);
}
TEST(JpegAlphaEncoder, OpaqueAlphaCostsAlmostNothing) {
  const Image img = with_alpha(photo(640, 480, 2), 0);
  auto a = std::get<EncodedImage>(make_image_encoder(ImageCodec::jpeg_alpha)->encode(img.view()));
  // One long run: the header and one extension byte per 255 pixels of copy length.
  EXPECT_LT(a.data.size() - a.jpeg_size, 28u + 640u * 480u / 255u + 16u);
}

}  // namespace
}  // namespace spiceflow::encode
