// MJPEG streams (SPICE_VIDEO_CODEC_TYPE_MJPEG): every frame is a baseline JFIF picture,
// which spice-gtk decodes with its built-in libjpeg decoder (no GStreamer needed). The
// JPEG image encoder does the compression; a stream only adds the size check and the
// codec tag. Stateless between frames, so every frame is a keyframe.
#include "video_encoders.hpp"

namespace spiceflow::encode {
namespace {

class MjpegEncoder final : public VideoEncoder {
 public:
  explicit MjpegEncoder(const VideoEncoderConfig& c)
      : size_(c.size), jpeg_(make_jpeg_encoder(c.quality > 0 ? c.quality : kDefaultMjpegQuality)) {}

  VideoCodec codec() const override { return VideoCodec::mjpeg; }
  std::string_view name() const override { return "mjpeg"; }
  void request_keyframe() override {}

  VideoEncodeResult encode(const ImageView& frame) override {
    if (frame.width != size_.width || frame.height != size_.height) {
      return Unsupported{"frame size differs from the stream's"};
    }
    auto res = jpeg_->encode(frame);
    if (auto* img = std::get_if<EncodedImage>(&res)) {
      return EncodedFrame{VideoCodec::mjpeg, img->width, img->height, true, std::move(img->data)};
    }
    if (auto* u = std::get_if<Unsupported>(&res)) return *u;
    return Dropped{};
  }

 private:
  const Size size_;
  const std::unique_ptr<ImageEncoder> jpeg_;
};

}  // namespace

VideoEncoderBackend mjpeg_backend() {
  return {"mjpeg", VideoCodec::mjpeg, [] { return Status::success(); },
          [](const VideoEncoderConfig& c) -> std::unique_ptr<VideoEncoder> {
            if (c.size.width <= 0 || c.size.height <= 0) return nullptr;
            return std::make_unique<MjpegEncoder>(c);
          }};
}

}  // namespace spiceflow::encode
