#include "plan.hpp"

#include <spice/enums.h>

#include <algorithm>
#include <cmath>
#include <optional>
#include <string>

#include "../raster_util.hpp"
#include "../stroke_path.hpp"

namespace spiceflow::gpu::vulkan {
namespace {

constexpr uint32_t kOpaque = 0xff000000u;

// An image operand after resolution: host pixels, or a surface of this desktop (read as it
// was before the command, like the CPU backend's snapshots).
struct Source {
  const Image* image = nullptr;
  const DeviceSurface* surface = nullptr;
  uint32_t surface_id = 0;
  bool has_alpha = false;
  Size size() const { return image ? image->size() : surface->size; }
};

// A source as the shader addresses it: pixel (px, py) of the source is word
// (py - oy) * stride + (px - ox) at `address`.
struct Bound {
  uint64_t address = 0;
  int32_t stride = 0;
  int32_t ox = 0, oy = 0;
};

// The fast paths of the CPU backend, in the form simplify() leaves them.
struct Fill {
  Rect rect;
  uint32_t color = 0;
};
struct Blit {
  Rect dst;
  Source src;
  Point pos;  // source pixel drawn at dst's top-left
};

Rect bbox(const std::vector<Rect>& rects) {
  Rect u;
  for (const Rect& r : rects) u = bounding_union(u, r);
  return u;
}

Error err(std::string m) { return make_error(std::move(m)); }

class Planner {
 public:
  Planner(const DrawCommand& cmd, Recorder& rec) : cmd_(cmd), rec_(rec) {}

  Planned run() {
    const DeviceSurface* s = rec_.surface(cmd_.surface_id);
    if (!s) return done(err("no surface " + std::to_string(cmd_.surface_id)));
    if (const char* name = fallback_name()) return Planned{Rect{}, name};
    dst_ = s;
    const Rect surface_rect = Rect::from_size(s->size);
    if (!edges_fit(cmd_.clip)) return done(err("clip " + describe(cmd_.clip) + " overflows"));
    bounds_ = cmd_.clip.empty() ? surface_rect : intersect(cmd_.clip, surface_rect);

    // The CPU backend's order: simplify to a fast path, resolve surface operands, draw
    // (once, or per clip rectangle).
    std::optional<Fill> fill;
    std::optional<Blit> blit;
    if (auto st = simplify(fill, blit); !st) return done(st.error());
    if (!fill && !blit && !std::holds_alternative<CopyBitsOp>(cmd_.op)) return done(general());
    if (cmd_.clip_rects.empty()) {
      if (fill) return done(draw_fill(*fill));
      if (blit) return done(draw_blit(*blit));
      return done(draw_copy_bits(std::get<CopyBitsOp>(cmd_.op)));
    }
    // Per clip rectangle. Copy-bits first becomes a blit from a snapshot of its source.
    if (!fill && !blit) {
      const auto& cb = std::get<CopyBitsOp>(cmd_.op);
      const Rect area{cb.src.x, cb.src.y, cb.dst.width, cb.dst.height};
      if (!edges_fit(area) || !edges_fit(cb.dst)) return done(err("copy " + describe(area) + " overflows"));
      if (intersect(area, surface_rect) != area) {
        return done(err("copy source " + describe(area) + " outside its surface"));
      }
      blit = Blit{cb.dst, Source{nullptr, s, cmd_.surface_id}, cb.src};
    }
    // Fills and blits are idempotent, so the rectangles drawn so far (an error stops the
    // loop after them, as on the CPU) are drawn once each as a disjoint union.
    std::vector<Rect> drawn;
    Rect damaged;
    std::optional<Error> failure;
    for (const Rect& cr : cmd_.clip_rects) {
      if (!edges_fit(cr)) {
        failure = err("clip rect " + describe(cr) + " overflows");
        break;
      }
      const Rect b = intersect(cr, bounds_);
      if (b.empty()) continue;
      auto r = fill ? fill_rect(*fill, b) : blit_rect(*blit, b);
      if (!r) {
        failure = r.error();
        break;
      }
      if (r->empty()) continue;
      drawn.push_back(*r);
      damaged = bounding_union(damaged, *r);
    }
    if (!drawn.empty()) {
      const std::vector<Rect> pieces = disjoint_union(drawn);
      if (fill) {
        emit_fill(*fill, pieces);
      } else {
        emit_blit(*blit, pieces);
      }
    }
    if (failure) return done(*failure);
    return done(damaged);
  }

 private:
  static Planned done(Result<Rect> r) { return Planned{std::move(r), nullptr}; }

