#include "cpu_rops.hpp"

#include "raster_util.hpp"

#include <pixman.h>
#include <spice/enums.h>

#include <algorithm>
#include <array>
#include <type_traits>
#include <utility>
#include <cmath>
#include <limits>
#include <optional>
#include <memory>
#include <string>
#include <vector>

namespace spiceflow::gpu::cpu {
namespace {

constexpr uint32_t kOpaque = 0xff000000u;

struct PixmanImageDeleter {
  void operator()(pixman_image_t* p) const { pixman_image_unref(p); }
};
using PixmanImagePtr = std::unique_ptr<pixman_image_t, PixmanImageDeleter>;

// pixman only reads a composite source; it wants a mutable pointer all the same.
PixmanImagePtr wrap(const Image& img, pixman_format_code_t format) {
  return PixmanImagePtr(pixman_image_create_bits(
      format, img.width(), img.height(),
      const_cast<uint32_t*>(reinterpret_cast<const uint32_t*>(img.data())), img.stride()));
}

// Which pixels of the op's box a mask lets through: mask pixel (mx, my) lies at
// box.x + mx - pos.x; pixels outside the bitmap are never drawn, inverted or not.
class MaskTest {
 public:
  MaskTest(const Mask& m, Point box_origin) : m_(m), ox_(box_origin.x - m.pos.x), oy_(box_origin.y - m.pos.y) {}
  Status check() const { return check_mask(m_); }
  bool empty() const { return m_.empty(); }
  bool drawn(int32_t x, int32_t y) const {
    if (m_.empty()) return true;
    const int64_t mx = int64_t(x) - ox_;
    const int64_t my = int64_t(y) - oy_;
    if (mx < 0 || my < 0 || mx >= m_.size.width || my >= m_.size.height) return false;
    return (m_.bits[size_t(my) * size_t(m_.size.width) + size_t(mx)] != 0) != m_.invert;
  }

