#pragma once
/// The guest agent (spice-vdagent) as SPICE carries it, in pure logic (no I/O, no threads):
/// the byte stream of the agent's character device (VDIChunkHeader-framed chunks holding
/// VDAgentMessages), the message filter the reference applies in both directions
/// (agent-msg-filter.c), and the client's token window (REDS_AGENT_WINDOW_SIZE). net's main
/// channel and compat's vdagent bridge drive these; values follow spice-protocol's
/// vd_agent.h and the reference's reds.c.
#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <vector>

namespace spiceflow::net::agent {

/// VD_AGENT_MAX_DATA_SIZE: the largest AGENT_DATA body, either way, and so the largest piece
/// of a device chunk forwarded as one message.
inline constexpr uint32_t kMaxData = 2048;
/// REDS_AGENT_WINDOW_SIZE: AGENT_DATA messages a client may send before tokens come back.
inline constexpr uint32_t kClientWindow = 10;
/// REDS_TOKENS_TO_SEND: tokens are given back in AGENT_TOKEN messages of at least this many.
inline constexpr uint32_t kTokenBatch = 5;
inline constexpr size_t kChunkHeaderSize = 8;     ///< VDIChunkHeader: port u32, size u32
inline constexpr size_t kMessageHeaderSize = 20;  ///< VDAgentMessage: protocol, type, opaque u64, size

/// One chunk as written to the device: VDIChunkHeader{port, size} then `payload`.
std::vector<uint8_t> chunk(uint32_t port, std::span<const uint8_t> payload);
/// A whole server-originated message: a VDP_SERVER_PORT chunk holding a VDAgentMessage
/// header (VD_AGENT_PROTOCOL, `type`, opaque 0) and `body`.
std::vector<uint8_t> server_message(uint32_t type, std::span<const uint8_t> body);
/// VD_AGENT_MOUSE_STATE's body: x, y, buttons (VD_AGENT_*BUTTON_MASK), display_id.
std::vector<uint8_t> mouse_state(uint32_t x, uint32_t y, uint32_t buttons, uint8_t display_id);
/// SPICE_MOUSE_BUTTON_MASK_* to VD_AGENT_*BUTTON_MASK (the reference's
/// RED_MOUSE_BUTTON_STATE_TO_AGENT), plus the wheel bits for a wheel press.
uint32_t agent_buttons(uint32_t spice_buttons, bool wheel_up = false, bool wheel_down = false);

/// Which kinds of agent messages may pass (spice_server_set_agent_copypaste / _file_xfer).
struct FilterConfig {
  bool copy_paste = true;  ///< VD_AGENT_CLIPBOARD* pass
  bool file_xfer = true;   ///< VD_AGENT_FILE_XFER* pass
};

/// One graphics device's monitor, as VD_AGENT_GRAPHICS_DEVICE_INFO describes it: the
/// display channel and monitor the client knows, and the guest's device and its display.
struct DisplayDevice {
  uint32_t channel_id = 0;         ///< the QXL device's id (its display channel)
  uint32_t monitor_id = 0;
  uint32_t device_display_id = 0;  ///< the device's own display number
  std::string address;             ///< e.g. "pci/0000/02.0" (sent zero-terminated)
};
/// VD_AGENT_GRAPHICS_DEVICE_INFO's body: count, then each device display (channel_id,
/// monitor_id, device_display_id, address length with its NUL, address, NUL).
std::vector<uint8_t> graphics_device_info(std::span<const DisplayDevice> devices);

/// The reference's agent message filter over one direction's stream of AGENT_DATA pieces.
/// A VDAgentMessage (20-byte header + `size` bytes) may span several pieces; each piece
/// either starts a message (and holds its whole header) or continues the current one.
class MessageFilter {
 public:
  enum class Verdict {
    forward,         ///< pass the piece on
    discard,         ///< drop it (copy & paste / file transfer disabled, or discard_all)
    protocol_error,  ///< malformed: the sender must be cut off (why in error())
  };
  explicit MessageFilter(FilterConfig config = {}, bool discard_all = false)
      : config_(config), discard_all_(discard_all) {}
  /// Forgets any message in progress (a new peer starts at a message boundary).
  void reset(bool discard_all);
  void configure(FilterConfig config) { config_ = config; }
  /// Applies to messages that start from now on.
  void set_discard_all(bool discard_all) { discard_all_ = discard_all; }