  // Ops this backend leaves to the CPU twin (their errors and no-op cases come out the same
  // through it): composite with a transform, component alpha or an operator beyond ADD,
  // text with a pattern fore brush that has alpha or is its own surface, rop3 smoothly scaled or scaled with a pattern, opaque reading its pattern from
  // its own surface, and smooth scaling (pixman's GOOD filter).
  const char* fallback_name() const {
    const DrawOp& op = cmd_.op;
    if (const auto* o = std::get_if<OpaqueOp>(&op)) {
      if (o->src_area.size() != o->box.size() && o->scale_mode == SPICE_IMAGE_SCALE_MODE_INTERPOLATE) {
        return "opaque (smooth scaling)";
      }
      // The CPU reads the pattern before the source is copied in; here it would be read after.
      if (o->brush.pattern.surface_id == cmd_.surface_id) return "opaque (pattern from its own surface)";
    }
    if (const auto* r = std::get_if<Rop3Op>(&op)) {
      // The canvas's own scaling: the CPU twin.
      // Smooth scaling (pixman's GOOD filter), or scaled with a pattern (both need `maps`).
      if (r->src_area.size() != r->box.size() &&
          (r->scale_mode == SPICE_IMAGE_SCALE_MODE_INTERPOLATE || r->brush.kind == Brush::Kind::pattern)) {
        return "rop3 (scaled)";
      }
      // The shader packs the pattern phase in 16 bits per axis.
      const auto& img = r->brush.pattern.image;
      if (r->brush.kind == Brush::Kind::pattern && img && (img->width() > 0xffff || img->height() > 0xffff)) {
        return "rop3 (huge pattern)";
      }
    }
    if (const auto* c = std::get_if<CompositeOp>(&op)) {
      // On the device: the Porter-Duff operators up to ADD, untransformed, without component
      // alpha, at coordinates pixman's 16.16 arithmetic holds exactly.
      const CompositeFlags f = CompositeFlags::of(c->flags);
      // Origins and box corners this small keep every sample coordinate (origin + offset
      // into a surface of at most 16384) below 32767, inside pixman's 16.16 range.
      constexpr int32_t kExact = 8191;
      auto small = [&](Point p) { return p.x >= -kExact && p.x <= kExact && p.y >= -kExact && p.y <= kExact; };
      if (f.op > PIXMAN_OP_ADD || c->src_transform || (f.has_mask && (c->mask_transform || f.component_alpha)) ||
          !small(c->src_origin) || !small(c->mask_origin) || !small({c->box.x, c->box.y})) {
        return "composite";
      }
    }
    if (const auto* t = std::get_if<TextOp>(&op)) {
      // A pattern with alpha (the shader composites an opaque brush), or one read from the
      // destination (the CPU reads it before the background is drawn).
      const ImageSource& p = t->fore_brush.pattern;
      if (t->fore_brush.kind == Brush::Kind::pattern && !t->glyphs.empty() &&
          ((p.image && p.has_alpha) || p.surface_id == cmd_.surface_id)) {
        return "text (pattern brush)";
      }
    }
    if (const auto* c = std::get_if<CopyOp>(&op)) {
      if (c->src_area.size() != c->box.size() && c->scale_mode == SPICE_IMAGE_SCALE_MODE_INTERPOLATE) {
        return "copy (smooth scaling)";
      }
    }
    return nullptr;
  }

  // ---- The fast paths.

  Status simplify(std::optional<Fill>& fill, std::optional<Blit>& blit) {
    const DrawOp& op = cmd_.op;
    if (const auto* f = std::get_if<FillOp>(&op)) {
      fill = Fill{f->rect, f->color};
    } else if (const auto* b = std::get_if<BlitOp>(&op)) {
      // A missing image is reported where the CPU backend draws it (per clip rectangle).
      blit = Blit{b->dst, Source{b->src.get()}, b->src_pos};
    } else if (const auto* c = std::get_if<CopyOp>(&op)) {
      const bool put = (c->rop_descriptor & SPICE_ROPD_MASK) == SPICE_ROPD_OP_PUT;
      if (c->blend || !put || !c->mask.empty() || c->src_area.size() != c->box.size()) {
        return Status::success();
      }
      if (c->src.surface_id) {
        const DeviceSurface* src = rec_.surface(*c->src.surface_id);
        if (!src) return err("copy from missing surface " + std::to_string(*c->src.surface_id));
        if (!edges_fit(c->src_area) || !edges_fit(c->box)) {
          return err("copy " + describe(c->src_area) + " overflows");
        }
        if (intersect(c->src_area, Rect::from_size(src->size)) != c->src_area) {
          return err("copy source " + describe(c->src_area) + " outside its surface");
        }
        blit = Blit{c->box, Source{nullptr, src, *c->src.surface_id}, {c->src_area.x, c->src_area.y}};
        return Status::success();
      }
      if (!c->src.image) return err("copy without a source");
      blit = Blit{c->box, Source{c->src.image.get()}, {c->src_area.x, c->src_area.y}};
    } else if (const auto* f = std::get_if<BrushFillOp>(&op)) {
      if (f->brush.kind == Brush::Kind::solid && f->mask.empty() &&
          (f->rop_descriptor & SPICE_ROPD_MASK) == SPICE_ROPD_OP_PUT) {
        fill = Fill{f->box, f->brush.color};
      }
    } else if (const auto* r = std::get_if<SolidRopOp>(&op)) {
      if (r->mask.empty() && r->kind != SolidRopOp::Kind::invers) {
        fill = Fill{r->box, r->kind == SolidRopOp::Kind::blackness ? 0xff000000u : 0xffffffffu};
      }
    }
    return Status::success();
  }

  static Result<Rect> fill_rect(const Fill& f, const Rect& bounds) {
    if (!edges_fit(f.rect)) return err("fill " + describe(f.rect) + " overflows");
    return intersect(f.rect, bounds);
  }

  static Result<Rect> blit_rect(const Blit& b, const Rect& bounds) {
    if (!b.src.image && !b.src.surface) return err("blit without a source image");
    if (!edges_fit(b.dst)) return err("blit " + describe(b.dst) + " overflows");
    const Rect src_area{b.pos.x, b.pos.y, b.dst.width, b.dst.height};
    const Size size = b.src.size();
    if (!edges_fit(src_area) || !Rect::from_size(size).contains(src_area)) {
      return err("blit source " + describe(src_area) + " outside its " + std::to_string(size.width) +
                 "x" + std::to_string(size.height) + " image");
    }
    return intersect(b.dst, bounds);
  }

  Result<Rect> draw_fill(const Fill& f) {
    auto r = fill_rect(f, bounds_);
    if (r && !r->empty()) emit_fill(f, {*r});
    return r;
  }

  Result<Rect> draw_blit(const Blit& b) {
    auto r = blit_rect(b, bounds_);
    if (r && !r->empty()) emit_blit(b, {*r});
    return r;
  }

