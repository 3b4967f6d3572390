// The video encoder registry, the server's codec list and the choice among the backends
// (see video_encoder.hpp).
#include "spiceflow/encode/video_encoder.hpp"

#include <algorithm>
#include <cctype>

#include "video_encoders.hpp"

namespace spiceflow::encode {

VideoEncodeResult VideoEncoder::encode(const YuvImage&) {
  return Unsupported{std::string(name()) + " takes xRGB pictures only"};
}

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
  // Hardware first (NVENC, VAAPI), then the CPU FFmpeg encoders (x264, VPX), each probed
  // on first use; MJPEG last: the CPU path every client decodes.
  static const std::vector<VideoEncoderBackend> registry = [] {
    std::vector<VideoEncoderBackend> r = ffmpeg_backends();
    r.push_back(mjpeg_backend());
    return r;
  }();
  return registry;
}

namespace {

std::string lower(std::string_view s) {
  std::string out(s);
  for (auto& ch : out) ch = char(std::tolower(static_cast<unsigned char>(ch)));
  return out;
}

std::string_view trim(std::string_view s) {
  while (!s.empty() && std::isspace(static_cast<unsigned char>(s.front()))) s.remove_prefix(1);
  while (!s.empty() && std::isspace(static_cast<unsigned char>(s.back()))) s.remove_suffix(1);
  return s;
}

// A codec name, with the backend it implies ("h264nvenc" is the reference fork's name for
// H.264 from NVENC).
bool parse_codec(const std::string& name, VideoCodec* codec, std::string* implied_backend) {
  static const struct {
    const char* name;
    VideoCodec codec;
    const char* backend;
  } kNames[] = {{"mjpeg", VideoCodec::mjpeg, ""},     {"vp8", VideoCodec::vp8, ""},
                {"h264", VideoCodec::h264, ""},       {"vp9", VideoCodec::vp9, ""},
                {"h265", VideoCodec::h265, ""},       {"hevc", VideoCodec::h265, ""},
                {"h264nvenc", VideoCodec::h264, "nvenc"}, {"h264vaapi", VideoCodec::h264, "vaapi"},
                {"h265nvenc", VideoCodec::h265, "nvenc"}, {"h265vaapi", VideoCodec::h265, "vaapi"}};
  for (const auto& n : kNames) {
    if (name == n.name) {
      *codec = n.codec;
      *implied_backend = n.backend;
      return true;
    }
  }
  return false;
}

bool backend_matches(const VideoCodecChoice& choice, const VideoEncoderBackend& b) {
  return b.codec == choice.codec && (choice.backend.empty() || choice.backend == b.name);
}

}  // namespace

Result<std::vector<VideoCodecChoice>> parse_video_codecs(std::string_view text,
                                                         std::string* warnings) {
  std::vector<VideoCodecChoice> out;
  std::string warn;
  const std::string all = lower(trim(text));
  if (all.empty() || all == "auto") return out;
  size_t entries = 0;
  std::string_view rest = all;
  while (!rest.empty()) {
    const size_t semi = rest.find(';');
    const std::string_view item = trim(rest.substr(0, semi));
    rest = semi == std::string_view::npos ? std::string_view{} : rest.substr(semi + 1);
    if (item.empty()) continue;
    ++entries;
    const size_t colon = item.find(':');
    if (colon == std::string_view::npos) {
      warn += "'" + std::string(item) + "': not encoder:codec; ";
      continue;
    }
    const std::string encoder(trim(item.substr(0, colon)));
    const std::string codec_name(trim(item.substr(colon + 1)));
    VideoCodecChoice c;
    std::string implied;
    if (!parse_codec(codec_name, &c.codec, &implied)) {
      warn += "'" + std::string(item) + "': unknown video codec " + codec_name + "; ";
      continue;
    }
    if (encoder == "spice") {
      // The reference's built-in encoder is its MJPEG one.
      if (c.codec != VideoCodec::mjpeg || !implied.empty()) {
        warn += "'" + std::string(item) + "': the spice encoder does mjpeg only; ";
        continue;
      }
      c.backend = "mjpeg";
    } else if (encoder == "gstreamer" || encoder == "any") {
      c.backend = implied;  // any backend of the codec (the fork's names pick one)
    } else {
      const bool known = std::any_of(
          video_encoder_registry().begin(), video_encoder_registry().end(),
          [&](const VideoEncoderBackend& b) { return b.name == encoder; });
      if (!known) {
        warn += "'" + std::string(item) + "': unknown video encoder " + encoder + "; ";
        continue;
      }
      if (!implied.empty() && implied != encoder) {
        warn += "'" + std::string(item) + "': " + codec_name + " is made by " + implied + "; ";
        continue;
      }
      c.backend = encoder;
    }
    const bool exists = std::any_of(video_encoder_registry().begin(),
                                    video_encoder_registry().end(),
                                    [&](const VideoEncoderBackend& b) { return backend_matches(c, b); });
    if (!exists) {
      warn += "'" + std::string(item) + "': no " + (c.backend.empty() ? "" : c.backend + " ") +
              "encoder for " + std::string(to_string(c.codec)) + "; ";
      continue;
    }
    if (std::find(out.begin(), out.end(), c) == out.end()) out.push_back(std::move(c));
  }
  if (warnings) *warnings = warn;
  if (out.empty() && entries > 0) {
    return make_error("no valid video codec in '" + std::string(text) + "': " + warn);
  }
  return out;
}

