#pragma once
// A small blocking SPICE client for in-process server tests: performs the real link stage
// (RSA-OAEP ticket) and reads/writes mini-header messages with timeouts.
#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <spice/enums.h>
#include <spice/protocol.h>
#include <sys/socket.h>
#include <unistd.h>

#include <chrono>
#include <optional>
#include <string>
#include <vector>

#include "spiceflow/core/bytes.hpp"
#include "spiceflow/net/link.hpp"

namespace spiceflow::net::testing {

struct Message {
  uint16_t type = 0;
  std::vector<uint8_t> body;
};

class TestClient {
 public:
  ~TestClient() {
    if (fd_ >= 0) ::close(fd_);
  }

  bool connect(uint16_t port) {
    fd_ = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    sockaddr_in a{};
    a.sin_family = AF_INET;
    a.sin_port = htons(port);
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    return ::connect(fd_, reinterpret_cast<sockaddr*>(&a), sizeof a) == 0;
  }

  /// Runs the link stage; returns the u32 link result (or ~0u on an I/O failure).
  uint32_t link(uint8_t channel_type, uint32_t connection_id, const std::string& password,
                std::vector<uint32_t> channel_caps = {}) {
    std::vector<uint8_t> mess;
    ByteWriter w(mess);
    const uint32_t common = (1u << SPICE_COMMON_CAP_PROTOCOL_AUTH_SELECTION) |
                            (1u << SPICE_COMMON_CAP_AUTH_SPICE) |
                            (1u << SPICE_COMMON_CAP_MINI_HEADER);
    w.u32(connection_id);
    w.u8(channel_type);
    w.u8(0);
    w.u32(1);                            // num_common_caps
    w.u32(uint32_t(channel_caps.size()));  // num_channel_caps
    w.u32(18);                           // caps_offset
    w.u32(common);
    for (uint32_t c : channel_caps) w.u32(c);
    std::vector<uint8_t> hdr;
    ByteWriter h(hdr);
    h.u32(SPICE_MAGIC);
    h.u32(SPICE_VERSION_MAJOR);
    h.u32(SPICE_VERSION_MINOR);
    h.u32(uint32_t(mess.size()));
    if (!write_all(hdr) || !write_all(mess)) return ~0u;
    auto rh = read_exact(16);
    if (!rh) return ~0u;
    ByteReader rr(*rh);
    rr.u32();
    rr.u32();
    rr.u32();
    const uint32_t size = rr.u32();
    auto reply = read_exact(size);
    if (!reply || reply->size() < 4 + 162) return ~0u;
    ByteReader rp(*reply);
    const uint32_t err = rp.u32();
    if (err != SPICE_LINK_ERR_OK) return err;
    {  // SpiceLinkReply after the key: num_common_caps, num_channel_caps, caps_offset, caps
      ByteReader rc(std::span<const uint8_t>(*reply).subspan(4 + 162));
      const uint32_t num_common = rc.u32();
      const uint32_t num_channel = rc.u32();
      rc.u32();
      for (uint32_t i = 0; i < num_common; ++i) rc.u32();
      server_channel_caps_.clear();
      for (uint32_t i = 0; i < num_channel && rc.ok(); ++i) {
        server_channel_caps_.push_back(rc.u32());
      }
    }
    std::vector<uint8_t> der(reply->begin() + 4, reply->begin() + 4 + 162);
    auto ticket = TicketKey::encrypt_for(der, password);
    if (!ticket) return ~0u;
    std::vector<uint8_t> auth;
    ByteWriter a(auth);
    a.u32(SPICE_COMMON_CAP_AUTH_SPICE);
    if (!write_all(auth) || !write_all(*ticket)) return ~0u;
    auto result = read_exact(4);
    if (!result) return ~0u;
    ByteReader res(*result);
    return res.u32();
  }

  bool send(uint16_t type, const std::vector<uint8_t>& body) {
    std::vector<uint8_t> out;
    ByteWriter w(out);
    w.u16(type);
    w.u32(uint32_t(body.size()));
    w.bytes(body);
    return write_all(out);
  }

  std::optional<Message> recv(std::chrono::milliseconds timeout = std::chrono::seconds(5)) {
    auto h = read_exact(6, timeout);
    if (!h) return std::nullopt;
    ByteReader r(*h);
    Message m;
    m.type = r.u16();
    const uint32_t size = r.u32();
    auto body = read_exact(size, timeout);
    if (!body) return std::nullopt;
    m.body = std::move(*body);
    return m;
  }

  /// Reads messages until one of `type` arrives (others are dropped).
  std::optional<Message> recv_until(uint16_t type,
                                    std::chrono::milliseconds timeout = std::chrono::seconds(5)) {
    const auto end = std::chrono::steady_clock::now() + timeout;
    while (std::chrono::steady_clock::now() < end) {
      auto m = recv(std::chrono::duration_cast<std::chrono::milliseconds>(
          end - std::chrono::steady_clock::now()));
      if (!m) return std::nullopt;
      if (m->type == type) return m;
    }
    return std::nullopt;
  }

  bool write_all(const std::vector<uint8_t>& b) {
    size_t off = 0;
    while (off < b.size()) {
      const ssize_t n = ::send(fd_, b.data() + off, b.size() - off, MSG_NOSIGNAL);
      if (n <= 0) return false;
      off += size_t(n);
    }
    return true;
  }

  std::optional<std::vector<uint8_t>> read_exact(
      size_t n, std::chrono::milliseconds timeout = std::chrono::seconds(5)) {
    std::vector<uint8_t> out(n);
    size_t off = 0;
    const auto end = std::chrono::steady_clock::now() + timeout;
    while (off < n) {
      const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
          end - std::chrono::steady_clock::now());
      if (left.count() <= 0) return std::nullopt;
      pollfd p{fd_, POLLIN, 0};
      if (::poll(&p, 1, int(left.count())) <= 0) return std::nullopt;
      const ssize_t r = ::recv(fd_, out.data() + off, n - off, 0);
      if (r <= 0) return std::nullopt;
      off += size_t(r);
    }
    return out;
  }

  int fd() const { return fd_; }
  /// Whether the last link reply's channel caps have `bit`.
  bool server_has_channel_cap(uint32_t bit) const {
    return bit / 32 < server_channel_caps_.size() &&
           (server_channel_caps_[bit / 32] >> (bit % 32)) & 1;
  }

 private:
  int fd_ = -1;
  std::vector<uint32_t> server_channel_caps_;
};

}  // namespace spiceflow::net::testing
