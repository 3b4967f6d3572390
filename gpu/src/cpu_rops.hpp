#pragma once
/// The general draw ops of the CPU backend that are not fast paths: raster ops (SPICE_ROPD_*
/// descriptors), brushes, masks, scaling, colour keys and alpha blending, with the client
/// canvas's semantics (spice-common's canvas_base.c / sw_canvas.c). Private to gpu/.
///
/// Every function draws into `dst` (a surface's pixels, X = 0xff) limited to `bounds`,
/// returns the rectangle it may have changed, and keeps X = 0xff. Operands that named a
/// surface must already be resolved to an image (the caller snapshots the surface).
#include "spiceflow/core/draw.hpp"

namespace spiceflow::gpu::cpu {

Result<Rect> draw_brush_fill(Image& dst, const Rect& bounds, const BrushFillOp& op);
Result<Rect> draw_copy(Image& dst, const Rect& bounds, const CopyOp& op);
Result<Rect> draw_solid_rop(Image& dst, const Rect& bounds, const SolidRopOp& op);
Result<Rect> draw_transparent(Image& dst, const Rect& bounds, const TransparentOp& op);
Result<Rect> draw_alpha_blend(Image& dst, const Rect& bounds, const AlphaBlendOp& op);
Result<Rect> draw_text(Image& dst, const Rect& bounds, const TextOp& op);
/// DRAW_OPAQUE: the source copied in, then the brush over it (canvas_draw_opaque).
Result<Rect> draw_opaque(Image& dst, const Rect& bounds, const OpaqueOp& op);
/// DRAW_ROP3: any of the 256 ternary rops of pattern, source and destination.
Result<Rect> draw_rop3(Image& dst, const Rect& bounds, const Rop3Op& op);
/// DRAW_COMPOSITE: a Render operator through pixman, as canvas_draw_composite.
Result<Rect> draw_composite(Image& dst, const Rect& bounds, const CompositeOp& op);
/// DRAW_STROKE: zero-width lines as the client draws them (cpu_stroke.cpp).
Result<Rect> draw_stroke(Image& dst, const Rect& bounds, const StrokeOp& op);

}  // namespace spiceflow::gpu::cpu
