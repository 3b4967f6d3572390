#pragma once
/// The concrete image encoders, one per file. Private to encode/: callers use
/// make_image_encoder().
#include <memory>

#include "spiceflow/encode/image_encoder.hpp"

namespace spiceflow::encode {

std::unique_ptr<ImageEncoder> make_raw_encoder();
std::unique_ptr<ImageEncoder> make_lz4_encoder();
std::unique_ptr<ImageEncoder> make_quic_encoder();
std::unique_ptr<ImageEncoder> make_lz_encoder();
/// GLZ over a dictionary of its own (kGlzDefaultWindowPixels).
std::unique_ptr<ImageEncoder> make_standalone_glz_encoder(bool zlib);

/// Copies `img` into `out` as packed top-down rows of width * 4 bytes (out is resized).
void pack_rows(const ImageView& img, std::vector<uint8_t>& out);

}  // namespace spiceflow::encode
