#pragma once
/// Audio between a host and the SPICE playback and record channels.
///
/// A host (compat/: QEMU's -audiodev spice) produces playback frames and consumes recorded
/// samples on its own threads; the channels run on the server's event-loop thread. The two
/// stream classes below are the hand-off. Every host-side call takes one short mutex and
/// never waits for the network; the queues are bounded and drop their oldest data, counted,
/// when a client is slow. Samples are interleaved signed 16-bit stereo, one uint32_t per
/// sample frame (left in the low half), as spice-audio.h defines them.
///
/// A stream is attached to a Server (Server::set_playback / set_record): from then on the
/// server serves that channel (id 0), lists it in MAIN_CHANNELS_LIST and wakes the channel
/// when the host changes something. One client per channel, as the reference: a new
/// client's channel replaces the old one's.
#include <chrono>
#include <cstdint>
#include <deque>
#include <functional>
#include <mutex>
#include <span>
#include <string_view>
#include <vector>

namespace spiceflow::net {

/// Samples per playback frame: SND_CODEC_MAX_FRAME_SIZE, the Opus frame (10 ms at 48 kHz).
/// Raw mode uses the same frame size.
inline constexpr uint32_t kAudioFrameSamples = 480;
/// A stream's rate until the host sets one (the reference's SND_CODEC_OPUS_PLAYBACK_FREQ).
inline constexpr uint32_t kDefaultAudioRate = 48000;
/// Playback frames queued for the client before the oldest is dropped (100 ms at 48 kHz).
inline constexpr size_t kPlaybackQueueFrames = 10;
/// Recorded samples held for the host: the reference's ring (8192, 170 ms at 48 kHz). After
/// each start the host gets nothing until half of it has arrived (the reference's
/// pre-buffering); beyond it the oldest samples are dropped.
inline constexpr size_t kRecordRingSamples = 8192;

/// SPICE_AUDIO_DATA_MODE_* values on the wire.
enum class AudioMode : uint16_t { raw = 1, opus = 3 };
std::string_view to_string(AudioMode mode);

/// Whether Opus can carry audio at `hz` (8, 12, 16, 24 or 48 kHz: snd_codec_is_capable).
bool opus_supports(uint32_t hz);
/// The playback mode for one client, as the reference's snd_desired_audio_mode: Opus when
/// playback compression is on, the client announced SPICE_PLAYBACK_CAP_OPUS and Opus
/// supports the rate; raw otherwise.
AudioMode choose_playback_mode(bool compression, uint32_t hz, bool client_has_opus);
/// Whether a client's RECORD MODE (a SPICE_AUDIO_DATA_MODE_* value) is acceptable at `hz`:
/// raw always, Opus where it supports the rate; anything else closes that client.
bool record_mode_acceptable(uint16_t mode, uint32_t hz);

/// What the host last set, as the channel reads it (one consistent snapshot). The `*_seq`
/// counters grow with every host call, so a channel sends each change once.
struct AudioControl {
  bool active = false;  ///< between the host's start() and stop()
  std::vector<uint16_t> volume;  ///< per channel; empty until the host sets one
  uint64_t volume_seq = 0;
  bool mute = false;
  uint64_t mute_seq = 0;
  uint32_t rate = kDefaultAudioRate;
  /// SPICE_{PLAYBACK,RECORD}_CAP_OPUS is advertised: the host set a rate Opus supports
  /// (sticky, as the reference's channel caps).
  bool opus_offered = false;
  bool compression = true;  ///< playback only: spice_server_set_playback_compression
  uint32_t latency_ms = 0;  ///< playback only: last set_latency()
  uint64_t latency_seq = 0;
};

/// What playback and record share. Host side: any thread. Net side: the loop thread.
class AudioStream {
 public:
  AudioStream() = default;
  virtual ~AudioStream() = default;
  AudioStream(const AudioStream&) = delete;
  AudioStream& operator=(const AudioStream&) = delete;

