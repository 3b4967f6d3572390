// The playback and record channels in a real Server on a loopback port, driven by a raw
// test client, once per I/O backend: what is listed and linkable, the message sequence
// (MODE, START, VOLUME, MUTE, DATA, LATENCY, STOP), raw frames byte-exact and Opus within
// the codec's noise in both directions, a slow client losing its oldest frames, and
// hostile record data closing only that client.
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <spice/enums.h>
#include <spice/protocol.h>

#include <cmath>
#include <cstring>
#include <functional>
#include <numbers>
#include <thread>

#include "opus_codec.hpp"
#include "server_fixture.hpp"
#include "spiceflow/core/bytes.hpp"
#include "spiceflow/net/audio.hpp"

namespace spiceflow::net {
namespace {

using testing::Message;
using testing::TestClient;
using namespace std::chrono_literals;

bool wait_for(const std::function<bool()>& cond, std::chrono::milliseconds limit = 3s) {
  const auto end = std::chrono::steady_clock::now() + limit;
  while (!cond()) {
    if (std::chrono::steady_clock::now() > end) return false;
    std::this_thread::sleep_for(2ms);
  }
  return true;
}

// Frame `f` of a stereo signal: a 440 Hz sine left, 1 kHz right, half scale.
std::vector<uint32_t> sine_frame(size_t f) {
  std::vector<uint32_t> out(kAudioFrameSamples);
  for (size_t i = 0; i < out.size(); ++i) {
    const double t = double(f * kAudioFrameSamples + i) / 48000;
    const auto l = int16_t(std::lround(16000 * std::sin(2 * std::numbers::pi * 440 * t)));
    const auto r = int16_t(std::lround(16000 * std::sin(2 * std::numbers::pi * 1000 * t)));
    out[i] = uint32_t(uint16_t(l)) | uint32_t(uint16_t(r)) << 16;
  }
  return out;
}

// Signal-to-noise ratio of `got` against `want` at the best lag below 1000 samples (Opus
// delays its output), skipping the first 1000 samples (the codec's start-up).
double snr_db(const std::vector<uint32_t>& want, const std::vector<uint32_t>& got) {
  double best = -1e9;
  for (size_t lag = 0; lag < 1000; ++lag) {
    double sig = 0, err = 0;
    for (size_t i = 1000; i < want.size() && i + lag < got.size(); ++i) {
      for (int ch = 0; ch < 2; ++ch) {
        const double a = int16_t(want[i] >> (16 * ch));
        const double d = int16_t(got[i + lag] >> (16 * ch));
        sig += a * a;
        err += (a - d) * (a - d);
      }
    }
    if (sig > 0) best = std::max(best, 10 * std::log10(sig / std::max(err, 1.0)));
  }
  return best;
}

std::vector<uint8_t> record_data(uint32_t time, std::span<const uint8_t> data) {
  std::vector<uint8_t> body;
  ByteWriter w(body);
  w.u32(time);
  w.bytes(data);
  return body;
}

std::vector<uint8_t> record_mode(uint16_t mode) {
  std::vector<uint8_t> body;
  ByteWriter w(body);
  w.u32(0);
  w.u16(mode);
  return body;
}

std::span<const uint8_t> bytes_of(const std::vector<uint32_t>& v) {
  return {reinterpret_cast<const uint8_t*>(v.data()), v.size() * 4};
}

class AudioServerTest : public testing::LoopbackServerTest {
 protected:
  void start() {
    ServerOptions so;
    so.ticket.disabled = true;
    start_server(so, "game", {64, 64}, 5);
  }

  std::vector<uint8_t> listed_channels(TestClient& main) {
    EXPECT_TRUE(main.send(SPICE_MSGC_MAIN_ATTACH_CHANNELS, {}));
    auto list = main.recv_until(SPICE_MSG_MAIN_CHANNELS_LIST);
    std::vector<uint8_t> types;
    if (!list) return types;
    ByteReader r(list->body);
    const uint32_t n = r.u32();
    for (uint32_t i = 0; i < n && r.ok(); ++i) {
      types.push_back(r.u8());
      r.u8();
    }
    return types;
  }

