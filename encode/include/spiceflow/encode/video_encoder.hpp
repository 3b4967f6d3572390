#pragma once
/// Video encoders for display streams: one encoder object per stream (the engine keeps one
/// per video region and backend in use, shared by the clients streaming it), fed the
/// region's picture each time it changes. Backends sit in one ordered registry of
/// {name, codec, probe, create}: FFmpeg's NVENC and VAAPI first, then libx264 and libvpx,
/// and the CPU path (MJPEG via libjpeg-turbo) always built and last; make_video_encoder()
/// takes the first whose codec the client accepts (in the server's --video-codecs order
/// when one is given) and whose probe passes, and says why the others were skipped.
///
/// Threading: an encoder object is used by one thread at a time (its stream's owner);
/// the registry is immutable and may be read from any thread.
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <variant>
#include <vector>

#include "spiceflow/core/geometry.hpp"
#include "spiceflow/core/image.hpp"
#include "spiceflow/core/result.hpp"
#include "spiceflow/core/yuv.hpp"
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
  /// Target bits per second of the rate-controlled encoders (VPX, NVENC, VAAPI); 0 = their
  /// default (encode/README.md). x264 and MJPEG follow `quality` instead.
  int64_t bitrate = 0;
};

class VideoEncoder {
 public:
  virtual ~VideoEncoder() = default;
  virtual VideoCodec codec() const = 0;
  /// The registry name of the backend ("nvenc", "vaapi", "x264", "vpx", "mjpeg").
  virtual std::string_view name() const = 0;
  /// Encodes one picture of the configured size (xRGB, memory order B,G,R,X). An encoder
  /// with a yuv_input() converts it once with core/yuv.hpp's formula (on the CPU).
  virtual VideoEncodeResult encode(const ImageView& frame) = 0;
  /// The 4:2:0 format this encoder codes from, or nullopt when it takes xRGB only. The stream
  /// path asks the raster backend for this format (gpu's RasterBackend::convert, on the
  /// device where there is one) and calls encode(const YuvImage&), so every frame is
  /// converted exactly once. MJPEG says nullopt: JFIF pictures are full-range BT.601, not
  /// the BT.709 limited range of core/yuv.hpp, so libjpeg converts from xRGB itself.
  virtual std::optional<YuvFormat> yuv_input() const { return std::nullopt; }
  /// Encodes a picture already converted to yuv_input() (the configured size). The default
  /// (an encoder without yuv_input()) returns Unsupported.
  virtual VideoEncodeResult encode(const YuvImage& frame);
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

/// The ordered registry: hardware first (nvenc, vaapi), the CPU encoders next (x264, vpx),
/// the always-built MJPEG encoder last. Names may repeat across codecs ("vpx": VP8, VP9).
const std::vector<VideoEncoderBackend>& video_encoder_registry();

/// One entry of a server's video codec list (--video-codecs, spice_server_set_video_codecs):
/// a codec and the backend that must encode it ("" = any backend of that codec, in
/// registry order).
struct VideoCodecChoice {
  std::string backend;
  VideoCodec codec = VideoCodec::mjpeg;
  bool operator==(const VideoCodecChoice&) const = default;
};

/// Parses "encoder:codec;encoder:codec..." (the reference server's syntax). Encoders: the
/// reference's "spice" (its built-in MJPEG: our mjpeg) and "gstreamer" (any backend of the
/// codec, hardware first), and ours: nvenc, vaapi, x264, vpx, mjpeg, any. Codecs: mjpeg,
/// vp8, h264, vp9, h265 (also hevc), and the reference fork's h264nvenc, h264vaapi,
/// h265nvenc, h265vaapi (= nvenc:/vaapi: of the base codec). "auto" or "" gives an empty
/// list: every backend in registry order. Invalid entries are skipped and described in
/// `warnings`; an error when entries were given and none is valid.
Result<std::vector<VideoCodecChoice>> parse_video_codecs(std::string_view text,
                                                         std::string* warnings = nullptr);
/// "x264:h264;vpx:vp8" ("any:" for an empty backend); "auto" for an empty list.
std::string to_string(std::span<const VideoCodecChoice> list);

/// The codecs of `list` in order, each once (the order a client's preference reorders).
std::vector<VideoCodec> codecs_of(std::span<const VideoCodecChoice> list);

/// The first backend in registry order whose codec is in `accepted` and whose probe
/// passes (probes run on every call: call once per stream, not per frame). `log` (if
/// given) gets why each earlier backend was skipped and the choice. Error when none fits.
Result<std::unique_ptr<VideoEncoder>> make_video_encoder(std::span<const VideoCodec> accepted,
                                                         const VideoEncoderConfig& config,
                                                         std::string* log = nullptr);

/// The same with a server's codec list: its entries in order (an empty list: every backend
/// in registry order), each one taken when the client accepts its codec and a matching
/// backend's probe passes. `codec_order` (if not empty) reorders the entries by codec, as
/// a client's PREFERRED_VIDEO_CODEC_TYPE does: entries of earlier codecs first, entries of
/// codecs it does not name last, each group in the server's order.
Result<std::unique_ptr<VideoEncoder>> make_video_encoder(std::span<const VideoCodecChoice> server,
                                                         std::span<const VideoCodec> codec_order,
                                                         std::span<const VideoCodec> accepted,
                                                         const VideoEncoderConfig& config,
                                                         std::string* log = nullptr);

/// The MJPEG encoder's default JPEG quality: lower than the lossless-looking 85 of still
/// images because a frame is on screen for 1/30 s and the picture turns exact again
/// (lossless tiles) when the region goes still.
inline constexpr int kDefaultMjpegQuality = 70;

}  // namespace spiceflow::encode