  Result<Rect> draw_copy_bits(const CopyBitsOp& op) {
    if (!edges_fit(op.dst)) return err("copy-bits " + describe(op.dst) + " overflows");
    const Rect src_area{op.src.x, op.src.y, op.dst.width, op.dst.height};
    if (!edges_fit(src_area)) return err("copy-bits source " + describe(src_area) + " overflows");
    const int64_t dx64 = int64_t(op.dst.x) - op.src.x;
    const int64_t dy64 = int64_t(op.dst.y) - op.src.y;
    const Rect surface_rect = Rect::from_size(dst_->size);
    if (dx64 <= -surface_rect.width || dx64 >= surface_rect.width || dy64 <= -surface_rect.height ||
        dy64 >= surface_rect.height) {
      return Rect{};  // the source lies wholly off the surface
    }
    const int32_t dx = int32_t(dx64);
    const int32_t dy = int32_t(dy64);
    // The clip limits what is written, not what is read.
    const Rect r = intersect(intersect(op.dst, bounds_), surface_rect.translated(dx, dy));
    if (r.empty()) return Rect{};
    emit_blit(Blit{r, Source{nullptr, dst_, cmd_.surface_id}, {r.x - dx, r.y - dy}}, {r});
    return r;
  }

  void emit_fill(const Fill& f, const std::vector<Rect>& pieces) {
    GpuOp op = base_op();
    op.kind = kSolid;
    op.combine = kRop;
    op.rop = uint32_t(Rop::copy);
    op.color = f.color | kOpaque;
    emit(op, pieces);
  }

  void emit_blit(const Blit& b, const std::vector<Rect>& pieces) {
    const Rect frame = bbox(pieces);
    const Rect needed{int32_t(int64_t(b.pos.x) + frame.x - b.dst.x),
                      int32_t(int64_t(b.pos.y) + frame.y - b.dst.y), frame.width, frame.height};
    const Bound src = bind(b.src, needed, frame);
    GpuOp op = base_op();
    set_frame(op, frame);
    op.kind = kOffset;
    op.combine = kRop;
    op.rop = uint32_t(Rop::copy);
    set_offset_source(op, src, needed);
    emit(op, pieces);
  }

  // ---- The general ops (cpu_rops.cpp's semantics).

  // Resolves the surface operand of a general op and draws it, once or (with a clip-rect
  // list) limited to the list's rectangles, each pixel once.
  Result<Rect> general() {
    const DrawOp& op = cmd_.op;
    Source src;
    Source pattern;  // opaque's brush
    if (const auto* c = std::get_if<CopyOp>(&op)) {
      auto s = resolve(c->src, c->src_area, c->box);
      if (!s) return s.error();
      src = *s;
    } else if (const auto* t = std::get_if<TransparentOp>(&op)) {
      auto s = resolve(t->src, t->src_area, t->box);
      if (!s) return s.error();
      src = *s;
    } else if (const auto* a = std::get_if<AlphaBlendOp>(&op)) {
      auto s = resolve(a->src, a->src_area, a->box);
      if (!s) return s.error();
      src = *s;
      // The canvas reads a surface's alpha only when the op says it has one.
      if (a->src.surface_id) src.has_alpha = (a->alpha_flags & SPICE_ALPHA_FLAGS_SRC_SURFACE_HAS_ALPHA) != 0;
    } else if (const auto* f = std::get_if<BrushFillOp>(&op)) {
      if (f->brush.kind == Brush::Kind::pattern) {
        auto s = resolve(f->brush.pattern, std::nullopt, f->box);
        if (!s) return s.error();
        src = *s;
      }
    } else if (const auto* t = std::get_if<TextOp>(&op)) {
      auto s = resolve(t->back_brush.pattern, std::nullopt, t->box);
      if (!s) return s.error();
      src = *s;
      auto p = resolve(t->fore_brush.pattern, std::nullopt, t->box);
      if (!p) return p.error();
      pattern = *p;
    } else if (const auto* o = std::get_if<OpaqueOp>(&op)) {
      // The CPU backend's order: the pattern, then the source.
      auto p = resolve(o->brush.pattern, std::nullopt, o->box);
      if (!p) return p.error();
      pattern = *p;
      auto s = resolve(o->src, o->src_area, o->box);
      if (!s) return s.error();
      src = *s;
    } else if (const auto* r3 = std::get_if<Rop3Op>(&op)) {
      auto p = resolve(r3->brush.pattern, std::nullopt, r3->box);
      if (!p) return p.error();
      pattern = *p;
      auto s = resolve(r3->src, r3->src_area, r3->box);
      if (!s) return s.error();
      src = *s;
    } else if (const auto* st = std::get_if<StrokeOp>(&op)) {
      auto s = resolve(st->brush.pattern, std::nullopt, st->box);
      if (!s) return s.error();
      src = *s;
    } else if (const auto* c = std::get_if<CompositeOp>(&op)) {
      // The CPU backend's order: the source, then the mask; both whole.
      auto s = resolve(c->src, std::nullopt, c->box);
      if (!s) return s.error();
      src = *s;
      auto m = resolve(c->mask, std::nullopt, c->box);
      if (!m) return m.error();
      pattern = *m;
    }
    Rect bounds = bounds_;
    if (!cmd_.clip_rects.empty()) {
      std::vector<Rect> parts;
      for (const Rect& cr : cmd_.clip_rects) {
        if (!edges_fit(cr)) return err("clip rect " + describe(cr) + " overflows");
        const Rect b = intersect(cr, bounds_);
        if (!b.empty()) parts.push_back(b);
      }
      bounds = bbox(parts);
      if (bounds.empty()) return Rect{};
      pieces_ = disjoint_union(parts);
    }
    Result<Rect> drawn = Rect{};
    if (const auto* f = std::get_if<BrushFillOp>(&op)) {
      drawn = brush_fill(bounds, *f, src);
    } else if (const auto* c = std::get_if<CopyOp>(&op)) {
      drawn = copy(bounds, *c, src);
    } else if (const auto* r = std::get_if<SolidRopOp>(&op)) {
      drawn = solid_rop(bounds, *r);
    } else if (const auto* t = std::get_if<TransparentOp>(&op)) {
      drawn = transparent(bounds, *t, src);
    } else if (const auto* a = std::get_if<AlphaBlendOp>(&op)) {
      drawn = alpha_blend(bounds, *a, src);
    } else if (const auto* t = std::get_if<TextOp>(&op)) {
      drawn = text(bounds, *t, src, pattern);
    } else if (const auto* o = std::get_if<OpaqueOp>(&op)) {
      drawn = opaque(bounds, *o, src, pattern);
    } else if (const auto* r3 = std::get_if<Rop3Op>(&op)) {
      drawn = rop3(bounds, *r3, src, pattern);
    } else if (const auto* st = std::get_if<StrokeOp>(&op)) {
      drawn = stroke(bounds, *st, src);
    } else if (const auto* c = std::get_if<CompositeOp>(&op)) {
      drawn = composite(bounds, *c, src, pattern);
    }
    if (!drawn || drawn->empty() || cmd_.clip_rects.empty()) return drawn;
    Rect damaged;
    for (const Rect& cr : cmd_.clip_rects) {
      damaged = bounding_union(damaged, intersect(intersect(cr, bounds_), *drawn));
    }
    return damaged;
  }

