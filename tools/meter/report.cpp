#include "report.hpp"

#include <cmath>
#include <cstdio>

namespace spiceflow::meter {

void Report::add_bytes(const std::string& name, uint64_t n) {
  for (auto& [k, v] : bytes) {
    if (k == name) {
      v += n;
      return;
    }
  }
  bytes.emplace_back(name, n);
}

std::string json_string(const std::string& s) {
  std::string out = "\"";
  for (unsigned char c : s) {
    switch (c) {
      case '"': out += "\\\""; break;
      case '\\': out += "\\\\"; break;
      case '\n': out += "\\n"; break;
      case '\r': out += "\\r"; break;
      case '\t': out += "\\t"; break;
      default:
        if (c < 0x20) {
          char buf[8];
          std::snprintf(buf, sizeof buf, "\\u%04x", c);
          out += buf;
        } else {
          out += char(c);
        }
    }
  }
  return out + "\"";
}

std::string json_number(double x) {
  if (!std::isfinite(x)) return "null";
  char buf[64];
  std::snprintf(buf, sizeof buf, "%.3f", x);
  // Trim trailing zeros (and a bare point) so integers print as integers.
  std::string s = buf;
  if (s.find('.') != std::string::npos) {
    while (s.back() == '0') s.pop_back();
    if (s.back() == '.') s.pop_back();
  }
  if (s == "-0") s = "0";
  return s;
}

std::string video_codec_name(int codec_type) {
  switch (codec_type) {
    case 1: return "mjpeg";
    case 2: return "vp8";
    case 3: return "h264";
    case 4: return "vp9";
    case 5: return "h265";
    default: return "codec-" + std::to_string(codec_type);
  }
}

namespace {

std::string string_list(const std::vector<std::string>& v) {
  std::string out = "[";
  for (size_t i = 0; i < v.size(); ++i) out += (i ? ", " : "") + json_string(v[i]);
  return out + "]";
}

}  // namespace

std::string to_json(const Report& r) {
  std::string o = "{";
  auto key = [&](const char* k) {
    if (o.size() > 1) o += ", ";
    o += json_string(k) + ": ";
  };
  key("host"), o += json_string(r.host);
  key("port"), o += std::to_string(r.port);
  key("seconds"), o += json_number(r.seconds);
  key("fps"), o += json_number(r.fps());
  // Distinct source frames seen, by their pixel codes: unlike fps, an update split over two
  // vsync ticks (a stream frame and the draws around it) counts once.
  key("code_fps");
  o += r.latency && r.seconds > 0 ? json_number(double(r.latency->samples) / r.seconds) : "null";
  key("frames"), o += std::to_string(r.frames);
  key("updates"), o += std::to_string(r.updates);
  key("bytes");
  o += "{";
  for (size_t i = 0; i < r.bytes.size(); ++i) {
    o += (i ? ", " : "") + json_string(r.bytes[i].first) + ": " + std::to_string(r.bytes[i].second);
  }
  o += "}";
  key("latency_ms");
  if (r.latency) {
    const auto& l = *r.latency;
    o += "{\"p50\": " + json_number(l.p50_ms) + ", \"p95\": " + json_number(l.p95_ms) +
         ", \"p99\": " + json_number(l.p99_ms) + ", \"max\": " + json_number(l.max_ms) +
         ", \"samples\": " + std::to_string(l.samples) + "}";
  } else {
    o += "null";
  }
  key("latency_repeats"), o += std::to_string(r.latency_repeats);
  key("stream_codec"), o += r.stream_codec ? json_string(*r.stream_codec) : "null";
  key("streams");
  if (r.streams) {
    o += "{\"created\": " + std::to_string(r.streams->created) +
         ", \"frames\": " + std::to_string(r.streams->frames) +
         ", \"destroyed\": " + std::to_string(r.streams->destroyed) + "}";
  } else {
    o += "null";
  }
  key("primary");
  if (r.primary) {
    o += "{\"width\": " + std::to_string(r.primary->width) +
         ", \"height\": " + std::to_string(r.primary->height) +
         ", \"format\": " + std::to_string(r.primary->format) + "}";
  } else {
    o += "null";
  }
  if (r.reference) {
    key("psnr_db"), o += r.reference->psnr_db ? json_number(*r.reference->psnr_db) : "null";
    key("reference");
    o += "{\"path\": " + json_string(r.reference->path) + ", \"mse\": " +
         json_number(r.reference->mse) +
         ", \"differing_pixels\": " + std::to_string(r.reference->differing_pixels) + "}";
  }
  if (!r.png.empty()) key("png"), o += json_string(r.png);
  if (!r.notes.empty()) key("notes"), o += string_list(r.notes);
  if (!r.errors.empty()) key("errors"), o += string_list(r.errors);
  return o + "}";
}

}  // namespace spiceflow::meter
