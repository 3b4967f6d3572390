#include "wire.hpp"

#include <spice/enums.h>
#include <spice/protocol.h>

#include <algorithm>

namespace spiceflow::meter {
namespace {

constexpr uint32_t kMagic = 0x51444552;  // "REDQ"
constexpr size_t kLinkHeader = 16;       // magic, major, minor, size
constexpr size_t kMaxLinkBody = 64 * 1024;
constexpr size_t kMiniHeader = 6;        // type u16, size u32
constexpr size_t kFullHeader = 18;       // serial u64, type u16, size u32, sub_list u32
constexpr size_t kHeadBytes = 16;        // STREAM_CREATE's codec_type is at offset 9
constexpr uint64_t kMaxMessage = 1ull << 30;

uint32_t u32(const uint8_t* p) {
  return uint32_t(p[0]) | uint32_t(p[1]) << 8 | uint32_t(p[2]) << 16 | uint32_t(p[3]) << 24;
}
uint16_t u16(const uint8_t* p) { return uint16_t(p[0] | p[1] << 8); }

// Whether the caps words at `offset` of `body` (num_common first) have MINI_HEADER.
std::optional<bool> has_mini_header(const std::vector<uint8_t>& body, uint32_t num_common,
                                    uint32_t offset) {
  if (num_common == 0) return false;
  if (offset > body.size() || body.size() - offset < 4) return std::nullopt;
  return (u32(&body[offset]) >> SPICE_COMMON_CAP_MINI_HEADER) & 1;
}

// Appends from `in` to `buf` until it holds `need` bytes; returns true when it does.
bool fill(std::vector<uint8_t>& buf, size_t need, std::span<const uint8_t>& in) {
  const size_t take = std::min(need - buf.size(), in.size());
  buf.insert(buf.end(), in.begin(), in.begin() + ptrdiff_t(take));
  in = in.subspan(take);
  return buf.size() == need;
}

}  // namespace

void DisplayWireWatcher::fail(std::string why) {
  if (failure_.empty()) failure_ = std::move(why);
  server_state_ = ServerState::kStopped;
  client_state_ = ClientState::kDone;
}

void DisplayWireWatcher::client_bytes(std::span<const uint8_t> in) {
  while (!in.empty() && client_state_ != ClientState::kDone) {
    if (!fill(client_buf_, client_need_, in)) return;
    if (client_state_ == ClientState::kHeader) {
      const uint32_t size = u32(&client_buf_[12]);
      if (u32(&client_buf_[0]) != kMagic || size < 18 || size > kMaxLinkBody) {
        return fail("client link header not understood");
      }
      client_state_ = ClientState::kMess;
      client_need_ = size;
      client_buf_.clear();
    } else {
      // SpiceLinkMess: connection_id u32, type u8, id u8, num_common u32, num_channel u32,
      // caps_offset u32.
      client_mini_ = has_mini_header(client_buf_, u32(&client_buf_[6]), u32(&client_buf_[14]));
      if (!client_mini_) return fail("client link message caps out of bounds");
      client_state_ = ClientState::kDone;
    }
  }
}

void DisplayWireWatcher::server_bytes(std::span<const uint8_t> in) {
  while (!in.empty() && server_state_ != ServerState::kStopped) {
    if (server_state_ == ServerState::kMsgBody) {
      // Keep the first bytes of the body, skip the rest.
      const size_t take = size_t(std::min<uint64_t>(msg_left_, in.size()));
      const size_t keep = std::min(take, kHeadBytes - std::min(kHeadBytes, msg_head_.size()));
      msg_head_.insert(msg_head_.end(), in.begin(), in.begin() + ptrdiff_t(keep));
      in = in.subspan(take);
      msg_left_ -= take;
      if (msg_left_ == 0) {
        on_message(msg_type_, msg_head_);
        server_state_ = ServerState::kMsgHeader;
        need_ = mini_ ? kMiniHeader : kFullHeader;
        buf_.clear();
      }
      continue;
    }
    if (!fill(buf_, need_, in)) return;
    switch (server_state_) {
      case ServerState::kHeader: {
        const uint32_t size = u32(&buf_[12]);
        if (u32(&buf_[0]) != kMagic || size < 4 || size > kMaxLinkBody) {
          return fail("server link header not understood");
        }
        server_state_ = ServerState::kReply;
        need_ = size;
        break;
      }
      case ServerState::kReply: {
        // SpiceLinkReply: error u32, pub_key[162], num_common u32, num_channel u32,
        // caps_offset u32.
        if (u32(&buf_[0]) != SPICE_LINK_ERR_OK) return fail("the server refused the link");
        if (buf_.size() < 4 + SPICE_TICKET_PUBKEY_BYTES + 12) return fail("short link reply");
        const uint8_t* p = &buf_[4 + SPICE_TICKET_PUBKEY_BYTES];
        const auto server_mini = has_mini_header(buf_, u32(p), u32(p + 8));
        if (!server_mini) return fail("server link reply caps out of bounds");
        if (!client_mini_) return fail("server replied before the client's link message");
        mini_ = *server_mini && *client_mini_;
        server_state_ = ServerState::kResult;
        need_ = 4;
        break;
      }
      case ServerState::kResult:
        // With SASL more link messages would follow here; spiceflow-meter uses none.
        if (u32(&buf_[0]) != SPICE_LINK_ERR_OK) return fail("link result is an error");
        server_state_ = ServerState::kMsgHeader;
        need_ = mini_ ? kMiniHeader : kFullHeader;
        break;
      case ServerState::kMsgHeader: {
        const uint8_t* p = mini_ ? &buf_[0] : &buf_[8];
        msg_type_ = u16(p);
        msg_left_ = u32(p + 2);
        if (msg_left_ > kMaxMessage) return fail("message size not plausible");
        msg_head_.clear();
        if (msg_left_ == 0) {
          on_message(msg_type_, msg_head_);
          need_ = mini_ ? kMiniHeader : kFullHeader;
        } else {
          server_state_ = ServerState::kMsgBody;
        }
        break;
      }
      case ServerState::kMsgBody:
      case ServerState::kStopped:
        break;
    }
    buf_.clear();
  }
}

void DisplayWireWatcher::on_message(uint16_t type, std::span<const uint8_t> head) {
  ++messages_;
  switch (type) {
    case SPICE_MSG_DISPLAY_STREAM_CREATE:
      // surface_id u32, id u32, flags u8, codec_type u8, ...
      ++streams_.created;
      if (!first_codec_ && head.size() >= 10) first_codec_ = head[9];
      break;
    case SPICE_MSG_DISPLAY_STREAM_DATA:
    case SPICE_MSG_DISPLAY_STREAM_DATA_SIZED:
      ++streams_.frames;
      break;
    case SPICE_MSG_DISPLAY_STREAM_DESTROY:
      ++streams_.destroyed;
      break;
    default:
      break;
  }
}

}  // namespace spiceflow::meter
