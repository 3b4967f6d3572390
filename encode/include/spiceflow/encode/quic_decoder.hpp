#pragma once
/// QUIC decoding: the payload of a SPICE_IMAGE_TYPE_QUIC image, as a QXL guest may send
/// one already compressed. Decodes the types a SPICE canvas draws: RGB32, RGB24 and RGB16
/// (opaque; RGB16's 5-bit channels widened to 8) and RGBA; GRAY is rejected with an error.
///
/// Safe on hostile input: the header's size is checked against the caller's limits before
/// anything is allocated, every read of the stream is bounds-checked, and a truncated or
/// corrupt stream gives an error (never a read past `data`, never an endless loop).
#include <cstdint>
#include <span>

#include "spiceflow/core/image.hpp"
#include "spiceflow/core/result.hpp"

namespace spiceflow::encode {

/// The largest image a stream may declare (the caller's parse limits).
struct QuicDecodeLimits {
  int32_t max_side = 1 << 14;
  int64_t max_pixels = int64_t{1} << 26;
};

struct QuicDecoded {
  Image image;             ///< 0xAARRGGBB; alpha is 0xff unless has_alpha
  bool has_alpha = false;  ///< the stream was RGBA
};

/// Decodes `data` (whole 32-bit little-endian words; trailing bytes past the last whole
/// word are ignored, as spice-common does).
Result<QuicDecoded> decode_quic(std::span<const uint8_t> data,
                                const QuicDecodeLimits& limits = {});

}  // namespace spiceflow::encode
