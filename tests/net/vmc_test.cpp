// spicevmc channels (SPICE_CHANNEL_PORT) through a real Server with a fake host behind its
// VmcHooks: registration and CHANNELS_LIST, PORT_INIT, data and events both ways, one client
// per channel, the client's socket paused while the host is Server::kVmcWrites behind.
#include <gtest/gtest.h>
#include <spice/enums.h>
#include <spice/protocol.h>

#include <condition_variable>
#include <mutex>

#include "server_fixture.hpp"
#include "spiceflow/core/bytes.hpp"
#include "test_client.hpp"

namespace spiceflow::net {
namespace {

using testing::Message;
using testing::TestClient;

struct FakeHost {
  std::mutex mu;
  std::condition_variable cv;
  std::vector<uint64_t> connections;  // VmcHooks::client, in order
  std::vector<VmcChunk> chunks;
  std::vector<uint8_t> events;
  size_t sent = 0;

  VmcHooks hooks() {
    VmcHooks h;
    h.client = [this](uint8_t, uint8_t, uint64_t c) { note([&] { connections.push_back(c); }); };
    h.to_device = [this](VmcChunk c) { note([&] { chunks.push_back(std::move(c)); }); };
    h.event = [this](uint8_t, uint8_t, uint8_t e) { note([&] { events.push_back(e); }); };
    h.sent = [this](uint8_t, uint8_t, size_t n) { note([&] { sent += n; }); };
    return h;
  }
  template <class F>
  void note(F f) {
    std::lock_guard l(mu);
    f();
    cv.notify_all();
  }
  template <class Pred>
  bool wait(Pred pred, int ms = 5000) {
    std::unique_lock l(mu);
    return cv.wait_for(l, std::chrono::milliseconds(ms), pred);
  }
};

class VmcServerTest : public testing::LoopbackServerTest {
 protected:
  void SetUp() override {
    ServerOptions so;
    so.ticket.disabled = true;
    so.vmc = host_.hooks();
    start_server(so, "office", {64, 64}, 5);
  }

  // The channels CHANNELS_LIST names.
  static std::vector<std::pair<uint8_t, uint8_t>> list(const Message& m) {
    ByteReader r(m.body);
    std::vector<std::pair<uint8_t, uint8_t>> out(r.u32());
    for (auto& c : out) {
      c.first = r.u8();
      c.second = r.u8();
    }
    return out;
  }
  std::vector<std::pair<uint8_t, uint8_t>> attach_channels(TestClient& main) {
    EXPECT_TRUE(main.send(SPICE_MSGC_MAIN_ATTACH_CHANNELS, {}));
    auto m = main.recv_until(SPICE_MSG_MAIN_CHANNELS_LIST);
    EXPECT_TRUE(m.has_value());
    return m ? list(*m) : decltype(list(*m)){};
  }
  // True when the server closed `c` (a DISCONNECTING or NOTIFY may come first).
  static bool closed(TestClient& c) {
    for (int i = 0; i < 50; ++i) {
      if (!c.recv(std::chrono::milliseconds(200))) return true;
    }
    return false;
  }

