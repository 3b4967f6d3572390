// Colour conversion to I420 / NV12 (core/yuv.hpp's formula) on both raster backends: the CPU
// backend against an independent per-sample model written here (and the model against the
// floating-point BT.709 definition), the Vulkan backend (lavapipe in CI, validation layer on,
// no validation error allowed) byte-identical to the CPU backend, with odd sizes, 1x1
// regions, regions off the surface's origin and partly outside it.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <memory>
#include <random>

#include "spiceflow/core/yuv.hpp"
#include "spiceflow/gpu/raster.hpp"

namespace spiceflow::gpu {
namespace {

// ---- The model: each output sample computed on its own from the pixels it covers.

struct Rgb {
  int r, g, b;
};

Rgb at(const ImageView& img, const Rect& region, int32_t x, int32_t y) {
  // Past the region's right or bottom edge the edge pixel repeats.
  x = std::min(x, region.width - 1);
  y = std::min(y, region.height - 1);
  const uint32_t p = img.pixel(region.x + x, region.y + y);
  return {int((p >> 16) & 0xff), int((p >> 8) & 0xff), int(p & 0xff)};
}

int model_y(const Rgb& c) { return (11966 * c.r + 40254 * c.g + 4064 * c.b + 16 * 65536 + 32768) >> 16; }

// Chroma of the 2x2 block whose top-left pixel is (2cx, 2cy): sums of the four pixels.
std::pair<int, int> model_uv(const ImageView& img, const Rect& region, int32_t cx, int32_t cy) {
  int r = 0, g = 0, b = 0;
  for (int dy = 0; dy < 2; ++dy) {
    for (int dx = 0; dx < 2; ++dx) {
      const Rgb c = at(img, region, 2 * cx + dx, 2 * cy + dy);
      r += c.r;
      g += c.g;
      b += c.b;
    }
  }
  const int bias = (128 << 18) + (1 << 17);
  return {(-6596 * r - 22188 * g + 28784 * b + bias) >> 18, (28784 * r - 26145 * g - 2639 * b + bias) >> 18};
}

// Checks every stored byte of `got` (padding included) against the model.
void expect_matches_model(const YuvImage& got, const ImageView& img, const Rect& region, YuvFormat format) {
  ASSERT_EQ(got.format, format);
  ASSERT_EQ(got.width, region.width);
  ASSERT_EQ(got.height, region.height);
  ASSERT_EQ(got.data.size(), got.byte_size());
  const int32_t ys = got.y_stride();
  ASSERT_EQ(ys % 16, 0);
  ASSERT_GE(ys, region.width);
  for (int32_t y = 0; y < region.height; ++y) {
    for (int32_t x = 0; x < ys; ++x) {
      ASSERT_EQ(got.y()[size_t(y) * ys + x], model_y(at(img, region, x, y))) << "Y " << x << "," << y;
    }
  }
  for (int32_t cy = 0; cy < got.chroma_height(); ++cy) {
    for (int32_t cx = 0; cx < ys / 2; ++cx) {
      const auto [u, v] = model_uv(img, region, cx, cy);
      if (format == YuvFormat::i420) {
        ASSERT_EQ(got.u()[size_t(cy) * got.uv_stride() + cx], u) << "U " << cx << "," << cy;
        ASSERT_EQ(got.v()[size_t(cy) * got.uv_stride() + cx], v) << "V " << cx << "," << cy;
      } else {
        ASSERT_EQ(got.u()[size_t(cy) * got.uv_stride() + 2 * cx], u) << "U " << cx << "," << cy;
        ASSERT_EQ(got.u()[size_t(cy) * got.uv_stride() + 2 * cx + 1], v) << "V " << cx << "," << cy;
      }
    }
  }
}

// ---- Surfaces with known content.

std::shared_ptr<Image> random_image(Size size, std::mt19937& rng) {
  auto img = std::make_shared<Image>(size.width, size.height);
  for (int32_t y = 0; y < size.height; ++y) {
    for (int32_t x = 0; x < size.width; ++x) img->row(y)[x] = rng() | 0xff000000u;
  }
  return img;
}

// Surface 1 of `size` on `r`, painted with `img` (same size).
void paint(RasterBackend& r, Size size, const std::shared_ptr<Image>& img) {
  ASSERT_TRUE(r.create_surface(1, size).ok());
  const Rect all = Rect::from_size(size);
  ASSERT_TRUE(r.apply(DrawCommand{1, {}, BlitOp{all, img, {0, 0}}, {}}).ok());
}

// Regions of a w x h surface worth checking: whole, odd sizes, 1x1, 1xN, off the origin,
// partly outside (clipped).
std::vector<Rect> regions_of(Size s, std::mt19937& rng) {
  std::vector<Rect> out = {Rect::from_size(s), {0, 0, 1, 1}, {s.width - 1, s.height - 1, 1, 1},
                           {1, 1, std::max(1, s.width - 2), 1}, {0, 1, 1, std::max(1, s.height - 1)},
                           {s.width / 3, s.height / 3, s.width, s.height}};
  for (int i = 0; i < 8; ++i) {
    const int32_t x = int32_t(rng() % uint32_t(s.width)), y = int32_t(rng() % uint32_t(s.height));
    out.push_back({x, y, 1 + int32_t(rng() % uint32_t(s.width - x)), 1 + int32_t(rng() % uint32_t(s.height - y))});
  }
  // On the smallest surfaces some of the fixed ones fall outside (tested as errors below).
  std::erase_if(out, [&](const Rect& r) { return intersect(r, Rect::from_size(s)).empty(); });
  return out;
}

constexpr YuvFormat kFormats[] = {YuvFormat::i420, YuvFormat::nv12};
const Size kSizes[] = {{1, 1}, {2, 2}, {3, 5}, {17, 9}, {64, 33}, {131, 77}};

TEST(YuvModel, MatchesTheFloatingPointBt709Definition) {
  // Every grey, and a lattice of colours: within 0.5 + the fixed-point error of the exact value.
  const auto exact_y = [](double r, double g, double b) {
    return 16 + 219.0 * (0.2126 * r + 0.7152 * g + 0.0722 * b) / 255.0;
  };
  for (int r = 0; r < 256; r += 15) {
    for (int g = 0; g < 256; g += 15) {
      for (int b = 0; b < 256; b += 15) {
        EXPECT_LE(std::abs(model_y({r, g, b}) - exact_y(r, g, b)), 0.51) << r << "," << g << "," << b;
        Image one(1, 1);
        one.row(0)[0] = rgb(uint8_t(r), uint8_t(g), uint8_t(b));
        const auto [u, v] = model_uv(one.view(), {0, 0, 1, 1}, 0, 0);
        const double eu = 128 + 224.0 * (-0.2126 * r - 0.7152 * g + 0.9278 * b) / 1.8556 / 255.0;
        const double ev = 128 + 224.0 * (0.7874 * r - 0.7152 * g - 0.0722 * b) / 1.5748 / 255.0;
        EXPECT_LE(std::abs(u - eu), 0.51) << r << "," << g << "," << b;
        EXPECT_LE(std::abs(v - ev), 0.51) << r << "," << g << "," << b;
      }
    }
  }
}

TEST(YuvConvert, KnownColours) {
  struct Case {
    uint32_t pixel;
    int y, u, v;
  } cases[] = {{rgb(0, 0, 0), 16, 128, 128}, {rgb(255, 255, 255), 235, 128, 128},
               {rgb(255, 0, 0), 63, 102, 240}, {rgb(0, 255, 0), 173, 42, 26}, {rgb(0, 0, 255), 32, 240, 118}};
  for (const auto& c : cases) {
    Image img(3, 3);
    for (int32_t y = 0; y < 3; ++y) std::fill_n(img.row(y), 3, c.pixel);
    for (YuvFormat f : kFormats) {
      const YuvImage out = convert_to_yuv(img.view(), f);
      EXPECT_EQ(out.y()[0], c.y) << std::hex << c.pixel;
      EXPECT_EQ(out.y()[out.y_stride() * 2 + 2], c.y) << std::hex << c.pixel;
      EXPECT_EQ(out.u()[0], c.u) << std::hex << c.pixel;
      EXPECT_EQ(f == YuvFormat::i420 ? out.v()[0] : out.u()[1], c.v) << std::hex << c.pixel;
    }
  }
}

TEST(YuvConvert, CpuBackendMatchesTheModel) {
  std::mt19937 rng(1);
  auto cpu = make_raster("cpu");
  ASSERT_TRUE(cpu.ok());
  for (Size s : kSizes) {
    const auto img = random_image(s, rng);
    paint(**cpu, s, img);
    for (const Rect& asked : regions_of(s, rng)) {
      const Rect r = intersect(asked, Rect::from_size(s));
      for (YuvFormat f : kFormats) {
        SCOPED_TRACE(::testing::Message() << s.width << "x" << s.height << " region " << r.width << "x"
                                          << r.height << "+" << r.x << "+" << r.y << " nv12=" << int(f));
        auto got = (*cpu)->convert(1, asked, f);
        ASSERT_TRUE(got.ok()) << got.error().message;
        expect_matches_model(*got, img->view(), r, f);
      }
    }
  }
}

TEST(YuvConvert, ErrorsForMissingSurfacesAndEmptyRegions) {
  auto cpu = make_raster("cpu");
  ASSERT_TRUE(cpu.ok());
  EXPECT_FALSE((*cpu)->convert(7, {0, 0, 4, 4}, YuvFormat::i420).ok());
  ASSERT_TRUE((*cpu)->create_surface(1, {8, 8}).ok());
  EXPECT_FALSE((*cpu)->convert(1, {8, 8, 4, 4}, YuvFormat::i420).ok());
  EXPECT_FALSE((*cpu)->convert(1, {2, 2, 0, 3}, YuvFormat::nv12).ok());
}

std::unique_ptr<RasterBackend> vulkan_or_skip_reason(bool staging, std::string* why) {
  RasterOptions o;
  o.vulkan_validation = true;
  o.vulkan_staging_readback = staging;
  auto vk = make_raster("vulkan", o);
  if (!vk) {
    *why = vk.error().message;
    return nullptr;
  }
  return std::move(*vk);
}

void vulkan_matches_cpu(bool staging) {
  std::string why;
  auto vk = vulkan_or_skip_reason(staging, &why);
  if (!vk) GTEST_SKIP() << "no Vulkan backend here: " << why;
  auto cpu = make_raster("cpu");
  ASSERT_TRUE(cpu.ok());
  std::mt19937 rng(2);
  for (Size s : kSizes) {
    const auto img = random_image(s, rng);
    paint(**cpu, s, img);
    paint(*vk, s, img);
    for (const Rect& asked : regions_of(s, rng)) {
      // A fill drawn in the same batch as the conversion's predecessor: the conversion must
      // see it (ordering on the device).
      const Rect dot{int32_t(rng() % uint32_t(s.width)), int32_t(rng() % uint32_t(s.height)), 1, 1};
      const DrawCommand fill{1, {}, FillOp{dot, uint32_t(rng()) | 0xff000000u}, {}};
      ASSERT_TRUE((*cpu)->apply(fill).ok());
      ASSERT_TRUE(vk->apply(fill).ok());
      for (YuvFormat f : kFormats) {
        SCOPED_TRACE(::testing::Message() << s.width << "x" << s.height << " region " << asked.width << "x"
                                          << asked.height << "+" << asked.x << "+" << asked.y
                                          << " nv12=" << int(f));
        auto want = (*cpu)->convert(1, asked, f);
        auto got = vk->convert(1, asked, f);
        ASSERT_TRUE(want.ok()) << want.error().message;
        ASSERT_TRUE(got.ok()) << got.error().message;
        ASSERT_EQ(got->width, want->width);
        ASSERT_EQ(got->height, want->height);
        ASSERT_EQ(got->format, want->format);
        ASSERT_TRUE(got->data == want->data) << "first difference at byte "
                                             << std::mismatch(got->data.begin(), got->data.end(),
                                                              want->data.begin()).first - got->data.begin();
      }
    }
  }
  EXPECT_FALSE(vk->convert(9, {0, 0, 2, 2}, YuvFormat::i420).ok());
  EXPECT_FALSE(vk->convert(1, {-5, -5, 3, 3}, YuvFormat::nv12).ok());
  EXPECT_EQ(vk->stats().validation_errors, 0u);
}

TEST(YuvConvert, VulkanMatchesTheCpuBackend) { vulkan_matches_cpu(false); }
TEST(YuvConvert, VulkanMatchesTheCpuBackendThroughStagingReadback) { vulkan_matches_cpu(true); }

TEST(YuvConvert, VulkanConvertsALargeSurfaceAfterDrawing) {
  // 1080p: many workgroups in both directions, a reused output buffer grown once.
  std::string why;
  auto vk = vulkan_or_skip_reason(false, &why);
  if (!vk) GTEST_SKIP() << "no Vulkan backend here: " << why;
  auto cpu = make_raster("cpu");
  ASSERT_TRUE(cpu.ok());
  std::mt19937 rng(3);
  const Size s{1920, 1080};
  const auto img = random_image(s, rng);
  paint(**cpu, s, img);
  paint(*vk, s, img);
  for (const Rect& r : {Rect{0, 0, 1920, 1080}, Rect{101, 57, 1281, 721}, Rect{0, 0, 64, 64}}) {
    for (YuvFormat f : kFormats) {
      auto want = (*cpu)->convert(1, r, f);
      auto got = vk->convert(1, r, f);
      ASSERT_TRUE(want.ok() && got.ok());
      EXPECT_TRUE(got->data == want->data) << r.width << "x" << r.height << " nv12=" << int(f);
    }
  }
  EXPECT_EQ(vk->stats().validation_errors, 0u);
}

}  // namespace
}  // namespace spiceflow::gpu
