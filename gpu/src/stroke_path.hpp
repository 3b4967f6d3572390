#pragma once
/// The pixels of DRAW_STROKE as the SPICE client draws them (private to gpu/; both backends
/// use it): every path is stroked as X11 zero-width lines (CapNotLast: a segment never
/// draws its end point), Bezier curves flattened as the client flattens them, styled lines
/// as the client's 1-pixel-wide dash rectangles (joins only for right-angle turns). The walk is clipped to an area, so far-away guest
/// coordinates cost nothing. See stroke_path.cpp for the algorithm and its bounds.
#include "raster_util.hpp"

namespace spiceflow::gpu {

/// Receives a stroke's pixels in drawing order.
class StrokeSink {
 public:
  virtual ~StrokeSink() = default;
  virtual void plot(int32_t x, int32_t y) = 0;
  /// After each line segment of a solid line (a pixel may repeat only across segments, where
  /// they meet or cross, and then the client applies the rop again), and after each whole
  /// dashed polyline (whose pixels never repeat).
  virtual void segment_end() {}
};

/// The checks both backends make before drawing (box, path structure, style), with the
/// CPU backend's messages. The brush is the caller's to check.
Status check_stroke(const StrokeOp& op);

/// Sends the pixels of `op` that lie inside `area` to `sink`. `op` must pass check_stroke().
void walk_stroke(const StrokeOp& op, const Rect& area, StrokeSink& sink);

}  // namespace spiceflow::gpu
