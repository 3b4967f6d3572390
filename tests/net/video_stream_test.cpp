// Video stream codec choice on the display channel, in process against a real Server +
// Engine ("video" synthetic desktop) and a raw client that states its own caps: the
// server's --video-codecs order within the client's CODEC_* caps, the client's
// PREFERRED_VIDEO_CODEC_TYPE reordering it, a client without MULTI_CODEC getting MJPEG,
// and a client that reports a stream invalid (STREAM_REPORT num_frames=0,
// num_drops=0xffffffff: spice-gtk's "cannot decode") moving to the next codec on a new id.
#include <gtest/gtest.h>
#include <spice/enums.h>
#include <spice/protocol.h>

#include <thread>

#include "spiceflow/core/bytes.hpp"
#include "spiceflow/engine/engine.hpp"
#include "spiceflow/net/server.hpp"
#include "support/loopback.hpp"
#include "test_client.hpp"

namespace spiceflow::net {
namespace {

using testing::Message;
using testing::TestClient;

constexpr uint32_t cap(uint32_t bit) { return 1u << bit; }
constexpr uint32_t kAllCodecs = cap(SPICE_DISPLAY_CAP_MULTI_CODEC) |
                                cap(SPICE_DISPLAY_CAP_CODEC_MJPEG) |
                                cap(SPICE_DISPLAY_CAP_CODEC_VP8) | cap(SPICE_DISPLAY_CAP_CODEC_H264);

struct Created {
  uint32_t id = 0;
  uint8_t codec = 0;
};

class VideoStreamTest : public ::testing::Test {
 protected:
  void start(const std::string& video_codecs) {
    engine::DesktopOptions d;
    d.synthetic = "video";
    d.source.size = {640, 480};
    d.source.fps = 30;
    auto desk = engine::Desktop::create(0, d);
    ASSERT_TRUE(desk.ok()) << desk.error().message;
    engine_.add(std::move(*desk));
    ServerOptions so;
    so.port = port_ = spiceflow::testing::free_loopback_port();
    so.io = IoBackend::epoll;
    so.ticket.disabled = true;
    auto list = encode::parse_video_codecs(video_codecs);
    ASSERT_TRUE(list.ok()) << list.error().message;
    so.video_codecs = *list;
    auto server = Server::create(so, engine_);
    ASSERT_TRUE(server.ok()) << server.error().message;
    server_ = std::move(*server);
    engine_.start();
    thread_ = std::thread([this] { (void)server_->run(); });
  }

  void TearDown() override {
    if (server_) {
      server_->stop();
      thread_.join();
    }
    engine_.stop();
  }

  // Main + display channel with `caps`; DISPLAY_INIT sent (and `before_init` first).
  void open_display(uint32_t caps, const std::vector<uint8_t>& preferred = {}) {
    ASSERT_TRUE(main_.connect(port_));
    ASSERT_EQ(main_.link(SPICE_CHANNEL_MAIN, 0, ""), uint32_t(SPICE_LINK_ERR_OK));
    auto init = main_.recv_until(SPICE_MSG_MAIN_INIT);
    ASSERT_TRUE(init.has_value());
    ByteReader r(init->body);
    const uint32_t session = r.u32();
    ASSERT_TRUE(display_.connect(port_));
    ASSERT_EQ(display_.link(SPICE_CHANNEL_DISPLAY, session, "", {caps}),
              uint32_t(SPICE_LINK_ERR_OK));
    auto set_ack = display_.recv();
    ASSERT_TRUE(set_ack.has_value());
    ASSERT_EQ(set_ack->type, SPICE_MSG_SET_ACK);
    ByteReader ra(set_ack->body);
    const uint32_t generation = ra.u32();
    window_ = ra.u32();
    std::vector<uint8_t> sync;
    ByteWriter ws(sync);
    ws.u32(generation);
    ASSERT_TRUE(display_.send(SPICE_MSGC_ACK_SYNC, sync));
    if (!preferred.empty()) {
      std::vector<uint8_t> body;
      ByteWriter w(body);
      w.u8(uint8_t(preferred.size()));
      for (uint8_t c : preferred) w.u8(c);
      ASSERT_TRUE(display_.send(SPICE_MSGC_DISPLAY_PREFERRED_VIDEO_CODEC_TYPE, body));
    }
    std::vector<uint8_t> di;
    ByteWriter w(di);
    w.u8(1);
    w.u64(0);
    w.u8(1);
    w.u32(0);
    ASSERT_TRUE(display_.send(SPICE_MSGC_DISPLAY_INIT, di));
  }