 private:
  const Mask& m_;
  int64_t ox_, oy_;
};

// Calls f(std::integral_constant<Rop, rop>{}): the rop becomes a constant in f's loops.
template <class F>
void with_rop(Rop rop, F&& f) {
  switch (rop) {
#define SPICEFLOW_ROP_CASE(r) \
  case Rop::r: return f(std::integral_constant<Rop, Rop::r>{});
    SPICEFLOW_ROP_CASE(clear) SPICEFLOW_ROP_CASE(and_) SPICEFLOW_ROP_CASE(and_reverse) SPICEFLOW_ROP_CASE(copy)
    SPICEFLOW_ROP_CASE(and_inverted) SPICEFLOW_ROP_CASE(noop) SPICEFLOW_ROP_CASE(xor_) SPICEFLOW_ROP_CASE(or_)
    SPICEFLOW_ROP_CASE(nor) SPICEFLOW_ROP_CASE(equiv) SPICEFLOW_ROP_CASE(invert) SPICEFLOW_ROP_CASE(or_reverse)
    SPICEFLOW_ROP_CASE(copy_inverted) SPICEFLOW_ROP_CASE(or_inverted) SPICEFLOW_ROP_CASE(nand) SPICEFLOW_ROP_CASE(set)
#undef SPICEFLOW_ROP_CASE
  }
}

// dst(x, y) = rop(src(x, y), dst(x, y)) over `r`, through `mask`, X forced opaque.
template <class Src>
void rop_rect(Image& dst, const Rect& r, Rop rop, const MaskTest& mask, Src&& src) {
  if (mask.empty()) {  // the common case: the rop a constant in the loop
    with_rop(rop, [&](auto constant_rop) {
      for (int32_t y = r.y; y < r.bottom(); ++y) {
        uint32_t* row = dst.row(y);
        for (int32_t x = r.x; x < r.right(); ++x) row[x] = apply_rop(constant_rop.value, src(x, y), row[x]) | kOpaque;
      }
    });
    return;
  }
  for (int32_t y = r.y; y < r.bottom(); ++y) {
    uint32_t* row = dst.row(y);
    for (int32_t x = r.x; x < r.right(); ++x) {
      if (!mask.drawn(x, y)) continue;
      row[x] = apply_rop(rop, src(x, y), row[x]) | kOpaque;
    }
  }
}

Status check_area(const ImageSource& src, const Rect& area, const char* what) {
  if (!src.image) return make_error(std::string(what) + " without a source image");
  if (area.empty() || !edges_fit(area) || !Rect::from_size(src.image->size()).contains(area)) {
    return make_error(std::string(what) + " source " + describe(area) + " outside its image");
  }
  return Status::success();
}

// The pixels of `area` of `img` scaled to `box`, sampled for the part `r` of `box`, exactly
// as the canvas scales (a pixman transform over the whole source, no repeat, nearest or
// pixman's GOOD filter). The result is r.size(), x8r8g8b8.
Result<Image> scaled_part(const Image& img, const Rect& area, const Rect& box, const Rect& r,
                          uint8_t scale_mode) {
  PixmanImagePtr src = wrap(img, PIXMAN_x8r8g8b8);
  Image out(r.width, r.height);
  PixmanImagePtr dst(pixman_image_create_bits(PIXMAN_x8r8g8b8, r.width, r.height,
                                              reinterpret_cast<uint32_t*>(out.data()), out.stride()));
  if (!src || !dst) return make_error("scale: pixman failed");
  const pixman_fixed_t fsx = pixman_fixed_t((pixman_fixed_48_16_t(area.width) * 65536) / box.width);
  const pixman_fixed_t fsy = pixman_fixed_t((pixman_fixed_48_16_t(area.height) * 65536) / box.height);
  pixman_transform_t t;
  pixman_transform_init_scale(&t, fsx, fsy);
  pixman_transform_translate(&t, nullptr, pixman_int_to_fixed(area.x), pixman_int_to_fixed(area.y));
  pixman_image_set_transform(src.get(), &t);
  pixman_image_set_repeat(src.get(), PIXMAN_REPEAT_NONE);
  pixman_image_set_filter(src.get(),
                          scale_mode == SPICE_IMAGE_SCALE_MODE_INTERPOLATE ? PIXMAN_FILTER_GOOD
                                                                           : PIXMAN_FILTER_NEAREST,
                          nullptr, 0);
  pixman_image_composite32(PIXMAN_OP_SRC, src.get(), nullptr, dst.get(), r.x - box.x, r.y - box.y, 0,
                           0, 0, 0, r.width, r.height);
  return out;
}

// The pixels of `area` of `img` scaled to `box`, sampled for the part `r` of `box`, exactly
// as the canvas scales a DRAW_ROP3 source (canvas_scale_surface): scale factors computed
// in double and truncated to 16.16, the source origin divided by them and rounded, no
// repeat. It differs from scaled_part (the copy path) in those roundings, so it is its own
// function. The result is r.size(), x8r8g8b8.
Result<Image> rop3_scaled_part(const Image& img, const Rect& area, const Rect& box, const Rect& r,
                               uint8_t scale_mode) {
  if (scale_mode != SPICE_IMAGE_SCALE_MODE_NEAREST && scale_mode != SPICE_IMAGE_SCALE_MODE_INTERPOLATE) {
    return make_error("rop3: unknown scale mode " + std::to_string(scale_mode));
  }
  const double sx = double(area.width) / box.width;
  const double sy = double(area.height) / box.height;
  const double ox = std::floor(area.x / sx + 0.5);
  const double oy = std::floor(area.y / sy + 0.5);
  // pixman works in 16.16 fixed point: origins beyond its range are a hostile command.
  constexpr double kMaxOrigin = 32767;
  if (ox > kMaxOrigin || oy > kMaxOrigin) return make_error("rop3: scaled source origin out of range");
  PixmanImagePtr src = wrap(img, PIXMAN_x8r8g8b8);
  Image out(r.width, r.height);
  PixmanImagePtr dst(pixman_image_create_bits(PIXMAN_x8r8g8b8, r.width, r.height,
                                              reinterpret_cast<uint32_t*>(out.data()), out.stride()));
  if (!src || !dst) return make_error("rop3: pixman failed");
  pixman_transform_t t;
  pixman_transform_init_scale(&t, pixman_double_to_fixed(sx), pixman_double_to_fixed(sy));
  pixman_image_set_transform(src.get(), &t);
  pixman_image_set_repeat(src.get(), PIXMAN_REPEAT_NONE);
  pixman_image_set_filter(src.get(),
                          scale_mode == SPICE_IMAGE_SCALE_MODE_NEAREST ? PIXMAN_FILTER_NEAREST
                                                                       : PIXMAN_FILTER_GOOD,
                          nullptr, 0);
  pixman_image_composite32(PIXMAN_OP_SRC, src.get(), nullptr, dst.get(), int32_t(ox) + (r.x - box.x),
                           int32_t(oy) + (r.y - box.y), 0, 0, 0, 0, r.width, r.height);
  return out;
}

// One row of a rop3 with a solid brush and no mask, the code a template parameter so the
// compiler folds apply_rop3 to the code's own expression and vectorizes the loop; one
// instance per code, picked from kRop3Rows.
template <uint8_t Code>
void rop3_solid_row(uint32_t* dst, const uint32_t* src, uint32_t p, int32_t n) {
  for (int32_t i = 0; i < n; ++i) dst[i] = apply_rop3(Code, p, src[i], dst[i]) | kOpaque;
}
using Rop3Row = void (*)(uint32_t*, const uint32_t*, uint32_t, int32_t);
template <size_t... I>
constexpr std::array<Rop3Row, sizeof...(I)> rop3_rows(std::index_sequence<I...>) {
  return {&rop3_solid_row<uint8_t(I)>...};
}
constexpr std::array<Rop3Row, 256> kRop3Rows = rop3_rows(std::make_index_sequence<256>{});

// A pattern brush's tile, or an error naming `what`.
Result<const Image*> pattern_tile(const Brush& b, const char* what) {
  const Image* tile = b.pattern.image.get();
  if (!tile || tile->size().empty()) return make_error(std::string(what) + ": pattern brush without an image");
  return tile;
}

void set_transform(pixman_image_t* img, const Transform& t) {
  pixman_transform_t p;
  p.matrix[0][0] = t.t00;
  p.matrix[0][1] = t.t01;
  p.matrix[0][2] = t.t02;
  p.matrix[1][0] = t.t10;
  p.matrix[1][1] = t.t11;
  p.matrix[1][2] = t.t12;
  p.matrix[2][0] = 0;
  p.matrix[2][1] = 0;
  p.matrix[2][2] = pixman_fixed_1;
  pixman_image_set_transform(img, &p);
}

// An 8-bit alpha bitmap (SPICE_BITMAP_FMT_8BIT_A) reaches the IR as alpha << 24 with zero
// colour channels. pixman ignores component alpha for a mask without colour channels (a8),
// so such a mask is recognised by its content and composited with unified alpha.
bool alpha_only(const Image& img) {
  for (int32_t y = 0; y < img.height(); ++y) {
    const uint32_t* row = img.row(y);
    for (int32_t x = 0; x < img.width(); ++x) {
      if (row[x] & 0xffffffu) return false;
    }
  }
  return true;
}

}  // namespace

Result<Rect> draw_brush_fill(Image& dst, const Rect& bounds, const BrushFillOp& op) {
  if (!edges_fit(op.box)) return make_error("fill " + describe(op.box) + " overflows");
  const MaskTest mask(op.mask, {op.box.x, op.box.y});
  if (auto st = mask.check(); !st) return st.error();
  const Rop rop = rop_of(op.rop_descriptor, SPICE_ROPD_INVERS_BRUSH);
  const Rect r = intersect(op.box, bounds);
  if (r.empty() || rop == Rop::noop) return Rect{};
  if (op.brush.kind == Brush::Kind::pattern) {
    const Image* tile = op.brush.pattern.image.get();
    if (!tile || tile->size().empty()) return make_error("pattern brush without an image");
    const Point pos = op.brush.pattern_pos;
    rop_rect(dst, r, rop, mask, [&](int32_t x, int32_t y) {
      return tile->pixel(wrap_mod(int64_t(x) - pos.x, tile->width()),
                         wrap_mod(int64_t(y) - pos.y, tile->height()));
    });
  } else {
    // A missing brush still draws: the rop may ignore its operand (invert, set, ...).
    const uint32_t color = op.brush.kind == Brush::Kind::solid ? op.brush.color : 0;
    rop_rect(dst, r, rop, mask, [color](int32_t, int32_t) { return color; });
  }
  return r;
}

Result<Rect> draw_copy(Image& dst, const Rect& bounds, const CopyOp& op) {
  if (!edges_fit(op.box)) return make_error("copy " + describe(op.box) + " overflows");
  if (auto st = check_area(op.src, op.src_area, "copy"); !st) return st.error();
  const MaskTest mask(op.mask, {op.box.x, op.box.y});
  if (auto st = mask.check(); !st) return st.error();
  const Rop rop = rop_of(op.rop_descriptor, SPICE_ROPD_INVERS_SRC);
  const Rect r = intersect(op.box, bounds);
  if (r.empty() || rop == Rop::noop) return Rect{};
  const Image& img = *op.src.image;
  if (op.src_area.size() == op.box.size()) {
    const int32_t dx = op.src_area.x - op.box.x;
    const int32_t dy = op.src_area.y - op.box.y;
    rop_rect(dst, r, rop, mask, [&](int32_t x, int32_t y) { return img.pixel(x + dx, y + dy); });
    return r;
  }
  auto part = scaled_part(img, op.src_area, op.box, r, op.scale_mode);
  if (!part) return part.error();
  const Image& p = *part;
  rop_rect(dst, r, rop, mask, [&](int32_t x, int32_t y) { return p.pixel(x - r.x, y - r.y); });
  return r;
}

Result<Rect> draw_solid_rop(Image& dst, const Rect& bounds, const SolidRopOp& op) {
  if (!edges_fit(op.box)) return make_error("rop " + describe(op.box) + " overflows");
  const MaskTest mask(op.mask, {op.box.x, op.box.y});
  if (auto st = mask.check(); !st) return st.error();
  const Rect r = intersect(op.box, bounds);
  if (r.empty()) return Rect{};
  const Rop rop = op.kind == SolidRopOp::Kind::blackness   ? Rop::clear
                  : op.kind == SolidRopOp::Kind::whiteness ? Rop::set
                                                           : Rop::invert;
  rop_rect(dst, r, rop, mask, [](int32_t, int32_t) { return 0u; });
  return r;
}

Result<Rect> draw_transparent(Image& dst, const Rect& bounds, const TransparentOp& op) {
  if (!edges_fit(op.box)) return make_error("transparent " + describe(op.box) + " overflows");
  if (auto st = check_area(op.src, op.src_area, "transparent"); !st) return st.error();
  const Rect r = intersect(op.box, bounds);
  if (r.empty()) return Rect{};
  // The canvas keys on true_color (the 32-bit form) and compares RGB only.
  const uint32_t key = op.true_color & 0xffffffu;
  const Image& img = *op.src.image;
  std::optional<Image> part;
  int32_t dx = op.src_area.x - op.box.x;
  int32_t dy = op.src_area.y - op.box.y;
  const Image* from = &img;
  if (op.src_area.size() != op.box.size()) {
    // The canvas always scales colour-keyed sources with the nearest filter.
    auto p = scaled_part(img, op.src_area, op.box, r, SPICE_IMAGE_SCALE_MODE_NEAREST);
    if (!p) return p.error();
    part = std::move(*p);
    from = &*part;
    dx = -r.x;
    dy = -r.y;
  }
  for (int32_t y = r.y; y < r.bottom(); ++y) {
    uint32_t* row = dst.row(y);
    const uint32_t* src = from->row(y + dy);
    for (int32_t x = r.x; x < r.right(); ++x) {
      const uint32_t v = src[x + dx];
      if ((v & 0xffffffu) != key) row[x] = v | kOpaque;
    }
  }
  return r;
}

Result<Rect> draw_alpha_blend(Image& dst, const Rect& bounds, const AlphaBlendOp& op) {
  if (!edges_fit(op.box)) return make_error("alpha blend " + describe(op.box) + " overflows");
  if (auto st = check_area(op.src, op.src_area, "alpha blend"); !st) return st.error();
  const Rect r = intersect(op.box, bounds);
  if (r.empty() || op.alpha == 0) return Rect{};
  // As the canvas: the source is premultiplied a8r8g8b8 when it carries alpha (an image's
  // format; for a surface, SPICE_ALPHA_FLAGS_SRC_SURFACE_HAS_ALPHA, set by the caller),
  // x8r8g8b8 otherwise; pixman OVER with a solid mask for the global alpha, nearest when scaling.
  PixmanImagePtr src = wrap(*op.src.image, op.src.has_alpha ? PIXMAN_a8r8g8b8 : PIXMAN_x8r8g8b8);
  PixmanImagePtr target(pixman_image_create_bits(PIXMAN_a8r8g8b8, dst.width(), dst.height(),
                                                 reinterpret_cast<uint32_t*>(dst.data()), dst.stride()));
  if (!src || !target) return make_error("alpha blend: pixman failed");
  PixmanImagePtr mask;
  if (op.alpha != 0xff) {
    const pixman_color_t c{0, 0, 0, uint16_t(op.alpha * 0x101)};
    mask.reset(pixman_image_create_solid_fill(&c));
  }
  pixman_image_set_repeat(src.get(), PIXMAN_REPEAT_NONE);
  int32_t sx = op.src_area.x + (r.x - op.box.x);
  int32_t sy = op.src_area.y + (r.y - op.box.y);
  if (op.src_area.size() != op.box.size()) {
    const pixman_fixed_t fsx = pixman_fixed_t((pixman_fixed_48_16_t(op.src_area.width) * 65536) / op.box.width);
    const pixman_fixed_t fsy = pixman_fixed_t((pixman_fixed_48_16_t(op.src_area.height) * 65536) / op.box.height);
    pixman_transform_t t;
    pixman_transform_init_scale(&t, fsx, fsy);
    pixman_transform_translate(&t, nullptr, pixman_int_to_fixed(op.src_area.x),
                               pixman_int_to_fixed(op.src_area.y));
    pixman_image_set_transform(src.get(), &t);
    pixman_image_set_filter(src.get(), PIXMAN_FILTER_NEAREST, nullptr, 0);
    sx = r.x - op.box.x;
    sy = r.y - op.box.y;
  }
  pixman_image_composite32(PIXMAN_OP_OVER, src.get(), mask.get(), target.get(), sx, sy, 0, 0, r.x, r.y,
                           r.width, r.height);
  // The destination was opaque, so OVER keeps it so; forced anyway, as the canvas clears
  // the alpha of an xRGB destination.
  for (int32_t y = r.y; y < r.bottom(); ++y) {
    uint32_t* row = dst.row(y);
    for (int32_t x = r.x; x < r.right(); ++x) row[x] |= kOpaque;
  }
  return r;
}

Result<Rect> draw_text(Image& dst, const Rect& bounds, const TextOp& op) {
  if (!edges_fit(op.box) || !edges_fit(op.back_area)) {
    return make_error("text " + describe(op.box) + " overflows");
  }
  const Rect clip = intersect(op.box, bounds);
  if (clip.empty()) return Rect{};
  Rect damaged;
  if (!op.back_area.empty()) {
    // The canvas draws text with a background only in PUT mode (it means OVER) and skips
    // the whole command otherwise.
    if (op.fore_mode != SPICE_ROPD_OP_PUT) return Rect{};
    BrushFillOp back;
    back.box = op.back_area;
    back.brush = op.back_brush;
    back.rop_descriptor = SPICE_ROPD_OP_PUT;
    auto b = draw_brush_fill(dst, clip, back);
    if (!b) return b;
    damaged = *b;
  }
  if (op.glyphs.empty() || op.fore_brush.kind == Brush::Kind::none) return damaged;
  const Image* pattern = nullptr;
  if (op.fore_brush.kind == Brush::Kind::pattern) {
    auto tile = pattern_tile(op.fore_brush, "text");
    if (!tile) return tile.error();
    pattern = *tile;
  }
  // The string's coverage mask over the union of the glyph boxes, as the canvas builds it.
  auto extent = glyph_extent(op.glyphs);
  if (!extent) return extent.error();
  const Rect r = intersect(*extent, clip);
  if (r.empty()) return damaged;
  const int32_t stride = (r.width + 3) & ~3;
  std::vector<uint8_t> cover(size_t(stride) * size_t(r.height), 0);
  glyph_coverage(op.glyphs, op.bpp, r, cover.data(), size_t(stride));
  PixmanImagePtr mask(pixman_image_create_bits(PIXMAN_a8, r.width, r.height,
                                               reinterpret_cast<uint32_t*>(cover.data()), stride));
  PixmanImagePtr target(pixman_image_create_bits(PIXMAN_a8r8g8b8, dst.width(), dst.height(),
                                                 reinterpret_cast<uint32_t*>(dst.data()), dst.stride()));
  PixmanImagePtr brush;
  int32_t brush_x = 0, brush_y = 0;
  if (pattern) {
    // As the client (sw_canvas.c): the tile repeats from the string's top-left (the union
    // of the glyph boxes) moved by pattern_pos, not from the surface origin.
    brush = wrap(*pattern, op.fore_brush.pattern.has_alpha ? PIXMAN_a8r8g8b8 : PIXMAN_x8r8g8b8);
    if (brush) {
      pixman_transform_t t;
      pixman_transform_init_translate(&t, pixman_int_to_fixed(-op.fore_brush.pattern_pos.x),
                                      pixman_int_to_fixed(-op.fore_brush.pattern_pos.y));
      pixman_image_set_transform(brush.get(), &t);
      pixman_image_set_repeat(brush.get(), PIXMAN_REPEAT_NORMAL);
    }
    brush_x = r.x - extent->x;
    brush_y = r.y - extent->y;
  } else {
    const auto widen = [](uint32_t c) { return uint16_t((c & 0xffu) * 0x101u); };
    const uint32_t color = op.fore_brush.color;
    const pixman_color_t fore{widen(color >> 16), widen(color >> 8), widen(color), 0xffff};
    brush.reset(pixman_image_create_solid_fill(&fore));
  }
  if (!mask || !target || !brush) return make_error("text: pixman failed");
  pixman_image_composite32(PIXMAN_OP_OVER, brush.get(), mask.get(), target.get(), brush_x, brush_y, 0, 0,
                           r.x, r.y, r.width, r.height);
  for (int32_t y = r.y; y < r.bottom(); ++y) {
    uint32_t* row = dst.row(y);
    for (int32_t x = r.x; x < r.right(); ++x) row[x] |= kOpaque;
  }
  return bounding_union(damaged, r);
}

Result<Rect> draw_opaque(Image& dst, const Rect& bounds, const OpaqueOp& op) {
  if (!edges_fit(op.box)) return make_error("opaque " + describe(op.box) + " overflows");
  if (auto st = check_area(op.src, op.src_area, "opaque"); !st) return st.error();
  if (auto st = check_mask(op.mask); !st) return st.error();
  if (op.brush.kind == Brush::Kind::pattern) {
    if (auto tile = pattern_tile(op.brush, "opaque"); !tile) return tile.error();
  }
  // As the canvas: the source is copied in (PUT, scaled as a copy is, through the mask),
  // then the brush is drawn over it with the descriptor read for brush and source. A
  // no-op rop skips both.
  BrushFillOp brush{op.box, op.brush, opaque_brush_descriptor(op.rop_descriptor), op.mask};
  const Rect r = intersect(op.box, bounds);
  if (r.empty() || rop_of(brush.rop_descriptor, SPICE_ROPD_INVERS_BRUSH) == Rop::noop) return Rect{};
  const CopyOp copy{op.box, op.src, op.src_area, SPICE_ROPD_OP_PUT, op.scale_mode, op.mask, false};
  auto c = draw_copy(dst, bounds, copy);
  if (!c) return c;
  auto b = draw_brush_fill(dst, bounds, brush);
  if (!b) return b;
  return bounding_union(*c, *b);
}

Result<Rect> draw_rop3(Image& dst, const Rect& bounds, const Rop3Op& op) {
  if (!edges_fit(op.box)) return make_error("rop3 " + describe(op.box) + " overflows");
  if (auto st = check_area(op.src, op.src_area, "rop3"); !st) return st.error();
  const MaskTest mask(op.mask, {op.box.x, op.box.y});
  if (auto st = mask.check(); !st) return st.error();
  const Image* tile = nullptr;
  if (op.brush.kind == Brush::Kind::pattern) {
    auto t = pattern_tile(op.brush, "rop3");
    if (!t) return t.error();
    tile = *t;
  }
  const Rect r = intersect(op.box, bounds);
  if (r.empty()) return Rect{};
  // The source: read in place when unscaled, else the part under r scaled as the canvas does.
  const Image* from = op.src.image.get();
  std::optional<Image> part;
  int32_t dx = op.src_area.x - op.box.x;
  int32_t dy = op.src_area.y - op.box.y;
  if (op.src_area.size() != op.box.size()) {
    auto p = rop3_scaled_part(*op.src.image, op.src_area, op.box, r, op.scale_mode);
    if (!p) return p.error();
    part = std::move(*p);
    from = &*part;
    dx = -r.x;
    dy = -r.y;
  }
  // A missing brush reads as colour 0, as the canvas's union does.
  const uint32_t color = op.brush.kind == Brush::Kind::solid ? op.brush.color : 0;
  const Point pos = op.brush.pattern_pos;
  const uint8_t code = op.rop3;
  for (int32_t y = r.y; y < r.bottom(); ++y) {
    uint32_t* row = dst.row(y);
    const uint32_t* src = from->row(y + dy) + dx;
    if (!tile && op.mask.empty()) {  // the common case
      kRop3Rows[code](row + r.x, src + r.x, color, r.width);
      continue;
    }
    const uint32_t* pattern = tile ? tile->row(wrap_mod(int64_t(y) - pos.y, tile->height())) : nullptr;
    int32_t tx = tile ? wrap_mod(int64_t(r.x) - pos.x, tile->width()) : 0;
    for (int32_t x = r.x; x < r.right(); ++x) {
      const uint32_t p = pattern ? pattern[tx] : color;
      if (pattern && ++tx == tile->width()) tx = 0;
      if (!mask.drawn(x, y)) continue;
      row[x] = apply_rop3(code, p, src[x], row[x]) | kOpaque;
    }
  }
  return r;
}

Result<Rect> draw_composite(Image& dst, const Rect& bounds, const CompositeOp& op) {
  const Size src_size = op.src.image ? op.src.image->size() : Size{};
  const Size mask_size = op.mask.image ? op.mask.image->size() : Size{};
  if (auto st = check_composite(op, src_size, mask_size); !st) return st.error();
  const CompositeFlags f = CompositeFlags::of(op.flags);
  const uint32_t render_op = f.op, src_filter = f.src_filter, mask_filter = f.mask_filter;
  const uint32_t src_repeat = f.src_repeat, mask_repeat = f.mask_repeat;
  const bool component_alpha = f.component_alpha, has_mask = f.has_mask;
  const Rect r = intersect(op.box, bounds);
  if (r.empty()) return Rect{};
  // As the canvas: the destination area is copied out (x8r8g8b8, a surface of 32_xRGB),
  // composited onto with box-relative coordinates, and copied back with X = 0xff. Sources
  // carry alpha only when their image does (a surface operand is opaque).
  Image area = Image::copy_of(dst.view(), r);
  PixmanImagePtr target(pixman_image_create_bits(PIXMAN_x8r8g8b8, r.width, r.height,
                                                 reinterpret_cast<uint32_t*>(area.data()), area.stride()));
  PixmanImagePtr src = wrap(*op.src.image, op.src.has_alpha ? PIXMAN_a8r8g8b8 : PIXMAN_x8r8g8b8);
  PixmanImagePtr mask;
  if (has_mask) mask = wrap(*op.mask.image, op.mask.has_alpha ? PIXMAN_a8r8g8b8 : PIXMAN_x8r8g8b8);
  if (!target || !src || (has_mask && !mask)) return make_error("composite: pixman failed");
  if (op.src_transform) set_transform(src.get(), *op.src_transform);
  pixman_image_set_filter(src.get(), pixman_filter_t(src_filter), nullptr, 0);
  pixman_image_set_repeat(src.get(), pixman_repeat_t(src_repeat));
  if (mask) {
    if (op.mask_transform) set_transform(mask.get(), *op.mask_transform);
    pixman_image_set_filter(mask.get(), pixman_filter_t(mask_filter), nullptr, 0);
    pixman_image_set_repeat(mask.get(), pixman_repeat_t(mask_repeat));
    const bool colour_mask = op.mask.has_alpha ? !alpha_only(*op.mask.image) : true;
    pixman_image_set_component_alpha(mask.get(), component_alpha && colour_mask);
  }
  const int32_t ox = r.x - op.box.x;
  const int32_t oy = r.y - op.box.y;
  pixman_image_composite32(pixman_op_t(render_op), src.get(), mask.get(), target.get(),
                           op.src_origin.x + ox, op.src_origin.y + oy, op.mask_origin.x + ox,
                           op.mask_origin.y + oy, 0, 0, r.width, r.height);
  for (int32_t y = 0; y < r.height; ++y) {
    const uint32_t* in = area.row(y);
    uint32_t* out = dst.row(r.y + y) + r.x;
    for (int32_t x = 0; x < r.width; ++x) out[x] = in[x] | kOpaque;
  }
  return r;
}

}  // namespace spiceflow::gpu::cpu
