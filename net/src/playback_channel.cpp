// The playback channel: the host's frames (a PlaybackStream) to one client, following the
// reference's sound.cpp. At link: MODE (raw, or Opus when playback compression is on, the
// client announced SPICE_PLAYBACK_CAP_OPUS and Opus supports the rate), then START if the
// host is playing, then VOLUME and MUTE if the host set a volume. Afterwards START / STOP as
// the host starts and stops, DATA per frame with the multimedia time it was put at, VOLUME /
// MUTE to clients with the VOLUME cap, LATENCY to clients with the LATENCY cap. No ACK
// window (the reference's sound channels have none): at most kMaxQueuedBytes wait in the
// socket queue, the rest waits in the stream's bounded queue, which drops its oldest.
#include <spice/enums.h>
#include <spice/protocol.h>

#include <algorithm>
#include <optional>

#include "audio_channel.hpp"
#include "opus_codec.hpp"
#include "spiceflow/core/log.hpp"
#include "spiceflow/net/audio_messages.hpp"

namespace spiceflow::net {

namespace {

// Four raw frames (40 ms at 48 kHz) in the socket queue before we leave frames in the
// stream's queue; a slow client then loses the oldest frames there, not ever more latency.
constexpr size_t kMaxQueuedBytes = 4 * (kAudioFrameSamples * 4 + 16);

class PlaybackChannel final : public AudioChannel {
 public:
  PlaybackChannel(ServerContext& ctx, std::unique_ptr<Peer> peer, const LinkMess& link,
                  uint32_t session_id, int desktop, std::shared_ptr<PlaybackStream> stream)
      : AudioChannel(ctx, std::move(peer), link, session_id, desktop, stream,
                     {SPICE_PLAYBACK_CAP_VOLUME, SPICE_MSG_PLAYBACK_VOLUME,
                      SPICE_MSG_PLAYBACK_MUTE}),
        stream_(std::move(stream)) {}

  ~PlaybackChannel() override {
    const auto st = stream_->stats();
    log::info("{}: playback closed: {} frames sent, {} dropped (client too slow) since the "
              "stream began",
              name(), st.frames_sent, st.frames_dropped);
  }

 protected:
  void start() override {
    link_stream();
    const AudioControl c = stream_->control();
    set_mode(choose_mode(c), c.rate);
    send_mode();
    if (c.active) send_start(c.rate);
    send_volume_at_link(c);
    sent_latency_seq_ = c.latency_seq;
    pump();
  }

  void on_room() override { pump(); }

  bool handle(uint16_t type, std::span<const uint8_t> body) override {
    log::warn("{}: unexpected playback message type {}", name(), type);
    return false;
  }

 private:
  AudioMode choose_mode(const AudioControl& c) const {
    return choose_playback_mode(c.compression, c.rate, has_channel_cap(SPICE_PLAYBACK_CAP_OPUS));
  }

  void set_mode(AudioMode mode, uint32_t rate) {
    wanted_mode_ = mode;
    encoder_.reset();
    mode_ = AudioMode::raw;
    if (mode == AudioMode::opus) {
      auto enc = OpusFrameEncoder::create(rate);
      if (enc) {
        encoder_.emplace(std::move(*enc));
        encoder_rate_ = rate;
        mode_ = AudioMode::opus;
      } else {
        log::warn("{}: Opus encoder: {}; sending raw audio", name(), enc.error().message);
      }
    }
    log::info("{}: playback mode {} at {} Hz", name(), to_string(mode_), rate);
  }

  void send_mode() {
    msg::Bytes body;
    msg::playback_mode(body, ctx_.mm_time(), mode_);
    send(SPICE_MSG_PLAYBACK_MODE, body);
  }

  void send_start(uint32_t rate) {
    if (mode_ == AudioMode::opus && encoder_rate_ != rate) set_mode(AudioMode::opus, rate);
    last_time_ = ctx_.mm_time();
    msg::Bytes body;
    msg::playback_start(body, 2, rate, last_time_);
    send(SPICE_MSG_PLAYBACK_START, body);
    client_active_ = true;
  }

  // Brings the client up to the stream's state, then sends what frames fit.
  void pump() override {
    if (peer_->closing()) return;
    const AudioControl c = stream_->control();
    if (const AudioMode want = choose_mode(c); want != wanted_mode_) {
      // Playback compression was switched. The reference only sends MODE; spice-gtk makes
      // its decoder at START, so a playing client gets START again to switch with us.
      set_mode(want, c.rate);
      send_mode();
      if (client_active_) send_start(c.rate);
    }
    if (c.active && !client_active_) send_start(c.rate);
    send_frames();
    if (!c.active && client_active_) {
      // Frames put before the stop go first (send_frames above); what did not fit is stale.
      stream_->clear();
      send_empty(SPICE_MSG_PLAYBACK_STOP);
      client_active_ = false;
    }
    send_volume_changes(c);
    if (c.latency_seq != sent_latency_seq_) {
      sent_latency_seq_ = c.latency_seq;
      if (has_channel_cap(SPICE_PLAYBACK_CAP_LATENCY)) {
        msg::Bytes body;
        msg::playback_latency(body, c.latency_ms);
        send(SPICE_MSG_PLAYBACK_LATENCY, body);
      }
    }
  }

  void send_frames() {
    PlaybackStream::Frame frame;
    while (client_active_ && !peer_->closing() && peer_->queued_bytes() < kMaxQueuedBytes &&
           stream_->pop(frame)) {
      // Never before START's time or the previous frame's: spice-gtk warns on time going
      // backwards (a frame put just before START was sent).
      last_time_ = std::max(last_time_, ctx_.mm_time_at(frame.put_at));
      msg::Bytes body;
      if (mode_ == AudioMode::opus) {
        auto packet = encoder_->encode(frame.samples);
        if (!packet) {
          // The reference disconnects the client when encoding fails.
          fail("Opus encoding failed: " + packet.error().message);
          return;
        }
        msg::playback_data(body, last_time_, *packet);
      } else {
        msg::playback_data(body, last_time_,
                           {reinterpret_cast<const uint8_t*>(frame.samples.data()),
                            frame.samples.size() * sizeof(uint32_t)});
      }
      send(SPICE_MSG_PLAYBACK_DATA, body);
    }
  }

  std::shared_ptr<PlaybackStream> stream_;
  AudioMode mode_ = AudioMode::raw;         // what the client was told
  AudioMode wanted_mode_ = AudioMode::raw;  // choose_mode()'s answer (Opus may have failed)
  std::optional<OpusFrameEncoder> encoder_;
  uint32_t encoder_rate_ = 0;
  bool client_active_ = false;  // START sent, STOP not yet
  uint32_t last_time_ = 0;      // START's or the last DATA's multimedia time
  uint64_t sent_latency_seq_ = 0;
};

}  // namespace

std::unique_ptr<ChannelClient> make_playback_channel(ServerContext& ctx,
                                                     std::unique_ptr<Peer> peer,
                                                     const LinkMess& link, uint32_t session_id,
                                                     int desktop) {
  auto stream = ctx.playback_stream();
  if (!stream) return nullptr;
  return std::make_unique<PlaybackChannel>(ctx, std::move(peer), link, session_id, desktop,
                                           std::move(stream));
}

}  // namespace spiceflow::net
