// The guest agent's wire logic (chunking, message filter, token window) and its path
// through a real Server's main channel: tokens both ways, chunk hand-off to a fake host,
// and clients that break the rules being closed (and only them).
#include "spiceflow/net/agent.hpp"

#include <gtest/gtest.h>
#include <spice/enums.h>
#include <spice/protocol.h>
#include <spice/vd_agent.h>

#include <condition_variable>
#include <mutex>
#include <thread>

#include "server_fixture.hpp"
#include "spiceflow/core/bytes.hpp"

namespace spiceflow::net {
namespace {

using agent::ChunkReader;
using agent::FilterConfig;
using agent::MessageFilter;
using Verdict = agent::MessageFilter::Verdict;

// A VDAgentMessage header + body (the body may be cut: `size` says the full length).
std::vector<uint8_t> message(uint32_t type, std::vector<uint8_t> body, int64_t size = -1) {
  std::vector<uint8_t> out;
  ByteWriter w(out);
  w.u32(VD_AGENT_PROTOCOL);
  w.u32(type);
  w.u64(0);
  w.u32(size < 0 ? uint32_t(body.size()) : uint32_t(size));
  w.bytes(body);
  return out;
}

std::vector<uint8_t> filled(size_t n, uint8_t seed = 0) {
  std::vector<uint8_t> v(n);
  for (size_t i = 0; i < n; ++i) v[i] = uint8_t(seed + i * 7);
  return v;
}

// Feeds `stream` through a ChunkReader `step` bytes at a time (never more than it asks).
std::vector<ChunkReader::Piece> read_all(ChunkReader& r, const std::vector<uint8_t>& stream,
                                         size_t step) {
  std::vector<ChunkReader::Piece> out;
  size_t pos = 0;
  while (pos < stream.size()) {
    auto dst = r.next();
    EXPECT_FALSE(dst.empty());
    const size_t n = std::min({dst.size(), step, stream.size() - pos});
    std::copy_n(stream.begin() + pos, n, dst.begin());
    pos += n;
    if (auto p = r.commit(n)) out.push_back(std::move(*p));
  }
  return out;
}

TEST(AgentChunkReader, SplitsLongChunksIntoMaxDataPieces) {
  const auto data = filled(5000);
  auto stream = agent::chunk(VDP_CLIENT_PORT, data);
  const auto second = agent::chunk(VDP_SERVER_PORT, filled(10, 3));
  stream.insert(stream.end(), second.begin(), second.end());
  for (size_t step : {size_t(1), size_t(3), size_t(4096)}) {
    ChunkReader r;
    auto pieces = read_all(r, stream, step);
    ASSERT_EQ(pieces.size(), 4u) << "step " << step;
    EXPECT_EQ(pieces[0].data.size(), 2048u);
    EXPECT_EQ(pieces[1].data.size(), 2048u);
    EXPECT_EQ(pieces[2].data.size(), 904u);
    std::vector<uint8_t> joined;
    for (int i = 0; i < 3; ++i) {
      EXPECT_EQ(pieces[i].port, uint32_t(VDP_CLIENT_PORT));
      joined.insert(joined.end(), pieces[i].data.begin(), pieces[i].data.end());
    }
    EXPECT_EQ(joined, data);
    EXPECT_EQ(pieces[3].port, uint32_t(VDP_SERVER_PORT));
    EXPECT_EQ(pieces[3].data, filled(10, 3));
  }
}

TEST(AgentChunkReader, NeverAsksBeyondTheCurrentHeaderOrPieceAndSkipsEmptyChunks) {
  ChunkReader r;
  EXPECT_EQ(r.next().size(), agent::kChunkHeaderSize);
  auto stream = agent::chunk(VDP_CLIENT_PORT, {});
  const auto one = agent::chunk(VDP_CLIENT_PORT, filled(3000));
  stream.insert(stream.end(), one.begin(), one.end());
  auto pieces = read_all(r, stream, 1 << 20);
  ASSERT_EQ(pieces.size(), 2u);
  EXPECT_EQ(pieces[1].data.size(), 3000u - 2048u);
  EXPECT_EQ(r.next().size(), agent::kChunkHeaderSize);  // back at a header
  // A partial header is forgotten on reset.
  r.next()[0] = 1;
  EXPECT_FALSE(r.commit(1).has_value());
  EXPECT_EQ(r.next().size(), agent::kChunkHeaderSize - 1);
  r.reset();
  EXPECT_EQ(r.next().size(), agent::kChunkHeaderSize);
}

TEST(AgentMessageFilter, FollowsMessagesAcrossPieces) {
  MessageFilter f;
  // A 3000-byte clipboard message in two pieces: header + 2028, then 972.
  const auto whole = message(VD_AGENT_CLIPBOARD, filled(3000));
  std::span<const uint8_t> all(whole);
  EXPECT_EQ(f.process(all.first(2048)), Verdict::forward);
  EXPECT_TRUE(f.started_message());
  EXPECT_EQ(f.message_type(), uint32_t(VD_AGENT_CLIPBOARD));
  EXPECT_EQ(f.remaining(), 972u);
  EXPECT_EQ(f.process(all.subspan(2048)), Verdict::forward);
  EXPECT_FALSE(f.started_message());
  EXPECT_EQ(f.remaining(), 0u);
  // A header-only message.
  EXPECT_EQ(f.process(message(VD_AGENT_CLIENT_DISCONNECTED, {})), Verdict::forward);
  EXPECT_TRUE(f.started_message());
}

TEST(AgentMessageFilter, DropsDisabledKindsWholeMessagesAtATime) {
  MessageFilter f(FilterConfig{.copy_paste = false, .file_xfer = false});
  const auto clip = message(VD_AGENT_CLIPBOARD_GRAB, filled(2500));
  std::span<const uint8_t> c(clip);
  EXPECT_EQ(f.process(c.first(2048)), Verdict::discard);
  EXPECT_EQ(f.process(c.subspan(2048)), Verdict::discard);  // the rest goes with it
  EXPECT_EQ(f.process(message(VD_AGENT_FILE_XFER_DATA, filled(10))), Verdict::discard);
  EXPECT_EQ(f.process(message(VD_AGENT_MONITORS_CONFIG, filled(36))), Verdict::forward);
  f.configure({});
  EXPECT_EQ(f.process(message(VD_AGENT_CLIPBOARD_GRAB, filled(4))), Verdict::forward);
  f.set_discard_all(true);
  EXPECT_EQ(f.process(message(VD_AGENT_MONITORS_CONFIG, filled(36))), Verdict::discard);
}

TEST(AgentMessageFilter, RejectsMalformedData) {
  {
    MessageFilter f;
    EXPECT_EQ(f.process(filled(2049)), Verdict::protocol_error);
    EXPECT_NE(f.error().find("2049"), std::string::npos);
  }
  {
    MessageFilter f;  // shorter than a header
    EXPECT_EQ(f.process(filled(19)), Verdict::protocol_error);
  }
  {
    MessageFilter f;  // another protocol
    auto m = message(VD_AGENT_CLIPBOARD, filled(4));
    m[0] = 2;
    EXPECT_EQ(f.process(m), Verdict::protocol_error);
  }
  {
    MessageFilter f;  // data beyond the announced size, in the first piece
    EXPECT_EQ(f.process(message(VD_AGENT_CLIPBOARD, filled(8), 4)), Verdict::protocol_error);
  }
  {
    MessageFilter f;  // ... and in a continuation
    EXPECT_EQ(f.process(message(VD_AGENT_CLIPBOARD, filled(8), 12)), Verdict::forward);
    EXPECT_EQ(f.process(filled(5)), Verdict::protocol_error);
    f.reset(false);
    EXPECT_EQ(f.remaining(), 0u);
    EXPECT_EQ(f.process(message(VD_AGENT_CLIPBOARD, filled(8))), Verdict::forward);
  }
}

TEST(AgentMessageFilter, CapabilitiesFollowTheServerConfiguration) {
  std::vector<uint8_t> body;
  ByteWriter w(body);
  w.u32(1);  // request
  w.u32((1u << VD_AGENT_CAP_CLIPBOARD) | (1u << VD_AGENT_CAP_CLIPBOARD_BY_DEMAND) |
        (1u << VD_AGENT_CAP_CLIPBOARD_SELECTION) | (1u << VD_AGENT_CAP_MONITORS_CONFIG));
  auto m = message(VD_AGENT_ANNOUNCE_CAPABILITIES, body);
  agent::adjust_capabilities(m, FilterConfig{});
  EXPECT_EQ(m, message(VD_AGENT_ANNOUNCE_CAPABILITIES, body));  // all on: untouched
  agent::adjust_capabilities(m, FilterConfig{.copy_paste = false, .file_xfer = false});
  ByteReader r(std::span<const uint8_t>(m).subspan(agent::kMessageHeaderSize + 4));
  EXPECT_EQ(r.u32(),
            (1u << VD_AGENT_CAP_MONITORS_CONFIG) | (1u << VD_AGENT_CAP_FILE_XFER_DISABLED));
  auto other = message(VD_AGENT_CLIPBOARD, body);
  const auto before = other;
  agent::adjust_capabilities(other, FilterConfig{.copy_paste = false});
  EXPECT_EQ(other, before);
}

TEST(AgentTokenWindow, GivesTokensBackInBatches) {
  agent::TokenWindow t;
  for (uint32_t i = 0; i < agent::kClientWindow; ++i) EXPECT_TRUE(t.take());
  EXPECT_FALSE(t.take());
  for (uint32_t i = 1; i < agent::kTokenBatch; ++i) EXPECT_EQ(t.release(), 0u);
  EXPECT_EQ(t.release(), agent::kTokenBatch);
  EXPECT_EQ(t.available(), agent::kTokenBatch);
  t.reset();
  EXPECT_EQ(t.available(), agent::kClientWindow);
}

TEST(AgentWire, ServerMessagesAndMouseState) {
  auto m = agent::server_message(VD_AGENT_MOUSE_STATE,
                                 agent::mouse_state(10, 20, agent::agent_buttons(6), 0));
  ByteReader r(m);
  EXPECT_EQ(r.u32(), uint32_t(VDP_SERVER_PORT));
  EXPECT_EQ(r.u32(), agent::kMessageHeaderSize + 13);
  EXPECT_EQ(r.u32(), uint32_t(VD_AGENT_PROTOCOL));
  EXPECT_EQ(r.u32(), uint32_t(VD_AGENT_MOUSE_STATE));
  EXPECT_EQ(r.u64(), 0u);
  EXPECT_EQ(r.u32(), 13u);
  EXPECT_EQ(r.u32(), 10u);
  EXPECT_EQ(r.u32(), 20u);
  EXPECT_EQ(r.u32(), uint32_t(VD_AGENT_MBUTTON_MASK | VD_AGENT_RBUTTON_MASK));
  EXPECT_EQ(r.u8(), 0);
  EXPECT_EQ(r.remaining(), 0u);
  EXPECT_EQ(agent::agent_buttons(SPICE_MOUSE_BUTTON_MASK_LEFT, true, false),
            uint32_t(VD_AGENT_LBUTTON_MASK | VD_AGENT_UBUTTON_MASK));
}

TEST(AgentWire, GraphicsDeviceInfoAndAnnouncedCapabilities) {
  const agent::DisplayDevice devices[] = {{0, 0, 0, "pci/0000/02.0"}, {1, 0, 3, "x"}};
  const auto body = agent::graphics_device_info(devices);
  ByteReader r(body);
  EXPECT_EQ(r.u32(), 2u);
  EXPECT_EQ(r.u32(), 0u);
  EXPECT_EQ(r.u32(), 0u);
  EXPECT_EQ(r.u32(), 0u);
  EXPECT_EQ(r.u32(), 14u);
  const auto addr = r.bytes(14);
  EXPECT_EQ(std::string(addr.begin(), addr.end()), std::string("pci/0000/02.0\0", 14));
  EXPECT_EQ(r.u32(), 1u);
  EXPECT_EQ(r.u32(), 0u);
  EXPECT_EQ(r.u32(), 3u);
  EXPECT_EQ(r.u32(), 2u);
  r.skip(2);
  EXPECT_TRUE(r.ok());
  EXPECT_EQ(r.remaining(), 0u);
  EXPECT_EQ(agent::graphics_device_info({}), std::vector<uint8_t>(4, 0));

  std::vector<uint8_t> caps;
  ByteWriter w(caps);
  w.u32(0);  // request
  w.u32(1u << VD_AGENT_CAP_GRAPHICS_DEVICE_INFO);
  auto m = message(VD_AGENT_ANNOUNCE_CAPABILITIES, caps);
  EXPECT_EQ(agent::announced_capability(m, VD_AGENT_CAP_GRAPHICS_DEVICE_INFO), true);
  EXPECT_EQ(agent::announced_capability(m, VD_AGENT_CAP_CLIPBOARD), false);
  EXPECT_EQ(agent::announced_capability(m, 40), false);  // beyond the words sent
  EXPECT_EQ(agent::announced_capability(message(VD_AGENT_CLIPBOARD, caps), 1), std::nullopt);
}

// ---- through a Server

using testing::Message;
using testing::TestClient;

// The host side: what AgentHooks deliver, on the loop thread, collected for the test.
struct FakeHost {
  std::mutex mu;
  std::condition_variable cv;
  std::vector<AgentChunk> chunks;
  int clients_gone = 0;
  int rooms = 0;

