#pragma once
/// The draw-command IR: what every display source (synthetic desktops today, QXL commands
/// and replays later) is turned into before it reaches the raster backend. Commands own
/// their data (no pointers into guest memory); they are immutable once built and can be
/// shared across threads.
#include <cstdint>
#include <memory>
#include <optional>
#include <variant>
#include <vector>

#include "spiceflow/core/geometry.hpp"
#include "spiceflow/core/image.hpp"

namespace spiceflow {

/// Fills `rect` with one opaque colour (0xXXRRGGBB). The fast path of a solid DRAW_FILL
/// with rop PUT and no mask.
struct FillOp {
  Rect rect;
  uint32_t color = 0;
};

/// Copies `src_pos`..+dst.size of `src` to `dst` (no scaling, no blending). The fast path
/// of DRAW_COPY with rop PUT, no mask, no scaling.
struct BlitOp {
  Rect dst;
  std::shared_ptr<const Image> src;
  Point src_pos;
};

/// Moves the pixels at `src` (top-left; same size as dst) to `dst` inside the surface;
/// source and destination may overlap (scrolling). SPICE's COPY_BITS.
struct CopyBitsOp {
  Rect dst;
  Point src;
};

// ---- The general ops: one per SPICE/QXL draw type, with SPICE's semantics (the client's
// canvas, spice-common's canvas_base.c, is the other implementation of them). Enum-like
// fields keep SPICE's numeric values (SPICE_ROPD_*, SPICE_SCALE_MODE_*, ...) so nothing is
// lost in translation; the raster backends interpret them.

/// What an image operand refers to: decoded pixels, or another surface of the same desktop
/// (SPICE_IMAGE_TYPE_SURFACE, read at the time the op is applied).
struct ImageSource {
  /// 32 bits per pixel; alpha meaningful only when `has_alpha`.
  std::shared_ptr<const Image> image;
  bool has_alpha = false;
  /// Set instead of `image` for a surface operand.
  std::optional<uint32_t> surface_id;
  /// The guest's image id (for client-side caching later); 0 when none.
  uint64_t id = 0;
  bool empty() const { return !image && !surface_id; }
};

/// SPICE_BRUSH_TYPE_NONE / SOLID / PATTERN.
struct Brush {
  enum class Kind : uint8_t { none, solid, pattern };
  Kind kind = Kind::none;
  uint32_t color = 0;  ///< solid
  ImageSource pattern;  ///< pattern: tiled from `pattern_pos`
  Point pattern_pos;
};

/// A 1-bit mask (QMask): pixels where the mask bit is set (or clear, when `invert`) are
/// drawn. The bitmap is stored one byte per pixel (0 or 1) in `bits`, row-major.
struct Mask {
  Size size;
  std::vector<uint8_t> bits;
  Point pos;  ///< mask origin relative to the op's box
  bool invert = false;
  bool empty() const { return bits.empty(); }
};

/// DRAW_FILL in general: brush, rop descriptor (SPICE_ROPD_*), mask.
struct BrushFillOp {
  Rect box;
  Brush brush;
  uint16_t rop_descriptor = 0;
  Mask mask;
};

/// DRAW_COPY / DRAW_BLEND in general: `src_area` of the source scaled to `box`.
struct CopyOp {
  Rect box;
  ImageSource src;
  Rect src_area;
  uint16_t rop_descriptor = 0;
  uint8_t scale_mode = 0;  ///< SPICE_IMAGE_SCALE_MODE_*
  Mask mask;
  bool blend = false;  ///< DRAW_BLEND (same operands, drawn with the blend rop semantics)
};

/// DRAW_OPAQUE: source combined with a brush.
struct OpaqueOp {
  Rect box;
  ImageSource src;
  Rect src_area;
  Brush brush;
  uint16_t rop_descriptor = 0;
  uint8_t scale_mode = 0;
  Mask mask;
};

/// DRAW_ROP3: any of the 256 ternary raster operations of source, brush and destination.
struct Rop3Op {
  Rect box;
  ImageSource src;
  Rect src_area;
  Brush brush;
  uint8_t rop3 = 0;
  uint8_t scale_mode = 0;
  Mask mask;
};

/// DRAW_BLACKNESS / DRAW_WHITENESS / DRAW_INVERS over `box` (through `mask`).
struct SolidRopOp {
  enum class Kind : uint8_t { blackness, whiteness, invers };
  Kind kind = Kind::blackness;
  Rect box;
  Mask mask;
};

/// DRAW_TRANSPARENT: copy, skipping source pixels equal to `src_color`.
struct TransparentOp {
  Rect box;
  ImageSource src;
  Rect src_area;
  uint32_t src_color = 0;
  uint32_t true_color = 0;
};

/// DRAW_ALPHA_BLEND: source over destination with a global `alpha` (and per-pixel alpha
/// when SPICE_ALPHA_FLAGS_SRC_SURFACE_HAS_ALPHA is in `alpha_flags`), scaled to `box`.
struct AlphaBlendOp {
  Rect box;
  ImageSource src;
  Rect src_area;
  uint8_t alpha_flags = 0;
  uint8_t alpha = 255;
};

/// A 2x3 fixed-point (16.16) affine transform, as in SpiceTransform.
struct Transform {
  int32_t t00 = 0x10000, t01 = 0, t02 = 0;
  int32_t t10 = 0, t11 = 0x10000, t12 = 0;
};

/// DRAW_COMPOSITE: a Render operator (`flags` keeps SPICE_COMPOSITE_* bits: op, filters,
/// repeat modes, component alpha, opaque hints) of source (and optional mask) onto dest.
struct CompositeOp {
  Rect box;
  uint32_t flags = 0;
  ImageSource src;
  std::optional<Transform> src_transform;
  ImageSource mask;  ///< empty when SPICE_COMPOSITE_HAS_MASK is not set
  std::optional<Transform> mask_transform;
  Point src_origin;
  Point mask_origin;
};

/// One subpath of a stroke: points in 28.4 fixed point (as QXLPointFix), with
/// SPICE_PATH_* flags (BEGIN, END, CLOSE, BEZIER).
struct PathSegment {
  uint32_t flags = 0;
  std::vector<Point> points;  ///< 28.4 fixed point
};

/// DRAW_STROKE: lines along a path (width and styles as SpiceLineAttr).
struct StrokeOp {
  Rect box;
  std::vector<PathSegment> path;
  uint8_t line_flags = 0;          ///< SPICE_LINE_FLAGS_*
  std::vector<uint32_t> style;     ///< dash pattern (28.4 fixed), when STYLED
  Brush brush;
  uint16_t fore_mode = 0;          ///< rop descriptor for set pixels
  uint16_t back_mode = 0;          ///< rop descriptor for gaps
};

/// One glyph of a text run: its origin, placement and coverage (`bpp` 1, 4 or 8 bits per
/// pixel as in SPICE_STRING_FLAGS_RASTER_A1/A4/A8, one byte per pixel here, value 0..255).
struct Glyph {
  Point render_pos;
  Point glyph_origin;
  Size size;
  std::vector<uint8_t> coverage;
};

/// DRAW_TEXT: a glyph string drawn with `fore_brush`; `back_area` first filled with
/// `back_brush` when it is not empty.
struct TextOp {
  Rect box;
  std::vector<Glyph> glyphs;
  uint8_t bpp = 1;
  Brush fore_brush;
  Brush back_brush;
  uint16_t fore_mode = 0;
  uint16_t back_mode = 0;
  Rect back_area;
};

using DrawOp = std::variant<FillOp, BlitOp, CopyBitsOp, BrushFillOp, CopyOp, OpaqueOp, Rop3Op,
                            SolidRopOp, TransparentOp, AlphaBlendOp, CompositeOp, StrokeOp,
                            TextOp>;

struct DrawCommand {
  uint32_t surface_id = 0;
  /// Drawing is limited to this rectangle; empty means the whole surface.
  Rect clip;
  DrawOp op;
  /// When not empty, drawing is further limited to the union of these rectangles
  /// (SPICE_CLIP_TYPE_RECTS).
  std::vector<Rect> clip_rects;
};

/// A surface (re)creation. Surface 0 is the primary (what clients see); others are
/// off-screen surfaces that ops may draw on and read from. `format` keeps
/// SPICE_SURFACE_FMT_* values (32 = 32_xRGB, the only one the synthetic sources use).
struct SurfaceCreate {
  uint32_t surface_id = 0;
  Size size;
  uint32_t format = 32;
};

/// Destroys an off-screen surface (or the primary, before it is created again).
struct SurfaceDestroy {
  uint32_t surface_id = 0;
};

/// A pointer shape: 32-bit ARGB pixels (A in the top byte, premultiplied like SPICE's
/// alpha cursors), `hotspot` inside `pixels`' bounds. `id` is stable for the same shape.
struct CursorShape {
  uint64_t id = 0;
  Point hotspot;
  std::shared_ptr<const Image> pixels;
};

/// Shows `shape` at `pos` (visible), replacing the previous shape.
struct CursorSet {
  std::shared_ptr<const CursorShape> shape;
  Point pos;
};
/// Moves the pointer (server mouse mode: the guest owns the position).
struct CursorMove {
  Point pos;
};
/// Hides the pointer until the next CursorSet.
struct CursorHide {};

using CursorCommand = std::variant<CursorSet, CursorMove, CursorHide>;

/// One tick's worth of commands from a source, applied in order.
struct DrawBatch {
  std::vector<SurfaceCreate> creates;
  std::vector<DrawCommand> commands;
  std::vector<SurfaceDestroy> destroys;  ///< applied after the commands
  std::vector<CursorCommand> cursor;
};

}  // namespace spiceflow
