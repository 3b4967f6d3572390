#pragma once
/// Lossless image codecs for display updates. Each encoder turns an xRGB image view into
/// the codec-specific payload that follows the SpiceImageDescriptor on the wire:
///   raw: the SpiceBitmap pixel rows, 32BIT format, top-down, stride = width * 4;
///   lz4: the bytes of SPICE's LZ4Data after its data_size field (top-down flag, bitmap
///        format, then blocks of [big-endian u32 compressed size][LZ4 block]) exactly as
///        spice-gtk's canvas decodes them;
///   quic: the QUIC stream (SPICE_IMAGE_TYPE_QUIC, image type RGB32), lossless;
///   lz:   the LZ stream with its header (SPICE_IMAGE_TYPE_LZ_RGB, image type RGB32), lossless;
///   jpeg: a baseline JFIF stream (SPICE_IMAGE_TYPE_JPEG), lossy;
///   glz:  the GLZ stream with its header (SPICE_IMAGE_TYPE_GLZ_RGB, RGB32), lossless,
///         referencing earlier images of the client's dictionary (glz_encoder.hpp);
///   zlib_glz: that GLZ stream deflated (SPICE_IMAGE_TYPE_ZLIB_GLZ_RGB; glz_size says
///         how long the GLZ stream inside is).
///   lz_plt: images of at most 256 colours as 1/4/8-bit palette indices in an LZ stream
///         (SPICE_IMAGE_TYPE_LZ_PLT; the palette travels beside it, `palette`), others as
///         lz (the result's codec says which). Lossless.
///   jpeg_alpha: for ARGB images (alpha in the X byte): the colour as JPEG, then the alpha
///         plane as an LZ stream of type XXXA (SPICE_IMAGE_TYPE_JPEG_ALPHA; jpeg_size says
///         where the JPEG ends). Lossy colour, exact alpha.
/// Each of these is the `data` of the SpiceImage's BinaryData (after data_size).
///
/// Threading: encode() is const and may run concurrently on many TBB workers (GLZ
/// encoders serialise on their dictionary).
#include <cstddef>
#include <memory>
#include <string>
#include <string_view>
#include <variant>
#include <vector>

#include "spiceflow/core/image.hpp"

namespace spiceflow::encode {

enum class ImageCodec { raw, lz4, quic, lz, jpeg, glz, zlib_glz, lz_plt, jpeg_alpha };
/// The number of ImageCodec values (they run 0..kImageCodecCount-1: usable as an index).
inline constexpr size_t kImageCodecCount = 9;

/// True for codecs whose output decodes to exactly the input pixels (X aside).
constexpr bool is_lossless(ImageCodec c) {
  return c != ImageCodec::jpeg && c != ImageCodec::jpeg_alpha;
}
/// True for codecs whose output depends on what the client was sent before (GLZ's
/// dictionary): encoded per client, never once for all (see glz_encoder.hpp).
constexpr bool needs_dictionary(ImageCodec c) {
  return c == ImageCodec::glz || c == ImageCodec::zlib_glz;
}

std::string_view to_string(ImageCodec c);

struct EncodedImage {
  ImageCodec codec = ImageCodec::raw;
  int32_t width = 0;
  int32_t height = 0;
  std::vector<uint8_t> data;
  /// zlib_glz only: the size of the GLZ stream `data` inflates to.
  uint32_t glz_size = 0;
  /// lz_plt only: the palette (0x00RRGGBB; every index in `data` is below its size) and
  /// its id for the client's palette cache (palette_id(palette)).
  std::vector<uint32_t> palette{};
  uint64_t palette_id = 0;
  /// jpeg_alpha only: the JPEG's length at the start of `data` (the alpha's LZ follows).
  uint32_t jpeg_size = 0;
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

/// A new encoder for `codec` (jpeg at kDefaultJpegQuality). glz and zlib_glz get a
/// dictionary of their own (kGlzDefaultWindowPixels): a stand-alone encoder for tests and
/// benchmarks; clients get one over their session's dictionary (make_glz_encoder).
std::unique_ptr<ImageEncoder> make_image_encoder(ImageCodec codec);

/// A 64-bit id of a palette's contents (equal palettes, equal ids): the `unique` a client's
/// palette cache keys it by.
uint64_t palette_id(const std::vector<uint32_t>& palette);

/// The reference server's default JPEG quality.
inline constexpr int kDefaultJpegQuality = 85;
/// A JPEG encoder at `quality` (clamped to 1..100).
std::unique_ptr<ImageEncoder> make_jpeg_encoder(int quality);

}  // namespace spiceflow::encode
