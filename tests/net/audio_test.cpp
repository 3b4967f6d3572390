// The audio channels' pieces without a socket: message bodies byte for byte (layouts worked
// out by hand from spice.proto's PlaybackChannel and RecordChannel), the mode choice (the
// reference's snd_desired_audio_mode and snd_codec_is_capable), the host/loop hand-off
// streams (bounds, drop-oldest counters, wake-ups, the record pre-buffering) and the Opus
// frame codec.
#include <gtest/gtest.h>
#include <spice/enums.h>

#include <cmath>
#include <numbers>
#include <vector>

#include "expected_bytes.hpp"
#include "opus_codec.hpp"
#include "spiceflow/net/audio.hpp"
#include "spiceflow/net/audio_messages.hpp"

namespace spiceflow::net {
namespace {

using msg::Bytes;
using msg::testing::b;
using msg::testing::cat;

// ---- messages

TEST(AudioMsg, Volume) {
  Bytes out;
  const uint16_t vol[] = {0x1234, 0xffff};
  msg::audio_volume(out, vol);
  EXPECT_EQ(out, cat({
                     b({0x02}),        // nchannels u8
                     b({0x34, 0x12}),  // volume[0] u16
                     b({0xff, 0xff}),  // volume[1] u16
                 }));
}

TEST(AudioMsg, Mute) {
  Bytes on, off;
  msg::audio_mute(on, true);
  msg::audio_mute(off, false);
  EXPECT_EQ(on, b({0x01}));  // mute u8
  EXPECT_EQ(off, b({0x00}));
}

TEST(AudioMsg, PlaybackData) {
  Bytes out;
  msg::playback_data(out, 0x01020304, b({0xaa, 0xbb, 0xcc}));
  EXPECT_EQ(out, cat({
                     b({0x04, 0x03, 0x02, 0x01}),  // time u32
                     b({0xaa, 0xbb, 0xcc}),        // data to the end
                 }));
}

TEST(AudioMsg, PlaybackMode) {
  Bytes out;
  msg::playback_mode(out, 7, AudioMode::opus);
  EXPECT_EQ(out, cat({
                     b({0x07, 0x00, 0x00, 0x00}),  // time u32
                     b({0x03, 0x00}),              // mode u16: SPICE_AUDIO_DATA_MODE_OPUS
                 }));
  Bytes raw;
  msg::playback_mode(raw, 0, AudioMode::raw);
  EXPECT_EQ(raw, b({0, 0, 0, 0, 0x01, 0x00}));
}

TEST(AudioMsg, PlaybackStart) {
  Bytes out;
  msg::playback_start(out, 2, 48000, 0x10);
  EXPECT_EQ(out, cat({
                     b({0x02, 0x00, 0x00, 0x00}),  // channels u32
                     b({0x01, 0x00}),              // format u16: SPICE_AUDIO_FMT_S16
                     b({0x80, 0xbb, 0x00, 0x00}),  // frequency u32: 48000
                     b({0x10, 0x00, 0x00, 0x00}),  // time u32
                 }));
}

TEST(AudioMsg, PlaybackLatency) {
  Bytes out;
  msg::playback_latency(out, 200);
  EXPECT_EQ(out, b({0xc8, 0x00, 0x00, 0x00}));  // latency_ms u32
}

TEST(AudioMsg, RecordStart) {
  Bytes out;
  msg::record_start(out, 2, 44100);
  EXPECT_EQ(out, cat({
                     b({0x02, 0x00, 0x00, 0x00}),  // channels u32
                     b({0x01, 0x00}),              // format u16
                     b({0x44, 0xac, 0x00, 0x00}),  // frequency u32: 44100
                 }));
}

TEST(AudioMsg, ParseRecordData) {
  const Bytes body = cat({b({0x05, 0, 0, 0}), b({1, 2, 3, 4, 5})});
  auto m = msg::parse_record_data(body);
  ASSERT_TRUE(m.has_value());
  EXPECT_EQ(m->time, 5u);
  EXPECT_EQ(Bytes(m->data.begin(), m->data.end()), b({1, 2, 3, 4, 5}));
  auto empty = msg::parse_record_data(b({0, 0, 0, 0}));
  ASSERT_TRUE(empty.has_value());
  EXPECT_TRUE(empty->data.empty());
  EXPECT_FALSE(msg::parse_record_data(b({0, 0, 0})).has_value());
}

TEST(AudioMsg, ParseRecordModeAndStartMark) {
  auto mode = msg::parse_record_mode(b({0x09, 0, 0, 0, 0x03, 0x00}));
  ASSERT_TRUE(mode.has_value());
  EXPECT_EQ(mode->time, 9u);
  EXPECT_EQ(mode->mode, uint16_t(SPICE_AUDIO_DATA_MODE_OPUS));
  EXPECT_FALSE(msg::parse_record_mode(b({0x09, 0, 0, 0, 0x03})).has_value());
  auto mark = msg::parse_record_start_mark(b({0x0a, 0, 0, 0}));
  ASSERT_TRUE(mark.has_value());
  EXPECT_EQ(mark->time, 10u);
  EXPECT_FALSE(msg::parse_record_start_mark(b({0x0a})).has_value());
}

// ---- mode choice

TEST(AudioMode, OpusRates) {
  for (uint32_t hz : {8000u, 12000u, 16000u, 24000u, 48000u}) EXPECT_TRUE(opus_supports(hz)) << hz;
  for (uint32_t hz : {0u, 11025u, 22050u, 32000u, 44100u, 96000u}) {
    EXPECT_FALSE(opus_supports(hz)) << hz;
  }
}

TEST(AudioMode, PlaybackModeFollowsTheReference) {
  EXPECT_EQ(choose_playback_mode(true, 48000, true), AudioMode::opus);
  EXPECT_EQ(choose_playback_mode(true, 24000, true), AudioMode::opus);
  EXPECT_EQ(choose_playback_mode(false, 48000, true), AudioMode::raw);  // compression off
  EXPECT_EQ(choose_playback_mode(true, 48000, false), AudioMode::raw);  // client lacks Opus
  EXPECT_EQ(choose_playback_mode(true, 44100, true), AudioMode::raw);   // rate Opus lacks
}

TEST(AudioMode, RecordModes) {
  EXPECT_TRUE(record_mode_acceptable(SPICE_AUDIO_DATA_MODE_RAW, 44100));
  EXPECT_TRUE(record_mode_acceptable(SPICE_AUDIO_DATA_MODE_OPUS, 48000));
  EXPECT_FALSE(record_mode_acceptable(SPICE_AUDIO_DATA_MODE_OPUS, 44100));
  EXPECT_FALSE(record_mode_acceptable(2 /* CELT_0_5_1, gone */, 48000));
  EXPECT_FALSE(record_mode_acceptable(SPICE_AUDIO_DATA_MODE_INVALID, 48000));
}

// ---- streams

std::vector<uint32_t> frame_of(uint32_t value) {
  return std::vector<uint32_t>(kAudioFrameSamples, value);
}

TEST(AudioStreams, PlaybackTakesFramesOnlyWhileActiveWithAClient) {
  PlaybackStream s;
  EXPECT_FALSE(s.put(frame_of(1)));  // stopped, no client
  s.start();
  EXPECT_FALSE(s.put(frame_of(1)));  // no client
  s.client_linked();
  EXPECT_TRUE(s.client_connected());
  EXPECT_TRUE(s.put(frame_of(1)));
  s.stop();
  EXPECT_FALSE(s.put(frame_of(2)));
  PlaybackStream::Frame f;
  ASSERT_TRUE(s.pop(f));
  EXPECT_EQ(f.samples, frame_of(1));
  EXPECT_FALSE(s.pop(f));
  s.client_unlinked();
  EXPECT_FALSE(s.client_connected());
}

TEST(AudioStreams, PlaybackQueueDropsTheOldestAndCounts) {
  PlaybackStream s;
  s.start();
  s.client_linked();
  const uint32_t n = uint32_t(kPlaybackQueueFrames) + 5;
  for (uint32_t i = 0; i < n; ++i) ASSERT_TRUE(s.put(frame_of(i)));
  const auto st = s.stats();
  EXPECT_EQ(st.frames_put, n);
  EXPECT_EQ(st.frames_dropped, 5u);
  PlaybackStream::Frame f;
  for (uint32_t i = 5; i < n; ++i) {
    ASSERT_TRUE(s.pop(f));
    EXPECT_EQ(f.samples[0], i);  // the newest survive, in order
  }
  EXPECT_FALSE(s.pop(f));
  EXPECT_EQ(s.stats().frames_sent, uint64_t(kPlaybackQueueFrames));
}

TEST(AudioStreams, PlaybackQueueEmptiesWhenTheLastClientLeaves) {
  PlaybackStream s;
  s.start();
  s.client_linked();
  s.client_linked();  // a newcomer links before the old client's channel is gone
  ASSERT_TRUE(s.put(frame_of(1)));
  ASSERT_TRUE(s.put(frame_of(2)));
  s.client_unlinked();
  PlaybackStream::Frame f;
  ASSERT_TRUE(s.pop(f));  // still someone to play it to
  EXPECT_EQ(f.samples[0], 1u);
  s.client_unlinked();
  EXPECT_FALSE(s.pop(f));  // stale audio is not kept for a later client
}

TEST(AudioStreams, NotifierFiresOncePerRearm) {
  PlaybackStream s;
  int wakes = 0;
  s.set_notifier([&] { ++wakes; });
  s.start();
  const uint16_t vol[] = {1, 2};
  s.set_volume(vol);
  s.set_mute(true);
  EXPECT_EQ(wakes, 1);  // coalesced until the loop took the wake-up
  s.rearm();
  s.set_latency(30);
  EXPECT_EQ(wakes, 2);
  const AudioControl c = s.control();
  EXPECT_TRUE(c.active);
  EXPECT_EQ(c.volume, (std::vector<uint16_t>{1, 2}));
  EXPECT_TRUE(c.mute);
  EXPECT_EQ(c.latency_ms, 30u);
  EXPECT_EQ(c.volume_seq, 1u);
  EXPECT_EQ(c.mute_seq, 1u);
  EXPECT_EQ(c.latency_seq, 1u);
  s.set_notifier(nullptr);
  s.stop();
  EXPECT_EQ(wakes, 2);
}

TEST(AudioStreams, OpusIsOfferedOnceTheRateAllowsIt) {
  RecordStream s;
  EXPECT_FALSE(s.control().opus_offered);  // as the reference: only after set_rate
  EXPECT_EQ(s.control().rate, 48000u);
  s.set_rate(44100);
  EXPECT_FALSE(s.control().opus_offered);
  s.set_rate(48000);
  EXPECT_TRUE(s.control().opus_offered);
  s.set_rate(44100);
  EXPECT_TRUE(s.control().opus_offered);  // sticky, like the reference's channel caps
}

TEST(AudioStreams, RecordPrebuffersThenReturnsSamplesInOrder) {
  RecordStream s;
  s.start();
  std::vector<uint32_t> in(kRecordRingSamples / 2 - 1);
  for (size_t i = 0; i < in.size(); ++i) in[i] = uint32_t(i);
  s.write(in);
  std::vector<uint32_t> out(10000);
  EXPECT_EQ(s.read(out), 0u);  // below the pre-buffering threshold
  const uint32_t one = uint32_t(in.size());
  s.write(std::span<const uint32_t>(&one, 1));
  ASSERT_EQ(s.read(std::span<uint32_t>(out).first(100)), 100u);
  for (uint32_t i = 0; i < 100; ++i) ASSERT_EQ(out[i], i);
  ASSERT_EQ(s.read(out), kRecordRingSamples / 2 - 100);
  for (uint32_t i = 0; i < kRecordRingSamples / 2 - 100; ++i) ASSERT_EQ(out[i], i + 100);
  EXPECT_EQ(s.read(out), 0u);
  EXPECT_EQ(s.stats().samples_dropped, 0u);
}

TEST(AudioStreams, RecordOverflowDropsTheOldestAndCounts) {
  RecordStream s;
  s.start();
  std::vector<uint32_t> in(kRecordRingSamples + 300);
  for (size_t i = 0; i < in.size(); ++i) in[i] = uint32_t(i);
  s.write(std::span<const uint32_t>(in).first(1000));
  s.write(std::span<const uint32_t>(in).subspan(1000));
  EXPECT_EQ(s.stats().samples_dropped, 300u);
  std::vector<uint32_t> out(2 * kRecordRingSamples);
  ASSERT_EQ(s.read(out), kRecordRingSamples);
  for (size_t i = 0; i < kRecordRingSamples; ++i) ASSERT_EQ(out[i], uint32_t(i + 300));
  // A single write bigger than the ring keeps its newest samples.
  std::vector<uint32_t> big(3 * kRecordRingSamples);
  for (size_t i = 0; i < big.size(); ++i) big[i] = uint32_t(i);
  s.write(big);
  ASSERT_EQ(s.read(out), kRecordRingSamples);
  EXPECT_EQ(out[0], uint32_t(2 * kRecordRingSamples));
  EXPECT_EQ(out[kRecordRingSamples - 1], uint32_t(3 * kRecordRingSamples - 1));
}

TEST(AudioStreams, RecordStartForgetsOldSamples) {
  RecordStream s;
  s.start();
  s.write(std::vector<uint32_t>(kRecordRingSamples, 7));
  s.stop();
  s.start();
  std::vector<uint32_t> out(16);
  EXPECT_EQ(s.read(out), 0u);
}

// ---- Opus

// A stereo test frame sequence: a 440 Hz sine left, 1 kHz right, half scale.
std::vector<uint32_t> sine_frames(size_t frames, uint32_t hz) {
  std::vector<uint32_t> out(frames * kAudioFrameSamples);
  for (size_t i = 0; i < out.size(); ++i) {
    const double t = double(i) / hz;
    const auto l = int16_t(std::lround(16000 * std::sin(2 * std::numbers::pi * 440 * t)));
    const auto r = int16_t(std::lround(16000 * std::sin(2 * std::numbers::pi * 1000 * t)));
    out[i] = uint32_t(uint16_t(l)) | uint32_t(uint16_t(r)) << 16;
  }
  return out;
}

TEST(AudioOpus, FramesRoundTripWithinTheCodecsNoise) {
  auto enc = OpusFrameEncoder::create(48000);
  auto dec = OpusFrameDecoder::create(48000);
  ASSERT_TRUE(enc.ok()) << enc.error().message;
  ASSERT_TRUE(dec.ok()) << dec.error().message;
  const size_t frames = 50;
  const auto in = sine_frames(frames, 48000);
  std::vector<uint32_t> out;
  for (size_t f = 0; f < frames; ++f) {
    const auto frame =
        std::span<const uint32_t>(in).subspan(f * kAudioFrameSamples, kAudioFrameSamples);
    auto packet = enc->encode(frame);
    ASSERT_TRUE(packet.ok()) << packet.error().message;
    EXPECT_LE(packet->size(), kOpusMaxPacket);
    auto pcm = dec->decode(*packet);
    ASSERT_TRUE(pcm.ok()) << pcm.error().message;
    ASSERT_EQ(pcm->size(), kAudioFrameSamples);
    out.insert(out.end(), pcm->begin(), pcm->end());
  }
  // Opus delays its output (312 samples at 48 kHz, OPUS_APPLICATION_AUDIO); align on the
  // best lag, then the error must be far below the signal.
  double best = -1e9;
  for (size_t lag = 0; lag < 1000; ++lag) {
    double sig = 0, err = 0;
    for (size_t i = 2000; i + lag < out.size(); ++i) {
      for (int ch = 0; ch < 2; ++ch) {
        const double a = int16_t(in[i] >> (16 * ch));
        const double d = int16_t(out[i + lag] >> (16 * ch));
        sig += a * a;
        err += (a - d) * (a - d);
      }
    }
    best = std::max(best, 10 * std::log10(sig / std::max(err, 1.0)));
  }
  EXPECT_GT(best, 20.0);
}

TEST(AudioOpus, BadInputIsAnError) {
  EXPECT_FALSE(OpusFrameEncoder::create(44100).ok());
  EXPECT_FALSE(OpusFrameDecoder::create(44100).ok());
  auto enc = OpusFrameEncoder::create(48000);
  ASSERT_TRUE(enc.ok());
  EXPECT_FALSE(enc->encode(std::vector<uint32_t>(100)).ok());  // not one frame
  auto dec = OpusFrameDecoder::create(48000);
  ASSERT_TRUE(dec.ok());
  EXPECT_FALSE(dec->decode({}).ok());
  // A 60 ms packet (TOC config 3: SILK narrowband 60 ms, one frame) holds more than one
  // 10 ms frame: more than the decode buffer the reference allows.
  const uint8_t sixty_ms[] = {0x18, 0x00, 0x00};
  EXPECT_FALSE(dec->decode(sixty_ms).ok());
}

}  // namespace
}  // namespace spiceflow::net
