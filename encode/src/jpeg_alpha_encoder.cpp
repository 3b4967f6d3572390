// JPEG_ALPHA (SPICE_IMAGE_TYPE_JPEG_ALPHA) for ARGB images: the colour as JPEG (our jpeg
// encoder, libjpeg-turbo) and the alpha plane losslessly as an LZ stream of type XXXA, as
// spice-common's canvas_get_jpeg_alpha() decodes them: the JPEG into an a8r8g8b8 surface,
// then lz_rgb_alpha_decompress() over its alpha bytes. The alpha is the input's X byte.
//
// Payload (EncodedImage::data): the JFIF stream (jpeg_size bytes), then the LZ header
// (big-endian u32s: magic, version, type XXXA = 10, width, height, stride = width * 4,
// top_down 1) and LZ over the width * height alpha bytes (copies of at least 3 bytes, as
// LZ_PLT). The client insists the LZ size, type and top-down flag match the JPEG's.
#include "encoders.hpp"

namespace spiceflow::encode {
namespace {

constexpr uint32_t kTypeXxxa = 10;  // LzImageType XXXA: only the alpha byte of each pixel

class JpegAlphaEncoder final : public ImageEncoder {
 public:
  explicit JpegAlphaEncoder(int quality) : jpeg_(make_jpeg_encoder(quality)) {}
  ImageCodec codec() const override { return ImageCodec::jpeg_alpha; }

  EncodeResult encode(const ImageView& img) const override {
    auto res = jpeg_->encode(img);
    auto* colour = std::get_if<EncodedImage>(&res);
    if (!colour) return res;
    EncodedImage out{ImageCodec::jpeg_alpha, img.width, img.height, std::move(colour->data)};
    out.jpeg_size = uint32_t(out.data.size());
    std::vector<uint8_t> alpha(size_t(img.width) * size_t(img.height));
    for (int32_t y = 0; y < img.height; ++y) {
      const uint32_t* row = img.row(y);
      uint8_t* dst = alpha.data() + size_t(y) * size_t(img.width);
      for (int32_t x = 0; x < img.width; ++x) dst[x] = uint8_t(row[x] >> 24);
    }
    for (uint32_t v : {lz::kMagic, lz::kVersion, kTypeXxxa, uint32_t(img.width),
                       uint32_t(img.height), uint32_t(img.width) * 4, 1u}) {
      lz::put_u32(out.data, v);
    }
    lz::compress_bytes(alpha, out.data);
    return out;
  }

 private:
  std::unique_ptr<ImageEncoder> jpeg_;
};

}  // namespace

std::unique_ptr<ImageEncoder> make_jpeg_alpha_encoder(int quality) {
  return std::make_unique<JpegAlphaEncoder>(quality);
}

}  // namespace spiceflow::encode
