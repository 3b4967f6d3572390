// The record channel: one client's microphone into a RecordStream, following the
// reference's sound.cpp. At link: START if the host is recording, then VOLUME and MUTE if
// the host set a volume; afterwards START / STOP / VOLUME / MUTE as the host changes them.
// The client answers START with RECORD_MODE (raw, or Opus if we advertised
// SPICE_RECORD_CAP_OPUS), RECORD_START_MARK and RECORD_DATA frames. Raw data is S16 stereo;
// Opus packets are decoded here. A mode we cannot decode, an Opus packet that does not
// decode or a short message closes this client (the reference disconnects it too).
#include <spice/enums.h>
#include <spice/protocol.h>

#include <cstring>
#include <optional>

#include "audio_channel.hpp"
#include "opus_codec.hpp"
#include "spiceflow/core/log.hpp"
#include "spiceflow/net/audio_messages.hpp"

namespace spiceflow::net {

namespace {

class RecordChannel final : public AudioChannel {
 public:
  RecordChannel(ServerContext& ctx, std::unique_ptr<Peer> peer, const LinkMess& link,
                uint32_t session_id, int desktop, std::shared_ptr<RecordStream> stream)
      : AudioChannel(ctx, std::move(peer), link, session_id, desktop, stream,
                     {SPICE_RECORD_CAP_VOLUME, SPICE_MSG_RECORD_VOLUME, SPICE_MSG_RECORD_MUTE}),
        stream_(std::move(stream)) {}

  ~RecordChannel() override {
    const auto st = stream_->stats();
    log::info("{}: record closed: {} samples received, {} dropped (host too slow) since the "
              "stream began",
              name(), st.samples_received, st.samples_dropped);
  }


 protected:
  void start() override {
    link_stream();
    const AudioControl c = stream_->control();
    rate_ = c.rate;
    if (c.active) send_start(c.rate);
    send_volume_at_link(c);
  }

  bool handle(uint16_t type, std::span<const uint8_t> body) override {
    switch (type) {
      case SPICE_MSGC_RECORD_DATA: {
        auto m = msg::parse_record_data(body);
        if (!m) return false;
        return on_data(m->data);
      }
      case SPICE_MSGC_RECORD_MODE: {
        auto m = msg::parse_record_mode(body);
        if (!m) return false;
        return on_mode(m->mode);
      }
      case SPICE_MSGC_RECORD_START_MARK: {
        auto m = msg::parse_record_start_mark(body);
        if (!m) return false;
        log::debug("{}: record start mark at {}", name(), m->time);
        return true;
      }
      default:
        log::warn("{}: unexpected record message type {}", name(), type);
        return false;
    }
  }

 private:
  void send_start(uint32_t rate) {
    rate_ = rate;
    msg::Bytes body;
    msg::record_start(body, 2, rate);
    send(SPICE_MSG_RECORD_START, body);
    client_active_ = true;
  }

  void pump() override {
    if (peer_->closing()) return;
    const AudioControl c = stream_->control();
    if (c.active && !client_active_) send_start(c.rate);
    if (!c.active && client_active_) {
      send_empty(SPICE_MSG_RECORD_STOP);
      client_active_ = false;
    }
    send_volume_changes(c);
  }

  bool on_mode(uint16_t mode) {
    if (!record_mode_acceptable(mode, rate_)) {
      log::warn("{}: record mode {} is not supported at {} Hz", name(), mode, rate_);
      return false;
    }
    decoder_.reset();
    if (mode == SPICE_AUDIO_DATA_MODE_OPUS) {
      auto dec = OpusFrameDecoder::create(rate_);
      if (!dec) {
        log::warn("{}: Opus decoder: {}", name(), dec.error().message);
        return false;
      }
      decoder_.emplace(std::move(*dec));
    }
    log::info("{}: record mode {} at {} Hz", name(),
              mode == SPICE_AUDIO_DATA_MODE_OPUS ? "opus" : "raw", rate_);
    return true;
  }

  bool on_data(std::span<const uint8_t> data) {
    if (decoder_) {
      auto pcm = decoder_->decode(data);
      if (!pcm) {
        log::warn("{}: record data: {}", name(), pcm.error().message);
        return false;
      }
      stream_->write(*pcm);
      return true;
    }
    // Raw: whole S16 stereo samples; a trailing partial one is ignored, as the reference.
    scratch_.resize(data.size() / 4);
    std::memcpy(scratch_.data(), data.data(), scratch_.size() * 4);
    stream_->write(scratch_);
    return true;
  }

  std::shared_ptr<RecordStream> stream_;
  bool client_active_ = false;
  uint32_t rate_ = kDefaultAudioRate;  // the stream's rate at link or at the last START
  std::optional<OpusFrameDecoder> decoder_;  // set while the client's mode is Opus
  std::vector<uint32_t> scratch_;
};

}  // namespace

std::unique_ptr<ChannelClient> make_record_channel(ServerContext& ctx, std::unique_ptr<Peer> peer,
                                                   const LinkMess& link, uint32_t session_id,
                                                   int desktop) {
  auto stream = ctx.record_stream();
  if (!stream) return nullptr;
  return std::make_unique<RecordChannel>(ctx, std::move(peer), link, session_id, desktop,
                                         std::move(stream));
}

}  // namespace spiceflow::net
