#include "qxl_draw.hpp"

#include <algorithm>
#include <cstddef>

#include "qxl_image.hpp"

namespace spiceflow::qxl::detail {
namespace {

constexpr uint32_t kOpaque = 0xff000000u;
// The Render flag bits a guest may set (operator, filters, repeats, component alpha); the
// HAS_* bits above them are ours to derive from which operands are present.
constexpr uint32_t kCompositeGuestFlags = SPICE_COMPOSITE_HAS_MASK - 1;

// What every op parser needs: the guest, the op's box and where to note surface reads.
struct OpContext {
  const Guest& g;
  Rect box;
  std::vector<uint32_t>& deps;
};

// A source operand with its area, validated the way the reference validates DRAW_COPY's:
// the area is not inverted, starts inside the source and, for a bitmap, ends inside it.
// (For a surface operand the renderer clips against the surface it finds.)
Status read_source(OpContext& c, GuestAddress addr, const QXLRect& qarea, ImageSource& src,
                   Rect& area) {
  if (addr == 0) return make_error("missing source image");
  Size size;
  SPICEFLOW_TRY(img, read_image(c.g, addr, &size));
  SPICEFLOW_TRY(r, to_rect(qarea, "source area"));
  if (r.x < 0 || r.y < 0) {
    return make_error(fmt::format("source area starts at negative ({}, {})", r.x, r.y));
  }
  if (img.image && !Rect::from_size(size).contains(r)) {
    return make_error(fmt::format("source area {}x{}+{}+{} is outside the {}x{} source",
                                  r.width, r.height, r.x, r.y, size.width, size.height));
  }
  if (img.surface_id) c.deps.push_back(*img.surface_id);
  src = std::move(img);
  area = r;
  return {};
}

Result<Brush> brush_of(OpContext& c, const QXLBrush& qb) {
  SPICEFLOW_TRY(b, read_brush(c.g, qb));
  if (b.pattern.surface_id) c.deps.push_back(*b.pattern.surface_id);
  return std::move(b);
}

Result<DrawOp> fill_op(OpContext& c, const QXLFill& f) {
  SPICEFLOW_TRY(brush, brush_of(c, f.brush));
  SPICEFLOW_TRY(mask, read_mask(c.g, f.mask));
  const uint16_t rop = f.rop_descriptor;
  if (brush.kind == Brush::Kind::solid && rop == SPICE_ROPD_OP_PUT && mask.empty()) {
    return DrawOp{FillOp{c.box, brush.color | kOpaque}};
  }
  return DrawOp{BrushFillOp{c.box, std::move(brush), rop, std::move(mask)}};
}

Result<DrawOp> copy_op(OpContext& c, const QXLCopy& q, bool blend) {
  CopyOp op;
  op.box = c.box;
  if (auto st = read_source(c, q.src_bitmap, q.src_area, op.src, op.src_area); !st) {
    return st.error();
  }
  op.rop_descriptor = q.rop_descriptor;
  op.scale_mode = q.scale_mode;
  SPICEFLOW_TRY(mask, read_mask(c.g, q.mask));
  op.mask = std::move(mask);
  op.blend = blend;
  if (!blend && op.rop_descriptor == SPICE_ROPD_OP_PUT && op.mask.empty() && op.src.image &&
      op.src_area.size() == c.box.size()) {
    return DrawOp{BlitOp{c.box, std::move(op.src.image), {op.src_area.x, op.src_area.y}}};
  }
  return DrawOp{std::move(op)};
}

// The operands OPAQUE and ROP3 share: a source area, a brush and a mask.
template <class Op, class Qxl>
Status read_source_brush_mask(OpContext& c, const Qxl& q, Op& op) {
  op.box = c.box;
  if (auto st = read_source(c, q.src_bitmap, q.src_area, op.src, op.src_area); !st) return st;
  SPICEFLOW_TRY(brush, brush_of(c, q.brush));
  SPICEFLOW_TRY(mask, read_mask(c.g, q.mask));
  op.brush = std::move(brush);
  op.mask = std::move(mask);
  op.scale_mode = q.scale_mode;
  return Status::success();
}

Result<DrawOp> opaque_op(OpContext& c, const QXLOpaque& q) {
  OpaqueOp op;
  if (auto st = read_source_brush_mask(c, q, op); !st) return st.error();
  op.rop_descriptor = q.rop_descriptor;
  return DrawOp{std::move(op)};
}

Result<DrawOp> rop3_op(OpContext& c, const QXLRop3& q) {
  Rop3Op op;
  if (auto st = read_source_brush_mask(c, q, op); !st) return st.error();
  op.rop3 = q.rop3;
  return DrawOp{std::move(op)};
}

Result<DrawOp> transparent_op(OpContext& c, const QXLTransparent& q) {
  TransparentOp op;
  op.box = c.box;
  if (auto st = read_source(c, q.src_bitmap, q.src_area, op.src, op.src_area); !st) {
    return st.error();
  }
  op.src_color = q.src_color;
  op.true_color = q.true_color;
  return DrawOp{std::move(op)};
}

Result<DrawOp> alpha_blend_op(OpContext& c, GuestAddress src, const QXLRect& area,
                              uint8_t flags, uint8_t alpha) {
  AlphaBlendOp op;
  op.box = c.box;
  if (auto st = read_source(c, src, area, op.src, op.src_area); !st) return st.error();
  op.alpha_flags = flags & SPICE_ALPHA_FLAGS_MASK;
  op.alpha = alpha;
  return DrawOp{std::move(op)};
}

Result<DrawOp> solid_rop_op(OpContext& c, const QXLBlackness& q, SolidRopOp::Kind kind) {
  SPICEFLOW_TRY(mask, read_mask(c.g, q.mask));
  return DrawOp{SolidRopOp{kind, c.box, std::move(mask)}};
}

Result<DrawOp> stroke_op(OpContext& c, const QXLStroke& q) {
  StrokeOp op;
  op.box = c.box;
  SPICEFLOW_TRY(path, read_path(c.g, q.path));
  op.path = std::move(path);
  op.line_flags = q.attr.flags;
  if (op.line_flags & SPICE_LINE_FLAGS_STYLED) {
    const uint8_t n = q.attr.style_nseg;
    if (n != 0) {
      SPICEFLOW_TRY(p, c.g.bytes(q.attr.style, uint64_t(n) * sizeof(QXLFIXED), "line style"));
      op.style.resize(n);
      std::memcpy(op.style.data(), p, size_t(n) * sizeof(QXLFIXED));
    }
  }
  SPICEFLOW_TRY(brush, brush_of(c, q.brush));
  op.brush = std::move(brush);
  op.fore_mode = q.fore_mode;
  op.back_mode = q.back_mode;
  return DrawOp{std::move(op)};
}

Result<DrawOp> text_op(OpContext& c, const QXLText& q) {
  TextOp op;
  op.box = c.box;
  SPICEFLOW_TRY(glyphs, read_glyphs(c.g, q.str, &op.bpp));
  op.glyphs = std::move(glyphs);
  SPICEFLOW_TRY(back_area, to_rect(q.back_area, "text back area"));
  op.back_area = back_area;
  SPICEFLOW_TRY(fore, brush_of(c, q.fore_brush));
  SPICEFLOW_TRY(back, brush_of(c, q.back_brush));
  op.fore_brush = std::move(fore);
  op.back_brush = std::move(back);
  op.fore_mode = q.fore_mode;
  op.back_mode = q.back_mode;
  return DrawOp{std::move(op)};
}

Result<std::optional<Transform>> read_transform(const Guest& g, GuestAddress addr) {
  if (addr == 0) return std::optional<Transform>{};
  SPICEFLOW_TRY(t, g.read<QXLTransform>(addr, "transform"));
  Transform out;
  out.t00 = int32_t(t.t00);
  out.t01 = int32_t(t.t01);
  out.t02 = int32_t(t.t02);
  out.t10 = int32_t(t.t10);
  out.t11 = int32_t(t.t11);
  out.t12 = int32_t(t.t12);
  return std::optional<Transform>{out};
}

Result<DrawOp> composite_op(OpContext& c, const QXLComposite& q) {
  CompositeOp op;
  op.box = c.box;
  op.flags = q.flags & kCompositeGuestFlags;
  const GuestAddress src = q.src;
  if (src == 0) return make_error("composite: missing source image");
  SPICEFLOW_TRY(img, read_image(c.g, src));
  if (img.surface_id) c.deps.push_back(*img.surface_id);
  op.src = std::move(img);
  SPICEFLOW_TRY(st, read_transform(c.g, q.src_transform));
  op.src_transform = st;
  if (op.src_transform) op.flags |= SPICE_COMPOSITE_HAS_SRC_TRANSFORM;
  const GuestAddress mask = q.mask;
  if (mask != 0) {
    SPICEFLOW_TRY(m, read_image(c.g, mask));
    if (m.surface_id) c.deps.push_back(*m.surface_id);
    op.mask = std::move(m);
    op.flags |= SPICE_COMPOSITE_HAS_MASK;
    SPICEFLOW_TRY(mt, read_transform(c.g, q.mask_transform));
    op.mask_transform = mt;
    if (op.mask_transform) op.flags |= SPICE_COMPOSITE_HAS_MASK_TRANSFORM;
  }
  op.src_origin = {q.src_origin.x, q.src_origin.y};
  op.mask_origin = {q.mask_origin.x, q.mask_origin.y};
  return DrawOp{std::move(op)};
}

// The op of a native or compat drawable: the union members are the same structs except
// alpha blend (no flags in compat) and composite (native only).
template <class D>
Result<std::optional<DrawOp>> parse_op(OpContext& c, const D& d) {
  constexpr bool kNative = std::is_same_v<D, QXLDrawable>;
  auto wrap = [](Result<DrawOp> r) -> Result<std::optional<DrawOp>> {
    if (!r) return r.error();
    return std::optional<DrawOp>{std::move(*r)};
  };
  switch (d.type) {
    case QXL_DRAW_NOP: return std::optional<DrawOp>{};
    case QXL_DRAW_FILL: return wrap(fill_op(c, d.u.fill));
    case QXL_DRAW_OPAQUE: return wrap(opaque_op(c, d.u.opaque));
    case QXL_DRAW_COPY: return wrap(copy_op(c, d.u.copy, false));
    case QXL_DRAW_BLEND: return wrap(copy_op(c, d.u.blend, true));
    case QXL_COPY_BITS:
      return wrap(DrawOp{CopyBitsOp{c.box, {d.u.copy_bits.src_pos.x, d.u.copy_bits.src_pos.y}}});
    case QXL_DRAW_BLACKNESS:
      return wrap(solid_rop_op(c, d.u.blackness, SolidRopOp::Kind::blackness));
    case QXL_DRAW_WHITENESS:
      return wrap(solid_rop_op(c, d.u.whiteness, SolidRopOp::Kind::whiteness));
    case QXL_DRAW_INVERS: return wrap(solid_rop_op(c, d.u.invers, SolidRopOp::Kind::invers));
    case QXL_DRAW_ROP3: return wrap(rop3_op(c, d.u.rop3));
    case QXL_DRAW_STROKE: return wrap(stroke_op(c, d.u.stroke));
    case QXL_DRAW_TEXT: return wrap(text_op(c, d.u.text));
    case QXL_DRAW_TRANSPARENT: return wrap(transparent_op(c, d.u.transparent));
    case QXL_DRAW_ALPHA_BLEND:
      if constexpr (kNative) {
        return wrap(alpha_blend_op(c, d.u.alpha_blend.src_bitmap, d.u.alpha_blend.src_area,
                                   uint8_t(d.u.alpha_blend.alpha_flags), d.u.alpha_blend.alpha));
      } else {
        return wrap(alpha_blend_op(c, d.u.alpha_blend.src_bitmap, d.u.alpha_blend.src_area, 0,
                                   d.u.alpha_blend.alpha));
      }
    case QXL_DRAW_COMPOSITE:
      if constexpr (kNative) return wrap(composite_op(c, d.u.composite));
      [[fallthrough]];
    default:
      return make_error(fmt::format("drawable: unknown draw type {}{}", d.type,
                                    kNative ? "" : " (compat drawable)"));
  }
}

Status check_surface(const Guest& g, int64_t id, const char* what) {
  if (id < 0 || id >= int64_t(g.limits().max_surfaces)) {
    return make_error(fmt::format("{}: surface id {} out of range ({})", what, id,
                                  g.limits().max_surfaces));
  }
  return {};
}

template <class D>
Result<ParsedDraw> parse(const Guest& g, const D& d) {
  constexpr bool kNative = std::is_same_v<D, QXLDrawable>;
  ParsedDraw out;
  out.qxl_type = d.type;
  out.effect = d.effect;
  out.mm_time = d.mm_time;
  uint32_t surface_id = 0;
  if constexpr (kNative) {
    surface_id = d.surface_id;
    out.self_bitmap = d.self_bitmap != 0;
    SPICEFLOW_TRY(area, to_rect(d.self_bitmap_area, "self bitmap area"));
    if (out.self_bitmap) out.self_bitmap_area = area;
    for (int i = 0; i < 3; ++i) {
      const int32_t dep = d.surfaces_dest[i];
      if (dep == -1) continue;
      if (auto st = check_surface(g, dep, "drawable dependency"); !st) return st.error();
      out.surface_deps.push_back(uint32_t(dep));
    }
  } else {
    out.self_bitmap = d.bitmap_offset != 0;
    if (out.self_bitmap) {
      SPICEFLOW_TRY(area, to_rect(d.bitmap_area, "self bitmap area"));
      out.self_bitmap_area = area;
    }
  }
  if (auto st = check_surface(g, surface_id, "drawable"); !st) return st.error();
  SPICEFLOW_TRY(bbox, to_rect(d.bbox, "drawable bbox"));
  bool visible = true;
  SPICEFLOW_TRY(clip_rects, read_clip(g, d.clip, &visible));
  auto finish = [&]() {
    auto& deps = out.surface_deps;
    std::sort(deps.begin(), deps.end());
    deps.erase(std::unique(deps.begin(), deps.end()), deps.end());
    deps.erase(std::remove(deps.begin(), deps.end(), surface_id), deps.end());
    return std::move(out);
  };
  if (d.type == QXL_DRAW_NOP || bbox.empty() || !visible) {
    // Nothing to draw, but an unknown type is still an error.
    if (d.type > QXL_DRAW_COMPOSITE || (!kNative && d.type == QXL_DRAW_COMPOSITE)) {
      return make_error(fmt::format("drawable: unknown draw type {}", d.type));
    }
    return finish();
  }
  OpContext c{g, bbox, out.surface_deps};
  SPICEFLOW_TRY(op, parse_op(c, d));
  if (op) {
    DrawCommand cmd;
    cmd.surface_id = surface_id;
    cmd.clip = bbox;
    cmd.op = std::move(*op);
    cmd.clip_rects = std::move(clip_rects);
    out.command = std::move(cmd);
  }
  return finish();
}

}  // namespace

Result<std::vector<Rect>> read_clip(const Guest& g, const QXLClip& clip, bool* visible) {
  std::vector<Rect> out;
  *visible = true;
  switch (clip.type) {
    case SPICE_CLIP_TYPE_NONE:
      return out;
    case SPICE_CLIP_TYPE_RECTS: {
      const GuestAddress addr = clip.data;
      SPICEFLOW_TRY(hdr, g.read<QXLClipRects>(addr, "clip rects"));
      const uint32_t n = hdr.num_rects;
      if (n > g.limits().max_clip_rects) {
        return make_error(fmt::format("clip rects: {} rectangles exceed {}", n,
                                      g.limits().max_clip_rects));
      }
      SPICEFLOW_TRY(first, g.offset(addr, offsetof(QXLClipRects, chunk), "clip rects"));
      SPICEFLOW_TRY(chunks, g.chunks(first, "clip rects"));
      const uint64_t need = uint64_t(n) * sizeof(QXLRect);
      if (chunks.size != need) {
        return make_error(fmt::format("clip rects: {} rectangles need {} bytes, chunks hold {}",
                                      n, need, chunks.size));
      }
      std::vector<uint8_t> storage;
      auto bytes = chunks.contiguous(need, storage);
      out.reserve(n);
      for (uint32_t i = 0; i < n; ++i) {
        QXLRect q;
        std::memcpy(&q, bytes.data() + size_t(i) * sizeof(QXLRect), sizeof(q));
        // An inverted or empty rectangle clips everything it covers: nothing.
        auto r = to_rect(q, "clip rect");
        if (r && !r->empty()) out.push_back(*r);
      }
      *visible = !out.empty();
      return out;
    }
    default:
      return make_error(fmt::format("clip: unknown type {}", uint32_t(clip.type)));
  }
}

Result<std::vector<PathSegment>> read_path(const Guest& g, GuestAddress addr) {
  const auto& lim = g.limits();
  SPICEFLOW_TRY(hdr, g.read<QXLPath>(addr, "path"));
  (void)hdr;  // the reference, too, trusts the chunks' sizes over data_size
  SPICEFLOW_TRY(first, g.offset(addr, offsetof(QXLPath, chunk), "path"));
  SPICEFLOW_TRY(chunks, g.chunks(first, "path"));
  std::vector<uint8_t> storage;
  auto data = chunks.contiguous(chunks.size, storage);
  std::vector<PathSegment> out;
  uint64_t points = 0;
  size_t off = 0;
  while (data.size() - off >= sizeof(QXLPathSeg)) {
    QXLPathSeg seg;
    std::memcpy(&seg, data.data() + off, sizeof(seg));
    off += sizeof(seg);
    const uint32_t count = seg.count;
    if (out.size() >= lim.max_path_segments) {
      return make_error(fmt::format("path: more than {} segments", lim.max_path_segments));
    }
    if (uint64_t(count) * sizeof(QXLPointFix) > data.size() - off) {
      return make_error(fmt::format("path: segment of {} points overruns the data", count));
    }
    points += count;
    if (points > lim.max_path_points) {
      return make_error(fmt::format("path: more than {} points", lim.max_path_points));
    }
    PathSegment s;
    s.flags = seg.flags;
    s.points.resize(count);
    for (uint32_t i = 0; i < count; ++i) {
      QXLPointFix p;
      std::memcpy(&p, data.data() + off, sizeof(p));
      off += sizeof(p);
      s.points[i] = {p.x, p.y};
    }
    out.push_back(std::move(s));
  }
  return out;
}

Result<std::vector<Glyph>> read_glyphs(const Guest& g, GuestAddress addr, uint8_t* bpp_out) {
  const auto& lim = g.limits();
  if (addr == 0) return make_error("text: missing string");
  SPICEFLOW_TRY(hdr, g.read<QXLString>(addr, "string"));
  const uint16_t flags = hdr.flags;
  const uint32_t length = hdr.length;
  const uint32_t data_size = hdr.data_size;
  uint32_t bpp = 0;
  if (flags & SPICE_STRING_FLAGS_RASTER_A1) {
    bpp = 1;
  } else if (flags & SPICE_STRING_FLAGS_RASTER_A4) {
    bpp = 4;
  } else if (flags & SPICE_STRING_FLAGS_RASTER_A8) {
    bpp = 8;
  } else {
    return make_error(fmt::format("string: no raster format in flags {:#x}", flags));
  }
  if (length > lim.max_glyphs) {
    return make_error(fmt::format("string: {} glyphs exceed {}", length, lim.max_glyphs));
  }
  SPICEFLOW_TRY(first, g.offset(addr, offsetof(QXLString, chunk), "string"));
  SPICEFLOW_TRY(chunks, g.chunks(first, "string"));
  if (chunks.size < data_size) {
    return make_error(fmt::format("string: data_size {} but chunks hold {}", data_size,
                                  chunks.size));
  }
  std::vector<uint8_t> storage;
  auto data = chunks.contiguous(data_size, storage);
  // Glyph rows arrive bottom-up unless RASTER_TOP_DOWN (as the client's canvas reads them).
  const bool top_down = (flags & SPICE_STRING_FLAGS_RASTER_TOP_DOWN) != 0;
  std::vector<Glyph> out;
  out.reserve(length);
  int64_t pixels = 0;
  size_t off = 0;
  while (off < data.size()) {
    if (data.size() - off < sizeof(QXLRasterGlyph)) {
      return make_error("string: truncated glyph header");
    }
    if (out.size() >= length) {
      return make_error(fmt::format("string: more glyphs than its length {}", length));
    }
    QXLRasterGlyph rg;
    std::memcpy(&rg, data.data() + off, sizeof(rg));
    off += sizeof(rg);
    const uint32_t w = rg.width, h = rg.height;
    const uint64_t row = (uint64_t(w) * bpp + 7) / 8;
    const uint64_t size = row * h;
    if (size > data.size() - off) {
      return make_error(fmt::format("string: {}x{} glyph overruns the data", w, h));
    }
    pixels += int64_t(w) * h;
    if (pixels > lim.max_glyph_pixels) {
      return make_error(fmt::format("string: glyphs exceed {} pixels", lim.max_glyph_pixels));
    }
    Glyph gl;
    gl.render_pos = {rg.render_pos.x, rg.render_pos.y};
    gl.glyph_origin = {rg.glyph_origin.x, rg.glyph_origin.y};
    gl.size = {int32_t(w), int32_t(h)};
    gl.coverage.resize(size_t(w) * h);
    const uint8_t* bits = data.data() + off;
    for (uint32_t y = 0; y < h; ++y) {
      const uint8_t* s = bits + size_t(top_down ? y : h - 1 - y) * row;
      uint8_t* d = gl.coverage.data() + size_t(y) * w;
      for (uint32_t x = 0; x < w; ++x) {
        switch (bpp) {
          case 1: d[x] = ((s[x >> 3] >> (7 - (x & 7))) & 1) ? 255 : 0; break;
          case 4: d[x] = uint8_t(((x & 1) ? (s[x >> 1] & 0xf) : (s[x >> 1] >> 4)) * 17); break;
          default: d[x] = s[x]; break;
        }
      }
    }
    off += size;
    out.push_back(std::move(gl));
  }
  if (out.size() != length) {
    return make_error(fmt::format("string: length {} but {} glyphs in the data", length,
                                  out.size()));
  }
  *bpp_out = uint8_t(bpp);
  return out;
}

Result<ParsedDraw> parse_drawable(const Guest& g, GuestAddress addr) {
  if (g.compat()) {
    SPICEFLOW_TRY(d, g.read<QXLCompatDrawable>(addr, "compat drawable"));
    return parse(g, d);
  }
  SPICEFLOW_TRY(d, g.read<QXLDrawable>(addr, "drawable"));
  return parse(g, d);
}

}  // namespace spiceflow::qxl::detail
