// spiceflow-meter's display wire watcher (stream codec and stream frames from the bytes a
// relay sees) and the relay itself.
#include <gtest/gtest.h>
#include <spice/enums.h>
#include <spice/protocol.h>
#include <sys/socket.h>
#include <unistd.h>

#include <chrono>
#include <thread>

#include "relay.hpp"
#include "wire.hpp"

namespace spiceflow::meter {
namespace {

void put_u8(std::vector<uint8_t>& v, uint8_t x) { v.push_back(x); }
void put_u16(std::vector<uint8_t>& v, uint16_t x) {
  v.push_back(uint8_t(x));
  v.push_back(uint8_t(x >> 8));
}
void put_u32(std::vector<uint8_t>& v, uint32_t x) {
  for (int i = 0; i < 4; ++i) v.push_back(uint8_t(x >> (8 * i)));
}
void put_u64(std::vector<uint8_t>& v, uint64_t x) {
  for (int i = 0; i < 8; ++i) v.push_back(uint8_t(x >> (8 * i)));
}

void link_header(std::vector<uint8_t>& v, uint32_t size) {
  put_u32(v, 0x51444552);  // REDQ
  put_u32(v, SPICE_VERSION_MAJOR);
  put_u32(v, SPICE_VERSION_MINOR);
  put_u32(v, size);
}

uint32_t common_caps(bool mini) {
  return (1u << SPICE_COMMON_CAP_PROTOCOL_AUTH_SELECTION) | (1u << SPICE_COMMON_CAP_AUTH_SPICE) |
         (mini ? 1u << SPICE_COMMON_CAP_MINI_HEADER : 0);
}

// SpiceLinkHeader + SpiceLinkMess (display channel 0) + one common and one channel cap word.
std::vector<uint8_t> client_link(bool mini) {
  std::vector<uint8_t> v;
  link_header(v, 18 + 8);
  put_u32(v, 0);  // connection id
  put_u8(v, SPICE_CHANNEL_DISPLAY);
  put_u8(v, 0);
  put_u32(v, 1);   // common caps
  put_u32(v, 1);   // channel caps
  put_u32(v, 18);  // caps offset
  put_u32(v, common_caps(mini));
  put_u32(v, 0xffff);
  // What follows (auth mechanism, ticket) is not looked at.
  put_u32(v, SPICE_COMMON_CAP_AUTH_SPICE);
  v.insert(v.end(), 128, 0xee);
  return v;
}

// SpiceLinkHeader + SpiceLinkReply with caps, then the link result.
std::vector<uint8_t> server_link(bool mini, uint32_t error = SPICE_LINK_ERR_OK,
                                 uint32_t result = SPICE_LINK_ERR_OK) {
  std::vector<uint8_t> v;
  const uint32_t body = 4 + SPICE_TICKET_PUBKEY_BYTES + 12 + 8;
  link_header(v, body);
  put_u32(v, error);
  v.insert(v.end(), SPICE_TICKET_PUBKEY_BYTES, 0x30);
  put_u32(v, 1);
  put_u32(v, 1);
  put_u32(v, 4 + SPICE_TICKET_PUBKEY_BYTES + 12);
  put_u32(v, common_caps(mini));
  put_u32(v, 0);
  put_u32(v, result);
  return v;
}

void message(std::vector<uint8_t>& v, bool mini, uint16_t type,
             const std::vector<uint8_t>& body, uint64_t serial = 1) {
  if (!mini) put_u64(v, serial);
  put_u16(v, type);
  put_u32(v, uint32_t(body.size()));
  if (!mini) put_u32(v, 0);
  v.insert(v.end(), body.begin(), body.end());
}

std::vector<uint8_t> stream_create(uint8_t codec) {
  std::vector<uint8_t> b;
  put_u32(b, 0);   // surface
  put_u32(b, 3);   // stream id
  put_u8(b, 0);    // flags
  put_u8(b, codec);
  put_u64(b, 0);   // stamp
  for (int i = 0; i < 4; ++i) put_u32(b, 640);
  for (int i = 0; i < 4; ++i) put_u32(b, 10);  // dest rect
  put_u8(b, SPICE_CLIP_TYPE_NONE);
  return b;
}

// A display session: link, SET_ACK-like filler, a stream with three frames, a destroy.
std::vector<uint8_t> server_session(bool mini, uint8_t codec) {
  std::vector<uint8_t> v = server_link(mini);
  message(v, mini, SPICE_MSG_SET_ACK, std::vector<uint8_t>(8, 1));
  message(v, mini, SPICE_MSG_DISPLAY_MARK, {});
  message(v, mini, SPICE_MSG_DISPLAY_STREAM_CREATE, stream_create(codec));
  for (int i = 0; i < 3; ++i) {
    message(v, mini, SPICE_MSG_DISPLAY_STREAM_DATA, std::vector<uint8_t>(5000 + i, 0x5a));
  }
  message(v, mini, SPICE_MSG_DISPLAY_STREAM_DATA_SIZED, std::vector<uint8_t>(300, 1));
  message(v, mini, SPICE_MSG_DISPLAY_STREAM_CREATE, stream_create(SPICE_VIDEO_CODEC_TYPE_VP8));
  message(v, mini, SPICE_MSG_DISPLAY_STREAM_DESTROY, std::vector<uint8_t>(4, 0));
  return v;
}

void expect_session_seen(const DisplayWireWatcher& w, int codec) {
  EXPECT_EQ(w.failure(), "");
  EXPECT_TRUE(w.linked());
  ASSERT_TRUE(w.first_codec());
  EXPECT_EQ(*w.first_codec(), codec);
  EXPECT_EQ(w.streams().created, 2u);
  EXPECT_EQ(w.streams().frames, 4u);
  EXPECT_EQ(w.streams().destroyed, 1u);
  EXPECT_EQ(w.messages(), 9u);
}

TEST(DisplayWireWatcher, MiniHeaderInOneChunk) {
  DisplayWireWatcher w;
  w.client_bytes(client_link(true));
  w.server_bytes(server_session(true, SPICE_VIDEO_CODEC_TYPE_MJPEG));
  expect_session_seen(w, SPICE_VIDEO_CODEC_TYPE_MJPEG);
}

TEST(DisplayWireWatcher, FullHeaderWhenEitherSideLacksMiniHeader) {
  for (bool client_mini : {false, true}) {
    DisplayWireWatcher w;
    w.client_bytes(client_link(client_mini));
    std::vector<uint8_t> s = server_link(!client_mini);
    const auto rest = server_session(false, SPICE_VIDEO_CODEC_TYPE_H264);
    s.insert(s.end(), rest.begin() + ptrdiff_t(server_link(false).size()), rest.end());
    w.server_bytes(s);
    expect_session_seen(w, SPICE_VIDEO_CODEC_TYPE_H264);
  }
}

TEST(DisplayWireWatcher, ByteByByte) {
  DisplayWireWatcher w;
  for (uint8_t b : client_link(true)) w.client_bytes({&b, 1});
  for (uint8_t b : server_session(true, SPICE_VIDEO_CODEC_TYPE_VP9)) w.server_bytes({&b, 1});
  expect_session_seen(w, SPICE_VIDEO_CODEC_TYPE_VP9);
}

TEST(DisplayWireWatcher, NoStreamNoCodec) {
  DisplayWireWatcher w;
  w.client_bytes(client_link(true));
  auto s = server_link(true);
  message(s, true, SPICE_MSG_DISPLAY_MARK, {});
  w.server_bytes(s);
  EXPECT_TRUE(w.linked());
  EXPECT_FALSE(w.first_codec());
  EXPECT_EQ(w.streams().created, 0u);
  EXPECT_EQ(w.messages(), 1u);
}

TEST(DisplayWireWatcher, StopsOnWhatItCannotFollow) {
  {
    DisplayWireWatcher w;
    auto c = client_link(true);
    c[0] ^= 0xff;  // bad magic
    w.client_bytes(c);
    w.server_bytes(server_session(true, 1));
    EXPECT_NE(w.failure(), "");
    EXPECT_FALSE(w.first_codec());
  }
  {
    DisplayWireWatcher w;
    w.client_bytes(client_link(true));
    w.server_bytes(server_link(true, SPICE_LINK_ERR_PERMISSION_DENIED));
    EXPECT_NE(w.failure(), "");
  }
  {
    DisplayWireWatcher w;
    w.client_bytes(client_link(true));
    w.server_bytes(server_link(true, SPICE_LINK_ERR_OK, SPICE_LINK_ERR_PERMISSION_DENIED));
    EXPECT_NE(w.failure(), "");
    EXPECT_FALSE(w.linked());
  }
  {
    // A header claiming a 4 GiB message.
    DisplayWireWatcher w;
    w.client_bytes(client_link(true));
    auto s = server_link(true);
    put_u16(s, SPICE_MSG_DISPLAY_MARK);
    put_u32(s, 0xffffffffu);
    w.server_bytes(s);
    EXPECT_NE(w.failure(), "");
  }
}

// ---------------------------------------------------------------------------------------
// Relay: bytes pass unchanged both ways and the watcher sees them.

std::vector<uint8_t> read_n(int fd, size_t n) {
  std::vector<uint8_t> out(n);
  size_t got = 0;
  while (got < n) {
    const ssize_t r = ::read(fd, out.data() + got, n - got);
    if (r <= 0) break;
    got += size_t(r);
  }
  out.resize(got);
  return out;
}

void write_all(int fd, const std::vector<uint8_t>& v) {
  size_t off = 0;
  while (off < v.size()) {
    const ssize_t w = ::write(fd, v.data() + off, v.size() - off);
    ASSERT_GT(w, 0);
    off += size_t(w);
  }
}

TEST(Relay, ForwardsBothWaysAndWatches) {
  int client[2], server[2];
  ASSERT_EQ(socketpair(AF_UNIX, SOCK_STREAM, 0, client), 0);
  ASSERT_EQ(socketpair(AF_UNIX, SOCK_STREAM, 0, server), 0);
  // client[0]: the "client"; client[1] + server[1]: the relay; server[0]: the "server".
  Relay relay(client[1], server[1]);
  const auto up = client_link(true);
  write_all(client[0], up);
  EXPECT_EQ(read_n(server[0], up.size()), up);
  // More than the socket buffers hold, so the relay has to wait for the reader.
  auto down = server_session(true, SPICE_VIDEO_CODEC_TYPE_MJPEG);
  std::vector<uint8_t> big(3 << 20, 0x11);
  message(down, true, SPICE_MSG_DISPLAY_STREAM_DATA, big);
  std::thread writer([&] { write_all(server[0], down); });
  EXPECT_EQ(read_n(client[0], down.size()), down);
  writer.join();
  const auto seen = relay.snapshot();
  EXPECT_EQ(seen.failure(), "");
  ASSERT_TRUE(seen.first_codec());
  EXPECT_EQ(*seen.first_codec(), SPICE_VIDEO_CODEC_TYPE_MJPEG);
  EXPECT_EQ(seen.streams().frames, 5u);
  // The server closing reaches the client as end of file.
  ::close(server[0]);
  uint8_t b;
  EXPECT_EQ(::read(client[0], &b, 1), 0);
  relay.stop();
  ::close(client[0]);
}

}  // namespace
}  // namespace spiceflow::meter
