#include "cpu_rops.hpp"

#include "raster_util.hpp"

#include <pixman.h>
#include <spice/enums.h>

#include <algorithm>
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

// dst(x, y) = rop(src(x, y), dst(x, y)) over `r`, through `mask`, X forced opaque.
template <class Src>
void rop_rect(Image& dst, const Rect& r, Rop rop, const MaskTest& mask, Src&& src) {
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
  if (op.fore_brush.kind != Brush::Kind::solid) {
    return make_error("text with a pattern fore brush is not supported by the cpu backend yet");
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
  const auto widen = [](uint32_t c) { return uint16_t((c & 0xffu) * 0x101u); };
  const uint32_t color = op.fore_brush.color;
  const pixman_color_t fore{widen(color >> 16), widen(color >> 8), widen(color), 0xffff};
  PixmanImagePtr brush(pixman_image_create_solid_fill(&fore));
  if (!mask || !target || !brush) return make_error("text: pixman failed");
  pixman_image_composite32(PIXMAN_OP_OVER, brush.get(), mask.get(), target.get(), 0, 0, 0, 0, r.x,
                           r.y, r.width, r.height);
  for (int32_t y = r.y; y < r.bottom(); ++y) {
    uint32_t* row = dst.row(y);
    for (int32_t x = r.x; x < r.right(); ++x) row[x] |= kOpaque;
  }
  return bounding_union(damaged, r);
}

}  // namespace spiceflow::gpu::cpu
