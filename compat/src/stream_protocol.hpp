#pragma once
// The streaming agent's device protocol (<spice/stream-device.h>, org.spice-space.stream.0):
// an incremental parser for what the guest writes, and the messages the server writes.
// The device is hostile input: every size is checked against its type before anything is
// kept, bodies grow only as their bytes arrive (a claimed 32 MiB frame is not allocated up
// front), and the first violation puts the parser in a failed state that says why; the
// caller resets it when the agent starts over (the port is opened again).
//
// Self-contained (no logging, no other module) so the unit tests compile it directly.
// Threading: none; one parser per device, used on the host thread.
#include <cstddef>
#include <cstdint>
#include <span>
#include <string>
#include <variant>
#include <vector>

namespace spiceflow::compat::streamdev {

/// StreamDevHeader: protocol_version u8 (1), padding u8, type u16, size u32 (little-endian).
inline constexpr size_t kHeaderSize = 8;
inline constexpr uint8_t kProtocolVersion = 1;
/// The largest DATA message accepted: the reference's limit (one encoded frame).
inline constexpr uint32_t kMaxDataSize = 32 * 1024 * 1024;
/// CAPABILITIES bytes accepted (STREAM_MSG_CAPABILITIES_MAX_BYTES).
inline constexpr uint32_t kMaxCapabilitiesSize = 1024;
/// DEVICE_DISPLAY_INFO: 12 bytes plus the device address, which the reference bounds at 256.
inline constexpr uint32_t kMaxDeviceAddress = 256;
/// QUALITY_INDICATOR: a short text; anything longer is not an indicator.
inline constexpr uint32_t kMaxQualityIndicator = 1024;
/// A stream no larger than this per side (16K; a screen, not an attack on the client).
inline constexpr uint32_t kMaxStreamSide = 16384;
/// Cursor shapes: STREAM_MSG_CURSOR_SET_MAX_WIDTH/HEIGHT.
inline constexpr uint16_t kMaxCursorSide = 1024;

struct Format {
  uint32_t width = 0;
  uint32_t height = 0;
  uint8_t codec = 0;  ///< SPICE_VIDEO_CODEC_TYPE_MJPEG .. _H265
};
struct Data {
  std::vector<uint8_t> frame;
};
struct Capabilities {
  std::vector<uint8_t> caps;
};
struct CursorSet {
  uint16_t width = 0, height = 0, hot_x = 0, hot_y = 0;
  uint8_t type = 0;  ///< SPICE_CURSOR_TYPE_ALPHA, _COLOR24 or _COLOR32
  std::vector<uint8_t> data;  ///< exactly the bytes the shape needs
};
struct CursorMove {
  int32_t x = 0, y = 0;
};
struct DeviceDisplayInfo {
  uint32_t stream_id = 0;
  uint32_t device_display_id = 0;
  std::string device_address;
};
struct QualityIndicator {
  std::string text;
};
using Message = std::variant<Format, Data, Capabilities, CursorSet, CursorMove,
                             DeviceDisplayInfo, QualityIndicator>;

/// Bytes the cursor shape of `type` needs at width x height (pixels plus the AND mask where
/// the type has one); 0 for a type the protocol does not allow.
size_t cursor_data_size(uint8_t type, uint16_t width, uint16_t height);

class Parser {
 public:
  /// Consumes `bytes` (any split) and appends every complete message to `out`. Returns false
  /// once the stream is invalid (error() says why); from then on everything is ignored
  /// until reset().
  bool feed(std::span<const uint8_t> bytes, std::vector<Message>& out);
  bool failed() const { return !error_.empty(); }
  const std::string& error() const { return error_; }
  /// Starts over at a message boundary (the agent reopened the port).
  void reset();
  /// Bytes of the message being read (header included) held now.
  size_t buffered() const { return header_fill_ + body_.size(); }

 private:
  bool header_done();
  bool finish(std::vector<Message>& out);
  bool fail(std::string why);

  uint8_t header_[kHeaderSize] = {};
  size_t header_fill_ = 0;
  uint16_t type_ = 0;
  uint32_t size_ = 0;
  std::vector<uint8_t> body_;
  std::string error_;
};

// ---- server -> agent
/// START_STOP: the codecs every client decodes (empty: stop streaming).
std::vector<uint8_t> start_stop(std::span<const uint8_t> codecs);
/// CAPABILITIES: the server's (none yet).
std::vector<uint8_t> capabilities();
/// NOTIFY_ERROR: error_code 0 and the reason, NUL-terminated.
std::vector<uint8_t> notify_error(const std::string& why);

}  // namespace spiceflow::compat::streamdev