  AgentHooks hooks() {
    AgentHooks h;
    h.to_device = [this](AgentChunk c) {
      std::lock_guard l(mu);
      chunks.push_back(std::move(c));
      cv.notify_all();
    };
    h.clients_gone = [this] {
      std::lock_guard l(mu);
      ++clients_gone;
      cv.notify_all();
    };
    h.room = [this] {
      std::lock_guard l(mu);
      ++rooms;
      cv.notify_all();
    };
    return h;
  }
  template <class Pred>
  bool wait(Pred pred) {
    std::unique_lock l(mu);
    return cv.wait_for(l, std::chrono::seconds(5), pred);
  }
};

class AgentServerTest : public testing::LoopbackServerTest {
 protected:
  void SetUp() override {
    ServerOptions so;
    so.ticket.disabled = true;
    so.agent = host_.hooks();
    start_server(so, "office", {64, 64}, 5);
  }

  // Links a main channel (announcing AGENT_CONNECTED_TOKENS unless told otherwise);
  // returns MAIN_INIT's agent_connected and agent_tokens.
  std::pair<uint32_t, uint32_t> open(TestClient& c, bool connected_tokens = true) {
    EXPECT_TRUE(c.connect(port_));
    std::vector<uint32_t> caps;
    if (connected_tokens) caps.push_back(1u << SPICE_MAIN_CAP_AGENT_CONNECTED_TOKENS);
    EXPECT_EQ(c.link(SPICE_CHANNEL_MAIN, 0, "", caps), uint32_t(SPICE_LINK_ERR_OK));
    auto init = c.recv_until(SPICE_MSG_MAIN_INIT);
    EXPECT_TRUE(init.has_value());
    if (!init) return {~0u, ~0u};
    ByteReader r(init->body);
    r.u32();  // session id
    r.u32();  // display hint
    r.u32();  // supported mouse modes
    r.u32();  // current mouse mode
    const uint32_t connected = r.u32();
    const uint32_t tokens = r.u32();
    session_ = 0;
    ByteReader s(init->body);
    session_ = s.u32();
    return {connected, tokens};
  }
  // Attaches the agent and waits until `c` heard of it.
  void attach(TestClient& c) {
    server_->set_agent_attached(true);
    auto m = c.recv_until(SPICE_MSG_MAIN_AGENT_CONNECTED_TOKENS);
    ASSERT_TRUE(m.has_value());
    ByteReader r(m->body);
    EXPECT_EQ(r.u32(), agent::kClientWindow);
  }
  static std::vector<uint8_t> u32(uint32_t v) {
    std::vector<uint8_t> b;
    ByteWriter(b).u32(v);
    return b;
  }
  // True when the server closed `c` (a NOTIFY may come first).
  static bool closed(TestClient& c) {
    for (int i = 0; i < 50; ++i) {
      auto m = c.recv(std::chrono::milliseconds(200));
      if (!m) return true;
    }
    return false;
  }
  size_t chunks() {
    std::lock_guard l(host_.mu);
    return host_.chunks.size();
  }

