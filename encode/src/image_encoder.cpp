#include "spiceflow/encode/image_encoder.hpp"

#include <cassert>

#include "encoders.hpp"

namespace spiceflow::encode {

std::string_view to_string(ImageCodec c) {
  switch (c) {
    case ImageCodec::raw:
      return "raw";
    case ImageCodec::lz4:
      return "lz4";
    case ImageCodec::quic:
      return "quic";
    case ImageCodec::lz:
      return "lz";
    case ImageCodec::jpeg:
      return "jpeg";
    case ImageCodec::glz:
      return "glz";
    case ImageCodec::zlib_glz:
      return "zlib_glz";
    case ImageCodec::lz_plt:
      return "lz_plt";
    case ImageCodec::jpeg_alpha:
      return "jpeg_alpha";
  }
  return "unknown";
}

std::unique_ptr<ImageEncoder> make_image_encoder(ImageCodec codec) {
  switch (codec) {
    case ImageCodec::raw:
      return make_raw_encoder();
    case ImageCodec::lz4:
      return make_lz4_encoder();
    case ImageCodec::quic:
      return make_quic_encoder();
    case ImageCodec::lz:
      return make_lz_encoder();
    case ImageCodec::jpeg:
      return make_jpeg_encoder(kDefaultJpegQuality);
    case ImageCodec::glz:
    case ImageCodec::zlib_glz:
      return make_standalone_glz_encoder(codec == ImageCodec::zlib_glz);
    case ImageCodec::lz_plt:
      return make_lz_plt_encoder();
    case ImageCodec::jpeg_alpha:
      return make_jpeg_alpha_encoder(kDefaultJpegQuality);
  }
  assert(false && "unhandled ImageCodec");
  return nullptr;
}

}  // namespace spiceflow::encode
