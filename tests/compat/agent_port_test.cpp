// The guest agent through the libspice-server C ABI: a fake host (its main loop is this
// test's thread: it polls the library's watches and fires its timers) registers a "vdagent"
// char device whose guest side is two byte buffers, and a raw SPICE client on the main and
// inputs channels talks to it. Checks the device callbacks' semantics (state, partial
// writes retried, reads on wakeup), the chunking and tokens both ways, agent mouse mode,
// VD_AGENT_CLIENT_DISCONNECTED, and that a misbehaving agent is detached.
#include <spice/enums.h>
#include <spice/protocol.h>
#include <spice/vd_agent.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cstring>
#include <optional>
#include <string>
#include <vector>

#include "fake_host.hpp"
#include "support/loopback.hpp"

namespace {

using Bytes = std::vector<uint8_t>;
using fake_host::run_until;

// ---- the guest side of the agent's port
struct FakeAgent {
  SpiceCharDeviceInstance sin{};  // first member: the instance pointer is the FakeAgent's
  Bytes guest_out;                // what the guest agent wrote, for the server to read
  Bytes guest_in;                 // what the server wrote to the guest
  size_t write_limit = 1 << 20;   // bytes the guest takes per write call
  std::vector<int> states;
};
FakeAgent* agent_of(SpiceCharDeviceInstance* sin) { return reinterpret_cast<FakeAgent*>(sin); }

int dev_write(SpiceCharDeviceInstance* sin, const uint8_t* buf, int len) {
  auto* a = agent_of(sin);
  const int n = std::min(len, int(a->write_limit));
  a->guest_in.insert(a->guest_in.end(), buf, buf + n);
  return n;
}
int dev_read(SpiceCharDeviceInstance* sin, uint8_t* buf, int len) {
  auto* a = agent_of(sin);
  const int n = std::min(len, int(a->guest_out.size()));
  std::memcpy(buf, a->guest_out.data(), size_t(n));
  a->guest_out.erase(a->guest_out.begin(), a->guest_out.begin() + n);
  return n;
}
void dev_state(SpiceCharDeviceInstance* sin, int connected) {
  agent_of(sin)->states.push_back(connected);
}

const SpiceCharDeviceInterface* char_interface() {
  static const SpiceCharDeviceInterface c = [] {
    SpiceCharDeviceInterface c{};
    c.base.type = SPICE_INTERFACE_CHAR_DEVICE;
    c.base.description = "fake vdagent port";
    c.base.major_version = SPICE_INTERFACE_CHAR_DEVICE_MAJOR;
    c.base.minor_version = SPICE_INTERFACE_CHAR_DEVICE_MINOR;
    c.state = dev_state;
    c.write = dev_write;
    c.read = dev_read;
    return c;
  }();
  return &c;
}

void put32(Bytes& b, uint32_t v) {
  for (int i = 0; i < 4; ++i) b.push_back(uint8_t(v >> (8 * i)));
}
uint32_t get32(const Bytes& b, size_t off) {
  uint32_t v = 0;
  std::memcpy(&v, b.data() + off, 4);
  return v;
}

Bytes agent_message(uint32_t type, const Bytes& body) {
  Bytes m;
  put32(m, VD_AGENT_PROTOCOL);
  put32(m, type);
  put32(m, 0);
  put32(m, 0);
  put32(m, uint32_t(body.size()));
  m.insert(m.end(), body.begin(), body.end());
  return m;
}
Bytes chunk(uint32_t port, const Bytes& data) {
  Bytes c;
  put32(c, port);
  put32(c, uint32_t(data.size()));
  c.insert(c.end(), data.begin(), data.end());
  return c;
}
Bytes pattern(size_t n, uint8_t seed) {
  Bytes v(n);
  for (size_t i = 0; i < n; ++i) v[i] = uint8_t(seed + i * 13);
  return v;
}

// ---- a raw SPICE client (no ticket: the server runs with noauth)
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
  // Links `channel` (main: connection 0) announcing AGENT_CONNECTED_TOKENS on main.
  bool link(int port, uint8_t channel, uint32_t connection_id) {
    fd_ = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    sockaddr_in a{};
    a.sin_family = AF_INET;
    a.sin_port = htons(uint16_t(port));
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    if (::connect(fd_, reinterpret_cast<sockaddr*>(&a), sizeof a) != 0) return false;
    Bytes mess;
    put32(mess, connection_id);
    mess.push_back(channel);
    mess.push_back(0);
    put32(mess, 1);  // common caps
    put32(mess, 1);  // channel caps
    put32(mess, 18);
    put32(mess, (1u << SPICE_COMMON_CAP_PROTOCOL_AUTH_SELECTION) |
                    (1u << SPICE_COMMON_CAP_AUTH_SPICE) | (1u << SPICE_COMMON_CAP_MINI_HEADER));
    put32(mess, channel == SPICE_CHANNEL_MAIN ? 1u << SPICE_MAIN_CAP_AGENT_CONNECTED_TOKENS : 0);
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
    run_until(
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
    run_until([&] {
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

Bytes u32(uint32_t v) {
  Bytes b;
  put32(b, v);
  return b;
}

class CompatAgent : public ::testing::Test {
 protected:
  void SetUp() override {
    s_ = spice_server_new();
    port_ = spiceflow::testing::free_loopback_port();
    ASSERT_EQ(spice_server_set_port(s_, port_), 0);
    spice_server_set_addr(s_, "127.0.0.1", 0);
    ASSERT_EQ(spice_server_set_noauth(s_), 0);
    ASSERT_EQ(spice_server_init(s_, &core_), 0);
    spice_server_vm_start(s_);
    agent_.sin.base.sif = &char_interface()->base;
    agent_.sin.subtype = "vdagent";
  }
  void TearDown() override {
    spice_server_destroy(s_);
    EXPECT_TRUE(fake_host::watches().empty());
    EXPECT_TRUE(fake_host::timers().empty());
  }
  // A main channel that started the agent (AGENT_START acknowledged by a round trip).
  // Returns MAIN_INIT's body.
  Bytes start_client(RawClient& c, uint32_t send_tokens = ~0u) {
    EXPECT_TRUE(c.link(port_, SPICE_CHANNEL_MAIN, 0));
    auto init = c.wait_for(SPICE_MSG_MAIN_INIT);
    EXPECT_TRUE(init.has_value());
    if (!init) return Bytes(24);
    EXPECT_EQ(get32(init->body, 16), 1u);  // agent_connected
    EXPECT_EQ(get32(init->body, 20), 10u);  // agent_tokens
    EXPECT_TRUE(c.send(SPICE_MSGC_MAIN_AGENT_START, u32(send_tokens)));
    EXPECT_TRUE(c.send(SPICE_MSGC_MAIN_ATTACH_CHANNELS, {}));
    EXPECT_TRUE(c.wait_for(SPICE_MSG_MAIN_CHANNELS_LIST).has_value());
    return init->body;
  }

  SpiceCoreInterface core_ = fake_host::core();
  SpiceServer* s_ = nullptr;
  int port_ = 0;
  FakeAgent agent_;
};

TEST_F(CompatAgent, DataFlowsBothWaysInChunksWithinTokens) {
  ASSERT_EQ(spice_server_add_interface(s_, &agent_.sin.base), 0);
  EXPECT_EQ(agent_.states, std::vector<int>{1});
  RawClient c;
  start_client(c);

  // Guest -> client: one 5000-byte message in one chunk arrives as 2048-byte AGENT_DATA.
  const Bytes from_guest = agent_message(VD_AGENT_CLIPBOARD, pattern(4980, 1));
  agent_.guest_out = chunk(VDP_CLIENT_PORT, from_guest);
  spice_server_char_device_wakeup(&agent_.sin);  // as QEMU after the guest wrote
  Bytes got;
  std::vector<size_t> sizes;
  while (got.size() < from_guest.size()) {
    auto m = c.wait_for(SPICE_MSG_MAIN_AGENT_DATA);
    ASSERT_TRUE(m.has_value()) << got.size() << " bytes so far";
    sizes.push_back(m->body.size());
    got.insert(got.end(), m->body.begin(), m->body.end());
  }
  EXPECT_EQ(got, from_guest);
  EXPECT_EQ(sizes, (std::vector<size_t>{2048, 2048, 904}));
  EXPECT_TRUE(agent_.guest_out.empty());

  // Client -> guest: a 3000-byte message in two AGENT_DATA, then a small one, to a guest
  // that takes 7 bytes per write: each becomes one VDP_CLIENT_PORT chunk, in order.
  agent_.write_limit = 7;
  const Bytes big = agent_message(VD_AGENT_CLIPBOARD, pattern(2980, 9));
  const Bytes part1(big.begin(), big.begin() + 2048), part2(big.begin() + 2048, big.end());
  const Bytes small = agent_message(VD_AGENT_CLIPBOARD_RELEASE, {});
  for (const Bytes* b : {&part1, &part2, &small}) {
    ASSERT_TRUE(c.send(SPICE_MSGC_MAIN_AGENT_DATA, *b));
  }
  Bytes expected = chunk(VDP_CLIENT_PORT, part1);
  for (const Bytes* b : {&part2, &small}) {
    const Bytes ch = chunk(VDP_CLIENT_PORT, *b);
    expected.insert(expected.end(), ch.begin(), ch.end());
  }
  // Partial writes are retried by the port's timer (this device has no NOTIFY_WRITABLE).
  ASSERT_TRUE(run_until([&] { return agent_.guest_in.size() >= expected.size(); }));
  EXPECT_EQ(agent_.guest_in, expected);

  // Two more written: five tokens come back in one AGENT_TOKEN.
  agent_.write_limit = 1 << 20;
  for (int i = 0; i < 2; ++i) ASSERT_TRUE(c.send(SPICE_MSGC_MAIN_AGENT_DATA, small));
  auto tokens = c.wait_for(SPICE_MSG_MAIN_AGENT_TOKEN);
  ASSERT_TRUE(tokens.has_value());
  EXPECT_EQ(get32(tokens->body, 0), 5u);

  // The client leaves: the agent is told.
  agent_.guest_in.clear();
  c.close();
  const Bytes gone = [] {
    Bytes m = agent_message(VD_AGENT_CLIENT_DISCONNECTED, {});
    return chunk(VDP_SERVER_PORT, m);
  }();
  ASSERT_TRUE(run_until([&] { return agent_.guest_in.size() >= gone.size(); }));
  EXPECT_EQ(agent_.guest_in, gone);

  EXPECT_EQ(spice_server_remove_interface(&agent_.sin.base), 0);
  EXPECT_EQ(agent_.states, (std::vector<int>{1, 0}));
}

TEST_F(CompatAgent, GraphicsDeviceInfoGoesToAnAgentThatAnnouncesIt) {
  ASSERT_EQ(spice_server_add_interface(s_, &agent_.sin.base), 0);
  RawClient c;
  start_client(c);
  // No device info before the agent said it understands it.
  fake_host::run_until([] { return false; }, 100);
  EXPECT_TRUE(agent_.guest_in.empty());
  Bytes caps;
  put32(caps, 0);  // request
  put32(caps, (1u << VD_AGENT_CAP_GRAPHICS_DEVICE_INFO) | (1u << VD_AGENT_CAP_CLIPBOARD_BY_DEMAND));
  const Bytes announce = agent_message(VD_AGENT_ANNOUNCE_CAPABILITIES, caps);
  agent_.guest_out = chunk(VDP_CLIENT_PORT, announce);
  spice_server_char_device_wakeup(&agent_.sin);
  auto m = c.wait_for(SPICE_MSG_MAIN_AGENT_DATA);  // the client gets the announcement
  ASSERT_TRUE(m.has_value());
  EXPECT_EQ(m->body, announce);
  // No QXL device has an address here: an empty map, as the reference sends for Xspice.
  const Bytes info = chunk(VDP_SERVER_PORT, agent_message(VD_AGENT_GRAPHICS_DEVICE_INFO, u32(0)));
  ASSERT_TRUE(run_until([&] { return agent_.guest_in.size() >= info.size(); }));
  EXPECT_EQ(agent_.guest_in, info);
  // Each client that starts the agent makes the server send it again.
  agent_.guest_in.clear();
  RawClient second;
  start_client(second);
  ASSERT_TRUE(run_until([&] { return agent_.guest_in.size() >= info.size(); }));
  EXPECT_EQ(agent_.guest_in, info);
  EXPECT_EQ(spice_server_remove_interface(&agent_.sin.base), 0);
}

TEST_F(CompatAgent, AgentMouseModeSendsMouseStateToTheAgent) {
  EXPECT_EQ(spice_server_is_server_mouse(s_), 1);
  ASSERT_EQ(spice_server_add_interface(s_, &agent_.sin.base), 0);
  EXPECT_EQ(spice_server_is_server_mouse(s_), 0);  // the agent takes absolute positions
  RawClient c;
  const Bytes init = start_client(c);
  const uint32_t session = get32(init, 0);
  EXPECT_EQ(get32(init, 8), uint32_t(SPICE_MOUSE_MODE_SERVER | SPICE_MOUSE_MODE_CLIENT));
  EXPECT_EQ(get32(init, 12), uint32_t(SPICE_MOUSE_MODE_CLIENT));
  RawClient inputs;
  ASSERT_TRUE(inputs.link(port_, SPICE_CHANNEL_INPUTS, session));
  Bytes pos;
  put32(pos, 123);
  put32(pos, 45);
  pos.push_back(SPICE_MOUSE_BUTTON_MASK_LEFT);
  pos.push_back(0);
  pos.push_back(0);  // display 0
  ASSERT_TRUE(inputs.send(SPICE_MSGC_INPUTS_MOUSE_POSITION, pos));
  Bytes state;
  put32(state, 123);
  put32(state, 45);
  put32(state, VD_AGENT_LBUTTON_MASK);
  state.push_back(0);
  const Bytes expected = chunk(VDP_SERVER_PORT, agent_message(VD_AGENT_MOUSE_STATE, state));
  ASSERT_TRUE(run_until([&] { return agent_.guest_in.size() >= expected.size(); }));
  EXPECT_EQ(Bytes(agent_.guest_in.begin(), agent_.guest_in.begin() + long(expected.size())),
            expected);
  // Agent mouse off: the server falls back to server mode (no tablet here).
  EXPECT_EQ(spice_server_set_agent_mouse(s_, 0), 0);
  EXPECT_EQ(spice_server_is_server_mouse(s_), 1);
  EXPECT_EQ(spice_server_remove_interface(&agent_.sin.base), 0);
}

TEST_F(CompatAgent, AMisbehavingAgentIsDetachedAndMayComeBack) {
  ASSERT_EQ(spice_server_add_interface(s_, &agent_.sin.base), 0);
  FakeAgent second;
  second.sin.base.sif = &char_interface()->base;
  second.sin.subtype = "vdagent";
  EXPECT_EQ(spice_server_add_interface(s_, &second.sin.base), -1);  // one agent at a time
  RawClient c;
  start_client(c);
  agent_.guest_out = chunk(7, pattern(4, 0));  // no such port
  spice_server_char_device_wakeup(&agent_.sin);
  EXPECT_TRUE(c.wait_for(SPICE_MSG_MAIN_AGENT_DISCONNECTED).has_value());
  EXPECT_EQ(agent_.states, (std::vector<int>{1, 0}));
  // The host re-registers the port: the agent is back.
  EXPECT_EQ(spice_server_remove_interface(&agent_.sin.base), 0);
  ASSERT_EQ(spice_server_add_interface(s_, &agent_.sin.base), 0);
  auto back = c.wait_for(SPICE_MSG_MAIN_AGENT_CONNECTED_TOKENS);
  ASSERT_TRUE(back.has_value());
  EXPECT_EQ(get32(back->body, 0), 10u);
  EXPECT_EQ(agent_.states, (std::vector<int>{1, 0, 1}));
  EXPECT_EQ(spice_server_remove_interface(&agent_.sin.base), 0);
}

TEST_F(CompatAgent, ClientDataBeyondItsTokensClosesThatClient) {
  ASSERT_EQ(spice_server_add_interface(s_, &agent_.sin.base), 0);
  agent_.write_limit = 0;  // the guest takes nothing: no token comes back
  RawClient c;
  start_client(c);
  const Bytes small = agent_message(VD_AGENT_CLIPBOARD_RELEASE, {});
  for (int i = 0; i < 11; ++i) ASSERT_TRUE(c.send(SPICE_MSGC_MAIN_AGENT_DATA, small));
  EXPECT_TRUE(c.wait_for(SPICE_MSG_NOTIFY).has_value());
  EXPECT_TRUE(c.closed());
  RawClient next;  // the server and the agent go on
  start_client(next);
  EXPECT_EQ(spice_server_remove_interface(&agent_.sin.base), 0);
}

}  // namespace
