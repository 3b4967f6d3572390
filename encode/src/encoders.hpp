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
/// LZ_PLT for images of <= 256 colours, LZ_RGB (make_lz_encoder) for the others.
std::unique_ptr<ImageEncoder> make_lz_plt_encoder();
/// JPEG_ALPHA at `quality`: X bytes are the alpha plane.
std::unique_ptr<ImageEncoder> make_jpeg_alpha_encoder(int quality);
/// GLZ over a dictionary of its own (kGlzDefaultWindowPixels).
std::unique_ptr<ImageEncoder> make_standalone_glz_encoder(bool zlib);

/// Copies `img` into `out` as packed top-down rows of width * 4 bytes (out is resized).
void pack_rows(const ImageView& img, std::vector<uint8_t>& out);

/// The byte-level pieces LZ_RGB and GLZ_RGB share (src/lz_encoder.cpp).
namespace lz {
/// A big-endian u32 (header fields).
void put_u32(std::vector<uint8_t>& out, uint32_t v);
/// Literal runs: per up to 32 pixels a control byte (count - 1), then B, G, R of each.
void put_literals(std::vector<uint8_t>& out, const uint32_t* px, size_t n);
/// A copy's length past the control byte's 3 bits (len >= 7): 255s, then the rest.
void put_length_extension(std::vector<uint8_t>& out, size_t len);
/// `img`'s pixels, rows packed, X cleared: equal colours compare equal whatever their X.
void copy_rgb(const ImageView& img, uint32_t* out);
/// LZ over bytes as the one-byte "pixel" types decode it (PLT*, XXXA alpha, A8: copies of
/// at least 3 bytes), appended to `out` (src/lz_plt_encoder.cpp).
void compress_bytes(const std::vector<uint8_t>& in, std::vector<uint8_t>& out);
/// LZ header fields: magic "LZ  ", version 1.1, and the LzImageType values we write.
inline constexpr uint32_t kMagic = 0x20205a4c;
inline constexpr uint32_t kVersion = 0x00010001;
}  // namespace lz

}  // namespace spiceflow::encode
