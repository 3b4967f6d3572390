#pragma once
/// Watches the bytes of one SPICE display channel connection (both directions, as a relay
/// sees them) and picks out what spice-client-glib does not expose: the video streams the
/// server creates (STREAM_CREATE's codec_type) and the stream frames it sends.
///
/// It follows the plaintext link (SpiceLinkHeader + SpiceLinkMess from the client,
/// SpiceLinkHeader + SpiceLinkReply and the u32 link result from the server), then the
/// server's messages with the mini header (type u16, size u32) when both sides announced
/// SPICE_COMMON_CAP_MINI_HEADER, else the full SpiceDataHeader. It never changes the
/// bytes; on anything it cannot follow (a SASL exchange, a malformed header) it stops
/// watching and says why. Not thread-safe: one relay thread feeds it.
#include <cstddef>
#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <vector>

#include "report.hpp"

namespace spiceflow::meter {

class DisplayWireWatcher {
 public:
  void client_bytes(std::span<const uint8_t> bytes);
  void server_bytes(std::span<const uint8_t> bytes);

  /// SpiceVideoCodecType of the first STREAM_CREATE, if any.
  std::optional<int> first_codec() const { return first_codec_; }
  const StreamCounts& streams() const { return streams_; }
  uint64_t messages() const { return messages_; }
  /// True once the link completed and messages are being followed.
  bool linked() const { return server_state_ == ServerState::kMsgHeader ||
                                server_state_ == ServerState::kMsgBody; }
  /// Why watching stopped ("" while it goes on or after a clean link).
  const std::string& failure() const { return failure_; }

 private:
  enum class ClientState { kHeader, kMess, kDone };
  enum class ServerState { kHeader, kReply, kResult, kMsgHeader, kMsgBody, kStopped };

  void fail(std::string why);
  void on_message(uint16_t type, std::span<const uint8_t> head);

  // Client side: the link message's common caps.
  ClientState client_state_ = ClientState::kHeader;
  std::vector<uint8_t> client_buf_;
  size_t client_need_ = 16;
  std::optional<bool> client_mini_;

  // Server side.
  ServerState server_state_ = ServerState::kHeader;
  std::vector<uint8_t> buf_;
  size_t need_ = 16;
  bool mini_ = false;
  uint16_t msg_type_ = 0;
  uint64_t msg_left_ = 0;  // body bytes still to come
  std::vector<uint8_t> msg_head_;  // the first bytes of the body (up to kHeadBytes)

  std::optional<int> first_codec_;
  StreamCounts streams_;
  uint64_t messages_ = 0;
  std::string failure_;
};

}  // namespace spiceflow::meter
