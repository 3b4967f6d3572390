#include "spiceflow/net/agent.hpp"

#include <spice/vd_agent.h>

#include <algorithm>
#include <cstring>

#include "spiceflow/core/bytes.hpp"

namespace spiceflow::net::agent {

static_assert(kMaxData == VD_AGENT_MAX_DATA_SIZE);
static_assert(kChunkHeaderSize == sizeof(VDIChunkHeader));
static_assert(kMessageHeaderSize == sizeof(VDAgentMessage));

std::vector<uint8_t> chunk(uint32_t port, std::span<const uint8_t> payload) {
  std::vector<uint8_t> out;
  out.reserve(kChunkHeaderSize + payload.size());
  ByteWriter w(out);
  w.u32(port);
  w.u32(uint32_t(payload.size()));
  w.bytes(payload);
  return out;
}

std::vector<uint8_t> server_message(uint32_t type, std::span<const uint8_t> body) {
  std::vector<uint8_t> out;
  out.reserve(kChunkHeaderSize + kMessageHeaderSize + body.size());
  ByteWriter w(out);
  w.u32(VDP_SERVER_PORT);
  w.u32(uint32_t(kMessageHeaderSize + body.size()));
  w.u32(VD_AGENT_PROTOCOL);
  w.u32(type);
  w.u64(0);  // opaque
  w.u32(uint32_t(body.size()));
  w.bytes(body);
  return out;
}

std::vector<uint8_t> mouse_state(uint32_t x, uint32_t y, uint32_t buttons, uint8_t display_id) {
  std::vector<uint8_t> out;
  ByteWriter w(out);
  w.u32(x);
  w.u32(y);
  w.u32(buttons);
  w.u8(display_id);
  return out;
}

uint32_t agent_buttons(uint32_t spice_buttons, bool wheel_up, bool wheel_down) {
  // SPICE's masks (left 1, middle 2, right 4) are the agent's shifted by one.
  return (spice_buttons << 1) | (wheel_up ? VD_AGENT_UBUTTON_MASK : 0) |
         (wheel_down ? VD_AGENT_DBUTTON_MASK : 0);
}

std::vector<uint8_t> graphics_device_info(std::span<const DisplayDevice> devices) {
  std::vector<uint8_t> out;
  ByteWriter w(out);
  w.u32(uint32_t(devices.size()));
  for (const auto& d : devices) {
    w.u32(d.channel_id);
    w.u32(d.monitor_id);
    w.u32(d.device_display_id);
    w.u32(uint32_t(d.address.size() + 1));
    w.bytes(d.address.data(), d.address.size());
    w.u8(0);
  }
  return out;
}

void MessageFilter::reset(bool discard_all) {
  discard_all_ = discard_all;
  remaining_ = 0;
  type_ = 0;
  started_ = false;
  verdict_ = Verdict::forward;
  error_.clear();
}

MessageFilter::Verdict MessageFilter::process(std::span<const uint8_t> piece) {
  started_ = false;
  if (piece.size() > kMaxData) {
    error_ = "agent data of " + std::to_string(piece.size()) + " bytes (limit " +
             std::to_string(kMaxData) + ")";
    return Verdict::protocol_error;
  }
  if (remaining_ > 0) {
    if (piece.size() > remaining_) {
      error_ = "agent data exceeds its message's size (" + std::to_string(piece.size()) +
               " bytes, " + std::to_string(remaining_) + " left)";
      return Verdict::protocol_error;
    }
    remaining_ -= uint32_t(piece.size());
    return verdict_;
  }
  if (piece.size() < kMessageHeaderSize) {
    error_ = "agent message of " + std::to_string(piece.size()) + " bytes has no complete header";
    return Verdict::protocol_error;
  }
  ByteReader r(piece);
  const uint32_t protocol = r.u32();
  const uint32_t type = r.u32();
  r.u64();  // opaque
  const uint32_t size = r.u32();
  if (protocol != VD_AGENT_PROTOCOL) {
    error_ = "agent message with protocol " + std::to_string(protocol);
    return Verdict::protocol_error;
  }
  const size_t data = piece.size() - kMessageHeaderSize;
  if (data > size) {
    error_ = "agent data exceeds its message's size (" + std::to_string(data) + " bytes, " +
             std::to_string(size) + " announced)";
    return Verdict::protocol_error;
  }
  started_ = true;
  type_ = type;
  remaining_ = size - uint32_t(data);
  verdict_ = Verdict::forward;
  if (discard_all_) {
    verdict_ = Verdict::discard;
  } else {
    switch (type) {
      case VD_AGENT_CLIPBOARD:
      case VD_AGENT_CLIPBOARD_GRAB:
      case VD_AGENT_CLIPBOARD_REQUEST:
      case VD_AGENT_CLIPBOARD_RELEASE:
        if (!config_.copy_paste) verdict_ = Verdict::discard;
        break;
      case VD_AGENT_FILE_XFER_START:
      case VD_AGENT_FILE_XFER_STATUS:
      case VD_AGENT_FILE_XFER_DATA:
        if (!config_.file_xfer) verdict_ = Verdict::discard;
        break;
      default:
        break;
    }
  }
  return verdict_;
}

void adjust_capabilities(std::span<uint8_t> piece, FilterConfig config) {
  if (piece.size() < kMessageHeaderSize + sizeof(uint32_t)) return;  // header + request
  uint32_t type = 0, size = 0;
  std::memcpy(&type, piece.data() + 4, 4);
  std::memcpy(&size, piece.data() + 16, 4);
  if (type != VD_AGENT_ANNOUNCE_CAPABILITIES) return;
  // VDAgentAnnounceCapabilities: request u32, then caps words; only what is in this piece.
  uint8_t* caps = piece.data() + kMessageHeaderSize + sizeof(uint32_t);
  const size_t words = std::min<size_t>((size - std::min<uint32_t>(size, 4)) / 4,
                                        (piece.size() - kMessageHeaderSize - 4) / 4);
  auto set = [&](uint32_t bit, bool on) {
    if (bit / 32 >= words) return;
    uint32_t w = 0;
    std::memcpy(&w, caps + 4 * (bit / 32), 4);
    w = on ? (w | (1u << (bit % 32))) : (w & ~(1u << (bit % 32)));
    std::memcpy(caps + 4 * (bit / 32), &w, 4);
  };
  if (!config.copy_paste) {
    set(VD_AGENT_CAP_CLIPBOARD, false);
    set(VD_AGENT_CAP_CLIPBOARD_BY_DEMAND, false);
    set(VD_AGENT_CAP_CLIPBOARD_SELECTION, false);
  }
  if (!config.file_xfer) set(VD_AGENT_CAP_FILE_XFER_DISABLED, true);
}

std::optional<bool> announced_capability(std::span<const uint8_t> piece, uint32_t bit) {
  ByteReader r(piece);
  r.u32();  // protocol
  const uint32_t type = r.u32();
  r.u64();
  const uint32_t size = r.u32();
  r.u32();  // request
  if (!r.ok() || type != VD_AGENT_ANNOUNCE_CAPABILITIES) return std::nullopt;
  // Caps words announced, and present in this piece.
  const size_t words =
      std::min<size_t>((size - std::min<uint32_t>(size, 4)) / 4, r.remaining() / 4);
  if (bit / 32 >= words) return false;
  r.skip(4 * (bit / 32));
  return (r.u32() >> (bit % 32)) & 1;
}

std::span<uint8_t> ChunkReader::next() {
  if (!in_piece_) return {header_ + header_have_, kChunkHeaderSize - header_have_};
  return {piece_.data() + piece_have_, piece_.size() - piece_have_};
}

std::optional<ChunkReader::Piece> ChunkReader::commit(size_t n) {
  if (!in_piece_) {
    header_have_ += std::min(n, kChunkHeaderSize - header_have_);
    if (header_have_ < kChunkHeaderSize) return std::nullopt;
    header_have_ = 0;
    ByteReader r({header_, kChunkHeaderSize});
    port_ = r.u32();
    chunk_left_ = r.u32();
    start_piece();  // an empty chunk leaves us waiting for the next header
    return std::nullopt;
  }
  piece_have_ += std::min(n, piece_.size() - piece_have_);
  if (piece_have_ < piece_.size()) return std::nullopt;
  Piece out{port_, std::move(piece_)};
  start_piece();
  return out;
}

void ChunkReader::start_piece() {
  in_piece_ = chunk_left_ > 0;
  piece_.assign(std::min(chunk_left_, kMaxData), 0);
  chunk_left_ -= uint32_t(piece_.size());
  piece_have_ = 0;
}

void ChunkReader::reset() {
  header_have_ = 0;
  port_ = 0;
  chunk_left_ = 0;
  piece_.clear();
  piece_have_ = 0;
  in_piece_ = false;
}

bool TokenWindow::take() {
  if (available_ == 0) return false;
  --available_;
  return true;
}

uint32_t TokenWindow::release() {
  ++released_;
  if (released_ < kTokenBatch) return 0;
  const uint32_t back = released_;
  released_ = 0;
  available_ += back;
  return back;
}

}  // namespace spiceflow::net::agent