  FakeHost host_;
};

constexpr std::pair<uint8_t, uint8_t> kPort0{SPICE_CHANNEL_PORT, 0};

TEST_P(VmcServerTest, RegisteredPortsAreListedAndLinked) {
  TestClient main;
  const uint32_t session = open_session(main);
  TestClient early;  // not registered yet: refused
  ASSERT_TRUE(early.connect(port_));
  EXPECT_EQ(early.link(SPICE_CHANNEL_PORT, session, ""),
            uint32_t(SPICE_LINK_ERR_CHANNEL_NOT_AVAILABLE));
  auto before = attach_channels(main);
  EXPECT_EQ(std::count(before.begin(), before.end(), kPort0), 0);

  server_->add_vmc_channel(SPICE_CHANNEL_PORT, 0, "org.test.port", true);
  // A session that has its list hears of the new channel in one more CHANNELS_LIST.
  auto added = main.recv_until(SPICE_MSG_MAIN_CHANNELS_LIST);
  ASSERT_TRUE(added.has_value());
  EXPECT_EQ(list(*added), (std::vector<std::pair<uint8_t, uint8_t>>{kPort0}));
  auto after = attach_channels(main);
  EXPECT_EQ(std::count(after.begin(), after.end(), kPort0), 1);

  TestClient port;
  ASSERT_TRUE(port.connect(port_));
  ASSERT_EQ(port.link(SPICE_CHANNEL_PORT, session, ""), uint32_t(SPICE_LINK_ERR_OK));
  auto init = port.recv_until(SPICE_MSG_PORT_INIT);
  ASSERT_TRUE(init.has_value());
  std::vector<uint8_t> expected;
  ByteWriter w(expected);
  w.u32(14);  // "org.test.port" + NUL
  w.u32(9);   // where the name starts
  w.u8(1);    // opened
  w.bytes(std::string_view("org.test.port").data(), 13);
  w.u8(0);
  EXPECT_EQ(init->body, expected);
  ASSERT_TRUE(host_.wait([&] { return host_.connections.size() == 1; }));
  EXPECT_NE(host_.connections[0], 0u);

  // One client per channel: a second link is closed, the first keeps it.
  TestClient second;
  ASSERT_TRUE(second.connect(port_));
  ASSERT_EQ(second.link(SPICE_CHANNEL_PORT, session, ""), uint32_t(SPICE_LINK_ERR_OK));
  EXPECT_TRUE(closed(second));
  EXPECT_EQ(host_.connections.size(), 1u);

  // The host removes it: the client is disconnected and the host told.
  server_->remove_vmc_channel(SPICE_CHANNEL_PORT, 0);
  EXPECT_TRUE(closed(port));
}

TEST_P(VmcServerTest, DataAndEventsFlowBothWays) {
  server_->add_vmc_channel(SPICE_CHANNEL_PORT, 0, "p", false);
  TestClient main;
  const uint32_t session = open_session(main);
  TestClient port;
  ASSERT_TRUE(port.connect(port_));
  ASSERT_EQ(port.link(SPICE_CHANNEL_PORT, session, ""), uint32_t(SPICE_LINK_ERR_OK));
  auto init = port.recv_until(SPICE_MSG_PORT_INIT);
  ASSERT_TRUE(init.has_value());
  EXPECT_EQ(init->body[8], 0);  // not opened yet
  ASSERT_TRUE(host_.wait([&] { return host_.connections.size() == 1; }));
  const uint64_t connection = host_.connections[0];

  // Host -> client.
  server_->vmc_port_event(SPICE_CHANNEL_PORT, 0, SPICE_PORT_EVENT_OPENED);
  auto ev = port.recv_until(SPICE_MSG_PORT_EVENT);
  ASSERT_TRUE(ev.has_value());
  EXPECT_EQ(ev->body, std::vector<uint8_t>{SPICE_PORT_EVENT_OPENED});
  std::vector<uint8_t> big(100000);
  for (size_t i = 0; i < big.size(); ++i) big[i] = uint8_t(i * 31);
  server_->vmc_send(SPICE_CHANNEL_PORT, 0, big);
  auto data = port.recv_until(SPICE_MSG_SPICEVMC_DATA);
  ASSERT_TRUE(data.has_value());
  EXPECT_EQ(data->body, big);
  ASSERT_TRUE(host_.wait([&] { return host_.sent == big.size(); }));

  // Client -> host.
  ASSERT_TRUE(port.send(SPICE_MSGC_SPICEVMC_DATA, {1, 2, 3}));
  ASSERT_TRUE(port.send(SPICE_MSGC_PORT_EVENT, {SPICE_PORT_EVENT_BREAK}));
  ASSERT_TRUE(host_.wait([&] { return host_.chunks.size() == 1 && host_.events.size() == 1; }));
  EXPECT_EQ(host_.chunks[0].data, (std::vector<uint8_t>{1, 2, 3}));
  EXPECT_EQ(host_.chunks[0].connection, connection);
  EXPECT_EQ(host_.chunks[0].type, SPICE_CHANNEL_PORT);
  EXPECT_EQ(host_.events[0], uint8_t(SPICE_PORT_EVENT_BREAK));

  // A malformed PORT_EVENT closes the client; the host hears it left.
  ASSERT_TRUE(port.send(SPICE_MSGC_PORT_EVENT, {1, 2}));
  EXPECT_TRUE(closed(port));
  ASSERT_TRUE(host_.wait([&] { return host_.connections.size() == 2; }));
  EXPECT_EQ(host_.connections[1], 0u);
  // A new client gets the channel, open now.
  TestClient again;
  ASSERT_TRUE(again.connect(port_));
  ASSERT_EQ(again.link(SPICE_CHANNEL_PORT, session, ""), uint32_t(SPICE_LINK_ERR_OK));
  auto init2 = again.recv_until(SPICE_MSG_PORT_INIT);
  ASSERT_TRUE(init2.has_value());
  EXPECT_EQ(init2->body[8], 1);
}

TEST_P(VmcServerTest, ReadingStopsWhileTheHostIsBehind) {
  server_->add_vmc_channel(SPICE_CHANNEL_PORT, 0, "p", true);
  TestClient main;
  const uint32_t session = open_session(main);
  TestClient port;
  ASSERT_TRUE(port.connect(port_));
  ASSERT_EQ(port.link(SPICE_CHANNEL_PORT, session, ""), uint32_t(SPICE_LINK_ERR_OK));
  for (uint32_t i = 0; i < Server::kVmcWrites + 5; ++i) {
    ASSERT_TRUE(port.send(SPICE_MSGC_SPICEVMC_DATA, {uint8_t(i)}));
  }
  ASSERT_TRUE(host_.wait([&] { return host_.chunks.size() == Server::kVmcWrites; }));
  // Nothing more reaches the host until it has written some.
  EXPECT_FALSE(host_.wait([&] { return host_.chunks.size() > Server::kVmcWrites; }, 300));
  uint64_t connection = 0;
  {
    std::lock_guard l(host_.mu);
    connection = host_.chunks[0].connection;
  }
  server_->vmc_consumed(SPICE_CHANNEL_PORT, 0, connection + 1);  // another connection's: no
  EXPECT_FALSE(host_.wait([&] { return host_.chunks.size() > Server::kVmcWrites; }, 300));
  server_->vmc_consumed(SPICE_CHANNEL_PORT, 0, connection);
  ASSERT_TRUE(host_.wait([&] { return host_.chunks.size() == Server::kVmcWrites + 1; }));
  for (int i = 0; i < 10; ++i) server_->vmc_consumed(SPICE_CHANNEL_PORT, 0, connection);
  ASSERT_TRUE(host_.wait([&] { return host_.chunks.size() == Server::kVmcWrites + 5; }));
  std::lock_guard l(host_.mu);
  for (size_t i = 0; i < host_.chunks.size(); ++i) {
    EXPECT_EQ(host_.chunks[i].data, std::vector<uint8_t>{uint8_t(i)});  // in order, none lost
  }
}

INSTANTIATE_TEST_SUITE_P(Backends, VmcServerTest,
                         ::testing::Values(IoBackend::epoll, IoBackend::uring),
                         [](const auto& info) { return std::string(to_string(info.param)); });

}  // namespace
}  // namespace spiceflow::net