  // The next STREAM_CREATE (acknowledging as a client does on the way).
  std::optional<Created> next_stream(std::chrono::seconds timeout = std::chrono::seconds(8)) {
    const auto end = std::chrono::steady_clock::now() + timeout;
    while (std::chrono::steady_clock::now() < end) {
      auto m = display_.recv(std::chrono::milliseconds(2000));
      if (!m) return std::nullopt;
      if (++received_ % window_ == 0) display_.send(SPICE_MSGC_ACK, {});
      if (m->type == SPICE_MSG_DISPLAY_STREAM_DATA) ++stream_data_;
      if (m->type != SPICE_MSG_DISPLAY_STREAM_CREATE) continue;
      ByteReader r(m->body);
      (void)r.u32();  // surface_id
      Created c;
      c.id = r.u32();
      (void)r.u8();  // flags
      c.codec = r.u8();
      return c;
    }
    return std::nullopt;
  }

  void report_invalid(uint32_t id) {
    std::vector<uint8_t> body;
    ByteWriter w(body);
    w.u32(id);           // stream_id
    w.u32(0);            // unique_id
    w.u32(0);            // start_frame_mm_time
    w.u32(0);            // end_frame_mm_time
    w.u32(0);            // num_frames
    w.u32(0xffffffffu);  // num_drops
    w.u32(0);            // last_frame_delay
    w.u32(0);            // audio_delay
    ASSERT_TRUE(display_.send(SPICE_MSGC_DISPLAY_STREAM_REPORT, body));
  }

  engine::Engine engine_;
  std::unique_ptr<Server> server_;
  std::thread thread_;
  uint16_t port_ = 0;
  TestClient main_, display_;
  uint32_t window_ = 1;
  uint32_t received_ = 0;
  uint32_t stream_data_ = 0;
};

TEST_F(VideoStreamTest, ServerOrderWithinClientCaps) {
  start("vpx:vp9;vpx:vp8;x264:h264;spice:mjpeg");
  open_display(kAllCodecs);  // no VP9 cap: VP8 is the first both accept
  auto s = next_stream();
  ASSERT_TRUE(s.has_value());
  EXPECT_EQ(s->codec, SPICE_VIDEO_CODEC_TYPE_VP8);
}

TEST_F(VideoStreamTest, ClientPreferenceReordersTheServerList) {
  start("vpx:vp8;x264:h264;spice:mjpeg");
  open_display(kAllCodecs, {SPICE_VIDEO_CODEC_TYPE_H264, SPICE_VIDEO_CODEC_TYPE_VP8});
  auto s = next_stream();
  ASSERT_TRUE(s.has_value());
  EXPECT_EQ(s->codec, SPICE_VIDEO_CODEC_TYPE_H264);
}

TEST_F(VideoStreamTest, ClientWithoutMultiCodecGetsMjpeg) {
  start("auto");
  open_display(0);
  auto s = next_stream();
  ASSERT_TRUE(s.has_value());
  EXPECT_EQ(s->codec, SPICE_VIDEO_CODEC_TYPE_MJPEG);
}

TEST_F(VideoStreamTest, DefaultOrderPrefersH264FromX264) {
  start("auto");
  open_display(kAllCodecs);
  auto s = next_stream();
  ASSERT_TRUE(s.has_value());
  EXPECT_EQ(s->codec, SPICE_VIDEO_CODEC_TYPE_H264);  // no NVENC/VAAPI here: x264
}

TEST_F(VideoStreamTest, CannotDecodeReportMovesToTheNextCodec) {
  start("vpx:vp8;x264:h264;spice:mjpeg");
  open_display(kAllCodecs);
  auto first = next_stream();
  ASSERT_TRUE(first.has_value());
  EXPECT_EQ(first->codec, SPICE_VIDEO_CODEC_TYPE_VP8);
  report_invalid(first->id);
  auto second = next_stream();
  ASSERT_TRUE(second.has_value());
  EXPECT_EQ(second->codec, SPICE_VIDEO_CODEC_TYPE_H264);
  EXPECT_NE(second->id, first->id);
  // A late report for the old id (STREAM_DATA already in flight) changes nothing more;
  // one for the new stream moves on to MJPEG.
  report_invalid(first->id);
  report_invalid(second->id);
  auto third = next_stream();
  ASSERT_TRUE(third.has_value());
  EXPECT_EQ(third->codec, SPICE_VIDEO_CODEC_TYPE_MJPEG);
  EXPECT_NE(third->id, first->id);
  EXPECT_NE(third->id, second->id);
  // And the MJPEG stream runs.
  const uint32_t before = stream_data_;
  const auto end = std::chrono::steady_clock::now() + std::chrono::seconds(2);
  while (std::chrono::steady_clock::now() < end) {
    auto m = display_.recv(std::chrono::milliseconds(500));
    if (!m) break;
    if (++received_ % window_ == 0) display_.send(SPICE_MSGC_ACK, {});
    if (m->type == SPICE_MSG_DISPLAY_STREAM_DATA) ++stream_data_;
  }
  EXPECT_GT(stream_data_, before + 5);
}

}  // namespace
}  // namespace spiceflow::net