  // The CPU backend's resolve_sources: a surface operand must exist, and one read unscaled
  // through `area` must have edges that fit. nullopt area: a pattern (the whole surface).
  Result<Source> resolve(const ImageSource& s, std::optional<Rect> area, const Rect& box) {
    if (!s.surface_id) return Source{s.image.get(), nullptr, 0, s.has_alpha};
    const DeviceSurface* surf = rec_.surface(*s.surface_id);
    if (!surf) return err("source surface " + std::to_string(*s.surface_id) + " is missing");
    if (area && area->size() == box.size() && !edges_fit(*area)) {
      return err("source area " + describe(*area) + " overflows");
    }
    return Source{nullptr, surf, *s.surface_id, false};
  }

  static Status check_area(const Source& src, const Rect& area, const char* what) {
    if (!src.image && !src.surface) return err(std::string(what) + " without a source image");
    if (area.empty() || !edges_fit(area) || !Rect::from_size(src.size()).contains(area)) {
      return err(std::string(what) + " source " + describe(area) + " outside its image");
    }
    return Status::success();
  }

  // Points `op` at mask `m` for its frame `r` (box origin `box`). False when the mask lets
  // no pixel of `r` through (nothing to dispatch).
  bool set_mask(GpuOp& op, const Mask& m, const Rect& box, const Rect& r) {
    if (m.empty()) return true;
    const int64_t mx = int64_t(r.x) - box.x + m.pos.x;
    const int64_t my = int64_t(r.y) - box.y + m.pos.y;
    if (mx >= m.size.width || mx + r.width <= 0 || my >= m.size.height || my + r.height <= 0) {
      return false;
    }
    op.mask = rec_.upload_bytes(m.bits.data(), m.bits.size());
    op.mask_x = int32_t(mx);
    op.mask_y = int32_t(my);
    op.mask_w = m.size.width;
    op.mask_h = m.size.height;
    op.mask_invert = m.invert ? 1 : 0;
    return true;
  }

  // Points `op` at `area` of `src` drawn onto `box`, for frame `r`: unscaled by offset,
  // scaled through per-column and per-row maps computed as pixman computes its nearest
  // samples (a 16.16 scale transform sampled at pixel centres).
  void set_sampled_source(GpuOp& op, const Source& src, const Rect& area, const Rect& box, const Rect& r) {
    if (area.size() == box.size()) {
      const Rect needed{int32_t(int64_t(area.x) + r.x - box.x), int32_t(int64_t(area.y) + r.y - box.y),
                        r.width, r.height};
      const Bound b = bind(src, needed, r);
      op.kind = kOffset;
      set_offset_source(op, b, needed);
      return;
    }
    // pixman_fixed_t scale factors, as the CPU backend computes them.
    const int32_t fx = int32_t((int64_t(area.width) * 65536) / box.width);
    const int32_t fy = int32_t((int64_t(area.height) * 65536) / box.height);
    set_mapped_source(op, src, r, {fx, int64_t(r.x) - box.x, area.x}, {fy, int64_t(r.y) - box.y, area.y});
  }

  // One axis of a scaled read: frame pixel i samples source pixel ((f * (first + i) + f/2 +
  // pos * 65536) - 1) >> 16, pixman's nearest sample for a 16.16 scale `f` and translation `pos`.
  struct ScaleAxis {
    int32_t f;
    int64_t first;
    int64_t pos;
  };

  // Points `op` at `src` through per-column and per-row sampling maps for frame `r`.
  void set_mapped_source(GpuOp& op, const Source& src, const Rect& r, ScaleAxis ax, ScaleAxis ay) {
    const Size size = src.size();
    std::vector<int32_t> maps(size_t(r.width) + size_t(r.height));
    auto axis = [&](int32_t n, const ScaleAxis& a, int32_t limit, int32_t* out, int32_t& lo, int32_t& hi) {
      const int64_t half = (int64_t(a.f) * 0x8000 + 0x8000) >> 16;
      for (int32_t i = 0; i < n; ++i) {
        const int64_t v = int64_t(a.f) * (a.first + i) + half + a.pos * 65536;
        const int64_t idx = (v - 1) >> 16;
        if (idx < 0 || idx >= limit) {
          out[i] = -1;
          continue;
        }
        out[i] = int32_t(idx);
        lo = std::min(lo, int32_t(idx));
        hi = std::max(hi, int32_t(idx));
      }
    };
    int32_t x0 = INT32_MAX, x1 = -1, y0 = INT32_MAX, y1 = -1;
    axis(r.width, ax, size.width, maps.data(), x0, x1);
    axis(r.height, ay, size.height, maps.data() + r.width, y0, y1);
    op.kind = kMapped;
    if (x1 >= 0 && y1 >= 0) {
      const Rect needed = Rect::from_ltrb(x0, y0, x1 + 1, y1 + 1);
      const Bound b = bind(src, needed, r);
      for (int32_t i = 0; i < r.width; ++i) if (maps[size_t(i)] >= 0) maps[size_t(i)] -= b.ox;
      for (int32_t i = 0; i < r.height; ++i) {
        int32_t& m = maps[size_t(r.width) + size_t(i)];
        if (m >= 0) m -= b.oy;
      }
      op.src = b.address;
      op.src_stride = b.stride;
    } else {
      // Every sample falls outside the source: the shader reads nothing.
      std::fill(maps.begin(), maps.end(), -1);
    }
    op.maps = rec_.upload_bytes(maps.data(), maps.size() * sizeof(int32_t));
  }

