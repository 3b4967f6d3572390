#include "cpu_raster.hpp"

#include "cpu_rops.hpp"
#include "raster_util.hpp"

#include <pixman.h>
#include <spice/enums.h>

#include <cstring>
#include <limits>
#include <optional>
#include <string>
#include <unordered_map>

namespace spiceflow::gpu {
namespace {

// The largest surface side we accept; QXL caps surfaces well below this and a bigger
// request is a hostile or broken command rather than a real desktop.
constexpr int32_t kMaxSurfaceSide = 16384;

struct PixmanImageDeleter {
  void operator()(pixman_image_t* p) const { pixman_image_unref(p); }
};
using PixmanImagePtr = std::unique_ptr<pixman_image_t, PixmanImageDeleter>;

// One surface: the pixels plus a pixman image over the same memory.
struct Surface {
  Image pixels;
  // Wrapped as a8r8g8b8 rather than x8r8g8b8 so that pixman writes X = 0xff on every fill
  // and blit (its x888 -> 8888 SRC path sets the top byte). Every pixel of a surface thus
  // has X = 0xff, whatever the source images carried, which keeps the output bit-exact
  // across backends and lets tests compare whole words.
  PixmanImagePtr target;
};

class CpuRaster final : public RasterBackend {
 public:
  std::string_view name() const override { return "cpu"; }

  Status create_surface(uint32_t id, Size size) override {
    if (size.empty() || size.width > kMaxSurfaceSide || size.height > kMaxSurfaceSide) {
      return make_error("surface " + std::to_string(id) + ": bad size " +
                        std::to_string(size.width) + "x" + std::to_string(size.height));
    }
    Surface s{Image(size.width, size.height), nullptr};
    s.target.reset(pixman_image_create_bits(PIXMAN_a8r8g8b8, size.width, size.height,
                                            reinterpret_cast<uint32_t*>(s.pixels.data()),
                                            s.pixels.stride()));
    if (!s.target) return make_error("surface " + std::to_string(id) + ": pixman failed");
    // Image() is zero-filled; surfaces start opaque black.
    for (int32_t y = 0; y < size.height; ++y) {
      uint32_t* row = s.pixels.row(y);
      std::fill(row, row + size.width, 0xff000000u);
    }
    surfaces_.insert_or_assign(id, std::move(s));
    return Status::success();
  }

  void destroy_surface(uint32_t id) override { surfaces_.erase(id); }

  Result<Rect> apply(const DrawCommand& cmd) override {
    auto it = surfaces_.find(cmd.surface_id);
    if (it == surfaces_.end()) {
      return make_error("no surface " + std::to_string(cmd.surface_id));
    }
    Surface& s = it->second;
    const Rect surface_rect = Rect::from_size(s.pixels.size());
    if (!edges_fit(cmd.clip)) return make_error("clip " + describe(cmd.clip) + " overflows");
    const Rect bounds = cmd.clip.empty() ? surface_rect : intersect(cmd.clip, surface_rect);

    // Ops of the general IR that reduce to a fast path are drawn as that fast path.
    auto simplified = simplify(cmd);
    if (!simplified) return simplified.error();
    const DrawOp& simple = simplified->has_value() ? **simplified : cmd.op;
    // Operands naming a surface are read as a snapshot taken before drawing.
    auto resolved = resolve_sources(simple);
    if (!resolved) return resolved.error();
    const DrawOp& op = resolved->has_value() ? **resolved : simple;

    if (cmd.clip_rects.empty()) {
      if (auto g = draw_general(s.pixels, bounds, op)) return *g;
      return std::visit([&](const auto& o) { return draw(s, bounds, o); }, op);
    }
    if (auto g = draw_general_clipped(s, bounds, cmd, op)) return *g;
    // A clip-rect list: draw once per rectangle. Every op is first made independent of the
    // order of the rectangles (copy-bits reads a snapshot), so overlapping lists are safe.
    DrawOp per_rect = op;
    if (const auto* cb = std::get_if<CopyBitsOp>(&op)) {
      auto blit = snapshot_blit(s, cb->dst, Rect{cb->src.x, cb->src.y, cb->dst.width, cb->dst.height});
      if (!blit) return blit.error();
      per_rect = *blit;
    }
    Rect damaged;
    for (const Rect& cr : cmd.clip_rects) {
      if (!edges_fit(cr)) return make_error("clip rect " + describe(cr) + " overflows");
      const Rect b = intersect(cr, bounds);
      if (b.empty()) continue;
      auto r = std::visit([&](const auto& o) { return draw(s, b, o); }, per_rect);
      if (!r) return r;
      damaged = bounding_union(damaged, *r);
    }
    return damaged;
  }

