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
/// Solid fore brushes only (a pattern fore brush is an error for now).
Result<Rect> draw_text(Image& dst, const Rect& bounds, const TextOp& op);

}  // namespace spiceflow::gpu::cpu
