#pragma once
/// Marshalling of the playback and record channel bodies (spice-common's spice.proto,
/// PlaybackChannel and RecordChannel), beside messages.hpp's other channels and with the
/// same rules: builders append to `out`; parsers bounds-check, return nullopt for a body
/// that is too short and ignore trailing bytes except where the data runs to the end.
#include <cstdint>
#include <optional>
#include <span>

#include "spiceflow/net/audio.hpp"
#include "spiceflow/net/messages.hpp"

namespace spiceflow::net::msg {

// ---- server messages (both channels)
/// AudioVolume (PLAYBACK_VOLUME, RECORD_VOLUME): nchannels u8, volume u16 * nchannels.
/// At most 255 channels are sent.
void audio_volume(Bytes& out, std::span<const uint16_t> volume);
/// AudioMute (PLAYBACK_MUTE, RECORD_MUTE): mute u8.
void audio_mute(Bytes& out, bool mute);

// ---- playback channel
/// PLAYBACK_DATA: time u32 (multimedia clock), then the frame (raw S16 or one Opus packet)
/// to the end of the message.
void playback_data(Bytes& out, uint32_t time, std::span<const uint8_t> data);
/// PLAYBACK_MODE: time u32, mode u16 (SPICE_AUDIO_DATA_MODE_*), no data.
void playback_mode(Bytes& out, uint32_t time, AudioMode mode);
/// PLAYBACK_START: channels u32, format u16 (SPICE_AUDIO_FMT_S16), frequency u32, time u32.
void playback_start(Bytes& out, uint32_t channels, uint32_t frequency, uint32_t time);
/// PLAYBACK_LATENCY: latency_ms u32. PLAYBACK_STOP has an empty body.
void playback_latency(Bytes& out, uint32_t latency_ms);

// ---- record channel
/// RECORD_START: channels u32, format u16 (SPICE_AUDIO_FMT_S16), frequency u32. RECORD_STOP
/// has an empty body.
void record_start(Bytes& out, uint32_t channels, uint32_t frequency);

// ---- client messages (record channel)
struct RecordData {
  uint32_t time = 0;
  std::span<const uint8_t> data;  ///< to the end of the message; a view into the body
};
struct RecordMode {
  uint32_t time = 0;
  uint16_t mode = 0;  ///< SPICE_AUDIO_DATA_MODE_*, not checked here
};
struct RecordStartMark {
  uint32_t time = 0;
};
/// RECORD_DATA: time u32, data to the end.
std::optional<RecordData> parse_record_data(std::span<const uint8_t> body);
/// RECORD_MODE: time u32, mode u16, data to the end (unused: spice-gtk sends none).
std::optional<RecordMode> parse_record_mode(std::span<const uint8_t> body);
/// RECORD_START_MARK: time u32.
std::optional<RecordStartMark> parse_record_start_mark(std::span<const uint8_t> body);

}  // namespace spiceflow::net::msg
