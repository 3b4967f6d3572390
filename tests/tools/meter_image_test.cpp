// spiceflow-meter's picture handling: copying the client's surface, PNG, PSNR.
#include <gtest/gtest.h>
#include <png.h>
#include <spice/enums.h>
#include <unistd.h>

#include <cmath>
#include <cstdio>
#include <filesystem>

#include "image_io.hpp"

namespace spiceflow::meter {
namespace {

// Decodes an 8-bit RGB PNG with libpng's simplified API, independently of write_png.
std::vector<uint8_t> decode_png_rgb(const std::string& path, int* w, int* h) {
  png_image img{};
  img.version = PNG_IMAGE_VERSION;
  if (!png_image_begin_read_from_file(&img, path.c_str())) return {};
  img.format = PNG_FORMAT_RGB;
  std::vector<uint8_t> out(PNG_IMAGE_SIZE(img));
  if (!png_image_finish_read(&img, nullptr, out.data(), 0, nullptr)) return {};
  *w = int(img.width);
  *h = int(img.height);
  return out;
}

TEST(MeterImage, CopySurfaceSkipsStridePadding) {
  const int w = 3, h = 2, stride = 16;
  std::vector<uint8_t> surf(size_t(stride) * h, 0xee);
  for (int y = 0; y < h; ++y) {
    for (int x = 0; x < w; ++x) {
      uint8_t* p = &surf[size_t(y) * stride + size_t(x) * 4];
      p[0] = uint8_t(10 * x);      // B
      p[1] = uint8_t(100 + y);     // G
      p[2] = uint8_t(200 + x + y); // R
    }
  }
  auto img = copy_surface(surf.data(), w, h, stride, SPICE_SURFACE_FMT_32_xRGB);
  ASSERT_TRUE(img) << img.error().message;
  EXPECT_EQ(img->width(), 3);
  EXPECT_EQ(img->pixel(2, 1) & 0xffffff, (203u << 16) | (101u << 8) | 20u);
  EXPECT_FALSE(copy_surface(surf.data(), w, h, stride, SPICE_SURFACE_FMT_16_565));
  EXPECT_FALSE(copy_surface(nullptr, w, h, stride, SPICE_SURFACE_FMT_32_xRGB));
  EXPECT_FALSE(copy_surface(surf.data(), w, h, 8, SPICE_SURFACE_FMT_32_xRGB));
}

TEST(MeterImage, PngRoundTrip) {
  Image img(37, 11);
  for (int y = 0; y < img.height(); ++y) {
    for (int x = 0; x < img.width(); ++x) img.row(y)[x] = rgb(uint8_t(x * 7), uint8_t(y * 23), uint8_t(x ^ y));
  }
  const auto path = std::filesystem::temp_directory_path() /
                    ("meter_png_" + std::to_string(::getpid()) + ".png");
  ASSERT_TRUE(write_png(path.string(), img.view()));
  int w = 0, h = 0;
  const auto rgbs = decode_png_rgb(path.string(), &w, &h);
  std::filesystem::remove(path);
  ASSERT_EQ(w, 37);
  ASSERT_EQ(h, 11);
  for (int y = 0; y < h; ++y) {
    for (int x = 0; x < w; ++x) {
      const uint8_t* p = &rgbs[(size_t(y) * w + x) * 3];
      ASSERT_EQ(rgb(p[0], p[1], p[2]), img.pixel(x, y)) << x << "," << y;
    }
  }
  EXPECT_FALSE(write_png("/nonexistent-dir/x.png", img.view()));
}

TEST(MeterImage, Psnr) {
  Image a(10, 10), b(10, 10);
  for (int y = 0; y < 10; ++y)
    for (int x = 0; x < 10; ++x) a.row(y)[x] = b.row(y)[x] = rgb(50, 60, 70);
  auto same = compare(a.view(), b.view());
  ASSERT_TRUE(same);
  EXPECT_EQ(same->mse, 0);
  EXPECT_FALSE(same->psnr_db);
  EXPECT_EQ(same->differing_pixels, 0u);
  // One sample off by 10: MSE = 100 / 300 samples; the X byte is ignored.
  b.row(3)[4] = rgb(60, 60, 70);
  a.row(5)[5] &= 0x00ffffff;
  auto one = compare(a.view(), b.view());
  ASSERT_TRUE(one);
  EXPECT_DOUBLE_EQ(one->mse, 100.0 / 300.0);
  ASSERT_TRUE(one->psnr_db);
  EXPECT_NEAR(*one->psnr_db, 10 * std::log10(255.0 * 255.0 * 3.0), 1e-9);
  EXPECT_EQ(one->differing_pixels, 1u);
  Image c(10, 9);
  EXPECT_FALSE(compare(a.view(), c.view()));
}

}  // namespace
}  // namespace spiceflow::meter
