#pragma once
// The state behind SpicePlaybackInstance::st and SpiceRecordInstance::st: each instance
// owns a net::PlaybackStream / net::RecordStream that the net::Server serves as the
// playback / record channel. The host's calls (its audio thread or main loop) only touch
// the stream's short lock: they never wait for a client. See compat/README.md.
#include <array>
#include <cstdint>
#include <memory>

#include "abi.hpp"
#include "spiceflow/net/audio.hpp"

struct RedsState;

struct SpicePlaybackState {
  RedsState* reds = nullptr;
  SpicePlaybackInstance* instance = nullptr;
  std::shared_ptr<spiceflow::net::PlaybackStream> stream =
      std::make_shared<spiceflow::net::PlaybackStream>();
  /// Buffers lent by spice_server_playback_get_buffer until put_samples gives them back
  /// (as many as the reference's NUM_AUDIO_FRAMES). The host's audio thread only.
  struct Frame {
    std::array<uint32_t, spiceflow::net::kAudioFrameSamples> samples{};
    bool lent = false;
  };
  std::array<Frame, 3> frames;
};

struct SpiceRecordState {
  RedsState* reds = nullptr;
  SpiceRecordInstance* instance = nullptr;
  std::shared_ptr<spiceflow::net::RecordStream> stream =
      std::make_shared<spiceflow::net::RecordStream>();
};

namespace spiceflow::compat {

/// spice_server_add_interface / remove_interface for the audio interfaces (versions are
/// checked by the caller). The newest registered instance of each kind is the one served.
int add_playback(RedsState* s, SpicePlaybackInstance* sin);
int remove_playback(SpicePlaybackInstance* sin);
int add_record(RedsState* s, SpiceRecordInstance* sin);
int remove_record(SpiceRecordInstance* sin);
/// spice_server_set_playback_compression on every registered playback instance.
void set_playback_compression(RedsState* s, bool on);

}  // namespace spiceflow::compat