  // ---- host side
  /// The host's device started or stopped (clients get START / STOP).
  virtual void start();
  void stop();
  /// Per-channel volume, 0..65535 (clients with the VOLUME cap get VOLUME). An empty list
  /// is stored but not sent, as the reference does.
  void set_volume(std::span<const uint16_t> volume);
  void set_mute(bool mute);
  void set_rate(uint32_t hz);
  /// A client's channel is linked (playback: frames have somewhere to go).
  bool client_connected() const;
  bool active() const;

  // ---- net side
  /// The current control state (one consistent snapshot).
  AudioControl control() const;
  /// Called (under the stream's lock, from whatever thread changed the stream) on the
  /// first change after rearm(); must not block. nullptr detaches.
  void set_notifier(std::function<void()> notifier);
  /// The notifier's wake-up was taken: the next change notifies again. Call before
  /// reading the state, so no change is missed.
  void rearm();
  void client_linked();
  void client_unlinked();

 protected:
  /// The last linked client went away (caller holds mu_).
  virtual void last_client_gone_locked() {}
  /// Wakes the net side once per rearm() (caller holds mu_).
  void changed_locked();

  mutable std::mutex mu_;
  AudioControl ctl_;  // guarded by mu_
  int clients_ = 0;   // guarded by mu_

 private:
  std::function<void()> notifier_;  // guarded by mu_
  bool wake_pending_ = false;       // guarded by mu_
};

/// Host → client. The host puts whole frames; the playback channel sends them in order.
class PlaybackStream final : public AudioStream {
 public:
  struct Frame {
    std::vector<uint32_t> samples;  ///< kAudioFrameSamples
    std::chrono::steady_clock::time_point put_at;  ///< becomes the DATA's multimedia time
  };
  struct Stats {
    uint64_t frames_put = 0;      ///< accepted by put()
    uint64_t frames_dropped = 0;  ///< queued but dropped: the client did not keep up
    uint64_t frames_sent = 0;
  };

  // ---- host side
  /// Queues one frame (copied; `samples` must hold kAudioFrameSamples). Returns false (and
  /// keeps nothing) unless the stream is active and a client is connected. With
  /// kPlaybackQueueFrames already queued the oldest is dropped.
  bool put(std::span<const uint32_t> samples);
  /// spice_server_set_playback_compression: Opus allowed (connected clients switch mode).
  void set_compression(bool on);
  /// Audio/video sync delay for clients with SPICE_PLAYBACK_CAP_LATENCY.
  void set_latency(uint32_t ms);
  Stats stats() const;

  // ---- net side
  /// The oldest queued frame; false when none.
  bool pop(Frame& out);
  /// Drops every queued frame (the client stopped; done by itself when the last client goes).
  void clear();

 private:
  void last_client_gone_locked() override { queue_.clear(); }
  std::deque<Frame> queue_;  // guarded by mu_
  Stats stats_;              // guarded by mu_
};

/// Client → host. The record channel writes decoded samples; the host reads them.
class RecordStream final : public AudioStream {
 public:
  struct Stats {
    uint64_t samples_received = 0;
    uint64_t samples_dropped = 0;  ///< overwritten before the host read them
    uint64_t samples_read = 0;
  };

  // ---- host side
  /// Also empties the ring (the reference restarts its read and write positions).
  void start() override;
  /// Copies up to out.size() samples, oldest first, and returns how many. 0 until
  /// kRecordRingSamples / 2 have arrived since start().
  size_t read(std::span<uint32_t> out);
  Stats stats() const;

  // ---- net side
  /// Appends samples from the client; beyond kRecordRingSamples the oldest are dropped.
  void write(std::span<const uint32_t> samples);

 private:
  std::vector<uint32_t> ring_ = std::vector<uint32_t>(kRecordRingSamples);  // guarded by mu_
  uint64_t write_pos_ = 0;  // samples written since start(); guarded by mu_
  uint64_t read_pos_ = 0;   // guarded by mu_
  Stats stats_;             // guarded by mu_
};

}  // namespace spiceflow::net