  Result<Rect> brush_fill(const Rect& bounds, const BrushFillOp& f, const Source& pattern) {
    if (!edges_fit(f.box)) return err("fill " + describe(f.box) + " overflows");
    if (auto st = check_mask(f.mask); !st) return st.error();
    const Rop rop = rop_of(f.rop_descriptor, SPICE_ROPD_INVERS_BRUSH);
    const Rect r = intersect(f.box, bounds);
    if (r.empty() || rop == Rop::noop) return Rect{};
    GpuOp op = base_op();
    set_frame(op, r);
    op.combine = kRop;
    op.rop = uint32_t(rop);
    if (f.brush.kind == Brush::Kind::pattern) {
      if ((!pattern.image && !pattern.surface) || pattern.size().empty()) {
        return err("pattern brush without an image");
      }
      if (!set_mask(op, f.mask, f.box, r)) return r;
      const Size tile = pattern.size();
      const Bound b = bind(pattern, Rect::from_size(tile), r);
      op.kind = kPattern;
      op.src = b.address;
      op.src_stride = b.stride;
      op.src_w = tile.width;
      op.src_h = tile.height;
      op.src_x = wrap_mod(int64_t(r.x) - f.brush.pattern_pos.x, tile.width);
      op.src_y = wrap_mod(int64_t(r.y) - f.brush.pattern_pos.y, tile.height);
    } else {
      if (!set_mask(op, f.mask, f.box, r)) return r;
      // A missing brush still draws: the rop may ignore its operand.
      op.kind = kSolid;
      op.color = f.brush.kind == Brush::Kind::solid ? f.brush.color : 0;
    }
    emit(op, r);
    return r;
  }

  Result<Rect> copy(const Rect& bounds, const CopyOp& c, const Source& src) {
    if (!edges_fit(c.box)) return err("copy " + describe(c.box) + " overflows");
    if (auto st = check_area(src, c.src_area, "copy"); !st) return st.error();
    if (auto st = check_mask(c.mask); !st) return st.error();
    const Rop rop = rop_of(c.rop_descriptor, SPICE_ROPD_INVERS_SRC);
    const Rect r = intersect(c.box, bounds);
    if (r.empty() || rop == Rop::noop) return Rect{};
    GpuOp op = base_op();
    set_frame(op, r);
    op.combine = kRop;
    op.rop = uint32_t(rop);
    if (!set_mask(op, c.mask, c.box, r)) return r;
    set_sampled_source(op, src, c.src_area, c.box, r);
    emit(op, r);
    return r;
  }

  Result<Rect> solid_rop(const Rect& bounds, const SolidRopOp& s) {
    if (!edges_fit(s.box)) return err("rop " + describe(s.box) + " overflows");
    if (auto st = check_mask(s.mask); !st) return st.error();
    const Rect r = intersect(s.box, bounds);
    if (r.empty()) return Rect{};
    GpuOp op = base_op();
    set_frame(op, r);
    op.kind = kSolid;
    op.combine = kRop;
    op.rop = uint32_t(s.kind == SolidRopOp::Kind::blackness   ? Rop::clear
                      : s.kind == SolidRopOp::Kind::whiteness ? Rop::set
                                                              : Rop::invert);
    if (!set_mask(op, s.mask, s.box, r)) return r;
    emit(op, r);
    return r;
  }

  Result<Rect> transparent(const Rect& bounds, const TransparentOp& t, const Source& src) {
    if (!edges_fit(t.box)) return err("transparent " + describe(t.box) + " overflows");
    if (auto st = check_area(src, t.src_area, "transparent"); !st) return st.error();
    const Rect r = intersect(t.box, bounds);
    if (r.empty()) return Rect{};
    GpuOp op = base_op();
    set_frame(op, r);
    op.combine = kTransparent;
    // The canvas keys on true_color and compares RGB only; it scales with nearest.
    op.color = t.true_color & 0xffffffu;
    set_sampled_source(op, src, t.src_area, t.box, r);
    emit(op, r);
    return r;
  }

  Result<Rect> alpha_blend(const Rect& bounds, const AlphaBlendOp& a, const Source& src) {
    if (!edges_fit(a.box)) return err("alpha blend " + describe(a.box) + " overflows");
    if (auto st = check_area(src, a.src_area, "alpha blend"); !st) return st.error();
    const Rect r = intersect(a.box, bounds);
    if (r.empty() || a.alpha == 0) return Rect{};
    GpuOp op = base_op();
    set_frame(op, r);
    op.combine = kOver;
    op.alpha = uint32_t(a.alpha) | (src.has_alpha ? 0x100u : 0u);
    set_sampled_source(op, src, a.src_area, a.box, r);
    emit(op, r);
    return r;
  }

