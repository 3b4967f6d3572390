#include "stream_protocol.hpp"

#include <spice/enums.h>
#include <spice/stream-device.h>

#include <algorithm>
#include <cstring>

namespace spiceflow::compat::streamdev {

namespace {

uint16_t le16(const uint8_t* p) { return uint16_t(p[0] | p[1] << 8); }
uint32_t le32(const uint8_t* p) {
  return uint32_t(p[0]) | uint32_t(p[1]) << 8 | uint32_t(p[2]) << 16 | uint32_t(p[3]) << 24;
}
void put32(std::vector<uint8_t>& out, uint32_t v) {
  for (int i = 0; i < 4; ++i) out.push_back(uint8_t(v >> (8 * i)));
}

std::vector<uint8_t> message(uint16_t type, std::span<const uint8_t> body) {
  std::vector<uint8_t> out{kProtocolVersion, 0, uint8_t(type), uint8_t(type >> 8)};
  put32(out, uint32_t(body.size()));
  out.insert(out.end(), body.begin(), body.end());
  return out;
}

// Fixed parts of the messages (the structs of <spice/stream-device.h>, packed as sent).
constexpr uint32_t kFormatSize = 12;
constexpr uint32_t kCursorSetHeader = 12;
constexpr uint32_t kCursorMoveSize = 8;
constexpr uint32_t kDisplayInfoHeader = 12;
// The largest CURSOR_SET body: the reference's bound (a 1024x1024 32-bit shape with its
// mask rows).
constexpr uint32_t kMaxCursorSetSize =
    kCursorSetHeader + (kMaxCursorSide * 4 + (kMaxCursorSide + 7) / 8) * kMaxCursorSide;

}  // namespace

size_t cursor_data_size(uint8_t type, uint16_t width, uint16_t height) {
  size_t bits = 0;  // per pixel, mask included
  switch (type) {
    case SPICE_CURSOR_TYPE_ALPHA:
      bits = 32;
      break;
    case SPICE_CURSOR_TYPE_COLOR24:
      bits = 24 + 1;
      break;
    case SPICE_CURSOR_TYPE_COLOR32:
      bits = 32 + 1;
      break;
    default:
      return 0;
  }
  return (size_t(width) * height * bits + 7) / 8;
}

void Parser::reset() {
  header_fill_ = 0;
  body_.clear();
  body_.shrink_to_fit();
  error_.clear();
}

bool Parser::fail(std::string why) {
  error_ = std::move(why);
  body_.clear();
  body_.shrink_to_fit();
  return false;
}

// The header is complete: checks the size against the type before any body is kept.
bool Parser::header_done() {
  if (header_[0] != kProtocolVersion) {
    return fail("protocol version " + std::to_string(header_[0]) + " (expected 1)");
  }
  type_ = le16(header_ + 2);
  size_ = le32(header_ + 4);
  bool ok = false;
  switch (type_) {
    case STREAM_TYPE_CAPABILITIES:
      ok = size_ <= kMaxCapabilitiesSize;
      break;
    case STREAM_TYPE_FORMAT:
      ok = size_ == kFormatSize;
      break;
    case STREAM_TYPE_DATA:
      ok = size_ > 0 && size_ <= kMaxDataSize;
      break;
    case STREAM_TYPE_CURSOR_SET:
      ok = size_ >= kCursorSetHeader && size_ <= kMaxCursorSetSize;
      break;
    case STREAM_TYPE_CURSOR_MOVE:
      ok = size_ == kCursorMoveSize;
      break;
    case STREAM_TYPE_DEVICE_DISPLAY_INFO:
      ok = size_ >= kDisplayInfoHeader && size_ <= kDisplayInfoHeader + kMaxDeviceAddress;
      break;
    case STREAM_TYPE_QUALITY_INDICATOR:
      ok = size_ <= kMaxQualityIndicator;
      break;
    default:  // START_STOP and NOTIFY_ERROR go to the guest, never from it
      return fail("message type " + std::to_string(type_) + " is not one the agent sends");
  }
  if (!ok) {
    return fail("message type " + std::to_string(type_) + " with a body of " +
                std::to_string(size_) + " bytes");
  }
  return true;
}

bool Parser::finish(std::vector<Message>& out) {
  const uint8_t* b = body_.data();
  switch (type_) {
    case STREAM_TYPE_CAPABILITIES:
      out.push_back(Capabilities{body_});
      break;
    case STREAM_TYPE_FORMAT: {
      Format f{le32(b), le32(b + 4), b[8]};
      if (f.width == 0 || f.height == 0 || f.width > kMaxStreamSide || f.height > kMaxStreamSide) {
        return fail("FORMAT of " + std::to_string(f.width) + "x" + std::to_string(f.height));
      }
      if (f.codec < SPICE_VIDEO_CODEC_TYPE_MJPEG || f.codec >= SPICE_VIDEO_CODEC_TYPE_ENUM_END) {
        return fail("FORMAT with unknown codec " + std::to_string(f.codec));
      }
      out.push_back(f);
      break;
    }
    case STREAM_TYPE_DATA:
      out.push_back(Data{std::move(body_)});
      body_ = {};
      break;
    case STREAM_TYPE_CURSOR_SET: {
      CursorSet c;
      c.width = le16(b);
      c.height = le16(b + 2);
      c.hot_x = le16(b + 4);
      c.hot_y = le16(b + 6);
      c.type = b[8];
      if (c.width > kMaxCursorSide || c.height > kMaxCursorSide) {
        return fail("CURSOR_SET of " + std::to_string(c.width) + "x" + std::to_string(c.height));
      }
      const size_t need = cursor_data_size(c.type, c.width, c.height);
      if (need == 0 && c.width && c.height) {
        return fail("CURSOR_SET with cursor type " + std::to_string(c.type));
      }
      if (body_.size() - kCursorSetHeader < need) {
        return fail("CURSOR_SET shorter than its " + std::to_string(c.width) + "x" +
                    std::to_string(c.height) + " shape");
      }
      c.data.assign(b + kCursorSetHeader, b + kCursorSetHeader + need);
      out.push_back(std::move(c));
      break;
    }
    case STREAM_TYPE_CURSOR_MOVE:
      out.push_back(CursorMove{int32_t(le32(b)), int32_t(le32(b + 4))});
      break;
    case STREAM_TYPE_DEVICE_DISPLAY_INFO: {
      DeviceDisplayInfo d;
      d.stream_id = le32(b);
      d.device_display_id = le32(b + 4);
      const uint32_t len = le32(b + 8);
      if (len > body_.size() - kDisplayInfoHeader) {
        return fail("DEVICE_DISPLAY_INFO address of " + std::to_string(len) +
                    " bytes beyond its message");
      }
      const auto* a = reinterpret_cast<const char*>(b + kDisplayInfoHeader);
      d.device_address.assign(a, strnlen(a, len));
      out.push_back(std::move(d));
      break;
    }
    case STREAM_TYPE_QUALITY_INDICATOR: {
      const auto* t = reinterpret_cast<const char*>(b);
      out.push_back(QualityIndicator{std::string(t, strnlen(t, body_.size()))});
      break;
    }
    default:
      return fail("internal: unexpected type");  // header_done() let only the above through
  }
  header_fill_ = 0;
  body_.clear();
  return true;
}

bool Parser::feed(std::span<const uint8_t> bytes, std::vector<Message>& out) {
  if (failed()) return false;
  size_t pos = 0;
  while (true) {
    if (header_fill_ < kHeaderSize) {
      const size_t n = std::min(kHeaderSize - header_fill_, bytes.size() - pos);
      std::memcpy(header_ + header_fill_, bytes.data() + pos, n);
      header_fill_ += n;
      pos += n;
      if (header_fill_ < kHeaderSize) return true;
      if (!header_done()) return false;
      body_.clear();
    }
    // Grows with what arrived, never to the claimed size at once.
    const size_t n = std::min(size_t(size_) - body_.size(), bytes.size() - pos);
    body_.insert(body_.end(), bytes.begin() + long(pos), bytes.begin() + long(pos + n));
    pos += n;
    if (body_.size() < size_) return true;
    if (!finish(out)) return false;
    if (pos == bytes.size()) return true;
  }
}

std::vector<uint8_t> start_stop(std::span<const uint8_t> codecs) {
  // StreamMsgStartStop: num_codecs u8, codecs u8[] (at most 255 by the field's width).
  const size_t n = std::min<size_t>(codecs.size(), 255);
  std::vector<uint8_t> body{uint8_t(n)};
  body.insert(body.end(), codecs.begin(), codecs.begin() + long(n));
  return message(STREAM_TYPE_START_STOP, body);
}

std::vector<uint8_t> capabilities() {
  const uint8_t none[1] = {0};  // no capability bits yet
  return message(STREAM_TYPE_CAPABILITIES, none);
}

std::vector<uint8_t> notify_error(const std::string& why) {
  std::vector<uint8_t> body;
  put32(body, 0);
  body.insert(body.end(), why.begin(), why.end());
  body.push_back(0);
  return message(STREAM_TYPE_NOTIFY_ERROR, body);
}

}  // namespace spiceflow::compat::streamdev
