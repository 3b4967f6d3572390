#pragma once
/// What spiceflow-meter prints: one JSON object on one line.
#include <cstdint>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "stats.hpp"

namespace spiceflow::meter {

struct StreamCounts {
  uint64_t created = 0;    // STREAM_CREATE messages
  uint64_t frames = 0;     // STREAM_DATA and STREAM_DATA_SIZED messages
  uint64_t destroyed = 0;  // STREAM_DESTROY messages
};

struct PrimaryInfo {
  int width = 0;
  int height = 0;
  int format = 0;  // SpiceSurfaceFmt
};

struct ReferenceComparison {
  std::string path;
  double mse = 0;                 // mean squared error over the R, G, B samples
  std::optional<double> psnr_db;  // nullopt when identical (mse == 0: infinite PSNR)
  uint64_t differing_pixels = 0;
};

struct Report {
  std::string host;
  int port = 0;
  double seconds = 0;  // measured wall time of the run
  uint64_t frames = 0;
  uint64_t updates = 0;  // display-invalidate signals of the primary surface
  /// Bytes received per channel name ("main", "display", ...), in first-seen order.
  std::vector<std::pair<std::string, uint64_t>> bytes;
  std::optional<LatencySummary> latency;
  uint64_t latency_repeats = 0;
  /// Codec of the first video stream ("mjpeg", "vp8", "h264", "vp9", "h265").
  std::optional<std::string> stream_codec;
  /// nullopt when the display channel's messages could not be observed (TLS).
  std::optional<StreamCounts> streams;
  std::optional<PrimaryInfo> primary;
  std::optional<ReferenceComparison> reference;
  std::string png;  // the PNG written, or empty
  std::vector<std::string> notes;
  std::vector<std::string> errors;

  double fps() const { return seconds > 0 ? double(frames) / seconds : 0; }
  /// Adds `n` to the bytes of channel `name`.
  void add_bytes(const std::string& name, uint64_t n);
};

/// The report as one JSON object (no trailing newline). Always has the keys fps, frames,
/// updates, bytes, latency_ms (object or null), code_fps (new pixel codes per second, or
/// null without them), stream_codec (string or null).
std::string to_json(const Report& r);
/// `s` as a JSON string literal, quotes included.
std::string json_string(const std::string& s);
/// `x` as a JSON number with up to 3 decimals ("null" for NaN or infinity).
std::string json_number(double x);

/// The name spice uses for a SpiceVideoCodecType ("mjpeg", ...), or "codec-N".
std::string video_codec_name(int codec_type);

}  // namespace spiceflow::meter