  /// Judges the next piece. A piece over kMaxData bytes, a message start shorter than the
  /// header or with another protocol than VD_AGENT_PROTOCOL, and a continuation longer
  /// than what the message's header announced are protocol errors.
  Verdict process(std::span<const uint8_t> piece);
  /// True when the last piece processed started a message (its header is at offset 0).
  bool started_message() const { return started_; }
  /// The VD_AGENT_* type of the message the last piece belonged to.
  uint32_t message_type() const { return type_; }
  /// Bytes of the current message still to come (0: the next piece starts a message).
  uint32_t remaining() const { return remaining_; }
  const std::string& error() const { return error_; }

 private:
  FilterConfig config_;
  bool discard_all_ = false;
  uint32_t remaining_ = 0;
  uint32_t type_ = 0;
  bool started_ = false;
  Verdict verdict_ = Verdict::forward;  // of the current message
  std::string error_;
};

/// As the reference's reds_adjust_agent_capabilities: in a piece that starts a
/// VD_AGENT_ANNOUNCE_CAPABILITIES message from the agent, clears the clipboard capabilities
/// when copy & paste is off and sets VD_AGENT_CAP_FILE_XFER_DISABLED when file transfer is
/// off. Other pieces are left alone.
void adjust_capabilities(std::span<uint8_t> piece, FilterConfig config);
/// In a piece that starts a VD_AGENT_ANNOUNCE_CAPABILITIES message: whether capability
/// `bit` (VD_AGENT_CAP_*) is announced; nullopt for any other piece.
std::optional<bool> announced_capability(std::span<const uint8_t> piece, uint32_t bit);

/// Splits the byte stream the agent writes into its device (VDIChunkHeader, then `size`
/// bytes, repeated) into pieces of at most kMaxData bytes, each within one chunk. Reads go
/// straight into the reader's buffer: next() says where and how much (never more than the
/// current header or piece needs, as the reference reads), commit() takes what arrived.
class ChunkReader {
 public:
  struct Piece {
    uint32_t port = 0;          ///< VDP_CLIENT_PORT, VDP_SERVER_PORT, or anything the agent wrote
    std::vector<uint8_t> data;  ///< 1..kMaxData bytes
  };
  /// Where the next read from the device goes (never empty).
  std::span<uint8_t> next();
  /// `n` bytes (at most next().size()) were read into next(); returns a piece when one is
  /// complete. Empty chunks are skipped.
  std::optional<Piece> commit(size_t n);
  /// Drops any partial header or piece (the device was reset or reconnected).
  void reset();

 private:
  void start_piece();

  uint8_t header_[kChunkHeaderSize] = {};
  size_t header_have_ = 0;
  uint32_t port_ = 0;
  uint32_t chunk_left_ = 0;    // bytes of the current chunk not yet in a piece
  std::vector<uint8_t> piece_;  // sized to the piece being read
  size_t piece_have_ = 0;
  bool in_piece_ = false;
};

/// The client's side of client-to-agent flow control, kept by the server per main channel:
/// the client starts with kClientWindow tokens (MAIN_INIT / AGENT_CONNECTED_TOKENS), spends
/// one per AGENT_DATA, and gets them back (AGENT_TOKEN) once the data left the server,
/// kTokenBatch at a time.
class TokenWindow {
 public:
  /// A fresh window (agent (re)connected): kClientWindow tokens with the client.
  void reset() { available_ = kClientWindow; released_ = 0; }
  /// The client sent one message: false when it had no token left (a violation).
  bool take();
  /// One message was consumed (written to the device, or dropped). Returns the tokens to
  /// give back now in an AGENT_TOKEN (0 while fewer than kTokenBatch are pending).
  uint32_t release();
  uint32_t available() const { return available_; }

 private:
  uint32_t available_ = kClientWindow;  // tokens the client holds, as we count them
  uint32_t released_ = 0;               // consumed, not yet given back
};

}  // namespace spiceflow::net::agent
