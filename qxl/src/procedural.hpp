#pragma once
/// Procedural content for the synthetic workloads: text lines, wallpapers and a video-like
/// moving plasma. Everything is a pure function of its arguments (integer maths only), so
/// frames repeat exactly.
#include <cstdint>
#include <string>

#include "spiceflow/core/image.hpp"

namespace spiceflow::qxl {

/// Line `index` of an endless kernel-log-like stream, at most `max_chars` long.
std::string log_line(uint64_t index, size_t max_chars);
/// The colour a terminal would show log line `index` in (most are grey, a few warnings and
/// errors stand out).
uint32_t log_line_color(uint64_t index);
/// Line `index` of an endless document of prose, at most `max_chars` long.
std::string prose_line(uint64_t index, size_t max_chars);

/// A desktop wallpaper: a vertical gradient from `top` to `bottom` with a faint diagonal
/// weave and a few soft discs placed by `seed`.
void draw_wallpaper(Image& img, uint32_t top, uint32_t bottom, uint64_t seed);

/// Fills `img` with a smooth, colourful, moving plasma at `time_ms`; `grain` adds a little
/// per-pixel noise, as camera video has. Costs about a nanosecond per pixel.
void draw_plasma(Image& img, int64_t time_ms, bool grain);

}  // namespace spiceflow::qxl
