#pragma once
/// Lossless image codecs for display updates. Each encoder turns an xRGB image view into
/// the codec-specific payload that follows the SpiceImageDescriptor on the wire:
///   raw: the SpiceBitmap pixel rows, 32BIT format, top-down, stride = width * 4;
///   lz4: the bytes of SPICE's LZ4Data after its data_size field (top-down flag, bitmap
///        format, then blocks of [big-endian u32 compressed size][LZ4 block]) exactly as
///        spice-gtk's canvas decodes them.
/// The other SPICE codecs (QUIC, LZ, GLZ, JPEG, ...) slot in as more ImageCodec values.
///
/// Threading: encode() is const and may run concurrently on many TBB workers.
#include <memory>
#include <string>
#include <string_view>
#include <variant>
#include <vector>

#include "spiceflow/core/image.hpp"

namespace spiceflow::encode {

enum class ImageCodec { raw, lz4 };

std::string_view to_string(ImageCodec c);

struct EncodedImage {
  ImageCodec codec = ImageCodec::raw;
  int32_t width = 0;
  int32_t height = 0;
  std::vector<uint8_t> data;
};

/// The codec cannot represent this image (the caller falls back to another codec).
struct Unsupported {
  std::string why;
};
/// The encoder chose to skip this image (e.g. rate control); the caller sends nothing.
struct Dropped {};

using EncodeResult = std::variant<EncodedImage, Unsupported, Dropped>;

class ImageEncoder {
 public:
  virtual ~ImageEncoder() = default;
  virtual ImageCodec codec() const = 0;
  virtual EncodeResult encode(const ImageView& img) const = 0;
};

std::unique_ptr<ImageEncoder> make_image_encoder(ImageCodec codec);

}  // namespace spiceflow::encode