  // The canvas's text: the background first (PUT only), then the glyphs' coverage, combined
  // by maximum into one mask, composited OVER with the solid fore colour.
  Result<Rect> text(const Rect& bounds, const TextOp& t, const Source& back_pattern, const Source& fore_pattern) {
    if (!edges_fit(t.box) || !edges_fit(t.back_area)) return err("text " + describe(t.box) + " overflows");
    const Rect clip = intersect(t.box, bounds);
    if (clip.empty()) return Rect{};
    // The glyphs are checked after the background is drawn, as on the CPU; under a clip-rect
    // list the CPU backend then drops the whole drawing, so nothing may be recorded.
    std::optional<Error> glyph_error;
    Rect extent;
    const bool fore = !t.glyphs.empty() && t.fore_brush.kind != Brush::Kind::none;
    const bool pattern = t.fore_brush.kind == Brush::Kind::pattern;
    if (fore && pattern && ((!fore_pattern.image && !fore_pattern.surface) || fore_pattern.size().empty())) {
      glyph_error = err("text: pattern brush without an image");
    } else if (fore) {
      auto e = glyph_extent(t.glyphs);
      if (e) extent = *e;
      else glyph_error = e.error();
    }
    if (glyph_error && !cmd_.clip_rects.empty()) {
      if (!t.back_area.empty() && t.fore_mode != SPICE_ROPD_OP_PUT) return Rect{};  // skipped first
      return *glyph_error;
    }
    Rect damaged;
    if (!t.back_area.empty()) {
      if (t.fore_mode != SPICE_ROPD_OP_PUT) return Rect{};
      BrushFillOp back;
      back.box = t.back_area;
      back.brush = t.back_brush;
      back.rop_descriptor = SPICE_ROPD_OP_PUT;
      auto b = brush_fill(clip, back, back_pattern);
      if (!b) return b;
      damaged = *b;
    }
    if (!fore) return damaged;
    if (glyph_error) return *glyph_error;
    const Rect r = intersect(extent, clip);
    if (r.empty()) return damaged;
    std::vector<uint8_t> cover(size_t(r.width) * size_t(r.height), 0);
    glyph_coverage(t.glyphs, t.bpp, r, cover.data(), size_t(r.width));
    GpuOp op = base_op();
    set_frame(op, r);
    op.combine = kCoverOver;
    if (pattern) {
      // As the client: the tile repeats from the string's top-left moved by pattern_pos.
      const Size tile = fore_pattern.size();
      const Bound b = bind(fore_pattern, Rect::from_size(tile), r);
      op.kind = kPattern;
      op.src = b.address;
      op.src_stride = b.stride;
      op.src_w = tile.width;
      op.src_h = tile.height;
      op.src_x = wrap_mod(int64_t(r.x) - extent.x - t.fore_brush.pattern_pos.x, tile.width);
      op.src_y = wrap_mod(int64_t(r.y) - extent.y - t.fore_brush.pattern_pos.y, tile.height);
    } else {
      op.kind = kSolid;
      op.color = t.fore_brush.color;
    }
    op.mask = rec_.upload_bytes(cover.data(), cover.size());
    op.mask_w = r.width;
    op.mask_h = r.height;
    emit(op, r);
    return bounding_union(damaged, r);
  }

  // The canvas's opaque: the source copied in (PUT, through the mask), then the brush over
  // it with the descriptor read for brush and source (cpu_rops.cpp draw_opaque).
  Result<Rect> opaque(const Rect& bounds, const OpaqueOp& o, const Source& src, const Source& pattern) {
    if (!edges_fit(o.box)) return err("opaque " + describe(o.box) + " overflows");
    if (auto st = check_area(src, o.src_area, "opaque"); !st) return st.error();
    if (auto st = check_mask(o.mask); !st) return st.error();
    if (o.brush.kind == Brush::Kind::pattern && ((!pattern.image && !pattern.surface) || pattern.size().empty())) {
      return err("opaque: pattern brush without an image");
    }
    const BrushFillOp brush{o.box, o.brush, opaque_brush_descriptor(o.rop_descriptor), o.mask};
    const Rect r = intersect(o.box, bounds);
    if (r.empty() || rop_of(brush.rop_descriptor, SPICE_ROPD_INVERS_BRUSH) == Rop::noop) return Rect{};
    const CopyOp put{o.box, o.src, o.src_area, SPICE_ROPD_OP_PUT, o.scale_mode, o.mask, false};
    auto c = copy(bounds, put, src);
    if (!c) return c;
    auto b = brush_fill(bounds, brush, pattern);
    if (!b) return b;
    return bounding_union(*c, *b);
  }

  // Rop3 with an unscaled source (a scaled one goes to the CPU twin).
  Result<Rect> rop3(const Rect& bounds, const Rop3Op& o, const Source& src, const Source& pattern) {
    if (!edges_fit(o.box)) return err("rop3 " + describe(o.box) + " overflows");
    if (auto st = check_area(src, o.src_area, "rop3"); !st) return st.error();
    if (auto st = check_mask(o.mask); !st) return st.error();
    const bool tiled = o.brush.kind == Brush::Kind::pattern;
    if (tiled && ((!pattern.image && !pattern.surface) || pattern.size().empty())) {
      return err("rop3: pattern brush without an image");
    }
    const Rect r = intersect(o.box, bounds);
    if (r.empty()) return Rect{};
    // The canvas scales a rop3 source its own way (canvas_scale_surface, as cpu_rops.cpp's
    // rop3_scaled_part): double factors truncated to 16.16, the origin divided and rounded.
    const bool scaled = o.src_area.size() != o.box.size();
    ScaleAxis ax{}, ay{};
    if (scaled) {
      if (o.scale_mode != SPICE_IMAGE_SCALE_MODE_NEAREST) {
        return err("rop3: unknown scale mode " + std::to_string(o.scale_mode));
      }
      const double sx = double(o.src_area.width) / o.box.width;
      const double sy = double(o.src_area.height) / o.box.height;
      const double ox = std::floor(o.src_area.x / sx + 0.5);
      const double oy = std::floor(o.src_area.y / sy + 0.5);
      if (ox > 32767 || oy > 32767) return err("rop3: scaled source origin out of range");
      ax = {pixman_double_to_fixed(sx), int64_t(ox) + (r.x - o.box.x), 0};
      ay = {pixman_double_to_fixed(sy), int64_t(oy) + (r.y - o.box.y), 0};
    }
    GpuOp op = base_op();
    set_frame(op, r);
    op.combine = kRop3;
    op.rop = o.rop3;
    // A missing brush reads as colour 0, as on the CPU.
    op.color = o.brush.kind == Brush::Kind::solid ? o.brush.color : 0;
    if (!set_mask(op, o.mask, o.box, r)) return r;
    if (scaled) {
      set_mapped_source(op, src, r, ax, ay);
      emit(op, r);
      return r;
    }
    if (tiled) {
      const Size tile = pattern.size();
      const Bound b = bind(pattern, Rect::from_size(tile), r);
      op.combine = kRop3Pattern;
      op.maps = b.address;
      op.color = uint32_t(b.stride);
      op.src_w = tile.width;
      op.src_h = tile.height;
      op.alpha = uint32_t(wrap_mod(int64_t(r.x) - o.brush.pattern_pos.x, tile.width)) |
                 uint32_t(wrap_mod(int64_t(r.y) - o.brush.pattern_pos.y, tile.height)) << 16;
    }
    set_sampled_source(op, src, o.src_area, o.box, r);
    emit(op, r);
    return r;
  }

