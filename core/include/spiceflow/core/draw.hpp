#pragma once
/// The draw-command IR: what every display source (synthetic desktops today, QXL commands
/// and replays later) is turned into before it reaches the raster backend. Commands own
/// their data (no pointers into guest memory); they are immutable once built and can be
/// shared across threads.
#include <cstdint>
#include <memory>
#include <variant>
#include <vector>

#include "spiceflow/core/geometry.hpp"
#include "spiceflow/core/image.hpp"

namespace spiceflow {

/// Fills `rect` with one opaque colour (0xXXRRGGBB).
struct FillOp {
  Rect rect;
  uint32_t color = 0;
};

/// Copies `src_pos`..+dst.size of `src` to `dst` (no scaling, no blending).
struct BlitOp {
  Rect dst;
  std::shared_ptr<const Image> src;
  Point src_pos;
};

/// Moves the pixels at `src` (top-left; same size as dst) to `dst` inside the surface;
/// source and destination may overlap (scrolling).
struct CopyBitsOp {
  Rect dst;
  Point src;
};

using DrawOp = std::variant<FillOp, BlitOp, CopyBitsOp>;

struct DrawCommand {
  uint32_t surface_id = 0;
  /// Drawing is limited to this rectangle; empty means the whole surface.
  Rect clip;
  DrawOp op;
};

/// A primary-surface (re)creation: the desktop's size changed or it was just created.
struct SurfaceCreate {
  uint32_t surface_id = 0;
  Size size;
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
  std::vector<CursorCommand> cursor;
};

}  // namespace spiceflow