  // A session with the streams attached (set_* is asynchronous: wait until a link works).
  uint32_t attach_and_open(TestClient& main) {
    if (playback_) server_->set_playback(playback_);
    if (record_) server_->set_record(record_);
    const uint32_t session = open_session(main);
    const size_t want = 3 + (playback_ ? 1 : 0) + (record_ ? 1 : 0);
    EXPECT_TRUE(wait_for([&] { return listed_channels(main).size() == want; }));
    return session;
  }

  // Connects `c` and links channel `type` of `session`, announcing the `caps` bits.
  void link(TestClient& c, uint8_t type, uint32_t session,
            std::initializer_list<uint32_t> caps = {}) {
    uint32_t word = 0;
    for (uint32_t b : caps) word |= 1u << b;
    ASSERT_TRUE(c.connect(port_));
    ASSERT_EQ(c.link(type, session, "", {word}), uint32_t(SPICE_LINK_ERR_OK));
  }

  // Sends each body as RECORD_DATA and reads the record stream as a host would, keeping up
  // with the client (the ring behind drops what the host does not read in time); returns
  // every sample read once `samples` have been.
  std::vector<uint32_t> record_through(TestClient& rec,
                                       const std::vector<std::vector<uint8_t>>& packets,
                                       size_t samples) {
    std::vector<uint32_t> got, buf(4096);
    auto read_all = [&] {
      const size_t n = record_->read(buf);
      got.insert(got.end(), buf.begin(), buf.begin() + long(n));
    };
    for (size_t f = 0; f < packets.size(); ++f) {
      EXPECT_TRUE(rec.send(SPICE_MSGC_RECORD_DATA, record_data(uint32_t(f), packets[f])));
      EXPECT_TRUE(wait_for([&] {
        return record_->stats().samples_received >= (f + 1) * kAudioFrameSamples;
      }));
      read_all();
    }
    EXPECT_TRUE(wait_for([&] {
      read_all();
      return got.size() >= samples;
    })) << got.size() << " of " << samples << " samples; dropped "
        << record_->stats().samples_dropped;
    return got;
  }