  // The Porter-Duff composites fallback_name() leaves here (draw.comp's composite()).
  Result<Rect> composite(const Rect& bounds, const CompositeOp& c, const Source& src, const Source& mask) {
    const CompositeFlags f = CompositeFlags::of(c.flags);
    const bool src_ok = src.image || src.surface;
    const bool mask_ok = mask.image || mask.surface;
    if (auto st = check_composite(c, src_ok ? src.size() : Size{}, mask_ok ? mask.size() : Size{}); !st) {
      return st.error();
    }
    const Rect r = intersect(c.box, bounds);
    if (r.empty()) return Rect{};
    GpuOp op = base_op();
    set_frame(op, r);
    op.kind = kSolid;
    op.combine = kComposite;
    // A surface operand is opaque (x8r8g8b8), an image one carries alpha when it says so.
    const bool src_alpha = src.image && src.has_alpha;
    const bool mask_alpha = mask.image && mask.has_alpha;
    op.rop = f.op | f.src_repeat << 8 | f.mask_repeat << 10 | uint32_t(src_alpha) << 12 |
             uint32_t(mask_alpha) << 13 | uint32_t(f.has_mask) << 14;
    const Size ss = src.size();
    const Bound sb = bind(src, Rect::from_size(ss), r);
    op.src = sb.address;
    op.src_stride = sb.stride;
    op.src_w = ss.width;
    op.src_h = ss.height;
    op.src_x = c.src_origin.x + (r.x - c.box.x);
    op.src_y = c.src_origin.y + (r.y - c.box.y);
    if (f.has_mask) {
      const Size ms = mask.size();
      const Bound mb = bind(mask, Rect::from_size(ms), r);
      op.mask = mb.address;
      op.mask_invert = uint32_t(mb.stride);
      op.mask_w = ms.width;
      op.mask_h = ms.height;
      op.mask_x = c.mask_origin.x + (r.x - c.box.x);
      op.mask_y = c.mask_origin.y + (r.y - c.box.y);
    }
    emit(op, r);
    return r;
  }

  // The stroke's pixels (stroke_path.cpp, as the CPU draws them) go to the device as pixel
  // lists. A rop that gives the same result applied twice (copy, and, or, ...) takes the
  // whole stroke in one list, repeated pixels and all; any other (xor, invert, ...) takes one
  // list per segment, so a pixel that two segments share is drawn twice, in order, as the
  // client draws it.
  Result<Rect> stroke(const Rect& bounds, const StrokeOp& s, const Source& pattern) {
    if (auto st = check_stroke(s); !st) return st.error();
    if (s.brush.kind == Brush::Kind::pattern && ((!pattern.image && !pattern.surface) || pattern.size().empty())) {
      return err("stroke: pattern brush without an image");
    }
    const Rect area = intersect(s.box, bounds);
    const Rop rop = rop_of(s.fore_mode, SPICE_ROPD_INVERS_BRUSH);
    if (area.empty() || rop == Rop::noop) return Rect{};
    GpuOp op = base_op();
    set_frame(op, Rect{0, 0, 1, 1});  // pattern phases count from the surface origin
    op.combine = kRop;
    op.rop = uint32_t(rop);
    if (s.brush.kind == Brush::Kind::pattern) {
      const Size tile = pattern.size();
      const Bound b = bind(pattern, Rect::from_size(tile), area);
      op.kind = kPattern | kListed;
      op.src = b.address;
      op.src_stride = b.stride;
      op.src_w = tile.width;
      op.src_h = tile.height;
      op.src_x = wrap_mod(-int64_t(s.brush.pattern_pos.x), tile.width);
      op.src_y = wrap_mod(-int64_t(s.brush.pattern_pos.y), tile.height);
    } else {
      op.kind = kSolid | kListed;
      op.color = s.brush.kind == Brush::Kind::solid ? s.brush.color : 0;
    }
    const bool idempotent = rop == Rop::clear || rop == Rop::and_ || rop == Rop::and_inverted ||
                            rop == Rop::copy || rop == Rop::or_ || rop == Rop::copy_inverted ||
                            rop == Rop::or_inverted || rop == Rop::set;
    ListSink sink(*this, op, idempotent, pieces_);
    walk_stroke(s, area, sink);
    sink.flush();
    return sink.damaged();
  }

