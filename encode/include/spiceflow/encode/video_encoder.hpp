#pragma once
/// Video encoders for display streams: one encoder object per stream (per client), fed the
/// region's picture each time it changes. Backends sit in one ordered registry of
/// {name, codec, probe, create}, hardware first and the CPU path (MJPEG via libjpeg-turbo)
/// always built and last; make_video_encoder() takes the first whose codec the client
/// accepts and whose probe passes, and says why the others were skipped. Adding an encoder
/// (x264, VP8, NVENC, VAAPI) is a new video_<name>.cpp plus one registry entry.
///
/// Threading: an encoder object is used by one thread at a time (its stream's owner);
/// the registry is immutable and may be read from any thread.
#include <cstdint>
#include <functional>
#include <memory>
#include <span>
#include <string>
#include <string_view>
#include <variant>
#include <vector>

#include "spiceflow/core/geometry.hpp"
#include "spiceflow/core/image.hpp"
#include "spiceflow/core/result.hpp"
#include "spiceflow/encode/image_encoder.hpp"

namespace spiceflow::encode {

/// Values are SPICE_VIDEO_CODEC_TYPE_* (spice-protocol's enums.h), so they go on the wire.
enum class VideoCodec : uint8_t { mjpeg = 1, vp8 = 2, h264 = 3, vp9 = 4, h265 = 5 };

std::string_view to_string(VideoCodec c);

/// One encoded frame: what follows data_size in STREAM_DATA(_SIZED).
struct EncodedFrame {
  VideoCodec codec = VideoCodec::mjpeg;
  int32_t width = 0;
  int32_t height = 0;
  bool keyframe = true;
  std::vector<uint8_t> data;
};

/// Encoded | Unsupported (the caller falls back: another encoder, or lossless tiles) |
/// Dropped (rate control skipped this frame: send nothing, the next one comes).
using VideoEncodeResult = std::variant<EncodedFrame, Unsupported, Dropped>;

struct VideoEncoderConfig {
  Size size;       ///< the stream's picture size (every frame has it)
  int fps = 30;    ///< the expected frame rate (for rate control)
  int quality = 0; ///< codec-specific quality hint; 0 = the encoder's default
};

class VideoEncoder {
 public:
  virtual ~VideoEncoder() = default;
  virtual VideoCodec codec() const = 0;
  /// The registry name of the backend ("mjpeg", later "x264", "nvenc"...).
  virtual std::string_view name() const = 0;
  /// Encodes one picture of the configured size (xRGB, memory order B,G,R,X).
  virtual VideoEncodeResult encode(const ImageView& frame) = 0;
  /// Makes the next encoded frame a keyframe (a client joined or lost frames). MJPEG:
  /// every frame is one.
  virtual void request_keyframe() = 0;
};

/// One registered backend. `probe` returns success when the backend can run here (its
/// library loads, its device opens), or the reason it cannot.
struct VideoEncoderBackend {
  std::string_view name;
  VideoCodec codec;
  std::function<Status()> probe;
  std::function<std::unique_ptr<VideoEncoder>(const VideoEncoderConfig&)> create;
};

/// The ordered registry: hardware first, the always-built CPU MJPEG encoder last.
const std::vector<VideoEncoderBackend>& video_encoder_registry();

/// The first backend in registry order whose codec is in `accepted` and whose probe
/// passes (probes run on every call: call once per stream, not per frame). `log` (if
/// given) gets why each earlier backend was skipped and the choice. Error when none fits.
Result<std::unique_ptr<VideoEncoder>> make_video_encoder(std::span<const VideoCodec> accepted,
                                                         const VideoEncoderConfig& config,
                                                         std::string* log = nullptr);

/// The MJPEG encoder's default JPEG quality: lower than the lossless-looking 85 of still
/// images because a frame is on screen for 1/30 s and the picture turns exact again
/// (lossless tiles) when the region goes still.
inline constexpr int kDefaultMjpegQuality = 70;

}  // namespace spiceflow::encode