  std::shared_ptr<PlaybackStream> playback_;
  std::shared_ptr<RecordStream> record_;
};

TEST_P(AudioServerTest, ListedAndLinkableOnlyWhileAttached) {
  start();
  TestClient main;
  const uint32_t session = open_session(main);
  const std::vector<uint8_t> without_audio = {SPICE_CHANNEL_DISPLAY, SPICE_CHANNEL_INPUTS,
                                              SPICE_CHANNEL_CURSOR};
  EXPECT_EQ(listed_channels(main), without_audio);
  TestClient early;
  ASSERT_TRUE(early.connect(port_));
  EXPECT_EQ(early.link(SPICE_CHANNEL_PLAYBACK, session, ""),
            uint32_t(SPICE_LINK_ERR_CHANNEL_NOT_AVAILABLE));

  playback_ = std::make_shared<PlaybackStream>();
  record_ = std::make_shared<RecordStream>();
  TestClient main2;
  const uint32_t session2 = attach_and_open(main2);
  EXPECT_EQ(listed_channels(main2),
            (std::vector<uint8_t>{SPICE_CHANNEL_DISPLAY, SPICE_CHANNEL_INPUTS, SPICE_CHANNEL_CURSOR,
                                  SPICE_CHANNEL_PLAYBACK, SPICE_CHANNEL_RECORD}));
  TestClient pb;
  link(pb, SPICE_CHANNEL_PLAYBACK, session2);
  ASSERT_TRUE(pb.recv_until(SPICE_MSG_PLAYBACK_MODE).has_value());
  // The host removes its device: the client is told and closed, the channel unlisted.
  server_->set_playback(nullptr);
  EXPECT_TRUE(pb.recv_until(SPICE_MSG_DISCONNECTING).has_value());
  EXPECT_TRUE(wait_for([&] { return listed_channels(main2).size() == 4; }));
  EXPECT_TRUE(wait_for([&] { return !playback_->client_connected(); }));
}

TEST_P(AudioServerTest, PlaybackRawSequenceAndFramesByteExact) {
  start();
  playback_ = std::make_shared<PlaybackStream>();
  playback_->set_rate(48000);
  playback_->start();
  TestClient main;
  const uint32_t session = attach_and_open(main);
  TestClient pb;
  link(pb, SPICE_CHANNEL_PLAYBACK, session,
       {SPICE_PLAYBACK_CAP_VOLUME, SPICE_PLAYBACK_CAP_LATENCY});
  EXPECT_TRUE(pb.server_has_channel_cap(SPICE_PLAYBACK_CAP_VOLUME));
  EXPECT_TRUE(pb.server_has_channel_cap(SPICE_PLAYBACK_CAP_OPUS));  // 48 kHz was set

  auto mode = pb.recv();
  ASSERT_TRUE(mode.has_value());
  ASSERT_EQ(mode->type, SPICE_MSG_PLAYBACK_MODE);
  ASSERT_EQ(mode->body.size(), 6u);
  ByteReader rm(mode->body);
  rm.u32();
  EXPECT_EQ(rm.u16(), SPICE_AUDIO_DATA_MODE_RAW);  // the client did not offer Opus
  auto start_msg = pb.recv();
  ASSERT_TRUE(start_msg.has_value());
  ASSERT_EQ(start_msg->type, SPICE_MSG_PLAYBACK_START);
  ByteReader rs(start_msg->body);
  EXPECT_EQ(rs.u32(), 2u);
  EXPECT_EQ(rs.u16(), SPICE_AUDIO_FMT_S16);
  EXPECT_EQ(rs.u32(), 48000u);
  uint32_t last_time = rs.u32();

  ASSERT_TRUE(wait_for([&] { return playback_->client_connected(); }));
  const uint16_t vol[] = {100, 200};
  playback_->set_volume(vol);
  playback_->set_mute(true);
  auto v = pb.recv();
  ASSERT_TRUE(v.has_value());
  EXPECT_EQ(v->type, SPICE_MSG_PLAYBACK_VOLUME);
  EXPECT_EQ(v->body, (std::vector<uint8_t>{2, 100, 0, 200, 0}));
  auto mu = pb.recv();
  ASSERT_TRUE(mu.has_value());
  EXPECT_EQ(mu->type, SPICE_MSG_PLAYBACK_MUTE);
  EXPECT_EQ(mu->body, (std::vector<uint8_t>{1}));

  for (uint32_t f = 0; f < 20; ++f) {
    std::vector<uint32_t> frame(kAudioFrameSamples);
    for (uint32_t i = 0; i < kAudioFrameSamples; ++i) frame[i] = f << 16 | i;
    ASSERT_TRUE(playback_->put(frame));
    auto data = pb.recv();
    ASSERT_TRUE(data.has_value());
    ASSERT_EQ(data->type, SPICE_MSG_PLAYBACK_DATA);
    ASSERT_EQ(data->body.size(), 4 + kAudioFrameSamples * 4);
    ByteReader rd(data->body);
    const uint32_t time = rd.u32();
    EXPECT_GE(time, last_time);  // the multimedia clock never goes back
    last_time = time;
    EXPECT_EQ(0, std::memcmp(data->body.data() + 4, frame.data(), frame.size() * 4))
        << "frame " << f;
  }
  playback_->set_latency(123);
  auto lat = pb.recv();
  ASSERT_TRUE(lat.has_value());
  EXPECT_EQ(lat->type, SPICE_MSG_PLAYBACK_LATENCY);
  EXPECT_EQ(lat->body, (std::vector<uint8_t>{123, 0, 0, 0}));
  playback_->stop();
  auto stop = pb.recv();
  ASSERT_TRUE(stop.has_value());
  EXPECT_EQ(stop->type, SPICE_MSG_PLAYBACK_STOP);
  EXPECT_FALSE(playback_->put(std::vector<uint32_t>(kAudioFrameSamples)));
  EXPECT_EQ(playback_->stats().frames_dropped, 0u);
}

TEST_P(AudioServerTest, PlaybackOpusForAClientThatDecodesIt) {
  start();
  playback_ = std::make_shared<PlaybackStream>();
  playback_->start();
  TestClient main;
  const uint32_t session = attach_and_open(main);
  TestClient pb;
  link(pb, SPICE_CHANNEL_PLAYBACK, session,
       {SPICE_PLAYBACK_CAP_VOLUME, SPICE_PLAYBACK_CAP_OPUS});
  auto mode = pb.recv_until(SPICE_MSG_PLAYBACK_MODE);
  ASSERT_TRUE(mode.has_value());
  ByteReader rm(mode->body);
  rm.u32();
  EXPECT_EQ(rm.u16(), SPICE_AUDIO_DATA_MODE_OPUS);
  ASSERT_TRUE(pb.recv_until(SPICE_MSG_PLAYBACK_START).has_value());
  ASSERT_TRUE(wait_for([&] { return playback_->client_connected(); }));

  auto dec = OpusFrameDecoder::create(48000);
  ASSERT_TRUE(dec.ok());
  std::vector<uint32_t> sent, got;
  for (size_t f = 0; f < 60; ++f) {
    const auto frame = sine_frame(f);
    sent.insert(sent.end(), frame.begin(), frame.end());
    ASSERT_TRUE(playback_->put(frame));
    auto data = pb.recv();
    ASSERT_TRUE(data.has_value());
    ASSERT_EQ(data->type, SPICE_MSG_PLAYBACK_DATA);
    ASSERT_LE(data->body.size(), 4 + kOpusMaxPacket);
    auto pcm = dec->decode(std::span<const uint8_t>(data->body).subspan(4));
    ASSERT_TRUE(pcm.ok()) << pcm.error().message;
    got.insert(got.end(), pcm->begin(), pcm->end());
  }
  EXPECT_GT(snr_db(sent, got), 20.0);

  // Compression switched off: MODE raw, and START again so the client drops its decoder.
  playback_->set_compression(false);
  auto raw = pb.recv();
  ASSERT_TRUE(raw.has_value());
  ASSERT_EQ(raw->type, SPICE_MSG_PLAYBACK_MODE);
  ByteReader rr(raw->body);
  rr.u32();
  EXPECT_EQ(rr.u16(), SPICE_AUDIO_DATA_MODE_RAW);
  auto restart = pb.recv();
  ASSERT_TRUE(restart.has_value());
  EXPECT_EQ(restart->type, SPICE_MSG_PLAYBACK_START);
  ASSERT_TRUE(playback_->put(sine_frame(0)));
  auto data = pb.recv();
  ASSERT_TRUE(data.has_value());
  EXPECT_EQ(data->body.size(), 4 + kAudioFrameSamples * 4);
}

TEST_P(AudioServerTest, SlowPlaybackClientLosesTheOldestFramesNotTheHostsTime) {
  start();
  playback_ = std::make_shared<PlaybackStream>();
  playback_->start();
  TestClient main;
  const uint32_t session = attach_and_open(main);
  TestClient pb;
  link(pb, SPICE_CHANNEL_PLAYBACK, session);
  int small = 4096;
  setsockopt(pb.fd(), SOL_SOCKET, SO_RCVBUF, &small, sizeof small);
  ASSERT_TRUE(wait_for([&] { return playback_->client_connected(); }));
  // The client reads nothing; 4000 frames (7.7 MB) are more than the sockets hold.
  const auto t0 = std::chrono::steady_clock::now();
  for (uint32_t f = 0; f < 4000; ++f) {
    ASSERT_TRUE(playback_->put(std::vector<uint32_t>(kAudioFrameSamples, f)));
    if (f % 8 == 0) std::this_thread::sleep_for(1ms);
  }
  const auto host_time = std::chrono::steady_clock::now() - t0;
  ASSERT_TRUE(wait_for([&] {
    const auto st = playback_->stats();
    return st.frames_put - st.frames_sent - st.frames_dropped <= kPlaybackQueueFrames;
  }));
  const auto st = playback_->stats();
  EXPECT_GT(st.frames_dropped, 0u);
  EXPECT_EQ(st.frames_put, 4000u);
  // put() never waited for the client: the loop above took about its sleeps' time.
  EXPECT_LT(host_time, 10s);
}

TEST_P(AudioServerTest, SecondPlaybackClientTakesOver) {
  start();
  playback_ = std::make_shared<PlaybackStream>();
  TestClient main;
  const uint32_t session = attach_and_open(main);
  TestClient first;
  link(first, SPICE_CHANNEL_PLAYBACK, session);
  ASSERT_TRUE(first.recv_until(SPICE_MSG_PLAYBACK_MODE).has_value());
  TestClient main2;
  const uint32_t session2 = open_session(main2);
  TestClient second;
  link(second, SPICE_CHANNEL_PLAYBACK, session2);
  EXPECT_TRUE(second.recv_until(SPICE_MSG_PLAYBACK_MODE).has_value());
  EXPECT_TRUE(first.recv_until(SPICE_MSG_DISCONNECTING).has_value());
  EXPECT_TRUE(wait_for([&] { return playback_->client_connected(); }));
}

TEST_P(AudioServerTest, RecordRawSamplesReachTheHostInOrder) {
  start();
  record_ = std::make_shared<RecordStream>();
  record_->set_rate(44100);  // Opus cannot: raw only, no OPUS cap
  record_->start();
  TestClient main;
  const uint32_t session = attach_and_open(main);
  TestClient rec;
  link(rec, SPICE_CHANNEL_RECORD, session, {SPICE_RECORD_CAP_VOLUME});
  EXPECT_TRUE(rec.server_has_channel_cap(SPICE_RECORD_CAP_VOLUME));
  EXPECT_FALSE(rec.server_has_channel_cap(SPICE_RECORD_CAP_OPUS));
  auto start_msg = rec.recv();
  ASSERT_TRUE(start_msg.has_value());
  ASSERT_EQ(start_msg->type, SPICE_MSG_RECORD_START);
  EXPECT_EQ(start_msg->body, (std::vector<uint8_t>{2, 0, 0, 0, 1, 0, 0x44, 0xac, 0, 0}));

  ASSERT_TRUE(rec.send(SPICE_MSGC_RECORD_MODE, record_mode(SPICE_AUDIO_DATA_MODE_RAW)));
  ASSERT_TRUE(rec.send(SPICE_MSGC_RECORD_START_MARK, {0, 0, 0, 0}));
  std::vector<uint32_t> sent(40 * kAudioFrameSamples);
  for (uint32_t i = 0; i < sent.size(); ++i) sent[i] = i;
  std::vector<std::vector<uint8_t>> packets;
  for (size_t at = 0; at < sent.size(); at += kAudioFrameSamples) {
    const auto frame = bytes_of(sent).subspan(at * 4, kAudioFrameSamples * 4);
    packets.emplace_back(frame.begin(), frame.end());
  }
  EXPECT_EQ(record_through(rec, packets, sent.size()), sent);
  EXPECT_EQ(record_->stats().samples_dropped, 0u);

  record_->stop();
  auto stop = rec.recv();
  ASSERT_TRUE(stop.has_value());
  EXPECT_EQ(stop->type, SPICE_MSG_RECORD_STOP);
}

TEST_P(AudioServerTest, RecordOpusIsDecodedForTheHost) {
  start();
  record_ = std::make_shared<RecordStream>();
  record_->set_rate(48000);
  record_->start();
  TestClient main;
  const uint32_t session = attach_and_open(main);
  TestClient rec;
  link(rec, SPICE_CHANNEL_RECORD, session,
       {SPICE_RECORD_CAP_VOLUME, SPICE_RECORD_CAP_OPUS});
  EXPECT_TRUE(rec.server_has_channel_cap(SPICE_RECORD_CAP_OPUS));
  ASSERT_TRUE(rec.recv_until(SPICE_MSG_RECORD_START).has_value());
  ASSERT_TRUE(rec.send(SPICE_MSGC_RECORD_MODE, record_mode(SPICE_AUDIO_DATA_MODE_OPUS)));
  auto enc = OpusFrameEncoder::create(48000);
  ASSERT_TRUE(enc.ok());
  std::vector<uint32_t> sent;
  std::vector<std::vector<uint8_t>> packets;
  for (size_t f = 0; f < 60; ++f) {
    const auto frame = sine_frame(f);
    sent.insert(sent.end(), frame.begin(), frame.end());
    auto packet = enc->encode(frame);
    ASSERT_TRUE(packet.ok());
    packets.push_back(std::move(*packet));
  }
  const auto got = record_through(rec, packets, sent.size());
  EXPECT_EQ(got.size(), sent.size());
  EXPECT_GT(snr_db(sent, got), 20.0);
}

// Each hostile message closes the record client only: the session's main channel keeps
// working and a new record client links and gets START.
TEST_P(AudioServerTest, HostileRecordDataClosesOnlyThatClient) {
  start();
  record_ = std::make_shared<RecordStream>();
  record_->set_rate(48000);
  record_->start();
  TestClient main;
  const uint32_t session = attach_and_open(main);
  const std::vector<std::pair<uint16_t, std::vector<uint8_t>>> hostile = {
      {SPICE_MSGC_RECORD_DATA, {1, 2}},                          // shorter than its time
      {SPICE_MSGC_RECORD_MODE, {0, 0, 0, 0, 3}},                 // mode cut short
      {SPICE_MSGC_RECORD_MODE, record_mode(2)},                  // CELT: not decodable
      {SPICE_MSGC_RECORD_START_MARK, {1}},                       // short
      {SPICE_MSGC_RECORD_MODE, record_mode(SPICE_AUDIO_DATA_MODE_OPUS)},  // then garbage
      {999, {}},                                                 // unknown type
  };
  for (size_t i = 0; i < hostile.size(); ++i) {
    TestClient rec;
    ASSERT_TRUE(rec.connect(port_));
    ASSERT_EQ(rec.link(SPICE_CHANNEL_RECORD, session, ""), uint32_t(SPICE_LINK_ERR_OK)) << i;
    ASSERT_TRUE(rec.recv_until(SPICE_MSG_RECORD_START).has_value()) << i;
    ASSERT_TRUE(rec.send(hostile[i].first, hostile[i].second));
    if (hostile[i].second == record_mode(SPICE_AUDIO_DATA_MODE_OPUS)) {
      // A valid switch to Opus, then a packet that is not Opus (a 60 ms frame header).
      const std::vector<uint8_t> sixty_ms = {0x18, 0, 0};
      ASSERT_TRUE(rec.send(SPICE_MSGC_RECORD_DATA, record_data(0, sixty_ms)));
    }
    EXPECT_TRUE(rec.recv_until(SPICE_MSG_NOTIFY).has_value()) << i;
    bool closed = false;
    for (int k = 0; k < 100 && !closed; ++k) closed = !rec.recv(2s);
    EXPECT_TRUE(closed) << i;
    EXPECT_EQ(listed_channels(main).size(), 4u) << i;  // the session lives on
  }
  TestClient good;
  link(good, SPICE_CHANNEL_RECORD, session);
  EXPECT_TRUE(good.recv_until(SPICE_MSG_RECORD_START).has_value());
}

INSTANTIATE_TEST_SUITE_P(Backends, AudioServerTest,
                         ::testing::Values(IoBackend::epoll, IoBackend::uring),
                         [](const auto& info) { return std::string(to_string(info.param)); });

}  // namespace
}  // namespace spiceflow::net