std::string to_string(std::span<const VideoCodecChoice> list) {
  if (list.empty()) return "auto";
  std::string s;
  for (const auto& c : list) {
    if (!s.empty()) s += ';';
    s += (c.backend.empty() ? std::string("any") : c.backend) + ":" +
         std::string(to_string(c.codec));
  }
  return s;
}

std::vector<VideoCodec> codecs_of(std::span<const VideoCodecChoice> list) {
  std::vector<VideoCodec> out;
  for (const auto& c : list) {
    if (std::find(out.begin(), out.end(), c.codec) == out.end()) out.push_back(c.codec);
  }
  return out;
}

Result<std::unique_ptr<VideoEncoder>> make_video_encoder(std::span<const VideoCodecChoice> server,
                                                         std::span<const VideoCodec> codec_order,
                                                         std::span<const VideoCodec> accepted,
                                                         const VideoEncoderConfig& config,
                                                         std::string* log) {
  // The candidates in order: the server's entries (every registry backend when it names
  // none), stably reordered by the client's codec preference.
  std::vector<const VideoEncoderBackend*> order;
  const auto& reg = video_encoder_registry();
  if (server.empty()) {
    for (const auto& b : reg) order.push_back(&b);
  } else {
    for (const auto& c : server) {
      for (const auto& b : reg) {
        if (backend_matches(c, b) && std::find(order.begin(), order.end(), &b) == order.end()) {
          order.push_back(&b);
        }
      }
    }
  }
  if (!codec_order.empty()) {
    const auto rank = [&](const VideoEncoderBackend* b) {
      return size_t(std::find(codec_order.begin(), codec_order.end(), b->codec) -
                    codec_order.begin());
    };
    std::stable_sort(order.begin(), order.end(),
                     [&](auto* a, auto* b) { return rank(a) < rank(b); });
  }

  std::string why;
  for (const VideoEncoderBackend* b : order) {
    const std::string label = std::string(b->name) + ":" + std::string(to_string(b->codec));
    if (std::find(accepted.begin(), accepted.end(), b->codec) == accepted.end()) {
      why += label + ": codec not accepted; ";
      continue;
    }
    if (auto st = b->probe(); !st) {
      why += label + ": " + st.error().message + "; ";
      continue;
    }
    auto enc = b->create(config);
    if (!enc) {
      why += label + ": could not be created at " + std::to_string(config.size.width) + "x" +
             std::to_string(config.size.height) + "; ";
      continue;
    }
    if (log) *log = why + "chose " + label;
    return enc;
  }
  if (log) *log = why + "none chosen";
  return make_error("no video encoder fits: " + why);
}

Result<std::unique_ptr<VideoEncoder>> make_video_encoder(std::span<const VideoCodec> accepted,
                                                         const VideoEncoderConfig& config,
                                                         std::string* log) {
  return make_video_encoder({}, {}, accepted, config, log);
}

}  // namespace spiceflow::encode
