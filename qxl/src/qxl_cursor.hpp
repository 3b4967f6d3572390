#pragma once
// QXLCursorCmd to cursor commands; cursor shapes to premultiplied 32-bit ARGB. Private to qxl/.
#include <span>

#include "qxl_guest.hpp"

namespace spiceflow::qxl::detail {

/// Parses the QXLCursorCmd at `addr`.
Result<ParsedCursor> parse_cursor(const Guest& g, GuestAddress addr);

/// Converts cursor pixel data of SPICE_CURSOR_TYPE_* `type` (ALPHA, MONO, COLOR4/8/16/24/32)
/// to premultiplied ARGB. Layouts, all rows top-down: ALPHA 4 bytes a pixel; MONO an AND
/// mask then an XOR mask of (w+7)/8 bytes a row; COLORn the pixels (4-bit rows of (w+1)/2
/// bytes, high nibble first; 8-bit indices; 16-bit 555; 24-bit BGR; 32-bit xRGB), for COLOR4
/// and COLOR8 a 16/256-entry palette, then the AND mask. An AND bit set means transparent,
/// or inverted screen where the colour is white (drawn as a black/white checker, which stays
/// visible on any background).
Result<std::shared_ptr<Image>> convert_cursor(uint16_t type, uint32_t width, uint32_t height,
                                              std::span<const uint8_t> data);

}  // namespace spiceflow::qxl::detail
