#pragma once
/// The client's final picture: copied out of spice-client-glib's primary surface, saved as
/// PNG (libpng), compared with a reference PPM.
#include <cstdint>
#include <string>

#include "report.hpp"
#include "spiceflow/core/image.hpp"
#include "spiceflow/core/result.hpp"

namespace spiceflow::meter {

/// A copy of a primary surface in SPICE format `format` (only the 32-bit ones,
/// SPICE_SURFACE_FMT_32_xRGB and _32_ARGB, are supported; memory order B, G, R, X).
Result<Image> copy_surface(const uint8_t* data, int width, int height, int stride, int format);
/// Writes `img` as an 8-bit RGB PNG.
Status write_png(const std::string& path, const ImageView& img);
/// Compares R, G and B of `img` with `ref` (same size required).
Result<ReferenceComparison> compare(const ImageView& img, const ImageView& ref);

}  // namespace spiceflow::meter