  ImageView view(uint32_t id) const override {
    auto it = surfaces_.find(id);
    return it == surfaces_.end() ? ImageView{} : it->second.pixels.view();
  }

 private:
  // The general ops this backend draws through a fast path: a PUT copy without mask or
  // scaling (from an image or from another surface, which is read as a snapshot first), a
  // solid PUT fill without mask, and blackness/whiteness without mask. nullopt: draw `cmd.op`
  // as it is.
  Result<std::optional<DrawOp>> simplify(const DrawCommand& cmd) const {
    if (const auto* c = std::get_if<CopyOp>(&cmd.op)) {
      const bool put = (c->rop_descriptor & SPICE_ROPD_MASK) == SPICE_ROPD_OP_PUT;
      if (c->blend || !put || !c->mask.empty() || c->src_area.size() != c->box.size()) {
        return std::optional<DrawOp>{};
      }
      if (c->src.surface_id) {
        auto src = surfaces_.find(*c->src.surface_id);
        if (src == surfaces_.end()) {
          return make_error("copy from missing surface " + std::to_string(*c->src.surface_id));
        }
        auto blit = snapshot_blit(src->second, c->box, c->src_area);
        if (!blit) return blit.error();
        return std::optional<DrawOp>{DrawOp{*blit}};
      }
      if (!c->src.image) return make_error("copy without a source");
      return std::optional<DrawOp>{DrawOp{BlitOp{c->box, c->src.image, {c->src_area.x, c->src_area.y}}}};
    }
    if (const auto* f = std::get_if<BrushFillOp>(&cmd.op)) {
      if (f->brush.kind == Brush::Kind::solid && f->mask.empty() &&
          (f->rop_descriptor & SPICE_ROPD_MASK) == SPICE_ROPD_OP_PUT) {
        return std::optional<DrawOp>{DrawOp{FillOp{f->box, f->brush.color}}};
      }
      return std::optional<DrawOp>{};
    }
    if (const auto* r = std::get_if<SolidRopOp>(&cmd.op)) {
      if (r->mask.empty() && r->kind != SolidRopOp::Kind::invers) {
        const uint32_t color = r->kind == SolidRopOp::Kind::blackness ? 0xff000000u : 0xffffffffu;
        return std::optional<DrawOp>{DrawOp{FillOp{r->box, color}}};
      }
    }
    return std::optional<DrawOp>{};
  }

