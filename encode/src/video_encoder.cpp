// The video encoder registry and the choice among its backends (see video_encoder.hpp).
#include "spiceflow/encode/video_encoder.hpp"

#include <algorithm>

#include "video_encoders.hpp"

namespace spiceflow::encode {

std::string_view to_string(VideoCodec c) {
  switch (c) {
    case VideoCodec::mjpeg:
      return "mjpeg";
    case VideoCodec::vp8:
      return "vp8";
    case VideoCodec::h264:
      return "h264";
    case VideoCodec::vp9:
      return "vp9";
    case VideoCodec::h265:
      return "h265";
  }
  return "unknown";
}

const std::vector<VideoEncoderBackend>& video_encoder_registry() {
  // Hardware encoders (NVENC, VAAPI) and the software x264/VPX ones go before MJPEG, each
  // from its own video_<name>.cpp; MJPEG is the CPU path every client decodes.
  static const std::vector<VideoEncoderBackend> registry = {
      mjpeg_backend(),
  };
  return registry;
}

Result<std::unique_ptr<VideoEncoder>> make_video_encoder(std::span<const VideoCodec> accepted,
                                                         const VideoEncoderConfig& config,
                                                         std::string* log) {
  std::string why;
  for (const auto& b : video_encoder_registry()) {
    if (std::find(accepted.begin(), accepted.end(), b.codec) == accepted.end()) {
      why += std::string(b.name) + ": codec " + std::string(to_string(b.codec)) +
             " not accepted; ";
      continue;
    }
    if (auto st = b.probe(); !st) {
      why += std::string(b.name) + ": " + st.error().message + "; ";
      continue;
    }
    auto enc = b.create(config);
    if (!enc) {
      why += std::string(b.name) + ": could not be created; ";
      continue;
    }
    if (log) *log = why + "chose " + std::string(b.name);
    return enc;
  }
  if (log) *log = why + "none chosen";
  return make_error("no video encoder fits: " + why);
}

}  // namespace spiceflow::encode
