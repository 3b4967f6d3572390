#pragma once
// QXLDrawable / QXLCompatDrawable to a ParsedDraw. Private to qxl/.
#include "qxl_guest.hpp"

namespace spiceflow::qxl::detail {

/// Parses the drawable at `addr` (QXLCompatDrawable when the guest set
/// QXL_COMMAND_FLAG_COMPAT, QXLDrawable otherwise).
Result<ParsedDraw> parse_drawable(const Guest& g, GuestAddress addr);

/// The glyphs of the QXLString at `addr`, and their bits per pixel (1, 4 or 8).
Result<std::vector<Glyph>> read_glyphs(const Guest& g, GuestAddress addr, uint8_t* bpp);

/// The segments of the QXLPath at `addr`.
Result<std::vector<PathSegment>> read_path(const Guest& g, GuestAddress addr);

/// The rectangles of a QXLClip of type RECTS, empty ones dropped; clip type NONE gives none.
/// `*clips_all` is set to false when the clip is RECTS but no rectangle is left (nothing can
/// be drawn).
Result<std::vector<Rect>> read_clip(const Guest& g, const QXLClip& clip, bool* visible);

}  // namespace spiceflow::qxl::detail
