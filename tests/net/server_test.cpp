// In-process server tests: the link stage, the main channel handshake and the display
// channel's ACK window, against a real Server + Engine on a loopback port, once per I/O
// backend (io_uring is skipped where the kernel or sandbox refuses it).
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <spice/enums.h>
#include <spice/protocol.h>

#include "server_fixture.hpp"
#include "spiceflow/core/bytes.hpp"

namespace spiceflow::net {
namespace {

using testing::Message;
using testing::TestClient;

class ServerTest : public testing::LoopbackServerTest {
 protected:
  void start(const std::string& password = {}, const std::string& synthetic = "game") {
    ServerOptions so;
    so.ticket.disabled = password.empty();
    so.ticket.password = password;
    start_server(so, synthetic, {320, 240}, 60);
  }
};

TEST_P(ServerTest, MainChannelSendsInitAndChannelsList) {
  start();
  TestClient main;
  const uint32_t session = open_session(main);
  EXPECT_NE(session, 0u);
  ASSERT_TRUE(main.send(SPICE_MSGC_MAIN_ATTACH_CHANNELS, {}));
  auto list = main.recv_until(SPICE_MSG_MAIN_CHANNELS_LIST);
  ASSERT_TRUE(list.has_value());
  ByteReader r(list->body);
  ASSERT_EQ(r.u32(), 3u);
  std::vector<uint8_t> types;
  for (int i = 0; i < 3; ++i) {
    types.push_back(r.u8());
    EXPECT_EQ(r.u8(), 0);
  }
  EXPECT_EQ(types, (std::vector<uint8_t>{SPICE_CHANNEL_DISPLAY, SPICE_CHANNEL_INPUTS,
                                         SPICE_CHANNEL_CURSOR}));
}

TEST_P(ServerTest, DisplayStopsAtAckWindowAndResumesOnAck) {
  start();
  TestClient main;
  const uint32_t session = open_session(main);
  TestClient display;
  ASSERT_TRUE(display.connect(port_));
  ASSERT_EQ(display.link(SPICE_CHANNEL_DISPLAY, session, ""), uint32_t(SPICE_LINK_ERR_OK));
  auto set_ack = display.recv();
  ASSERT_TRUE(set_ack.has_value());
  ASSERT_EQ(set_ack->type, SPICE_MSG_SET_ACK);
  ByteReader r(set_ack->body);
  const uint32_t generation = r.u32();
  const uint32_t window = r.u32();
  ASSERT_GT(window, 0u);
  std::vector<uint8_t> init;
  ByteWriter w(init);
  w.u8(1);
  w.u64(0);
  w.u8(1);
  w.u32(0);
  ASSERT_TRUE(display.send(SPICE_MSGC_DISPLAY_INIT, init));
  // Without any ACK the server may send at most 2 * window + 1 messages. The "game"
  // desktop changes every tile every frame, so it would send far more if allowed.
  uint32_t received = 0;
  bool saw_surface = false;
  while (auto m = display.recv(std::chrono::milliseconds(1500))) {
    ++received;
    saw_surface |= m->type == SPICE_MSG_DISPLAY_SURFACE_CREATE;
  }
  EXPECT_TRUE(saw_surface);
  EXPECT_LE(received, 2 * window + 1);
  EXPECT_GE(received, 2 * window);
  // Acknowledge: the flow resumes.
  std::vector<uint8_t> sync;
  ByteWriter ws(sync);
  ws.u32(generation);
  ASSERT_TRUE(display.send(SPICE_MSGC_ACK_SYNC, sync));
  ASSERT_TRUE(display.send(SPICE_MSGC_ACK, {}));
  ASSERT_TRUE(display.send(SPICE_MSGC_ACK, {}));
  uint32_t more = 0;
  while (auto m = display.recv(std::chrono::milliseconds(1000))) ++more;
  EXPECT_GE(more, window);
  EXPECT_LE(more, 2 * window + 1);
}

TEST_P(ServerTest, PasswordIsChecked) {
  start("s3cret");
  TestClient bad;
  ASSERT_TRUE(bad.connect(port_));
  EXPECT_EQ(bad.link(SPICE_CHANNEL_MAIN, 0, "wrong"), uint32_t(SPICE_LINK_ERR_PERMISSION_DENIED));
  TestClient good;
  ASSERT_TRUE(good.connect(port_));
  EXPECT_EQ(good.link(SPICE_CHANNEL_MAIN, 0, "s3cret"), uint32_t(SPICE_LINK_ERR_OK));
  EXPECT_TRUE(good.recv_until(SPICE_MSG_MAIN_INIT).has_value());
}

TEST_P(ServerTest, UnknownSessionAndChannelAreRefused) {
  start();
  TestClient display;
  ASSERT_TRUE(display.connect(port_));
  EXPECT_EQ(display.link(SPICE_CHANNEL_DISPLAY, 12345, ""),
            uint32_t(SPICE_LINK_ERR_BAD_CONNECTION_ID));
  TestClient smartcard;
  ASSERT_TRUE(smartcard.connect(port_));
  EXPECT_EQ(smartcard.link(SPICE_CHANNEL_SMARTCARD, 0, ""),
            uint32_t(SPICE_LINK_ERR_CHANNEL_NOT_AVAILABLE));
}

TEST_P(ServerTest, OversizedMessageClosesOnlyThatClient) {
  start();
  TestClient main;
  open_session(main);
  std::vector<uint8_t> hdr;
  ByteWriter w(hdr);
  w.u16(SPICE_MSGC_MAIN_ATTACH_CHANNELS);
  w.u32(0x7fffffff);
  ASSERT_TRUE(main.write_all(hdr));
  // The server NOTIFYs and closes; reading ends in EOF.
  bool closed = false;
  for (int i = 0; i < 100 && !closed; ++i) closed = !main.recv(std::chrono::seconds(3));
  EXPECT_TRUE(closed);
  TestClient other;
  const uint32_t session = open_session(other);
  EXPECT_NE(session, 0u);
}

INSTANTIATE_TEST_SUITE_P(Backends, ServerTest,
                         ::testing::Values(IoBackend::epoll, IoBackend::uring),
                         [](const auto& info) { return std::string(to_string(info.param)); });

}  // namespace
}  // namespace spiceflow::net
