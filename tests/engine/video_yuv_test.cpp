// The stream path's pictures come converted by the raster backend: once a display channel
// asks (Desktop::request_video_input), every published video region carries its picture as
// I420 / NV12, equal to core/yuv.hpp's conversion of the region's xRGB picture, on the CPU
// and on the Vulkan backend (skipped where there is no Vulkan device); and none is made
// while nobody asks.
#include <gtest/gtest.h>

#include "spiceflow/engine/engine.hpp"
#include "spiceflow/gpu/raster.hpp"

namespace spiceflow::engine {
namespace {

std::unique_ptr<Desktop> make(const std::string& raster) {
  DesktopOptions o;
  o.synthetic = "video";
  o.raster = raster;
  o.source.size = {640, 480};
  o.source.fps = 30;
  auto d = Desktop::create(0, o);
  EXPECT_TRUE(d.ok()) << (d.ok() ? "" : d.error().message);
  return d.ok() ? std::move(*d) : nullptr;
}

void run_ticks(Desktop& d, int n) {
  for (int i = 0; i < n; ++i) {
    d.wait_idle();
    d.tick();
  }
  d.wait_idle();
}

void regions_carry_the_backends_conversion(const std::string& raster) {
  auto d = make(raster);
  ASSERT_NE(d, nullptr);
  run_ticks(*d, 30);  // long enough for the detector to start a region
  auto f = d->latest();
  ASSERT_FALSE(f->video.empty()) << "the video scene has a region after 30 frames";
  for (const auto& v : f->video) {
    EXPECT_EQ(v.i420, nullptr) << "no conversion before a channel asks";
    EXPECT_EQ(v.nv12, nullptr);
  }
  d->request_video_input(YuvFormat::i420);
  d->request_video_input(YuvFormat::nv12);
  run_ticks(*d, 3);
  f = d->latest();
  ASSERT_FALSE(f->video.empty());
  for (const auto& v : f->video) {
    ASSERT_NE(v.pixels, nullptr);
    for (YuvFormat fmt : {YuvFormat::i420, YuvFormat::nv12}) {
      const YuvImage* yuv = v.yuv(fmt);
      ASSERT_NE(yuv, nullptr) << "region " << v.id << " format " << int(fmt);
      const YuvImage want = convert_to_yuv(v.pixels->view(), fmt);
      EXPECT_EQ(yuv->width, v.rect.width);
      EXPECT_EQ(yuv->height, v.rect.height);
      EXPECT_TRUE(yuv->data == want.data) << "region " << v.id << " format " << int(fmt);
    }
  }
}

TEST(VideoYuv, CpuBackendPublishesConvertedRegions) { regions_carry_the_backends_conversion("cpu"); }

TEST(VideoYuv, VulkanBackendPublishesConvertedRegions) {
  if (auto vk = gpu::make_raster("vulkan"); !vk) GTEST_SKIP() << "no Vulkan backend here: " << vk.error().message;
  regions_carry_the_backends_conversion("vulkan");
}

}  // namespace
}  // namespace spiceflow::engine
