#include "channel.hpp"

#include <spice/enums.h>
#include <spice/protocol.h>

#include "spiceflow/core/bytes.hpp"
#include "spiceflow/core/log.hpp"

namespace spiceflow::net {

namespace {
constexpr size_t kMiniHeaderSize = 6;   // type u16, size u32
constexpr size_t kFullHeaderSize = 18;  // serial u64, type u16, size u32, sub_list u32

uint64_t wall_ms() {
  return uint64_t(std::chrono::duration_cast<std::chrono::milliseconds>(
                      std::chrono::system_clock::now().time_since_epoch())
                      .count());
}
}  // namespace

ChannelClient::ChannelClient(ServerContext& ctx, std::unique_ptr<Peer> peer,
                             const LinkMess& link, uint32_t session_id, int desktop)
    : ctx_(ctx), peer_(std::move(peer)), link_(link), session_id_(session_id), desktop_(desktop) {
  // Both sides use the mini header when the client offered it (we always offer it).
  mini_header_ = link_.common_caps.has(SPICE_COMMON_CAP_MINI_HEADER);
}

ChannelClient::~ChannelClient() = default;

void ChannelClient::begin() {
  peer_->set_input_limit(kMaxClientMessage + kFullHeaderSize + 64 * 1024);
  peer_->on_input([this] { on_input(); });
  peer_->on_drain([this] { on_room(); });
  peer_->on_close([this](const std::string& reason) { ctx_.retire(this, reason); });
  start();
  if (!peer_->closing() && !peer_->input().empty()) on_input();
}

void ChannelClient::send(uint16_t type, const msg::Bytes& body) {
  msg::Bytes out;
  out.reserve(body.size() + kFullHeaderSize);
  ByteWriter w(out);
  if (mini_header_) {
    w.u16(type);
    w.u32(uint32_t(body.size()));
  } else {
    w.u64(++serial_);
    w.u16(type);
    w.u32(uint32_t(body.size()));
    w.u32(0);
  }
  w.bytes(body);
  if (acks_) ++unacked_;
  peer_->send(std::move(out));
}

void ChannelClient::start_acks(uint32_t window) {
  acks_ = true;
  ack_window_ = window;
  unacked_ = 0;
  msg::Bytes body;
  msg::set_ack(body, ++ack_generation_, window);
  // SET_ACK itself is not counted: the client starts counting after ACK_SYNC.
  acks_ = false;
  send(SPICE_MSG_SET_ACK, body);
  acks_ = true;
}

bool ChannelClient::waiting_for_ack() const {
  return acks_ && unacked_ > ack_window_ * 2;
}

bool ChannelClient::can_send() const {
  return !peer_->closed() && !waiting_for_ack() && peer_->queued_bytes() < Peer::kLowWater;
}

bool ChannelClient::can_send(uint32_t messages) const {
  // The last of them may go at unacked_ == 2 * window (as can_send() allows one more).
  const bool window_room = !acks_ || messages == 0 || unacked_ + messages <= ack_window_ * 2 + 1;
  return can_send() && window_room;
}

void ChannelClient::send_ping() {
  msg::Bytes body;
  ping_sent_ = std::chrono::steady_clock::now();
  msg::ping(body, ++ping_id_, uint64_t(ping_sent_.time_since_epoch().count()));
  send(SPICE_MSG_PING, body);
}

void ChannelClient::disconnect(const std::string& reason) {
  if (peer_->closed()) return;
  msg::Bytes body;
  msg::disconnecting(body, wall_ms(), SPICE_LINK_ERR_OK);
  send(SPICE_MSG_DISCONNECTING, body);
  peer_->close_after_flush(reason);
}

void ChannelClient::fail(const std::string& reason) {
  if (peer_->closed()) return;
  log::warn("{}: closing: {}", name(), reason);
  msg::Bytes body;
  msg::notify(body, wall_ms(), SPICE_NOTIFY_SEVERITY_ERROR, SPICE_NOTIFY_VISIBILITY_LOW, 0,
              reason);
  send(SPICE_MSG_NOTIFY, body);
  peer_->close_after_flush(reason);
}

bool ChannelClient::handle_common(uint16_t type, std::span<const uint8_t> body, bool* handled) {
  *handled = true;
  switch (type) {
    case SPICE_MSGC_ACK_SYNC: {
      auto m = msg::parse_ack_sync(body);
      if (!m) return false;
      client_generation_ = m->generation;
      return true;
    }
    case SPICE_MSGC_ACK:
      if (client_generation_ == ack_generation_) {
        const bool was_waiting = waiting_for_ack();
        unacked_ = unacked_ > ack_window_ ? unacked_ - ack_window_ : 0;
        if (was_waiting && !waiting_for_ack()) on_room();
      }
      return true;
    case SPICE_MSGC_PONG: {
      auto m = msg::parse_pong(body);
      if (!m) return false;
      if (m->id == ping_id_) {
        const auto rtt = std::chrono::steady_clock::now() - ping_sent_;
        log::debug("{}: ping round trip {} us", name(),
                   std::chrono::duration_cast<std::chrono::microseconds>(rtt).count());
      }
      return true;
    }
    case SPICE_MSGC_DISCONNECTING:
      // The client is about to close; nothing to answer.
      return true;
    case SPICE_MSGC_MIGRATE_FLUSH_MARK:
    case SPICE_MSGC_MIGRATE_DATA:
      log::debug("{}: ignoring migration message {}", name(), type);
      return true;
    default:
      *handled = false;
      return true;
  }
}

void ChannelClient::on_input() {
  const size_t header = mini_header_ ? kMiniHeaderSize : kFullHeaderSize;
  while (!peer_->closing() && !input_paused()) {
    auto in = peer_->input();
    if (in.size() < header) return;
    ByteReader r(in);
    uint16_t type = 0;
    uint32_t size = 0;
    if (mini_header_) {
      type = r.u16();
      size = r.u32();
    } else {
      r.u64();  // serial
      type = r.u16();
      size = r.u32();
      r.u32();  // sub_list: clients send none
    }
    if (size > kMaxClientMessage) {
      fail("message type " + std::to_string(type) + " announces " + std::to_string(size) +
           " bytes (limit " + std::to_string(kMaxClientMessage) + ")");
      return;
    }
    if (in.size() < header + size) return;  // wait for the rest
    auto body = in.subspan(header, size);
    bool handled = false;
    bool ok = handle_common(type, body, &handled);
    if (!handled) ok = handle(type, body);
    if (peer_->closing()) return;
    if (!ok) {
      fail("malformed or unexpected message type " + std::to_string(type) + " (" +
           std::to_string(size) + " bytes)");
      return;
    }
    peer_->consume(header + size);
  }
}

void ChannelClient::resume_input() {
  if (!peer_->closing() && !peer_->input().empty()) on_input();
}

Caps server_channel_caps(uint8_t channel_type) {
  Caps caps;
  switch (channel_type) {
    case SPICE_CHANNEL_MAIN:
      caps.set(SPICE_MAIN_CAP_NAME_AND_UUID);
      break;
    case SPICE_CHANNEL_DISPLAY:
      caps.set(SPICE_DISPLAY_CAP_MONITORS_CONFIG);
      caps.set(SPICE_DISPLAY_CAP_LZ4_COMPRESSION);
      caps.set(SPICE_DISPLAY_CAP_PREF_COMPRESSION);
      // A client that cannot decode a stream says so (STREAM_REPORT) and names the video
      // codecs it prefers (PREFERRED_VIDEO_CODEC_TYPE).
      caps.set(SPICE_DISPLAY_CAP_STREAM_REPORT);
      caps.set(SPICE_DISPLAY_CAP_PREF_VIDEO_CODEC_TYPE);
      break;
    default:
      break;
  }
  return caps;
}

}  // namespace spiceflow::net
