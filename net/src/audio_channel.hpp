#pragma once
// What the playback and record channels share (the reference's SndChannelClient): the
// stream they serve, on which they count as a linked client from start() until they are
// destroyed, and the host's volume and mute, sent to clients that announced the channel's
// VOLUME cap: at link when the host has set a volume (as the reference), then once per
// change. Loop thread only.
#include <cstdint>
#include <memory>

#include "channel.hpp"

namespace spiceflow::net {

class AudioChannel : public ChannelClient {
 public:
  ~AudioChannel() override;
  void on_server_state() override { pump(); }

 protected:
  /// The channel's VOLUME capability and its VOLUME and MUTE message types.
  struct VolumeMessages {
    uint32_t cap = 0;
    uint16_t volume = 0;
    uint16_t mute = 0;
  };
  AudioChannel(ServerContext& ctx, std::unique_ptr<Peer> peer, const LinkMess& link,
               uint32_t session_id, int desktop, std::shared_ptr<AudioStream> stream,
               VolumeMessages messages);

  /// Counts this client on the stream (from start()).
  void link_stream();
  /// VOLUME and MUTE at link, when the host has set a volume.
  void send_volume_at_link(const AudioControl& c);
  /// VOLUME / MUTE for what changed since the link or the last call.
  void send_volume_changes(const AudioControl& c);
  /// Brings the client up to the stream's state (on every notifier wake-up).
  virtual void pump() = 0;

 private:
  void send_volume(const AudioControl& c);
  void send_mute(const AudioControl& c);

  std::shared_ptr<AudioStream> audio_;
  const VolumeMessages messages_;
  bool linked_ = false;
  uint64_t sent_volume_seq_ = 0;
  uint64_t sent_mute_seq_ = 0;
};

}  // namespace spiceflow::net
