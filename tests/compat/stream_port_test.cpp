// The streaming agent's port (org.spice-space.stream.0) through the libspice-server C ABI: a
// fake host (fake_host.hpp) registers the port, whose guest side is two byte buffers, and
// raw SPICE clients (raw_client.hpp) use display and cursor channel 1: the channels appear
// when the guest opens the port, START_STOP follows clients, FORMAT/DATA become the
// surface, STREAM_CREATE and STREAM_DATA byte for byte, the cursor reaches cursor channel 1,
// and a malformed message gets NOTIFY_ERROR and closes the port until the agent reopens it.
#include <spice/enums.h>
#include <spice/protocol.h>
#include <spice/stream-device.h>
#include <gtest/gtest.h>

#include <algorithm>
#include <string>
#include <vector>

#include "fake_host.hpp"
#include "raw_client.hpp"

namespace {

using fake_host::run_until;
using raw_client::Bytes;
using raw_client::get32;
using raw_client::RawClient;

struct FakeAgentPort {
  SpiceCharDeviceInstance sin{};  // first member: the instance pointer is the port's
  Bytes guest_out;                // what the agent wrote, for the server to read
  Bytes guest_in;                 // what the server wrote to the agent
  std::vector<int> states;
  FakeAgentPort();
};
FakeAgentPort* port_of(SpiceCharDeviceInstance* sin) {
  return reinterpret_cast<FakeAgentPort*>(sin);
}

const SpiceCharDeviceInterface* port_interface() {
  static const SpiceCharDeviceInterface c = [] {
    SpiceCharDeviceInterface c{};
    c.base.type = SPICE_INTERFACE_CHAR_DEVICE;
    c.base.description = "fake streaming agent port";
    c.base.major_version = SPICE_INTERFACE_CHAR_DEVICE_MAJOR;
    c.base.minor_version = SPICE_INTERFACE_CHAR_DEVICE_MINOR;
    c.state = [](SpiceCharDeviceInstance* sin, int on) { port_of(sin)->states.push_back(on); };
    c.write = [](SpiceCharDeviceInstance* sin, const uint8_t* buf, int len) {
      port_of(sin)->guest_in.insert(port_of(sin)->guest_in.end(), buf, buf + len);
      return len;
    };
    c.read = [](SpiceCharDeviceInstance* sin, uint8_t* buf, int len) {
      auto* p = port_of(sin);
      const int n = std::min(len, int(p->guest_out.size()));
      std::copy_n(p->guest_out.begin(), n, buf);
      p->guest_out.erase(p->guest_out.begin(), p->guest_out.begin() + n);
      return n;
    };
    return c;
  }();
  return &c;
}

FakeAgentPort::FakeAgentPort() {
  sin.base.sif = &port_interface()->base;
  sin.subtype = "port";
  sin.portname = "org.spice-space.stream.0";
}

void put16(Bytes& b, uint16_t v) {
  b.push_back(uint8_t(v));
  b.push_back(uint8_t(v >> 8));
}
void put32(Bytes& b, uint32_t v) {
  for (int i = 0; i < 4; ++i) b.push_back(uint8_t(v >> (8 * i)));
}
Bytes agent_msg(uint16_t type, const Bytes& body) {
  Bytes m{STREAM_DEVICE_PROTOCOL, 0};
  put16(m, type);
  put32(m, uint32_t(body.size()));
  m.insert(m.end(), body.begin(), body.end());
  return m;
}
Bytes format_msg(uint32_t w, uint32_t h, uint8_t codec) {
  Bytes b;
  put32(b, w);
  put32(b, h);
  b.insert(b.end(), {codec, 0, 0, 0});
  return agent_msg(STREAM_TYPE_FORMAT, b);
}

// The server's messages to the agent, split: (type, body).
std::vector<std::pair<uint16_t, Bytes>> to_agent(const Bytes& in) {
  std::vector<std::pair<uint16_t, Bytes>> out;
  size_t pos = 0;
  while (pos + 8 <= in.size()) {
    const uint16_t type = uint16_t(in[pos + 2] | in[pos + 3] << 8);
    const uint32_t size = get32(in, pos + 4);
    if (pos + 8 + size > in.size()) break;
    out.push_back({type, Bytes(in.begin() + long(pos + 8), in.begin() + long(pos + 8 + size))});
    pos += 8 + size;
  }
  return out;
}
std::vector<Bytes> start_stops(const Bytes& in) {
  std::vector<Bytes> out;
  for (const auto& [type, body] : to_agent(in)) {
    if (type == STREAM_TYPE_START_STOP) out.emplace_back(body.begin() + 1, body.end());
  }
  return out;
}

using Channel = std::pair<uint8_t, uint8_t>;

class CompatStreamPort : public fake_host::ServerTest {
 protected:
  uint32_t session(RawClient& main, std::vector<Channel>* listed) {
    EXPECT_TRUE(main.link(port_, SPICE_CHANNEL_MAIN, 0));
    auto init = main.wait_for(SPICE_MSG_MAIN_INIT);
    EXPECT_TRUE(init.has_value());
    EXPECT_TRUE(main.send(SPICE_MSGC_MAIN_ATTACH_CHANNELS, {}));
    auto list = main.wait_for(SPICE_MSG_MAIN_CHANNELS_LIST);
    EXPECT_TRUE(list.has_value());
    if (list) {
      for (size_t i = 0; i < get32(list->body, 0); ++i) {
        listed->push_back({list->body[4 + 2 * i], list->body[5 + 2 * i]});
      }
    }
    return init ? get32(init->body, 0) : 0;
  }
  void agent_writes(FakeAgentPort& p, const Bytes& bytes) {
    p.guest_out.insert(p.guest_out.end(), bytes.begin(), bytes.end());
    spice_server_char_device_wakeup(&p.sin);
  }
};

TEST_F(CompatStreamPort, AgentFramesReachDisplayChannelOne) {
  FakeAgentPort agent;
  ASSERT_EQ(spice_server_add_interface(s_, &agent.sin.base), 0);
  RawClient main;
  std::vector<Channel> listed;
  const uint32_t id = session(main, &listed);
  // No agent yet: no second display (display 0 keeps the QXL picture).
  EXPECT_EQ(std::count(listed.begin(), listed.end(), Channel{SPICE_CHANNEL_DISPLAY, 1}), 0);
  EXPECT_TRUE(agent.states.empty());

  // The agent opens its port: CAPABILITIES, state(1), and display + cursor 1 announced.
  spice_server_port_event(&agent.sin, SPICE_PORT_EVENT_OPENED);
  EXPECT_EQ(agent.states, std::vector<int>{1});
  ASSERT_FALSE(to_agent(agent.guest_in).empty());
  EXPECT_EQ(to_agent(agent.guest_in)[0].first, STREAM_TYPE_CAPABILITIES);
  std::vector<Channel> added;
  for (int i = 0; i < 2; ++i) {
    auto more = main.wait_for(SPICE_MSG_MAIN_CHANNELS_LIST);
    ASSERT_TRUE(more.has_value());
    added.push_back({more->body[4], more->body[5]});
  }
  EXPECT_EQ(added, (std::vector<Channel>{{SPICE_CHANNEL_DISPLAY, 1}, {SPICE_CHANNEL_CURSOR, 1}}));

  // A client on display 1 (no MULTI_CODEC: MJPEG only) makes the server ask for a stream.
  RawClient display;
  ASSERT_TRUE(display.link(port_, SPICE_CHANNEL_DISPLAY, id, 1));
  Bytes init{0};
  put32(init, 0);
  put32(init, 0);
  init.push_back(0);
  put32(init, 0);
  ASSERT_TRUE(display.send(SPICE_MSGC_DISPLAY_INIT, init));
  ASSERT_TRUE(run_until([&] { return !start_stops(agent.guest_in).empty(); }));
  EXPECT_EQ(start_stops(agent.guest_in).back(), Bytes{SPICE_VIDEO_CODEC_TYPE_MJPEG});

  const Bytes frame1{'f', 'r', 'a', 'm', 'e', '1'}, frame2(100000, 0x5a);
  agent_writes(agent, format_msg(64, 32, SPICE_VIDEO_CODEC_TYPE_MJPEG));
  agent_writes(agent, agent_msg(STREAM_TYPE_DATA, frame1));
  agent_writes(agent, agent_msg(STREAM_TYPE_DATA, frame2));
  auto surface = display.wait_for(SPICE_MSG_DISPLAY_SURFACE_CREATE);
  ASSERT_TRUE(surface.has_value());
  EXPECT_EQ(get32(surface->body, 4), 64u);
  EXPECT_EQ(get32(surface->body, 8), 32u);
  auto create = display.wait_for(SPICE_MSG_DISPLAY_STREAM_CREATE);
  ASSERT_TRUE(create.has_value());
  const uint32_t stream_id = get32(create->body, 4);
  EXPECT_EQ(create->body[9], SPICE_VIDEO_CODEC_TYPE_MJPEG);
  EXPECT_EQ(get32(create->body, 18), 64u);  // stream_width, after the u64 stamp
  for (const Bytes* f : {&frame1, &frame2}) {
    auto data = display.wait_for(SPICE_MSG_DISPLAY_STREAM_DATA);
    ASSERT_TRUE(data.has_value());
    EXPECT_EQ(get32(data->body, 0), stream_id);
    ASSERT_EQ(get32(data->body, 8), f->size());
    EXPECT_EQ(Bytes(data->body.begin() + 12, data->body.end()), *f);
  }

  // The agent's cursor goes to cursor channel 1.
  RawClient cursor;
  ASSERT_TRUE(cursor.link(port_, SPICE_CHANNEL_CURSOR, id, 1));
  ASSERT_TRUE(cursor.wait_for(SPICE_MSG_CURSOR_INIT).has_value());
  Bytes shape;
  put16(shape, 2);
  put16(shape, 2);
  put16(shape, 1);
  put16(shape, 0);
  shape.insert(shape.end(), {SPICE_CURSOR_TYPE_ALPHA, 0, 0, 0});
  for (int i = 0; i < 4; ++i) put32(shape, 0xff102030u + uint32_t(i));
  agent_writes(agent, agent_msg(STREAM_TYPE_CURSOR_SET, shape));
  auto set = cursor.wait_for(SPICE_MSG_CURSOR_SET);
  ASSERT_TRUE(set.has_value());
  Bytes move;
  put32(move, 40);
  put32(move, 20);
  agent_writes(agent, agent_msg(STREAM_TYPE_CURSOR_MOVE, move));
  auto moved = cursor.wait_for(SPICE_MSG_CURSOR_MOVE);
  ASSERT_TRUE(moved.has_value());
  EXPECT_EQ(moved->body, (Bytes{40, 0, 20, 0}));  // Point16

  // The client leaves: START_STOP without codecs.
  display.close();
  ASSERT_TRUE(run_until([&] {
    auto s = start_stops(agent.guest_in);
    return s.size() >= 2 && s.back().empty();
  }));
  EXPECT_EQ(spice_server_remove_interface(&agent.sin.base), 0);
  EXPECT_TRUE(cursor.closed());
}

TEST_F(CompatStreamPort, MalformedAgentOutputClosesThePortUntilReopened) {
  FakeAgentPort agent;
  ASSERT_EQ(spice_server_add_interface(s_, &agent.sin.base), 0);
  spice_server_port_event(&agent.sin, SPICE_PORT_EVENT_OPENED);
  RawClient main;
  std::vector<Channel> listed;
  const uint32_t id = session(main, &listed);
  EXPECT_EQ(std::count(listed.begin(), listed.end(), Channel{SPICE_CHANNEL_DISPLAY, 1}), 1);
  RawClient display;
  ASSERT_TRUE(display.link(port_, SPICE_CHANNEL_DISPLAY, id, 1));
  Bytes init(14, 0);
  ASSERT_TRUE(display.send(SPICE_MSGC_DISPLAY_INIT, init));
  ASSERT_TRUE(run_until([&] { return !start_stops(agent.guest_in).empty(); }));
  agent_writes(agent, format_msg(16, 16, SPICE_VIDEO_CODEC_TYPE_MJPEG));
  ASSERT_TRUE(display.wait_for(SPICE_MSG_DISPLAY_STREAM_CREATE).has_value());

  // Each of these breaks the protocol; the server answers NOTIFY_ERROR, ends the stream,
  // closes the port (state 0), and drains what follows until the agent reopens it.
  const std::vector<Bytes> bad = {
      agent_msg(0x77, {}),                                       // unknown type
      agent_msg(STREAM_TYPE_START_STOP, {0}),                    // the server's message
      agent_msg(STREAM_TYPE_FORMAT, {1, 2, 3}),                  // wrong size
      format_msg(0, 10, SPICE_VIDEO_CODEC_TYPE_MJPEG),           // empty stream
      format_msg(10, 10, 42),                                    // unknown codec
      Bytes{2, 0, STREAM_TYPE_DATA, 0, 1, 0, 0, 0, 9},           // protocol version 2
      Bytes{1, 0, STREAM_TYPE_DATA, 0, 0, 0, 0, 0x40},           // a 1 GiB frame
  };
  for (size_t i = 0; i < bad.size(); ++i) {
    SCOPED_TRACE(i);
    agent.guest_in.clear();
    agent.states.clear();
    Bytes more = bad[i];
    more.insert(more.end(), 5000, 0xee);  // garbage after it is drained, not parsed
    agent_writes(agent, more);
    ASSERT_TRUE(run_until([&] { return agent.states == std::vector<int>{0}; }));
    const auto msgs = to_agent(agent.guest_in);
    ASSERT_EQ(msgs.size(), 1u);
    EXPECT_EQ(msgs[0].first, STREAM_TYPE_NOTIFY_ERROR);
    EXPECT_TRUE(agent.guest_out.empty());
    ASSERT_TRUE(display.wait_for(SPICE_MSG_DISPLAY_STREAM_DESTROY).has_value());
    // The agent restarts: the port opens again, the server asks for a stream, and a new one
    // reaches the client.
    agent.guest_in.clear();
    spice_server_port_event(&agent.sin, SPICE_PORT_EVENT_CLOSED);
    spice_server_port_event(&agent.sin, SPICE_PORT_EVENT_OPENED);
    EXPECT_EQ(start_stops(agent.guest_in), std::vector<Bytes>{Bytes{SPICE_VIDEO_CODEC_TYPE_MJPEG}});
    agent_writes(agent, format_msg(16, 16, SPICE_VIDEO_CODEC_TYPE_MJPEG));
    agent_writes(agent, agent_msg(STREAM_TYPE_DATA, {1, 2, 3}));
    ASSERT_TRUE(display.wait_for(SPICE_MSG_DISPLAY_STREAM_CREATE).has_value());
    auto data = display.wait_for(SPICE_MSG_DISPLAY_STREAM_DATA);
    ASSERT_TRUE(data.has_value());
    EXPECT_EQ(get32(data->body, 8), 3u);
  }
  // (The client stayed connected throughout: each round's frame reached it.)
  EXPECT_EQ(spice_server_remove_interface(&agent.sin.base), 0);
}

}  // namespace
