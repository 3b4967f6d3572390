#pragma once
// QXLImage / QXLQMask / QXLBrush to IR operands. Private to qxl/.
#include <span>

#include "qxl_guest.hpp"
#include "spiceflow/core/draw.hpp"

namespace spiceflow::qxl::detail {

/// Reads the QXLImage at `addr` (must not be null): a bitmap in any SPICE_BITMAP_FMT_*
/// becomes a 32-bit Image, a QUIC image is decoded to one, a surface image names its surface
/// id. Other compressed types (LZ, GLZ, JPEG, ...; the reference server takes none of them
/// from a guest) are rejected. `src_size` receives the image size (empty for surfaces).
Result<ImageSource> read_image(const Guest& g, GuestAddress addr, Size* src_size = nullptr);

/// Reads a QXLQMask; a null bitmap address gives an empty Mask (no mask).
Result<Mask> read_mask(const Guest& g, const QXLQMask& qmask);

/// Reads a QXLBrush (pattern images through read_image).
Result<Brush> read_brush(const Guest& g, const QXLBrush& brush);

/// Converts bitmap rows to a packed 32-bit Image. Exposed for the tests of formats that
/// need no guest memory. `palette` holds the palette entries as 0xAARRGGBB.
Result<std::shared_ptr<Image>> convert_bitmap(uint8_t format, bool top_down, uint32_t width,
                                              uint32_t height, uint32_t stride,
                                              std::span<const uint8_t> data,
                                              std::span<const uint32_t> palette);

/// Bits per pixel of a SPICE_BITMAP_FMT_*; 0 when unknown.
uint32_t bitmap_format_bpp(uint8_t format);

}  // namespace spiceflow::qxl::detail