  // A copy of `op` whose surface operands are replaced by snapshots of those surfaces;
  // nullopt when it has none. An operand read through a source area is snapshotted around
  // that area only when it is drawn unscaled (grown by kSampleMargin, the area moved into
  // the snapshot's coordinates): a whole-surface copy per command would make every small
  // surface-to-surface draw (glyph caches, save-unders) cost a full frame. Scaled reads
  // (pixman's filters may sample far around the area when shrinking) and pattern brushes
  // (tiled from the whole surface) take the whole surface.
  Result<std::optional<DrawOp>> resolve_sources(const DrawOp& op) const {
    constexpr int32_t kSampleMargin = 2;
    auto fix_area = [&](ImageSource& src, Rect* area) -> Status {
      if (!src.surface_id) return Status::success();
      auto it = surfaces_.find(*src.surface_id);
      if (it == surfaces_.end()) {
        return make_error("source surface " + std::to_string(*src.surface_id) + " is missing");
      }
      const Rect whole = Rect::from_size(it->second.pixels.size());
      Rect grab = whole;
      if (area) {
        if (!edges_fit(*area)) return make_error("source area " + describe(*area) + " overflows");
        const Rect grown{area->x - kSampleMargin, area->y - kSampleMargin,
                         area->width + 2 * kSampleMargin, area->height + 2 * kSampleMargin};
        grab = intersect(grown, whole);
        if (grab.empty()) grab = Rect{0, 0, 1, 1};  // nothing readable: the op reports it
        *area = area->translated(-grab.x, -grab.y);
      }
      src.image = std::make_shared<Image>(Image::copy_of(it->second.pixels.view(), grab));
      src.surface_id.reset();
      return Status::success();
    };
    auto fix = [&](ImageSource& src) { return fix_area(src, nullptr); };
    auto with = [&](auto o, ImageSource& (*field)(decltype(o)&)) -> Result<std::optional<DrawOp>> {
      if (!field(o).surface_id) return std::optional<DrawOp>{};
      if (auto st = fix(field(o)); !st) return st.error();
      return std::optional<DrawOp>{DrawOp{std::move(o)}};
    };
    // Surface operand read through `area`, drawn onto `box`.
    auto with_area = [&](auto& o, ImageSource& src, Rect& area, const Rect& box)
        -> Result<std::optional<DrawOp>> {
      if (!src.surface_id) return std::optional<DrawOp>{};
      const bool unscaled = area.size() == box.size();
      if (auto st = fix_area(src, unscaled ? &area : nullptr); !st) return st.error();
      return std::optional<DrawOp>{DrawOp{std::move(o)}};
    };
    if (const auto* c = std::get_if<CopyOp>(&op)) {
      CopyOp o = *c;
      return with_area(o, o.src, o.src_area, o.box);
    }
    if (const auto* t = std::get_if<TransparentOp>(&op)) {
      TransparentOp o = *t;
      return with_area(o, o.src, o.src_area, o.box);
    }
    if (const auto* a = std::get_if<AlphaBlendOp>(&op)) {
      if (!a->src.surface_id) return std::optional<DrawOp>{};
      AlphaBlendOp o = *a;
      // The canvas reads a surface's alpha only when the op says it has one.
      const bool has_alpha = (o.alpha_flags & SPICE_ALPHA_FLAGS_SRC_SURFACE_HAS_ALPHA) != 0;
      const bool unscaled = o.src_area.size() == o.box.size();
      if (auto st = fix_area(o.src, unscaled ? &o.src_area : nullptr); !st) return st.error();
      o.src.has_alpha = has_alpha;
      return std::optional<DrawOp>{DrawOp{std::move(o)}};
    }
    if (const auto* f = std::get_if<BrushFillOp>(&op)) {
      return with(*f, +[](BrushFillOp& o) -> ImageSource& { return o.brush.pattern; });
    }
    if (const auto* t = std::get_if<TextOp>(&op)) {
      if (!t->back_brush.pattern.surface_id && !t->fore_brush.pattern.surface_id) {
        return std::optional<DrawOp>{};
      }
      TextOp o = *t;
      if (auto st = fix(o.back_brush.pattern); !st) return st.error();
      if (auto st = fix(o.fore_brush.pattern); !st) return st.error();
      return std::optional<DrawOp>{DrawOp{std::move(o)}};
    }
    // Source and pattern brush: the source as a copy reads it, the pattern whole.
    auto with_src_brush = [&](auto o) -> Result<std::optional<DrawOp>> {
      if (!o.src.surface_id && !o.brush.pattern.surface_id) return std::optional<DrawOp>{};
      if (auto st = fix(o.brush.pattern); !st) return st.error();
      if (o.src.surface_id) {
        const bool unscaled = o.src_area.size() == o.box.size();
        if (auto st = fix_area(o.src, unscaled ? &o.src_area : nullptr); !st) return st.error();
      }
      return std::optional<DrawOp>{DrawOp{std::move(o)}};
    };
    if (const auto* o = std::get_if<OpaqueOp>(&op)) return with_src_brush(*o);
    if (const auto* o = std::get_if<Rop3Op>(&op)) return with_src_brush(*o);
    if (const auto* c = std::get_if<CompositeOp>(&op)) {
      // Transforms and repeats may sample anywhere: whole surfaces.
      if (!c->src.surface_id && !c->mask.surface_id) return std::optional<DrawOp>{};
      CompositeOp o = *c;
      if (auto st = fix(o.src); !st) return st.error();
      if (auto st = fix(o.mask); !st) return st.error();
      return std::optional<DrawOp>{DrawOp{std::move(o)}};
    }
    if (const auto* st = std::get_if<StrokeOp>(&op)) {
      return with(*st, +[](StrokeOp& o) -> ImageSource& { return o.brush.pattern; });
    }
    return std::optional<DrawOp>{};
  }

  // A blit of `area` of surface `src` onto `dst`, from a copy of those pixels (so the copy
  // is correct however source and destination overlap).
  static Result<BlitOp> snapshot_blit(const Surface& src, const Rect& dst, const Rect& area) {
    if (!edges_fit(area) || !edges_fit(dst)) return make_error("copy " + describe(area) + " overflows");
    const Rect readable = intersect(area, Rect::from_size(src.pixels.size()));
    if (readable != area) {
      return make_error("copy source " + describe(area) + " outside its surface");
    }
    auto img = std::make_shared<Image>(Image::copy_of(src.pixels.view(), area));
    return BlitOp{dst, std::move(img), Point{0, 0}};
  }

