#pragma once
// Opus for the audio channels, configured as spice-common's snd_codec does (so spice-gtk
// and the reference server read what we write and we read what they write): stereo,
// OPUS_APPLICATION_AUDIO, one 480-sample frame (10 ms at 48 kHz) per packet, packets of at
// most 480 bytes. libopus stays behind this header. Threading: one object per channel
// client, used on the loop thread only.
#include <cstdint>
#include <memory>
#include <span>
#include <vector>

#include "spiceflow/core/result.hpp"

namespace spiceflow::net {

/// The largest Opus packet we send (SND_CODEC_MAX_COMPRESSED_BYTES).
inline constexpr size_t kOpusMaxPacket = 480;

class OpusFrameEncoder {
 public:
  /// `hz` must be one opus_supports() accepts.
  static Result<OpusFrameEncoder> create(uint32_t hz);
  OpusFrameEncoder(OpusFrameEncoder&&) noexcept;
  OpusFrameEncoder& operator=(OpusFrameEncoder&&) noexcept;
  ~OpusFrameEncoder();

  /// Encodes one frame of kAudioFrameSamples interleaved stereo S16 samples (one uint32_t
  /// each) into one packet.
  Result<std::vector<uint8_t>> encode(std::span<const uint32_t> frame);

 private:
  struct Impl;
  explicit OpusFrameEncoder(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

class OpusFrameDecoder {
 public:
  static Result<OpusFrameDecoder> create(uint32_t hz);
  OpusFrameDecoder(OpusFrameDecoder&&) noexcept;
  OpusFrameDecoder& operator=(OpusFrameDecoder&&) noexcept;
  ~OpusFrameDecoder();

  /// Decodes one packet into at most kAudioFrameSamples stereo samples (as spice-common's
  /// decode buffer): a packet holding more, or a corrupt one, is an error.
  Result<std::vector<uint32_t>> decode(std::span<const uint8_t> packet);

 private:
  struct Impl;
  explicit OpusFrameDecoder(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

}  // namespace spiceflow::net
