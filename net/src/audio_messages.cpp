// Playback and record channel bodies; field widths beside each write, as in messages.cpp.
#include "spiceflow/net/audio_messages.hpp"

#include <spice/enums.h>

#include <algorithm>

#include "spiceflow/core/bytes.hpp"

namespace spiceflow::net::msg {

void audio_volume(Bytes& out, std::span<const uint16_t> volume) {
  ByteWriter w(out);
  const size_t n = std::min<size_t>(volume.size(), 255);
  w.u8(uint8_t(n));                                  // nchannels u8
  for (size_t i = 0; i < n; ++i) w.u16(volume[i]);  // volume u16[nchannels]
}

void audio_mute(Bytes& out, bool mute) { ByteWriter(out).u8(mute ? 1 : 0); }  // mute u8

void playback_data(Bytes& out, uint32_t time, std::span<const uint8_t> data) {
  ByteWriter w(out);
  w.u32(time);    // time u32
  w.bytes(data);  // data[] to the end
}

void playback_mode(Bytes& out, uint32_t time, AudioMode mode) {
  ByteWriter w(out);
  w.u32(time);            // time u32
  w.u16(uint16_t(mode));  // mode u16 (audio_data_mode)
}

void playback_start(Bytes& out, uint32_t channels, uint32_t frequency, uint32_t time) {
  ByteWriter w(out);
  w.u32(channels);             // channels u32
  w.u16(SPICE_AUDIO_FMT_S16);  // format u16 (audio_fmt)
  w.u32(frequency);            // frequency u32
  w.u32(time);                 // time u32
}

void playback_latency(Bytes& out, uint32_t latency_ms) { ByteWriter(out).u32(latency_ms); }

void record_start(Bytes& out, uint32_t channels, uint32_t frequency) {
  ByteWriter w(out);
  w.u32(channels);             // channels u32
  w.u16(SPICE_AUDIO_FMT_S16);  // format u16
  w.u32(frequency);            // frequency u32
}

std::optional<RecordData> parse_record_data(std::span<const uint8_t> body) {
  ByteReader r(body);
  RecordData m;
  m.time = r.u32();  // time u32
  if (!r.ok()) return std::nullopt;
  m.data = body.subspan(r.offset());  // data[] to the end
  return m;
}

std::optional<RecordMode> parse_record_mode(std::span<const uint8_t> body) {
  ByteReader r(body);
  RecordMode m;
  m.time = r.u32();  // time u32
  m.mode = r.u16();  // mode u16
  if (!r.ok()) return std::nullopt;
  return m;
}

std::optional<RecordStartMark> parse_record_start_mark(std::span<const uint8_t> body) {
  ByteReader r(body);
  RecordStartMark m;
  m.time = r.u32();  // time u32
  if (!r.ok()) return std::nullopt;
  return m;
}

}  // namespace spiceflow::net::msg
