// Video stream codec choice on the display channel, in process against a real Server +
// Engine ("video" synthetic desktop) and a raw client that states its own caps: the
// server's --video-codecs order within the client's CODEC_* caps, the client's
// PREFERRED_VIDEO_CODEC_TYPE reordering it, a client without MULTI_CODEC getting MJPEG,
// and a client that reports a stream invalid (STREAM_REPORT num_frames=0,
// num_drops=0xffffffff: spice-gtk's "cannot decode") moving to the next codec on a new id.
// Shared encoding: two clients of one desktop get the frames of one encoder per region; a
// client that stops reading skips frames (newest wins) and resumes on a keyframe, and one
// that joins mid-stream starts on a keyframe.
#include <gtest/gtest.h>
#include <spice/enums.h>
#include <spice/protocol.h>

#include <span>
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

// One client session: its main and display channels and the display's ACK state.
struct Viewer {
  TestClient main, display;
  uint32_t window = 1;
  uint32_t received = 0;
  uint32_t stream_data = 0;
  uint32_t keyframes = 0;  // VP8 STREAM_DATA whose frame is a keyframe
  uint64_t stream_bytes = 0;  // STREAM_DATA bodies
};

// A VP8 frame's first byte: bit 0 of the frame tag is 0 for a keyframe (RFC 6386 9.1).
bool vp8_keyframe(std::span<const uint8_t> stream_data_body) {
  return stream_data_body.size() > 12 && (stream_data_body[12] & 1) == 0;
}

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
    open_viewer(a_, caps, preferred);
  }
  void open_viewer(Viewer& v, uint32_t caps, const std::vector<uint8_t>& preferred = {}) {
    TestClient& main = v.main;
    TestClient& display = v.display;
    uint32_t& window = v.window;
    ASSERT_TRUE(main.connect(port_));
    ASSERT_EQ(main.link(SPICE_CHANNEL_MAIN, 0, ""), uint32_t(SPICE_LINK_ERR_OK));
    auto init = main.recv_until(SPICE_MSG_MAIN_INIT);
    ASSERT_TRUE(init.has_value());
    ByteReader r(init->body);
    const uint32_t session = r.u32();
    ASSERT_TRUE(display.connect(port_));
    ASSERT_EQ(display.link(SPICE_CHANNEL_DISPLAY, session, "", {caps}),
              uint32_t(SPICE_LINK_ERR_OK));
    auto set_ack = display.recv();
    ASSERT_TRUE(set_ack.has_value());
    ASSERT_EQ(set_ack->type, SPICE_MSG_SET_ACK);
    ByteReader ra(set_ack->body);
    const uint32_t generation = ra.u32();
    window = ra.u32();
    std::vector<uint8_t> sync;
    ByteWriter ws(sync);
    ws.u32(generation);
    ASSERT_TRUE(display.send(SPICE_MSGC_ACK_SYNC, sync));
    if (!preferred.empty()) {
      std::vector<uint8_t> body;
      ByteWriter w(body);
      w.u8(uint8_t(preferred.size()));
      for (uint8_t c : preferred) w.u8(c);
      ASSERT_TRUE(display.send(SPICE_MSGC_DISPLAY_PREFERRED_VIDEO_CODEC_TYPE, body));
    }
    std::vector<uint8_t> di;
    ByteWriter w(di);
    w.u8(1);
    w.u64(0);
    w.u8(1);
    w.u32(0);
    ASSERT_TRUE(display.send(SPICE_MSGC_DISPLAY_INIT, di));
  }

  // The next display message of `v`, acknowledged as a client does; counts stream data.
  static std::optional<Message> next_message(Viewer& v, std::chrono::milliseconds timeout) {
    auto m = v.display.recv(timeout);
    if (!m) return std::nullopt;
    if (++v.received % v.window == 0) v.display.send(SPICE_MSGC_ACK, {});
    if (m->type == SPICE_MSG_DISPLAY_STREAM_DATA) {
      ++v.stream_data;
      v.stream_bytes += m->body.size();
      v.keyframes += vp8_keyframe(m->body);
    }
    return m;
  }

  // Reads `v`'s display channel for `d`.
  static void read_for(Viewer& v, std::chrono::milliseconds d) {
    const auto end = std::chrono::steady_clock::now() + d;
    while (std::chrono::steady_clock::now() < end) {
      if (!next_message(v, std::chrono::milliseconds(500))) break;
    }
  }

  // The next STREAM_CREATE (acknowledging as a client does on the way).
  std::optional<Created> next_stream(std::chrono::seconds timeout = std::chrono::seconds(8)) {
    return next_stream_of(a_, timeout);
  }
  static std::optional<Created> next_stream_of(
      Viewer& v, std::chrono::seconds timeout = std::chrono::seconds(8)) {
    const auto end = std::chrono::steady_clock::now() + timeout;
    while (std::chrono::steady_clock::now() < end) {
      auto m = next_message(v, std::chrono::milliseconds(2000));
      if (!m) return std::nullopt;
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

  void report_invalid(uint32_t id) { report(id, 0, 0xffffffffu); }

  // STREAM_REPORT (unique_id 0: these clients did not get STREAM_ACTIVATE_REPORT).
  void report(uint32_t id, uint32_t frames, uint32_t drops) {
    std::vector<uint8_t> body;
    ByteWriter w(body);
    w.u32(id);      // stream_id
    w.u32(0);       // unique_id
    w.u32(0);       // start_frame_mm_time
    w.u32(0);       // end_frame_mm_time
    w.u32(frames);  // num_frames
    w.u32(drops);   // num_drops
    w.u32(0);       // last_frame_delay
    w.u32(0);       // audio_delay
    ASSERT_TRUE(a_.display.send(SPICE_MSGC_DISPLAY_STREAM_REPORT, body));
  }

  // Average STREAM_DATA bytes `v` receives over `d`.
  static double bytes_per_frame(Viewer& v, std::chrono::milliseconds d) {
    const uint64_t b0 = v.stream_bytes;
    const uint32_t f0 = v.stream_data;
    read_for(v, d);
    return v.stream_data > f0 ? double(v.stream_bytes - b0) / double(v.stream_data - f0) : 0;
  }

  engine::Engine engine_;
  std::unique_ptr<Server> server_;
  std::thread thread_;
  uint16_t port_ = 0;
  Viewer a_;
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
  const uint32_t before = a_.stream_data;
  read_for(a_, std::chrono::seconds(2));
  EXPECT_GT(a_.stream_data, before + 5);
}

// Both clients stream the region with VP8 from the desktop's one encoder: the desktop
// encodes each picture once, not once per client.
TEST_F(VideoStreamTest, TwoClientsShareOneEncoder) {
  start("vpx:vp8");
  Viewer b;
  open_display(kAllCodecs);
  open_viewer(b, kAllCodecs);
  auto sa = next_stream();
  auto sb = next_stream_of(b);
  ASSERT_TRUE(sa.has_value());
  ASSERT_TRUE(sb.has_value());
  EXPECT_EQ(sa->codec, SPICE_VIDEO_CODEC_TYPE_VP8);
  EXPECT_EQ(sb->codec, SPICE_VIDEO_CODEC_TYPE_VP8);
  const auto before = engine_.desktop(0).stats();
  const uint32_t a0 = a_.stream_data, b0 = b.stream_data;
  for (int i = 0; i < 20; ++i) {
    read_for(a_, std::chrono::milliseconds(50));
    read_for(b, std::chrono::milliseconds(50));
  }
  const auto after = engine_.desktop(0).stats();
  EXPECT_GT(a_.stream_data, a0 + 10);
  EXPECT_GT(b.stream_data, b0 + 10);
  // One encode per pass that changed the region, however many clients.
  const uint64_t encoded = after.video_frames - before.video_frames;
  EXPECT_GT(encoded, 10u);
  EXPECT_LE(encoded, after.frames - before.frames + 1);
  EXPECT_GE(a_.keyframes + b.keyframes, 2u) << "each client starts on a keyframe";
}

// A client that stops reading is not sent a backlog: the other keeps its rate, the server
// skips the slow one's frames (the newest wins) and resumes it on a keyframe, though the
// encoder's own keyframes are 10 s apart.
TEST_F(VideoStreamTest, SlowClientSkipsFramesAndResumesOnAKeyframe) {
  start("vpx:vp8");
  Viewer slow;
  open_display(kAllCodecs);
  open_viewer(slow, kAllCodecs);
  ASSERT_TRUE(next_stream().has_value());
  ASSERT_TRUE(next_stream_of(slow).has_value());
  read_for(slow, std::chrono::milliseconds(500));
  ASSERT_GT(slow.stream_data, 3u);
  const uint32_t slow_keys = slow.keyframes;
  // The slow client stops reading (and acknowledging) for 3.5 s, longer than its ACK
  // window lasts at 30 fps; the fast one reads on.
  const uint32_t fast0 = a_.stream_data;
  read_for(a_, std::chrono::milliseconds(3500));
  EXPECT_GT(a_.stream_data, fast0 + 30) << "the slow client held the other one back";
  // Resumed: what was queued before the pause, then a keyframe and the stream again.
  read_for(slow, std::chrono::seconds(1));
  EXPECT_GT(slow.keyframes, slow_keys) << "no keyframe after the pause";
  const auto stats = server_->stats();
  EXPECT_GT(stats.stream_frames_skipped, 20u) << "frames were queued for the slow client";
  // Rate control: the slow client asked the shared encoder for a lower quality.
  EXPECT_GE(engine_.desktop(0).video_level({"vpx", encode::VideoCodec::vp8}), 1);
  // The frames sent in all stay about what two clients at the desktop's rate take: nothing
  // piled up for the slow one.
  const auto d = engine_.desktop(0).stats();
  EXPECT_LE(stats.stream_frames, 2 * d.video_frames);
}

// Rate control: a client reporting drops takes the encoder's quality down a level per
// second, to the floor and no further; the frames get smaller.
TEST_F(VideoStreamTest, DropReportsLowerTheQualityToTheFloor) {
  start("spice:mjpeg");
  open_display(kAllCodecs);
  auto s = next_stream();
  ASSERT_TRUE(s.has_value());
  read_for(a_, std::chrono::milliseconds(500));
  const double full = bytes_per_frame(a_, std::chrono::seconds(1));
  ASSERT_GT(full, 0);
  const encode::VideoCodecChoice mjpeg{"mjpeg", encode::VideoCodec::mjpeg};
  EXPECT_EQ(engine_.desktop(0).video_level(mjpeg), 0);
  for (int i = 0; i < engine::Desktop::kMaxVideoLevel + 2; ++i) {
    report(s->id, 30, 5);
    read_for(a_, std::chrono::milliseconds(1100));
  }
  EXPECT_EQ(engine_.desktop(0).video_level(mjpeg), engine::Desktop::kMaxVideoLevel);
  const double floor = bytes_per_frame(a_, std::chrono::seconds(1));
  EXPECT_GT(floor, 0);
  EXPECT_LT(floor, 0.8 * full) << "frames at the quality floor are no smaller";
}

// A client joining a running stream starts on a keyframe made for it.
TEST_F(VideoStreamTest, ClientJoiningMidStreamStartsOnAKeyframe) {
  start("vpx:vp8");
  open_display(kAllCodecs);
  ASSERT_TRUE(next_stream().has_value());
  read_for(a_, std::chrono::milliseconds(1500));
  const uint64_t keys_before = engine_.desktop(0).stats().keyframes;
  Viewer late;
  open_viewer(late, kAllCodecs);
  ASSERT_TRUE(next_stream_of(late).has_value());
  std::optional<Message> first;
  const auto end = std::chrono::steady_clock::now() + std::chrono::seconds(5);
  while (!first && std::chrono::steady_clock::now() < end) {
    auto m = next_message(late, std::chrono::milliseconds(2000));
    if (!m) break;
    if (m->type == SPICE_MSG_DISPLAY_STREAM_DATA) first = m;
    read_for(a_, std::chrono::milliseconds(1));
  }
  ASSERT_TRUE(first.has_value());
  EXPECT_TRUE(vp8_keyframe(first->body));
  EXPECT_GT(engine_.desktop(0).stats().keyframes, keys_before);
}

}  // namespace
}  // namespace spiceflow::net
