#include "opus_codec.hpp"

#include <opus.h>

#include <string>

#include "spiceflow/net/audio.hpp"

namespace spiceflow::net {

namespace {
constexpr int kChannels = 2;

std::string opus_error(const char* what, int code) {
  return std::string(what) + ": " + opus_strerror(code);
}
}  // namespace

struct OpusFrameEncoder::Impl {
  OpusEncoder* enc = nullptr;
  ~Impl() {
    if (enc) opus_encoder_destroy(enc);
  }
};

OpusFrameEncoder::OpusFrameEncoder(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}
OpusFrameEncoder::OpusFrameEncoder(OpusFrameEncoder&&) noexcept = default;
OpusFrameEncoder& OpusFrameEncoder::operator=(OpusFrameEncoder&&) noexcept = default;
OpusFrameEncoder::~OpusFrameEncoder() = default;

Result<OpusFrameEncoder> OpusFrameEncoder::create(uint32_t hz) {
  if (!opus_supports(hz)) return make_error("Opus does not support " + std::to_string(hz) + " Hz");
  auto impl = std::make_unique<Impl>();
  int err = OPUS_OK;
  impl->enc = opus_encoder_create(opus_int32(hz), kChannels, OPUS_APPLICATION_AUDIO, &err);
  if (!impl->enc || err != OPUS_OK) return make_error(opus_error("opus_encoder_create", err));
  return OpusFrameEncoder(std::move(impl));
}

Result<std::vector<uint8_t>> OpusFrameEncoder::encode(std::span<const uint32_t> frame) {
  if (frame.size() != kAudioFrameSamples) {
    return make_error("an Opus frame is " + std::to_string(kAudioFrameSamples) + " samples, not " +
                      std::to_string(frame.size()));
  }
  std::vector<uint8_t> out(kOpusMaxPacket);
  // One uint32_t per stereo sample: left S16 in the low half, then right, i.e. the
  // interleaved opus_int16 layout on a little-endian machine.
  const int n = opus_encode(impl_->enc, reinterpret_cast<const opus_int16*>(frame.data()),
                            int(kAudioFrameSamples), out.data(), opus_int32(out.size()));
  if (n < 0) return make_error(opus_error("opus_encode", n));
  out.resize(size_t(n));
  return out;
}

struct OpusFrameDecoder::Impl {
  OpusDecoder* dec = nullptr;
  ~Impl() {
    if (dec) opus_decoder_destroy(dec);
  }
};

OpusFrameDecoder::OpusFrameDecoder(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}
OpusFrameDecoder::OpusFrameDecoder(OpusFrameDecoder&&) noexcept = default;
OpusFrameDecoder& OpusFrameDecoder::operator=(OpusFrameDecoder&&) noexcept = default;
OpusFrameDecoder::~OpusFrameDecoder() = default;

Result<OpusFrameDecoder> OpusFrameDecoder::create(uint32_t hz) {
  if (!opus_supports(hz)) return make_error("Opus does not support " + std::to_string(hz) + " Hz");
  auto impl = std::make_unique<Impl>();
  int err = OPUS_OK;
  impl->dec = opus_decoder_create(opus_int32(hz), kChannels, &err);
  if (!impl->dec || err != OPUS_OK) return make_error(opus_error("opus_decoder_create", err));
  return OpusFrameDecoder(std::move(impl));
}

Result<std::vector<uint32_t>> OpusFrameDecoder::decode(std::span<const uint8_t> packet) {
  if (packet.empty()) return make_error("empty Opus packet");
  std::vector<uint32_t> out(kAudioFrameSamples);
  const int n = opus_decode(impl_->dec, packet.data(), opus_int32(packet.size()),
                            reinterpret_cast<opus_int16*>(out.data()), int(out.size()), 0);
  if (n < 0) return make_error(opus_error("opus_decode", n));
  out.resize(size_t(n));
  return out;
}

}  // namespace spiceflow::net