  // Collects listed pixels (inside the clip pieces, when there are any) and dispatches them.
  class ListSink final : public StrokeSink {
   public:
    ListSink(Planner& p, const GpuOp& op, bool whole, const std::vector<Rect>& pieces)
        : p_(p), op_(op), whole_(whole), pieces_(pieces) {}
    void plot(int32_t x, int32_t y) override {
      damaged_ = bounding_union(damaged_, Rect{x, y, 1, 1});
      if (!pieces_.empty() && std::none_of(pieces_.begin(), pieces_.end(), [&](const Rect& r) {
            return x >= r.x && y >= r.y && x < r.right() && y < r.bottom();
          })) {
        return;
      }
      xy_.push_back(x);
      xy_.push_back(y);
      if (xy_.size() / 2 == kMaxListed) flush();
    }
    void segment_end() override {
      if (!whole_) flush();
    }
    void flush() {
      if (xy_.empty()) return;
      GpuOp op = op_;
      op.maps = p_.rec_.upload_bytes(xy_.data(), xy_.size() * sizeof(int32_t));
      op.region[0] = op.region[1] = 0;
      op.region[2] = int32_t(xy_.size() / 2);
      op.region[3] = 1;
      p_.rec_.dispatch(op);
      xy_.clear();
    }
    Rect damaged() const { return damaged_; }

   private:
    // Vulkan guarantees 65535 workgroups along x; draw.comp's groups are 64 wide.
    static constexpr size_t kMaxListed = size_t(65535) * 64;
    Planner& p_;
    const GpuOp op_;
    const bool whole_;
    const std::vector<Rect>& pieces_;
    std::vector<int32_t> xy_;
    Rect damaged_;
  };

  // ---- Recording.

  GpuOp base_op() const {
    GpuOp op;
    op.dst = dst_->address;
    op.dst_stride = dst_->size.width;
    return op;
  }

  static void set_frame(GpuOp& op, const Rect& r) {
    op.frame[0] = r.x;
    op.frame[1] = r.y;
    op.frame[2] = r.width;
    op.frame[3] = r.height;
  }

  // Source pixel for frame pixel (fx, fy) = needed.xy + (fx, fy).
  static void set_offset_source(GpuOp& op, const Bound& b, const Rect& needed) {
    op.src = b.address;
    op.src_stride = b.stride;
    op.src_x = needed.x - b.ox;
    op.src_y = needed.y - b.oy;
  }

  // Makes `needed` (inside the source) readable by the shader while `written` of the
  // destination is drawn: host pixels are uploaded; a surface is read in place, or from a
  // snapshot when it is the destination and the areas meet (the CPU backend's snapshot).
  Bound bind(const Source& s, const Rect& needed, const Rect& written) {
    if (s.image) {
      return Bound{rec_.upload(s.image->view(), needed), needed.width, needed.x, needed.y};
    }
    if (s.surface_id != cmd_.surface_id || intersect(needed, written).empty()) {
      return Bound{s.surface->address, s.surface->size.width, 0, 0};
    }
    GpuOp snap;
    snap.dst = rec_.scratch(size_t(needed.area()) * 4);
    snap.dst_stride = needed.width;
    snap.region[2] = snap.frame[2] = needed.width;
    snap.region[3] = snap.frame[3] = needed.height;
    snap.src = s.surface->address;
    snap.src_stride = s.surface->size.width;
    snap.src_x = needed.x;
    snap.src_y = needed.y;
    snap.kind = kOffset;
    snap.combine = kRaw;
    rec_.dispatch(snap);
    return Bound{snap.dst, needed.width, needed.x, needed.y};
  }

  // Dispatches `op` (its frame set) over `r`, limited to the clip pieces when there are any.
  void emit(const GpuOp& op, const Rect& r) {
    if (pieces_.empty()) {
      emit(op, std::vector<Rect>{r});
      return;
    }
    std::vector<Rect> parts;
    for (const Rect& p : pieces_) {
      const Rect q = intersect(p, r);
      if (!q.empty()) parts.push_back(q);
    }
    emit(op, parts);
  }

  void emit(GpuOp op, const std::vector<Rect>& regions) {
    for (const Rect& q : regions) {
      if (q.empty()) continue;
      if (op.frame[2] == 0) set_frame(op, q);
      op.region[0] = q.x;
      op.region[1] = q.y;
      op.region[2] = q.width;
      op.region[3] = q.height;
      rec_.dispatch(op);
    }
  }

  const DrawCommand& cmd_;
  Recorder& rec_;
  const DeviceSurface* dst_ = nullptr;
  Rect bounds_;
  std::vector<Rect> pieces_;  // general ops under a clip-rect list: disjoint, inside bounds_
};

}  // namespace

std::vector<Rect> disjoint_union(const std::vector<Rect>& rects) {
  std::vector<int32_t> ys;
  for (const Rect& r : rects) {
    if (r.empty()) continue;
    ys.push_back(r.y);
    ys.push_back(r.bottom());
  }
  std::sort(ys.begin(), ys.end());
  ys.erase(std::unique(ys.begin(), ys.end()), ys.end());
  std::vector<Rect> out;
  std::vector<std::pair<int32_t, int32_t>> spans;
  for (size_t i = 0; i + 1 < ys.size(); ++i) {
    const int32_t y0 = ys[i], y1 = ys[i + 1];
    spans.clear();
    for (const Rect& r : rects) {
      if (!r.empty() && r.y <= y0 && r.bottom() >= y1) spans.emplace_back(r.x, r.right());
    }
    std::sort(spans.begin(), spans.end());
    for (size_t k = 0; k < spans.size();) {
      int32_t x0 = spans[k].first, x1 = spans[k].second;
      for (++k; k < spans.size() && spans[k].first <= x1; ++k) x1 = std::max(x1, spans[k].second);
      // Merge with the band above when it has the same span (keeps tall rectangles whole).
      auto above = std::find_if(out.begin(), out.end(), [&](const Rect& o) {
        return o.bottom() == y0 && o.x == x0 && o.right() == x1;
      });
      if (above != out.end()) {
        above->height += y1 - y0;
      } else {
        out.push_back(Rect::from_ltrb(x0, y0, x1, y1));
      }
    }
  }
  return out;
}

Planned plan_command(const DrawCommand& cmd, Recorder& rec) { return Planner(cmd, rec).run(); }

}  // namespace spiceflow::gpu::vulkan
