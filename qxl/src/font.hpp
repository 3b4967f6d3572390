#pragma once
/// A small monospace bitmap font for printable ASCII (0x20..0x7e), designed for spiceflow's
/// synthetic desktops. A glyph is a 5x9 design (7 rows above the baseline, 2 below) placed
/// in a 6x10 cell with one blank column on the right and one blank row on top, so that
/// glyphs set side by side and line under line never touch.
#include <array>
#include <cstdint>

namespace spiceflow::qxl::font {

inline constexpr int kCellWidth = 6;
inline constexpr int kCellHeight = 10;
inline constexpr char kFirst = 0x20;
inline constexpr char kLast = 0x7e;

/// One glyph: kCellHeight rows; bit (kCellWidth - 1 - x) of a row is column x.
using Glyph = std::array<uint8_t, kCellHeight>;

/// The glyph for `c`; characters outside 0x20..0x7e get the glyph of '?'.
const Glyph& glyph(char c);

}  // namespace spiceflow::qxl::font
