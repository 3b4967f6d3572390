// DRAW_STROKE on the CPU backend: the pixels stroke_path.cpp walks, each combined with the
// brush by the fore rop in drawing order.
#include "cpu_rops.hpp"

#include <spice/enums.h>

#include "raster_util.hpp"
#include "stroke_path.hpp"

namespace spiceflow::gpu::cpu {
namespace {

constexpr uint32_t kOpaque = 0xff000000u;

// Where the pixels go: the rop and the brush; collects the damaged rectangle.
class Pen final : public StrokeSink {
 public:
  Pen(Image& dst, Rop rop, uint32_t color, const Image* tile, Point tile_pos)
      : dst_(dst), rop_(rop), color_(color), tile_(tile), tile_pos_(tile_pos) {}

  void plot(int32_t x, int32_t y) override {
    uint32_t& d = dst_.row(y)[x];
    const uint32_t s = tile_ ? tile_->pixel(wrap_mod(int64_t(x) - tile_pos_.x, tile_->width()),
                                            wrap_mod(int64_t(y) - tile_pos_.y, tile_->height()))
                             : color_;
    d = apply_rop(rop_, s, d) | kOpaque;
    damaged_ = bounding_union(damaged_, Rect{x, y, 1, 1});
  }
  Rect damaged() const { return damaged_; }

 private:
  Image& dst_;
  const Rop rop_;
  const uint32_t color_;
  const Image* tile_;
  const Point tile_pos_;
  Rect damaged_;
};

}  // namespace

Result<Rect> draw_stroke(Image& dst, const Rect& bounds, const StrokeOp& op) {
  if (auto st = check_stroke(op); !st) return st.error();
  const Image* tile = nullptr;
  if (op.brush.kind == Brush::Kind::pattern) {
    tile = op.brush.pattern.image.get();
    if (!tile || tile->size().empty()) return make_error("stroke: pattern brush without an image");
  }
  const Rect area = intersect(op.box, bounds);
  // The canvas reads the brush as the operand of the fore rop (back_mode it never uses).
  const Rop rop = rop_of(op.fore_mode, SPICE_ROPD_INVERS_BRUSH);
  if (area.empty() || rop == Rop::noop) return Rect{};
  // A missing brush draws colour 0, as the canvas does (the rop may not read it).
  Pen pen(dst, rop, op.brush.kind == Brush::Kind::solid ? op.brush.color : 0u, tile, op.brush.pattern_pos);
  walk_stroke(op, area, pen);
  return pen.damaged();
}

}  // namespace spiceflow::gpu::cpu
