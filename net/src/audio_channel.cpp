#include "audio_channel.hpp"

#include <spice/enums.h>
#include <spice/protocol.h>

#include "spiceflow/net/audio_messages.hpp"

namespace spiceflow::net {

AudioChannel::AudioChannel(ServerContext& ctx, std::unique_ptr<Peer> peer, const LinkMess& link,
                           uint32_t session_id, int desktop, std::shared_ptr<AudioStream> stream,
                           VolumeMessages messages)
    : ChannelClient(ctx, std::move(peer), link, session_id, desktop),
      audio_(std::move(stream)),
      messages_(messages) {}

AudioChannel::~AudioChannel() {
  if (linked_) audio_->client_unlinked();
}

void AudioChannel::link_stream() {
  audio_->client_linked();
  linked_ = true;
}

void AudioChannel::send_volume_at_link(const AudioControl& c) {
  if (!c.volume.empty()) {
    send_volume(c);
    send_mute(c);
  }
  sent_volume_seq_ = c.volume_seq;
  sent_mute_seq_ = c.mute_seq;
}

void AudioChannel::send_volume_changes(const AudioControl& c) {
  if (c.volume_seq != sent_volume_seq_) {
    sent_volume_seq_ = c.volume_seq;
    send_volume(c);
  }
  if (c.mute_seq != sent_mute_seq_) {
    sent_mute_seq_ = c.mute_seq;
    send_mute(c);
  }
}

void AudioChannel::send_volume(const AudioControl& c) {
  // An empty volume is stored but not sent, as the reference (spice-gtk warns on 0 channels).
  if (c.volume.empty() || !has_channel_cap(messages_.cap)) return;
  msg::Bytes body;
  msg::audio_volume(body, c.volume);
  send(messages_.volume, body);
}

void AudioChannel::send_mute(const AudioControl& c) {
  if (!has_channel_cap(messages_.cap)) return;
  msg::Bytes body;
  msg::audio_mute(body, c.mute);
  send(messages_.mute, body);
}

Caps audio_channel_caps(uint8_t channel_type, const AudioControl& ctl) {
  Caps caps;
  if (channel_type == SPICE_CHANNEL_PLAYBACK) {
    caps.set(SPICE_PLAYBACK_CAP_VOLUME);
    if (ctl.opus_offered) caps.set(SPICE_PLAYBACK_CAP_OPUS);
  } else if (channel_type == SPICE_CHANNEL_RECORD) {
    caps.set(SPICE_RECORD_CAP_VOLUME);
    if (ctl.opus_offered) caps.set(SPICE_RECORD_CAP_OPUS);
  }
  return caps;
}

}  // namespace spiceflow::net