  FakeHost host_;
  uint32_t session_ = 0;
};

TEST_P(AgentServerTest, InitAndConnectionMessagesFollowTheDevice) {
  TestClient a;
  EXPECT_EQ(open(a), std::make_pair(0u, agent::kClientWindow));
  TestClient old;  // a client without AGENT_CONNECTED_TOKENS gets AGENT_CONNECTED
  open(old, false);
  attach(a);
  EXPECT_TRUE(old.recv_until(SPICE_MSG_MAIN_AGENT_CONNECTED).has_value());
  TestClient later;
  EXPECT_EQ(open(later), std::make_pair(1u, agent::kClientWindow));
  server_->set_agent_attached(false);
  for (TestClient* c : {&a, &old, &later}) {
    auto m = c->recv_until(SPICE_MSG_MAIN_AGENT_DISCONNECTED);
    ASSERT_TRUE(m.has_value());
    ByteReader r(m->body);
    EXPECT_EQ(r.u32(), uint32_t(SPICE_LINK_ERR_OK));
  }
}

TEST_P(AgentServerTest, ClientDataWithinTokensReachesTheHostAndTokensComeBack) {
  TestClient c;
  open(c);
  // Before the agent and before AGENT_START data is dropped without using tokens.
  ASSERT_TRUE(c.send(SPICE_MSGC_MAIN_AGENT_DATA, message(VD_AGENT_CLIPBOARD, filled(4))));
  attach(c);
  ASSERT_TRUE(c.send(SPICE_MSGC_MAIN_AGENT_DATA, message(VD_AGENT_CLIPBOARD, filled(4))));
  ASSERT_TRUE(c.send(SPICE_MSGC_MAIN_AGENT_START, u32(~0u)));
  // A 2000 + 18000-byte message in 10 pieces: exactly the window.
  const auto whole = message(VD_AGENT_CLIPBOARD, filled(20000, 5));
  std::vector<std::vector<uint8_t>> sent;
  for (size_t off = 0; off < whole.size(); off += agent::kMaxData) {
    sent.emplace_back(whole.begin() + off,
                      whole.begin() + std::min(whole.size(), off + agent::kMaxData));
    ASSERT_TRUE(c.send(SPICE_MSGC_MAIN_AGENT_DATA, sent.back()));
  }
  ASSERT_EQ(sent.size(), agent::kClientWindow);
  ASSERT_TRUE(host_.wait([&] { return host_.chunks.size() == sent.size(); }));
  uint64_t generation = 0;
  {
    std::lock_guard l(host_.mu);
    for (size_t i = 0; i < sent.size(); ++i) {
      EXPECT_EQ(host_.chunks[i].data, sent[i]);
      EXPECT_EQ(host_.chunks[i].session, session_);
    }
    generation = host_.chunks[0].generation;
  }
  // Written: tokens come back five at a time.
  for (int i = 0; i < 4; ++i) server_->agent_consumed(session_, generation);
  server_->agent_consumed(session_, generation + 7);  // another agent's: no token
  server_->agent_consumed(session_, generation);
  auto t = c.recv_until(SPICE_MSG_MAIN_AGENT_TOKEN);
  ASSERT_TRUE(t.has_value());
  ByteReader r(t->body);
  EXPECT_EQ(r.u32(), agent::kTokenBatch);
  // Those five may be spent.
  for (uint32_t i = 0; i < agent::kTokenBatch; ++i) {
    ASSERT_TRUE(c.send(SPICE_MSGC_MAIN_AGENT_DATA, message(VD_AGENT_CLIPBOARD_RELEASE, {})));
  }
  ASSERT_TRUE(host_.wait([&] { return host_.chunks.size() == sent.size() + 5; }));
}

TEST_P(AgentServerTest, DataBeyondTheTokensClosesOnlyThatClient) {
  TestClient c;
  open(c);
  attach(c);
  ASSERT_TRUE(c.send(SPICE_MSGC_MAIN_AGENT_START, u32(~0u)));
  for (uint32_t i = 0; i <= agent::kClientWindow; ++i) {
    ASSERT_TRUE(c.send(SPICE_MSGC_MAIN_AGENT_DATA, message(VD_AGENT_CLIPBOARD_RELEASE, {})));
  }
  auto notify = c.recv_until(SPICE_MSG_NOTIFY);
  ASSERT_TRUE(notify.has_value());
  const std::string text(notify->body.begin() + 24, notify->body.end());
  EXPECT_NE(text.find("token"), std::string::npos) << text;
  EXPECT_TRUE(closed(c));
  EXPECT_EQ(chunks(), agent::kClientWindow);
  TestClient next;  // the server goes on
  EXPECT_EQ(open(next), std::make_pair(1u, agent::kClientWindow));
}

TEST_P(AgentServerTest, MalformedAgentDataClosesTheClient) {
  TestClient first;
  open(first);
  attach(first);
  // Too long for one AGENT_DATA; too short for a message header.
  for (auto bad : {filled(agent::kMaxData + 1), filled(7)}) {
    TestClient c;
    EXPECT_EQ(open(c), std::make_pair(1u, agent::kClientWindow));
    ASSERT_TRUE(c.send(SPICE_MSGC_MAIN_AGENT_START, u32(~0u)));
    ASSERT_TRUE(c.send(SPICE_MSGC_MAIN_AGENT_DATA, bad));
    auto notify = c.recv_until(SPICE_MSG_NOTIFY);
    ASSERT_TRUE(notify.has_value());
    EXPECT_TRUE(closed(c));
  }
  EXPECT_EQ(chunks(), 0u);
  // The first client is unaffected.
  ASSERT_TRUE(first.send(SPICE_MSGC_MAIN_ATTACH_CHANNELS, {}));
  EXPECT_TRUE(first.recv_until(SPICE_MSG_MAIN_CHANNELS_LIST).has_value());
}

TEST_P(AgentServerTest, AgentOutputFollowsTheClientsSendTokens) {
  TestClient c;
  open(c);
  attach(c);
  // Output before AGENT_START goes nowhere (and frees its slot). A round trip on the
  // channel after each step makes sure the loop has handled it.
  EXPECT_TRUE(server_->agent_send(message(VD_AGENT_CLIPBOARD, filled(4)), true));
  ASSERT_TRUE(c.send(SPICE_MSGC_MAIN_ATTACH_CHANNELS, {}));
  ASSERT_TRUE(c.recv_until(SPICE_MSG_MAIN_CHANNELS_LIST).has_value());
  EXPECT_TRUE(server_->agent_has_room());
  ASSERT_TRUE(c.send(SPICE_MSGC_MAIN_AGENT_START, u32(2)));
  ASSERT_TRUE(c.send(SPICE_MSGC_MAIN_ATTACH_CHANNELS, {}));
  ASSERT_TRUE(c.recv_until(SPICE_MSG_MAIN_CHANNELS_LIST).has_value());
  // A continuation first: the client only gets output from a message start on.
  server_->agent_send(filled(10), false);
  std::vector<std::vector<uint8_t>> pieces;
  for (int i = 0; i < 4; ++i) {
    pieces.push_back(message(VD_AGENT_CLIPBOARD, filled(100, uint8_t(i))));
    server_->agent_send(pieces.back(), true);
  }
  for (int i = 0; i < 2; ++i) {
    auto m = c.recv_until(SPICE_MSG_MAIN_AGENT_DATA);
    ASSERT_TRUE(m.has_value());
    EXPECT_EQ(m->body, pieces[size_t(i)]);
  }
  // Two tokens spent: nothing more until the client gives some.
  auto none = c.recv_until(SPICE_MSG_MAIN_AGENT_DATA, std::chrono::milliseconds(300));
  EXPECT_FALSE(none.has_value());
  ASSERT_TRUE(c.send(SPICE_MSGC_MAIN_AGENT_TOKEN, u32(5)));
  for (int i = 2; i < 4; ++i) {
    auto m = c.recv_until(SPICE_MSG_MAIN_AGENT_DATA);
    ASSERT_TRUE(m.has_value());
    EXPECT_EQ(m->body, pieces[size_t(i)]);
  }
}

TEST_P(AgentServerTest, InFlightOutputIsBoundedAndRoomIsReported) {
  auto owned = std::make_unique<TestClient>();
  TestClient& c = *owned;
  open(c);
  attach(c);
  ASSERT_TRUE(c.send(SPICE_MSGC_MAIN_AGENT_START, u32(0)));  // no send tokens at all
  ASSERT_TRUE(c.send(SPICE_MSGC_MAIN_ATTACH_CHANNELS, {}));
  ASSERT_TRUE(c.recv_until(SPICE_MSG_MAIN_CHANNELS_LIST).has_value());
  bool room = true;
  size_t n = 0;
  while (room && n < 100) {
    room = server_->agent_send(message(VD_AGENT_CLIPBOARD, filled(16)), true);
    ++n;
  }
  EXPECT_EQ(n, Server::kAgentInFlight);
  EXPECT_FALSE(server_->agent_has_room());
  ASSERT_TRUE(c.send(SPICE_MSGC_MAIN_AGENT_TOKEN, u32(1)));
  ASSERT_TRUE(host_.wait([&] { return host_.rooms == 1; }));
  EXPECT_TRUE(server_->agent_has_room());
  EXPECT_TRUE(c.recv_until(SPICE_MSG_MAIN_AGENT_DATA).has_value());
  // The session ends: its queue is released and the agent is told no client is left.
  owned.reset();
  ASSERT_TRUE(host_.wait([&] { return host_.clients_gone == 1; }));
}

INSTANTIATE_TEST_SUITE_P(Backends, AgentServerTest,
                         ::testing::Values(IoBackend::epoll, IoBackend::uring),
                         [](const auto& info) { return std::string(to_string(info.param)); });

}  // namespace
}  // namespace spiceflow::net
