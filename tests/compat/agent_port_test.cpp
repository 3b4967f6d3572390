// The guest agent through the libspice-server C ABI: a fake host (its main loop is this
// test's thread: it polls the library's watches and fires its timers) registers a "vdagent"
// char device whose guest side is two byte buffers, and a raw SPICE client on the main and
// inputs channels talks to it. Checks the device callbacks' semantics (state, partial
// writes retried, reads on wakeup), the chunking and tokens both ways, agent mouse mode,
// VD_AGENT_CLIENT_DISCONNECTED, that a misbehaving agent is detached, and that a client's
// monitors configuration goes to a QXL device that takes it instead of the agent.
#include <spice/enums.h>
#include <spice/protocol.h>
#include <spice/vd_agent.h>
#include <gtest/gtest.h>

#include <cstring>
#include <string>
#include <vector>

#include "fake_host.hpp"
#include "fake_qxl.hpp"
#include "raw_client.hpp"

namespace {

using fake_host::run_until;
using raw_client::Bytes;
using raw_client::get32;
using raw_client::put32;
using raw_client::RawClient;
using raw_client::u32;

// ---- the guest side of the agent's port
struct FakeAgent {
  SpiceCharDeviceInstance sin{};  // first member: the instance pointer is the FakeAgent's
  Bytes guest_out;                // what the guest agent wrote, for the server to read
  Bytes guest_in;                 // what the server wrote to the guest
  size_t write_limit = 1 << 20;   // bytes the guest takes per write call
  std::vector<int> states;

  FakeAgent();
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

FakeAgent::FakeAgent() {
  sin.base.sif = &char_interface()->base;
  sin.subtype = "vdagent";
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

class CompatAgent : public fake_host::ServerTest {
 protected:
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

// VD_AGENT_MONITORS_CONFIG with two monitors (height, width, depth, x, y each).
Bytes two_monitors() {
  Bytes body;
  put32(body, 2);  // num_of_monitors
  put32(body, 0);  // flags
  for (uint32_t v : {600u, 800u, 32u, 0u, 0u, 768u, 1024u, 32u, 800u, 0u}) put32(body, v);
  return agent_message(VD_AGENT_MONITORS_CONFIG, body);
}

TEST_F(CompatAgent, ClientMonitorsConfigGoesToAQxlDeviceThatTakesIt) {
  static const QXLInterface qif = make_qxl_interface();
  FakeQxl dev;
  dev.qxl.base.sif = &qif.base;
  ASSERT_EQ(spice_server_add_interface(s_, &dev.qxl.base), 0);
  ASSERT_EQ(spice_server_add_interface(s_, &agent_.sin.base), 0);
  RawClient c;
  start_client(c);
  // In two AGENT_DATA messages, then one for the agent.
  const Bytes config = two_monitors();
  ASSERT_TRUE(c.send(SPICE_MSGC_MAIN_AGENT_DATA, Bytes(config.begin(), config.begin() + 30)));
  ASSERT_TRUE(c.send(SPICE_MSGC_MAIN_AGENT_DATA, Bytes(config.begin() + 30, config.end())));
  const Bytes small = agent_message(VD_AGENT_CLIPBOARD_RELEASE, {});
  ASSERT_TRUE(c.send(SPICE_MSGC_MAIN_AGENT_DATA, small));
  const Bytes expected = chunk(VDP_CLIENT_PORT, small);
  ASSERT_TRUE(run_until([&] { return agent_.guest_in.size() >= expected.size(); }));
  EXPECT_EQ(agent_.guest_in, expected);  // the agent got the clipboard message only
  std::vector<std::vector<VDAgentMonConfig>> got;
  {
    std::lock_guard lock(dev.mu);
    got = dev.client_monitors;
  }
  ASSERT_EQ(got.size(), 1u);
  ASSERT_EQ(got[0].size(), 2u);
  EXPECT_EQ(got[0][0].width, 800u);
  EXPECT_EQ(got[0][1].height, 768u);
  EXPECT_EQ(got[0][1].x, 800);
  // A configuration claiming more monitors than it holds is dropped (and not given to the
  // agent either); the session goes on.
  Bytes bad_body;
  put32(bad_body, 3);
  put32(bad_body, 0);
  ASSERT_TRUE(
      c.send(SPICE_MSGC_MAIN_AGENT_DATA, agent_message(VD_AGENT_MONITORS_CONFIG, bad_body)));
  agent_.guest_in.clear();
  ASSERT_TRUE(c.send(SPICE_MSGC_MAIN_AGENT_DATA, small));
  ASSERT_TRUE(run_until([&] { return agent_.guest_in.size() >= expected.size(); }));
  EXPECT_EQ(agent_.guest_in, expected);
  {
    std::lock_guard lock(dev.mu);
    EXPECT_EQ(dev.client_monitors.size(), 1u);
  }
  EXPECT_EQ(spice_server_remove_interface(&agent_.sin.base), 0);
  EXPECT_EQ(spice_server_remove_interface(&dev.qxl.base), 0);
}

TEST_F(CompatAgent, ClientMonitorsConfigGoesToTheAgentWhenNoDeviceTakesIt) {
  static const QXLInterface qif = make_qxl_interface();
  FakeQxl dev;
  dev.takes_client_monitors = false;  // as a device whose driver lacks it
  dev.qxl.base.sif = &qif.base;
  ASSERT_EQ(spice_server_add_interface(s_, &dev.qxl.base), 0);
  ASSERT_EQ(spice_server_add_interface(s_, &agent_.sin.base), 0);
  RawClient c;
  start_client(c);
  const Bytes config = two_monitors();
  ASSERT_TRUE(c.send(SPICE_MSGC_MAIN_AGENT_DATA, config));
  const Bytes expected = chunk(VDP_CLIENT_PORT, config);
  ASSERT_TRUE(run_until([&] { return agent_.guest_in.size() >= expected.size(); }));
  EXPECT_EQ(agent_.guest_in, expected);
  {
    std::lock_guard lock(dev.mu);
    EXPECT_TRUE(dev.client_monitors.empty());
  }
  EXPECT_EQ(spice_server_remove_interface(&agent_.sin.base), 0);
  EXPECT_EQ(spice_server_remove_interface(&dev.qxl.base), 0);
}

}  // namespace
