#pragma once
// A raw SPICE client for compat's C ABI tests: the link stage without a ticket (the servers
// run with noauth), mini-header messages, and waits that run the fake host's main loop
// (fake_host.hpp) meanwhile, since the test's thread is the host's.
#include <netinet/in.h>
#include <poll.h>
#include <spice/enums.h>
#include <spice/protocol.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cstring>
#include <optional>
#include <vector>

#include "fake_host.hpp"

namespace raw_client {

using Bytes = std::vector<uint8_t>;

inline void put32(Bytes& b, uint32_t v) {
  for (int i = 0; i < 4; ++i) b.push_back(uint8_t(v >> (8 * i)));
}
inline uint32_t get32(const Bytes& b, size_t off) {
  uint32_t v = 0;
  std::memcpy(&v, b.data() + off, 4);
  return v;
}

inline Bytes u32(uint32_t v) {
  Bytes b;
  put32(b, v);
  return b;
}

struct Message {
  uint16_t type = 0;
  Bytes body;
};

class RawClient {
 public:
  ~RawClient() { close(); }
  void close() {
    if (fd_ >= 0) ::close(fd_);
    fd_ = -1;
  }
  // Links `channel`:`channel_id` (main: connection 0), announcing AGENT_CONNECTED_TOKENS
  // on main and `channel_caps` (the first caps word) on others. False when the link is
  // refused or fails.
  bool link(int port, uint8_t channel, uint32_t connection_id, uint8_t channel_id = 0,
            uint32_t channel_caps = 0) {
    fd_ = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    sockaddr_in a{};
    a.sin_family = AF_INET;
    a.sin_port = htons(uint16_t(port));
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    if (::connect(fd_, reinterpret_cast<sockaddr*>(&a), sizeof a) != 0) return false;
    Bytes mess;
    put32(mess, connection_id);
    mess.push_back(channel);
    mess.push_back(channel_id);
    put32(mess, 1);  // common caps
    put32(mess, 1);  // channel caps
    put32(mess, 18);
    put32(mess, (1u << SPICE_COMMON_CAP_PROTOCOL_AUTH_SELECTION) |
                    (1u << SPICE_COMMON_CAP_AUTH_SPICE) | (1u << SPICE_COMMON_CAP_MINI_HEADER));
    put32(mess, channel == SPICE_CHANNEL_MAIN ? 1u << SPICE_MAIN_CAP_AGENT_CONNECTED_TOKENS
                                              : channel_caps);
    Bytes hdr;
    put32(hdr, SPICE_MAGIC);
    put32(hdr, SPICE_VERSION_MAJOR);
    put32(hdr, SPICE_VERSION_MINOR);
    put32(hdr, uint32_t(mess.size()));
    if (!write_all(hdr) || !write_all(mess)) return false;
    auto rh = read_exact(16);
    if (!rh) return false;
    auto reply = read_exact(get32(*rh, 12));
    if (!reply || get32(*reply, 0) != SPICE_LINK_ERR_OK) return false;
    Bytes auth;
    put32(auth, SPICE_COMMON_CAP_AUTH_SPICE);
    auth.resize(4 + 128);  // an empty ticket
    if (!write_all(auth)) return false;
    auto result = read_exact(4);
    return result && get32(*result, 0) == SPICE_LINK_ERR_OK;
  }
  bool send(uint16_t type, const Bytes& body) {
    Bytes out;
    out.push_back(uint8_t(type));
    out.push_back(uint8_t(type >> 8));
    put32(out, uint32_t(body.size()));
    out.insert(out.end(), body.begin(), body.end());
    return write_all(out);
  }
  // Non-blocking: the next complete message, if one has arrived.
  std::optional<Message> poll() {
    uint8_t buf[65536];
    while (true) {
      const ssize_t n = ::recv(fd_, buf, sizeof buf, MSG_DONTWAIT);
      if (n == 0) closed_ = true;
      if (n <= 0) break;
      in_.insert(in_.end(), buf, buf + n);
    }
    if (in_.size() < 6) return std::nullopt;
    const uint32_t size = get32(in_, 2);
    if (in_.size() < 6 + size) return std::nullopt;
    Message m{uint16_t(in_[0] | (in_[1] << 8)), Bytes(in_.begin() + 6, in_.begin() + 6 + size)};
    in_.erase(in_.begin(), in_.begin() + 6 + size);
    return m;
  }
  // Runs the host loop until a message of `type` arrives (others are kept in `seen`).
  std::optional<Message> wait_for(uint16_t type, int ms = 5000) {
    std::optional<Message> got;
    fake_host::run_until(
        [&] {
          while (auto m = poll()) {
            if (m->type == type) {
              got = std::move(m);
              return true;
            }
            seen.push_back(std::move(*m));
          }
          return false;
        },
        ms);
    return got;
  }
  bool closed() {
    fake_host::run_until([&] {
      while (poll()) {
      }
      return closed_;
    });
    return closed_;
  }
  std::vector<Message> seen;

 private:
  bool write_all(const Bytes& b) {
    size_t off = 0;
    while (off < b.size()) {
      const ssize_t n = ::send(fd_, b.data() + off, b.size() - off, MSG_NOSIGNAL);
      if (n <= 0) return false;
      off += size_t(n);
    }
    return true;
  }
  std::optional<Bytes> read_exact(size_t n) {
    Bytes out(n);
    size_t off = 0;
    while (off < n) {
      pollfd p{fd_, POLLIN, 0};
      if (::poll(&p, 1, 5000) <= 0) return std::nullopt;
      const ssize_t r = ::recv(fd_, out.data() + off, n - off, 0);
      if (r <= 0) return std::nullopt;
      off += size_t(r);
    }
    return out;
  }
  int fd_ = -1;
  Bytes in_;
  bool closed_ = false;
};

}  // namespace raw_client