  // The general ops never get here (draw_general and draw_general_clipped draw every one of
  // them); std::visit needs an overload for each alternative all the same.
  template <class Op>
  static Result<Rect> draw(Surface&, const Rect&, const Op&) {
    return make_error("internal: a general draw op reached the fast-path dispatch");
  }

  // The general ops drawn pixel by pixel (cpu_rops.cpp); nullopt for the others.
  static std::optional<Result<Rect>> draw_general(Image& px, const Rect& bounds, const DrawOp& op) {
    if (const auto* f = std::get_if<BrushFillOp>(&op)) return cpu::draw_brush_fill(px, bounds, *f);
    if (const auto* c = std::get_if<CopyOp>(&op)) return cpu::draw_copy(px, bounds, *c);
    if (const auto* r = std::get_if<SolidRopOp>(&op)) return cpu::draw_solid_rop(px, bounds, *r);
    if (const auto* t = std::get_if<TransparentOp>(&op)) return cpu::draw_transparent(px, bounds, *t);
    if (const auto* a = std::get_if<AlphaBlendOp>(&op)) return cpu::draw_alpha_blend(px, bounds, *a);
    if (const auto* t = std::get_if<TextOp>(&op)) return cpu::draw_text(px, bounds, *t);
    if (const auto* o = std::get_if<OpaqueOp>(&op)) return cpu::draw_opaque(px, bounds, *o);
    if (const auto* r = std::get_if<Rop3Op>(&op)) return cpu::draw_rop3(px, bounds, *r);
    if (const auto* c = std::get_if<CompositeOp>(&op)) return cpu::draw_composite(px, bounds, *c);
    if (const auto* st = std::get_if<StrokeOp>(&op)) return cpu::draw_stroke(px, bounds, *st);
    return std::nullopt;
  }

  // A general op under a clip-rect list. Its rop may not be idempotent (xor, invert,
  // blending), so each pixel must be drawn once however the rectangles overlap, as the
  // canvas's region does: draw once on a scratch copy limited to the rectangles' extent,
  // then copy the pixels inside the rectangles back.
  static std::optional<Result<Rect>> draw_general_clipped(Surface& s, const Rect& bounds,
                                                          const DrawCommand& cmd, const DrawOp& op) {
    if (!draw_general_kind(op)) return std::nullopt;
    Rect extent;
    for (const Rect& cr : cmd.clip_rects) {
      if (!edges_fit(cr)) return Result<Rect>(make_error("clip rect " + describe(cr) + " overflows"));
      extent = bounding_union(extent, intersect(cr, bounds));
    }
    if (extent.empty()) return Result<Rect>(Rect{});
    Image scratch = Image::copy_of(s.pixels.view(), Rect::from_size(s.pixels.size()));
    auto drawn = *draw_general(scratch, extent, op);
    if (!drawn || drawn->empty()) return drawn;
    Rect damaged;
    for (const Rect& cr : cmd.clip_rects) {
      const Rect b = intersect(intersect(cr, bounds), *drawn);
      if (b.empty()) continue;
      for (int32_t y = b.y; y < b.bottom(); ++y) {
        std::memcpy(s.pixels.row(y) + b.x, scratch.row(y) + b.x, size_t(b.width) * 4);
      }
      damaged = bounding_union(damaged, b);
    }
    return Result<Rect>(damaged);
  }

  static bool draw_general_kind(const DrawOp& op) {
    return std::holds_alternative<BrushFillOp>(op) || std::holds_alternative<CopyOp>(op) ||
           std::holds_alternative<SolidRopOp>(op) || std::holds_alternative<TransparentOp>(op) ||
           std::holds_alternative<AlphaBlendOp>(op) || std::holds_alternative<TextOp>(op) ||
           std::holds_alternative<OpaqueOp>(op) || std::holds_alternative<Rop3Op>(op) ||
           std::holds_alternative<CompositeOp>(op) || std::holds_alternative<StrokeOp>(op);
  }

