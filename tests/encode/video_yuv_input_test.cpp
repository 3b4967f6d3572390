// The video encoders' YUV input (VideoEncoder::yuv_input / encode(const YuvImage&)): the
// FFmpeg encoders code from core/yuv.hpp's 4:2:0 pictures as given (what the raster backend
// converts), with the same result as from xRGB (which they convert once with the same
// formula); MJPEG takes xRGB only; a picture of the wrong format or size is refused.
#include <gtest/gtest.h>

#include "spiceflow/encode/video_encoder.hpp"

namespace spiceflow::encode {
namespace {

Image picture(int32_t w, int32_t h, int i) {
  Image img(w, h);
  for (int32_t y = 0; y < h; ++y) {
    for (int32_t x = 0; x < w; ++x) {
      img.row(y)[x] = rgb(uint8_t(x * 255 / w + i * 5), uint8_t(y * 255 / h + i * 3), uint8_t((x ^ y) + i));
    }
  }
  return img;
}

std::unique_ptr<VideoEncoder> create(std::string_view name, VideoCodec codec, Size size) {
  for (const auto& b : video_encoder_registry()) {
    if (b.name == name && b.codec == codec && b.probe()) {
      VideoEncoderConfig cfg;
      cfg.size = size;
      return b.create(cfg);
    }
  }
  return nullptr;
}

struct Case {
  const char* name;
  VideoCodec codec;
};

class FfmpegYuvInput : public ::testing::TestWithParam<Case> {};

// Two encoders fed the same sequence, one as xRGB and one as the pictures converted
// beforehand, produce the same bitstream: the xRGB path is exactly one conversion with the
// same formula, and the YUV path adds none. libvpx's real-time mode adapts its speed to the
// measured encode time, so after the first (key) frame its output is not reproducible:
// there only the key frame is compared.
TEST_P(FfmpegYuvInput, SameBitstreamFromYuvAsFromXrgb) {
  const Case c = GetParam();
  const Size size{320, 180};
  auto from_rgb = create(c.name, c.codec, size);
  auto from_yuv = create(c.name, c.codec, size);
  ASSERT_TRUE(from_rgb && from_yuv) << c.name << " is always built (install-deps.sh)";
  const auto input = from_yuv->yuv_input();
  ASSERT_TRUE(input.has_value());
  EXPECT_EQ(*input, YuvFormat::i420);
  for (int i = 0; i < 8; ++i) {
    const Image src = picture(size.width, size.height, i);
    auto a = from_rgb->encode(src.view());
    auto b = from_yuv->encode(convert_to_yuv(src.view(), *input));
    ASSERT_TRUE(std::holds_alternative<EncodedFrame>(a)) << "frame " << i;
    ASSERT_TRUE(std::holds_alternative<EncodedFrame>(b)) << "frame " << i;
    if (i == 0 || c.codec == VideoCodec::h264) {
      EXPECT_EQ(std::get<EncodedFrame>(a).data, std::get<EncodedFrame>(b).data) << "frame " << i;
    }
  }
  // The wrong format or size is refused, not misread.
  const Image src = picture(size.width, size.height, 0);
  EXPECT_TRUE(std::holds_alternative<Unsupported>(from_yuv->encode(convert_to_yuv(src.view(), YuvFormat::nv12))));
  const Image small = picture(size.width - 2, size.height, 0);
  EXPECT_TRUE(std::holds_alternative<Unsupported>(from_yuv->encode(convert_to_yuv(small.view(), *input))));
}

INSTANTIATE_TEST_SUITE_P(Video, FfmpegYuvInput,
                         ::testing::Values(Case{"x264", VideoCodec::h264}, Case{"vpx", VideoCodec::vp8},
                                           Case{"vpx", VideoCodec::vp9}),
                         [](const auto& info) {
                           return std::string(info.param.name) + "_" + std::string(to_string(info.param.codec));
                         });

TEST(MjpegYuvInput, TakesXrgbOnly) {
  auto enc = create("mjpeg", VideoCodec::mjpeg, {64, 32});
  ASSERT_TRUE(enc);
  EXPECT_FALSE(enc->yuv_input().has_value());
  const Image src = picture(64, 32, 0);
  EXPECT_TRUE(std::holds_alternative<Unsupported>(enc->encode(convert_to_yuv(src.view(), YuvFormat::i420))));
  EXPECT_TRUE(std::holds_alternative<EncodedFrame>(enc->encode(src.view())));
}

}  // namespace
}  // namespace spiceflow::encode
