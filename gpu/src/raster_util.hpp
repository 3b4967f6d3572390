#pragma once
/// Helpers the raster backends share (private to gpu/): rectangle checks, the sixteen binary
/// raster ops and how a SPICE rop descriptor selects one. The CPU backend draws with them;
/// the Vulkan backend plans with them and its shader numbers the rops the same way.
#include <pixman.h>
#include <spice/enums.h>

#include <algorithm>
#include <cstdint>
#include <limits>
#include <string>

#include "spiceflow/core/draw.hpp"

namespace spiceflow::gpu {

/// Rectangles come from guest commands; one whose right/bottom edge overflows int32 would
/// make every later intersection meaningless, so such commands are rejected up front.
inline bool edges_fit(const Rect& r) {
  const int64_t right = int64_t(r.x) + r.width;
  const int64_t bottom = int64_t(r.y) + r.height;
  constexpr int64_t kMax = std::numeric_limits<int32_t>::max();
  return right <= kMax && bottom <= kMax && right >= -kMax && bottom >= -kMax;
}

/// "WxH+X+Y", for error messages.
inline std::string describe(const Rect& r) {
  return std::to_string(r.width) + "x" + std::to_string(r.height) + "+" + std::to_string(r.x) +
         "+" + std::to_string(r.y);
}

/// v mod n in [0, n).
inline int32_t wrap_mod(int64_t v, int32_t n) {
  const int64_t m = v % n;
  return int32_t(m < 0 ? m + n : m);
}

/// The sixteen binary raster ops of the canvas (SpiceROP), on whole 32-bit words. The
/// numbering is shared with gpu/shaders/draw.comp.
enum class Rop : uint8_t {
  clear, and_, and_reverse, copy, and_inverted, noop, xor_, or_, nor, equiv, invert,
  or_reverse, copy_inverted, or_inverted, nand, set
};

inline uint32_t apply_rop(Rop rop, uint32_t s, uint32_t d) {
  switch (rop) {
    case Rop::clear: return 0;
    case Rop::and_: return s & d;
    case Rop::and_reverse: return s & ~d;
    case Rop::copy: return s;
    case Rop::and_inverted: return ~s & d;
    case Rop::noop: return d;
    case Rop::xor_: return s ^ d;
    case Rop::or_: return s | d;
    case Rop::nor: return ~(s | d);
    case Rop::equiv: return ~(s ^ d);
    case Rop::invert: return ~d;
    case Rop::or_reverse: return s | ~d;
    case Rop::copy_inverted: return ~s;
    case Rop::or_inverted: return ~s | d;
    case Rop::nand: return ~(s & d);
    case Rop::set: return ~0u;
  }
  return d;
}

/// A rop descriptor as the canvas reads it: `src_invert` is the descriptor flag that inverts
/// the operand (INVERS_BRUSH for fills, INVERS_SRC for copies); INVERS_DEST inverts the
/// destination, INVERS_RES the result. The first operation bit present wins (PUT, OR, AND,
/// XOR, BLACKNESS, WHITENESS, INVERS); none means a plain copy.
inline Rop rop_of(uint16_t desc, uint16_t src_invert) {
  const bool is = (desc & src_invert) != 0;
  const bool id = (desc & SPICE_ROPD_INVERS_DEST) != 0;
  const bool ir = (desc & SPICE_ROPD_INVERS_RES) != 0;
  if (desc & SPICE_ROPD_OP_PUT) return is != ir ? Rop::copy_inverted : Rop::copy;
  if (desc & (SPICE_ROPD_OP_OR | SPICE_ROPD_OP_AND)) {
    // De Morgan: an inverted AND is an OR of the inverted operands.
    const bool is_or = ((desc & SPICE_ROPD_OP_OR) != 0) != ir;
    const bool ns = is != ir;  // operand inverted after pushing the result inversion in
    const bool nd = id != ir;
    if (is_or) {
      if (ns && nd) return Rop::nand;
      if (ns) return Rop::or_inverted;
      if (nd) return Rop::or_reverse;
      return Rop::or_;
    }
    if (ns && nd) return Rop::nor;
    if (ns) return Rop::and_inverted;
    if (nd) return Rop::and_reverse;
    return Rop::and_;
  }
  if (desc & SPICE_ROPD_OP_XOR) return (is != id) != ir ? Rop::equiv : Rop::xor_;
  if (desc & SPICE_ROPD_OP_BLACKNESS) return Rop::clear;
  if (desc & SPICE_ROPD_OP_WHITENESS) return Rop::set;
  if (desc & SPICE_ROPD_OP_INVERS) return Rop::invert;
  return Rop::copy;
}

/// The rop descriptor DRAW_OPAQUE's brush is drawn with, over the source already copied in:
/// the canvas reads the brush as the operand (INVERS_BRUSH inverts it) and the copied
/// source as the destination (INVERS_SRC inverts it); the descriptor's INVERS_DEST means
/// nothing here. Returned in the form rop_of(desc, SPICE_ROPD_INVERS_BRUSH) reads.
inline uint16_t opaque_brush_descriptor(uint16_t desc) {
  uint16_t out = uint16_t(desc & ~(SPICE_ROPD_INVERS_SRC | SPICE_ROPD_INVERS_DEST));
  if (desc & SPICE_ROPD_INVERS_SRC) out = uint16_t(out | SPICE_ROPD_INVERS_DEST);
  return out;
}

/// One of the 256 ternary raster ops (DRAW_ROP3, the Windows GDI numbering) on whole
/// 32-bit words: bit i of `code` is the result where pattern, source and destination bits
/// are (i >> 2, i >> 1, i) & 1. The shader computes it the same way (sum of minterms).
inline uint32_t apply_rop3(uint8_t code, uint32_t p, uint32_t s, uint32_t d) {
  // Written out and branch-free: with a constant code it folds to the code's expression,
  // and a row loop vectorizes either way.
  const auto take = [code](int i) { return 0u - ((uint32_t(code) >> i) & 1u); };
  const uint32_t np = ~p, ns = ~s, nd = ~d;
  return (take(0) & np & ns & nd) | (take(1) & np & ns & d) | (take(2) & np & s & nd) | (take(3) & np & s & d) |
         (take(4) & p & ns & nd) | (take(5) & p & ns & d) | (take(6) & p & s & nd) | (take(7) & p & s & d);
}

/// DRAW_COMPOSITE's flag fields, as the canvas extracts them (pixman's numbering).
struct CompositeFlags {
  uint32_t op, src_filter, mask_filter, src_repeat, mask_repeat;
  bool component_alpha, has_mask;
  static CompositeFlags of(uint32_t f) {
    return {f & 0xffu, (f >> 8) & 7u, (f >> 11) & 7u, (f >> 14) & 3u, (f >> 16) & 3u,
            (f & SPICE_COMPOSITE_COMPONENT_ALPHA) != 0, (f & SPICE_COMPOSITE_HAS_MASK) != 0};
  }
};

/// The largest scale factor (either way) a composite transform may carry, in 16.16: Render
/// clients scale by small factors; a larger one only makes pixman sample wildly.
constexpr int64_t kMaxCompositeScale = int64_t(256) << 16;

/// A composite both backends refuse: an operator pixman does not implement (it has the
/// Porter-Duff set, its disjoint and conjoint variants and the PDF blend modes), a filter
/// needing parameters SPICE does not carry (convolutions), a missing operand (an empty
/// size), a transform beyond kMaxCompositeScale, or a box whose edges overflow.
inline Status check_composite(const CompositeOp& op, Size src, Size mask) {
  if (!edges_fit(op.box)) return make_error("composite " + describe(op.box) + " overflows");
  const CompositeFlags f = CompositeFlags::of(op.flags);
  const bool render_op = f.op <= PIXMAN_OP_SATURATE ||
                         (f.op >= PIXMAN_OP_DISJOINT_CLEAR && f.op <= PIXMAN_OP_DISJOINT_XOR) ||
                         (f.op >= PIXMAN_OP_CONJOINT_CLEAR && f.op <= PIXMAN_OP_CONJOINT_XOR) ||
                         (f.op >= PIXMAN_OP_MULTIPLY && f.op <= PIXMAN_OP_HSL_LUMINOSITY);
  if (!render_op) return make_error("composite: unknown operator " + std::to_string(f.op));
  if (f.src_filter > PIXMAN_FILTER_BILINEAR || f.mask_filter > PIXMAN_FILTER_BILINEAR) {
    return make_error("composite: unsupported filter");
  }
  if (src.empty()) return make_error("composite without a source image");
  if (f.has_mask && mask.empty()) return make_error("composite: mask flag without a mask image");
  auto scale_ok = [](const std::optional<Transform>& t) {
    if (!t) return true;
    for (int64_t v : {int64_t(t->t00), int64_t(t->t01), int64_t(t->t10), int64_t(t->t11)}) {
      if (v > kMaxCompositeScale || v < -kMaxCompositeScale) return false;
    }
    return true;
  };
  if (!scale_ok(op.src_transform) || (f.has_mask && !scale_ok(op.mask_transform))) {
    return make_error("composite: transform scale out of range");
  }
  return Status::success();
}

/// A mask whose bits do not match its size is an error (an empty mask is none).
inline Status check_mask(const Mask& m) {
  if (m.empty()) return Status::success();
  if (m.size.width < 0 || m.size.height < 0 ||
      m.bits.size() != size_t(m.size.width) * size_t(m.size.height)) {
    return make_error("mask bits do not match its size");
  }
  return Status::success();
}

/// Where glyph `g` lands: render_pos + glyph_origin, its size.
inline Rect glyph_box(const Glyph& g) {
  return {g.render_pos.x + g.glyph_origin.x, g.render_pos.y + g.glyph_origin.y, g.size.width, g.size.height};
}

/// The union of the glyph boxes, or an error for a glyph whose coverage does not match its
/// size or whose box overflows.
inline Result<Rect> glyph_extent(const std::vector<Glyph>& glyphs) {
  Rect extent;
  for (const Glyph& g : glyphs) {
    if (g.size.width < 0 || g.size.height < 0 ||
        g.coverage.size() != size_t(g.size.width) * size_t(g.size.height)) {
      return make_error("glyph coverage does not match its size");
    }
    const Rect box = glyph_box(g);
    if (!edges_fit(box)) return make_error("glyph " + describe(box) + " overflows");
    extent = bounding_union(extent, box);
  }
  return extent;
}

/// The coverage mask of a string over `r` (inside the glyphs' checked extent), as the canvas
/// builds it: overlapping glyphs combined by maximum, A1 coverage 0/255, A4 keeping the nibble
/// in the high bits (the IR carries A4 as nibble * 17). `out` has `stride` bytes per row and
/// is zero-filled by the caller.
inline void glyph_coverage(const std::vector<Glyph>& glyphs, uint8_t bpp, const Rect& r, uint8_t* out,
                           size_t stride) {
  for (const Glyph& g : glyphs) {
    const Rect box = glyph_box(g);
    const Rect part = intersect(box, r);
    for (int32_t y = part.y; y < part.bottom(); ++y) {
      const uint8_t* in = g.coverage.data() + size_t(y - box.y) * size_t(g.size.width);
      uint8_t* row = out + size_t(y - r.y) * stride;
      for (int32_t x = part.x; x < part.right(); ++x) {
        uint8_t c = in[x - box.x];
        if (bpp == 1) c = c ? 0xff : 0;
        else if (bpp == 4) c &= 0xf0;
        row[x - r.x] = std::max(row[x - r.x], c);
      }
    }
  }
}

}  // namespace spiceflow::gpu