  static Result<Rect> draw(Surface& s, const Rect& bounds, const FillOp& op) {
    if (!edges_fit(op.rect)) return make_error("fill " + describe(op.rect) + " overflows");
    const Rect r = intersect(op.rect, bounds);
    if (r.empty()) return Rect{};
    // pixman takes 16-bit channels; c * 0x101 maps 0xab to 0xabab so the 8-bit store is
    // exact. Alpha is forced opaque (see Surface::target).
    const auto widen = [](uint32_t c) { return uint16_t((c & 0xffu) * 0x101u); };
    const pixman_color_t color{widen(op.color >> 16), widen(op.color >> 8), widen(op.color),
                               0xffff};
    const pixman_box32_t box{r.left(), r.top(), r.right(), r.bottom()};
    pixman_image_fill_boxes(PIXMAN_OP_SRC, s.target.get(), &color, 1, &box);
    return r;
  }

  static Result<Rect> draw(Surface& s, const Rect& bounds, const BlitOp& op) {
    if (!op.src) return make_error("blit without a source image");
    if (!edges_fit(op.dst)) return make_error("blit " + describe(op.dst) + " overflows");
    const Rect src_area{op.src_pos.x, op.src_pos.y, op.dst.width, op.dst.height};
    // Checked before clipping: a source that is too small is a broken command even when
    // the clip would hide the missing part.
    if (!edges_fit(src_area) || !Rect::from_size(op.src->size()).contains(src_area)) {
      return make_error("blit source " + describe(src_area) + " outside its " +
                        std::to_string(op.src->width()) + "x" + std::to_string(op.src->height()) +
                        " image");
    }
    const Rect r = intersect(op.dst, bounds);
    if (r.empty()) return Rect{};
    // pixman wants a mutable pointer but only reads a composite source.
    PixmanImagePtr src(pixman_image_create_bits(
        PIXMAN_x8r8g8b8, op.src->width(), op.src->height(),
        const_cast<uint32_t*>(reinterpret_cast<const uint32_t*>(op.src->data())),
        op.src->stride()));
    if (!src) return make_error("blit: pixman failed to wrap the source");
    pixman_image_composite32(PIXMAN_OP_SRC, src.get(), nullptr, s.target.get(),
                             op.src_pos.x + (r.x - op.dst.x), op.src_pos.y + (r.y - op.dst.y), 0, 0,
                             r.x, r.y, r.width, r.height);
    return r;
  }

  static Result<Rect> draw(Surface& s, const Rect& bounds, const CopyBitsOp& op) {
    if (!edges_fit(op.dst)) return make_error("copy-bits " + describe(op.dst) + " overflows");
    const Rect src_area{op.src.x, op.src.y, op.dst.width, op.dst.height};
    if (!edges_fit(src_area))
      return make_error("copy-bits source " + describe(src_area) + " overflows");
    const int64_t dx64 = int64_t(op.dst.x) - op.src.x;
    const int64_t dy64 = int64_t(op.dst.y) - op.src.y;
    const Rect surface_rect = Rect::from_size(s.pixels.size());
    if (dx64 <= -surface_rect.width || dx64 >= surface_rect.width || dy64 <= -surface_rect.height ||
        dy64 >= surface_rect.height) {
      return Rect{};  // the source lies wholly off the surface
    }
    const int32_t dx = int32_t(dx64);
    const int32_t dy = int32_t(dy64);
    // The clip limits what is written, not what is read: a destination pixel is drawn
    // when it is inside the clip and its source pixel is on the surface.
    const Rect r = intersect(intersect(op.dst, bounds), surface_rect.translated(dx, dy));
    if (r.empty()) return Rect{};
    const size_t row_bytes = size_t(r.width) * 4;
    const int32_t sx = r.x - dx;
    const int32_t sy = r.y - dy;
    Image& px = s.pixels;
    // Moving down, rows are copied bottom-up so each source row is read before it is
    // overwritten; moving up or sideways, top-down. memmove covers the sideways overlap.
    if (dy > 0) {
      for (int32_t i = r.height - 1; i >= 0; --i) {
        std::memmove(px.row(r.y + i) + r.x, px.row(sy + i) + sx, row_bytes);
      }
    } else {
      for (int32_t i = 0; i < r.height; ++i) {
        std::memmove(px.row(r.y + i) + r.x, px.row(sy + i) + sx, row_bytes);
      }
    }
    return r;
  }

  // Owned by the desktop's render stage (one thread at a time, see raster.hpp).
  std::unordered_map<uint32_t, Surface> surfaces_;
};

}  // namespace

std::unique_ptr<RasterBackend> make_cpu_raster() { return std::make_unique<CpuRaster>(); }

}  // namespace spiceflow::gpu
