// OPAQUE, ROP3, COMPOSITE and text with a pattern fore brush on the CPU backend, each
// against a per-pixel model written here from the definitions (the ternary rop truth
// table, the rop descriptors, Porter-Duff with 8-bit rounding), over a matrix of sizes,
// clips, brushes and rops, plus hostile commands that must be rejected without harm.
#include <gtest/gtest.h>
#include <pixman.h>
#include <spice/enums.h>

#include <functional>
#include <random>

#include "spiceflow/gpu/raster.hpp"

namespace spiceflow::gpu {
namespace {

constexpr uint32_t kX = 0xff000000u;

// Deterministic noise: every bit pattern shows up in operands.
uint32_t noise(uint32_t x, uint32_t y, uint32_t seed) {
  uint32_t h = x * 0x9e3779b1u ^ (y + 0x7f4a7c15u) * 0x85ebca6bu ^ seed * 0xc2b2ae35u;
  h ^= h >> 15;
  h *= 0x2c1b3c6du;
  h ^= h >> 12;
  return h;
}

std::shared_ptr<Image> noise_image(int w, int h, uint32_t seed, bool opaque_x = false) {
  auto img = std::make_shared<Image>(w, h);
  for (int y = 0; y < h; ++y)
    for (int x = 0; x < w; ++x) img->row(y)[x] = noise(uint32_t(x), uint32_t(y), seed) | (opaque_x ? kX : 0);
  return img;
}

// A premultiplied a8r8g8b8 image (each channel <= alpha), with fully transparent and fully
// opaque pixels mixed in.
std::shared_ptr<Image> premultiplied_image(int w, int h, uint32_t seed) {
  auto img = std::make_shared<Image>(w, h);
  for (int y = 0; y < h; ++y)
    for (int x = 0; x < w; ++x) {
      const uint32_t n = noise(uint32_t(x), uint32_t(y), seed);
      uint32_t a = n >> 24;
      if ((n & 7) == 0) a = 0;
      if ((n & 7) == 1) a = 255;
      uint32_t v = a << 24;
      for (int c = 0; c < 3; ++c) v |= (((n >> (8 * c)) & 0xff) * a / 255) << (8 * c);
      img->row(y)[x] = v;
    }
  return img;
}

class CpuDrawOps : public ::testing::Test {
 protected:
  void SetUp() override {
    auto r = make_raster("cpu");
    ASSERT_TRUE(r.ok());
    r_ = std::move(*r);
  }
  // Surface `id` of `size` filled with noise (X = 0xff); returns a copy of its pixels.
  Image reset(Size size, uint32_t seed, uint32_t id = 0) {
    EXPECT_TRUE(r_->create_surface(id, size).ok());
    auto img = noise_image(size.width, size.height, seed, true);
    EXPECT_TRUE(r_->apply({id, {}, BlitOp{Rect::from_size(size), img, {0, 0}}, {}}).ok());
    return *img;
  }
  Result<Rect> apply(DrawOp op, Rect clip = {}, std::vector<Rect> clip_rects = {}, uint32_t id = 0) {
    return r_->apply({id, clip, std::move(op), std::move(clip_rects)});
  }
  // Every pixel of surface 0 equals `expected`.
  void expect_surface(const Image& expected, const std::string& what) {
    const ImageView v = r_->view(0);
    ASSERT_EQ(v.size(), expected.size());
    int bad = 0;
    for (int y = 0; y < v.height; ++y)
      for (int x = 0; x < v.width; ++x)
        if (v.pixel(x, y) != expected.pixel(x, y) && bad++ < 3) {
          ADD_FAILURE() << what << ": pixel (" << x << ", " << y << ") is 0x" << std::hex << v.pixel(x, y)
                        << ", expected 0x" << expected.pixel(x, y);
        }
  }
  std::unique_ptr<RasterBackend> r_;
};

// Which pixels a command may write: inside box, clip and the union of clip_rects (if any).
bool inside(int x, int y, const Rect& box, const Rect& clip, const std::vector<Rect>& rects) {
  auto in = [&](const Rect& r) { return x >= r.x && y >= r.y && x < r.x + r.width && y < r.y + r.height; };
  if (!in(box) || (!clip.empty() && !in(clip))) return false;
  if (rects.empty()) return true;
  for (const Rect& r : rects)
    if (in(r)) return true;
  return false;
}

// Ternary rop by its truth table, one bit at a time.
uint32_t rop3_model(uint8_t code, uint32_t p, uint32_t s, uint32_t d) {
  uint32_t out = 0;
  for (int bit = 0; bit < 32; ++bit) {
    const int index = int((p >> bit) & 1) * 4 + int((s >> bit) & 1) * 2 + int((d >> bit) & 1);
    out |= uint32_t((code >> index) & 1) << bit;
  }
  return out;
}

int wrap(int64_t v, int n) { return int(((v % n) + n) % n); }

Mask test_mask(Size size, Point pos, bool invert, uint32_t seed) {
  Mask m;
  m.size = size;
  m.pos = pos;
  m.invert = invert;
  for (int y = 0; y < size.height; ++y)
    for (int x = 0; x < size.width; ++x) m.bits.push_back(uint8_t(noise(uint32_t(x), uint32_t(y), seed) & 1));
  return m;
}

// Whether the mask lets pixel (x, y) of an op whose box starts at `box` through: mask pixel
// (x - box.x + pos.x, ...); outside the bitmap never.
bool mask_lets(const Mask& m, const Rect& box, int x, int y) {
  if (m.empty()) return true;
  const int mx = x - box.x + m.pos.x, my = y - box.y + m.pos.y;
  if (mx < 0 || my < 0 || mx >= m.size.width || my >= m.size.height) return false;
  return (m.bits[size_t(my * m.size.width + mx)] != 0) != m.invert;
}

struct Geometry {
  Size surface;
  Rect box;
  Rect clip;
  std::vector<Rect> clip_rects;
};

std::vector<Geometry> geometries() {
  return {
      {{9, 7}, {0, 0, 9, 7}, {}, {}},
      {{9, 7}, {2, 1, 5, 4}, {}, {}},
      {{9, 7}, {-3, -2, 8, 6}, {}, {}},              // partly off the surface
      {{9, 7}, {6, 4, 10, 10}, {3, 3, 5, 3}, {}},   // clipped
      {{9, 7}, {1, 1, 7, 5}, {}, {{0, 0, 4, 3}, {2, 2, 4, 4}, {6, 5, 3, 2}}},  // overlapping rects
      {{1, 1}, {0, 0, 1, 1}, {}, {}},
      {{33, 5}, {1, 0, 31, 5}, {}, {}},
  };
}

TEST_F(CpuDrawOps, Rop3EveryCodeWithSolidAndPatternBrushes) {
  const auto src = noise_image(40, 12, 11);
  const auto tile = noise_image(3, 5, 12);
  for (const Geometry& g : geometries()) {
    for (int brush_kind = 0; brush_kind < 3; ++brush_kind) {
      for (int code = 0; code < 256; ++code) {
        Image expected = reset(g.surface, uint32_t(code) + 100);
        Rop3Op op;
        op.box = g.box;
        op.src.image = src;
        op.src_area = {3, 2, g.box.width, g.box.height};
        if (op.src_area.right() > src->width() || op.src_area.bottom() > src->height()) op.src_area.x = op.src_area.y = 0;
        op.rop3 = uint8_t(code);
        if (brush_kind == 1) {
          op.brush.kind = Brush::Kind::solid;
          op.brush.color = 0x5a3cc30fu;
        } else if (brush_kind == 2) {
          op.brush.kind = Brush::Kind::pattern;
          op.brush.pattern.image = tile;
          op.brush.pattern_pos = {-7, 4};
        }
        if (code % 17 == 3) op.mask = test_mask({6, 5}, {1, 0}, code % 2 == 0, uint32_t(code));
        auto r = apply(op, g.clip, g.clip_rects);
        ASSERT_TRUE(r.ok()) << r.error().message;
        for (int y = 0; y < g.surface.height; ++y)
          for (int x = 0; x < g.surface.width; ++x) {
            if (!inside(x, y, g.box, g.clip, g.clip_rects) || !mask_lets(op.mask, g.box, x, y)) continue;
            const uint32_t p = brush_kind == 0   ? 0
                               : brush_kind == 1 ? op.brush.color
                                                 : tile->pixel(wrap(x + 7, 3), wrap(y - 4, 5));
            const uint32_t s = src->pixel(x - g.box.x + op.src_area.x, y - g.box.y + op.src_area.y);
            expected.row(y)[x] = rop3_model(uint8_t(code), p, s, expected.pixel(x, y)) | kX;
          }
        expect_surface(expected, "rop3 0x" + std::to_string(code) + " brush " + std::to_string(brush_kind) +
                                     " box " + std::to_string(g.box.x) + "," + std::to_string(g.box.y));
        if (HasFailure()) return;
      }
    }
  }
}

TEST_F(CpuDrawOps, Rop3ScaledSourceNearestDoublesPixels) {
  Image expected = reset({12, 10}, 5);
  const auto src = noise_image(10, 10, 6);
  Rop3Op op;
  op.box = {1, 2, 8, 6};
  op.src.image = src;
  op.src_area = {2, 3, 4, 3};  // 2x in both directions
  op.rop3 = 0x66;               // S xor D
  op.scale_mode = SPICE_IMAGE_SCALE_MODE_NEAREST;
  ASSERT_TRUE(apply(op).ok());
  for (int y = op.box.y; y < op.box.bottom(); ++y)
    for (int x = op.box.x; x < op.box.right(); ++x) {
      const uint32_t s = src->pixel(2 + (x - 1) / 2, 3 + (y - 2) / 2);
      expected.row(y)[x] = (s ^ expected.pixel(x, y)) | kX;
    }
  expect_surface(expected, "scaled rop3");
}

TEST_F(CpuDrawOps, Rop3FromTheSameSurfaceReadsItBeforeDrawing) {
  Image before = reset({16, 8}, 9);
  Image expected = before;
  Rop3Op op;
  op.box = {3, 1, 10, 6};
  op.src.surface_id = 0;
  op.src_area = {1, 0, 10, 6};  // overlaps the box
  op.rop3 = 0x96;                // P xor S xor D
  op.brush.kind = Brush::Kind::solid;
  op.brush.color = 0x00ff00ffu;
  ASSERT_TRUE(apply(op).ok());
  for (int y = 1; y < 7; ++y)
    for (int x = 3; x < 13; ++x) expected.row(y)[x] = (0x00ff00ffu ^ before.pixel(x - 2, y - 1) ^ before.pixel(x, y)) | kX;
  expect_surface(expected, "self rop3");
}

// The descriptor as the canvas reads it for OPAQUE: brush against the copied source.
uint32_t opaque_model(uint16_t desc, uint32_t b, uint32_t s) {
  // The operation-only rops ignore the operand flags.
  if (!(desc & (SPICE_ROPD_OP_PUT | SPICE_ROPD_OP_OR | SPICE_ROPD_OP_AND | SPICE_ROPD_OP_XOR))) {
    if (desc & SPICE_ROPD_OP_BLACKNESS) return 0;
    if (desc & SPICE_ROPD_OP_WHITENESS) return ~0u;
    if (desc & SPICE_ROPD_OP_INVERS) return ~s;
  }
  if (desc & SPICE_ROPD_INVERS_BRUSH) b = ~b;
  if (desc & SPICE_ROPD_INVERS_SRC) s = ~s;
  uint32_t r;
  if (desc & SPICE_ROPD_OP_PUT) r = b;
  else if (desc & SPICE_ROPD_OP_OR) r = b | s;
  else if (desc & SPICE_ROPD_OP_AND) r = b & s;
  else if (desc & SPICE_ROPD_OP_XOR) r = b ^ s;
  else if (desc & SPICE_ROPD_OP_BLACKNESS) return 0;
  else if (desc & SPICE_ROPD_OP_WHITENESS) return ~0u;
  else if (desc & SPICE_ROPD_OP_INVERS) return ~s;
  else r = b;
  return (desc & SPICE_ROPD_INVERS_RES) ? ~r : r;
}

TEST_F(CpuDrawOps, OpaqueCombinesBrushAndSourceByDescriptor) {
  const auto src = noise_image(40, 20, 21);
  const auto tile = noise_image(4, 3, 22);
  const uint16_t ops[] = {SPICE_ROPD_OP_PUT, SPICE_ROPD_OP_OR, SPICE_ROPD_OP_AND, SPICE_ROPD_OP_XOR,
                          SPICE_ROPD_OP_BLACKNESS, SPICE_ROPD_OP_WHITENESS, SPICE_ROPD_OP_INVERS};
  for (const Geometry& g : geometries()) {
    for (uint16_t base : ops) {
      for (uint16_t inv = 0; inv < 16; ++inv) {
        const uint16_t desc = uint16_t(base | ((inv & 1) ? SPICE_ROPD_INVERS_SRC : 0) |
                                       ((inv & 2) ? SPICE_ROPD_INVERS_BRUSH : 0) |
                                       ((inv & 4) ? SPICE_ROPD_INVERS_DEST : 0) | ((inv & 8) ? SPICE_ROPD_INVERS_RES : 0));
        for (bool pattern : {false, true}) {
          Image expected = reset(g.surface, desc);
          OpaqueOp op;
          op.box = g.box;
          op.src.image = src;
          op.src_area = {1, 2, g.box.width, g.box.height};
          if (op.src_area.right() > 40 || op.src_area.bottom() > 20) op.src_area.x = op.src_area.y = 0;
          op.rop_descriptor = desc;
          op.brush.kind = pattern ? Brush::Kind::pattern : Brush::Kind::solid;
          op.brush.color = 0x0f0ff0f0u;
          op.brush.pattern.image = tile;
          op.brush.pattern_pos = {2, -1};
          if (inv == 5) op.mask = test_mask({5, 4}, {0, 1}, pattern, desc);
          auto r = apply(op, g.clip, g.clip_rects);
          ASSERT_TRUE(r.ok()) << r.error().message;
          for (int y = 0; y < g.surface.height; ++y)
            for (int x = 0; x < g.surface.width; ++x) {
              if (!inside(x, y, g.box, g.clip, g.clip_rects) || !mask_lets(op.mask, g.box, x, y)) continue;
              const uint32_t s = src->pixel(x - g.box.x + op.src_area.x, y - g.box.y + op.src_area.y);
              const uint32_t b = pattern ? tile->pixel(wrap(x - 2, 4), wrap(y + 1, 3)) : op.brush.color;
              expected.row(y)[x] = opaque_model(desc, b, s) | kX;
            }
          expect_surface(expected, "opaque desc " + std::to_string(desc));
          if (HasFailure()) return;
        }
      }
    }
  }
}

TEST_F(CpuDrawOps, OpaqueBrushReadsTheCopiedSourceAsItsDestination) {
  // AND with an inverted all-ones brush: ~b & src = 0 wherever drawn, whatever was there.
  reset({8, 8}, 3);
  OpaqueOp op;
  op.box = {1, 1, 6, 6};
  op.src.image = noise_image(8, 8, 4);
  op.src_area = {0, 0, 6, 6};
  op.brush.kind = Brush::Kind::solid;
  op.rop_descriptor = SPICE_ROPD_OP_AND | SPICE_ROPD_INVERS_BRUSH;
  op.brush.color = 0xffffffffu;
  auto r = apply(op);
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(*r, (Rect{1, 1, 6, 6}));
  EXPECT_EQ(r_->view(0).pixel(1, 1), kX);
  EXPECT_EQ(r_->view(0).pixel(6, 6), kX);
  EXPECT_NE(r_->view(0).pixel(0, 0), kX);
}

// pixman's 8-bit multiply (a * b / 255, rounded).
uint32_t mul(uint32_t a, uint32_t b) {
  const uint32_t t = a * b + 0x80;
  return (t + (t >> 8)) >> 8;
}
uint32_t channel(uint32_t v, int c) { return (v >> (8 * c)) & 0xff; }

// One Porter-Duff operator on premultiplied pixels: result = s * Fa + d * Fb per channel
// (alpha included), Fa and Fb as Render defines them.
uint32_t porter_duff(pixman_op_t op, uint32_t s, uint32_t d) {
  const uint32_t sa = s >> 24, da = d >> 24;
  uint32_t fa = 0, fb = 0;
  switch (op) {
    case PIXMAN_OP_CLEAR: fa = 0; fb = 0; break;
    case PIXMAN_OP_SRC: fa = 255; fb = 0; break;
    case PIXMAN_OP_DST: fa = 0; fb = 255; break;
    case PIXMAN_OP_OVER: fa = 255; fb = 255 - sa; break;
    case PIXMAN_OP_OVER_REVERSE: fa = 255 - da; fb = 255; break;
    case PIXMAN_OP_IN: fa = da; fb = 0; break;
    case PIXMAN_OP_IN_REVERSE: fa = 0; fb = sa; break;
    case PIXMAN_OP_OUT: fa = 255 - da; fb = 0; break;
    case PIXMAN_OP_OUT_REVERSE: fa = 0; fb = 255 - sa; break;
    case PIXMAN_OP_ATOP: fa = da; fb = 255 - sa; break;
    case PIXMAN_OP_ATOP_REVERSE: fa = 255 - da; fb = sa; break;
    case PIXMAN_OP_XOR: fa = 255 - da; fb = 255 - sa; break;
    case PIXMAN_OP_ADD: fa = 255; fb = 255; break;
    default: ADD_FAILURE() << "no model for op " << op;
  }
  uint32_t out = 0;
  for (int c = 0; c < 4; ++c) out |= std::min(255u, mul(channel(s, c), fa) + mul(channel(d, c), fb)) << (8 * c);
  return out;
}

TEST_F(CpuDrawOps, CompositePorterDuffOperatorsWithAndWithoutMask) {
  const auto src = premultiplied_image(11, 9, 31);
  const auto mask_img = premultiplied_image(7, 6, 32);
  const pixman_op_t ops[] = {PIXMAN_OP_CLEAR, PIXMAN_OP_SRC, PIXMAN_OP_DST, PIXMAN_OP_OVER,
                             PIXMAN_OP_OVER_REVERSE, PIXMAN_OP_IN, PIXMAN_OP_IN_REVERSE, PIXMAN_OP_OUT,
                             PIXMAN_OP_OUT_REVERSE, PIXMAN_OP_ATOP, PIXMAN_OP_ATOP_REVERSE, PIXMAN_OP_XOR,
                             PIXMAN_OP_ADD};
  for (const Geometry& g : geometries()) {
    for (pixman_op_t pop : ops) {
      for (int variant = 0; variant < 4; ++variant) {
        // 0: no mask, repeat none; 1: a mask; 2: repeat normal; 3: mask with component alpha.
        Image expected = reset(g.surface, uint32_t(pop) * 7 + uint32_t(variant));
        CompositeOp op;
        op.box = g.box;
        op.flags = uint32_t(pop) | (uint32_t(PIXMAN_FILTER_NEAREST) << 8);
        op.src.image = src;
        op.src.has_alpha = true;
        op.src_origin = {2, -1};
        const bool repeat = variant == 2;
        if (repeat) op.flags |= uint32_t(PIXMAN_REPEAT_NORMAL) << 14;
        const bool has_mask = variant == 1 || variant == 3;
        if (has_mask) {
          op.flags |= SPICE_COMPOSITE_HAS_MASK | (uint32_t(PIXMAN_REPEAT_NORMAL) << 16);
          if (variant == 3) op.flags |= SPICE_COMPOSITE_COMPONENT_ALPHA;
          op.mask.image = mask_img;
          op.mask.has_alpha = true;
          op.mask_origin = {-1, 3};
        }
        auto r = apply(op, g.clip, g.clip_rects);
        ASSERT_TRUE(r.ok()) << r.error().message;
        for (int y = 0; y < g.surface.height; ++y)
          for (int x = 0; x < g.surface.width; ++x) {
            if (!inside(x, y, g.box, g.clip, g.clip_rects)) continue;
            const int bx = x - g.box.x, by = y - g.box.y;
            int sx = bx + 2, sy = by - 1;
            uint32_t s = 0;
            if (repeat) s = src->pixel(wrap(sx, 11), wrap(sy, 9));
            else if (sx >= 0 && sy >= 0 && sx < 11 && sy < 9) s = src->pixel(sx, sy);
            if (has_mask) {
              const uint32_t m = mask_img->pixel(wrap(bx - 1, 7), wrap(by + 3, 6));
              uint32_t v = 0;
              for (int c = 0; c < 4; ++c) {
                const uint32_t mc = variant == 3 ? channel(m, c) : (m >> 24);
                v |= mul(channel(s, c), mc) << (8 * c);
              }
              if (variant == 3 && pop != PIXMAN_OP_SRC && pop != PIXMAN_OP_CLEAR && pop != PIXMAN_OP_DST &&
                  pop != PIXMAN_OP_IN && pop != PIXMAN_OP_OUT && pop != PIXMAN_OP_ADD) {
                continue;  // component alpha with an operator that reads the source's alpha per channel: not modelled
              }
              s = v;
            }
            // The surface is xRGB: the destination reads as opaque.
            const uint32_t d = expected.pixel(x, y) | kX;
            expected.row(y)[x] = porter_duff(pop, s, d) | kX;
          }
        if (variant == 3) {
          // Pixels skipped above: copy what the backend drew so only the modelled ones count.
          const ImageView v = r_->view(0);
          for (int y = 0; y < g.surface.height; ++y)
            for (int x = 0; x < g.surface.width; ++x)
              if (pop != PIXMAN_OP_SRC && pop != PIXMAN_OP_CLEAR && pop != PIXMAN_OP_DST && pop != PIXMAN_OP_IN &&
                  pop != PIXMAN_OP_OUT && pop != PIXMAN_OP_ADD && inside(x, y, g.box, g.clip, g.clip_rects))
                expected.row(y)[x] = v.pixel(x, y);
        }
        expect_surface(expected, "composite op " + std::to_string(pop) + " variant " + std::to_string(variant));
        if (HasFailure()) return;
      }
    }
  }
}

TEST_F(CpuDrawOps, CompositeScaleTransformAndSurfaceOperands) {
  // Surface 1 is the source, read as opaque; a 2x scale-down transform with nearest.
  reset({16, 16}, 41, 1);
  const Image src = Image::copy_of(r_->view(1), Rect{0, 0, 16, 16});
  Image expected = reset({10, 10}, 42);
  CompositeOp op;
  op.box = {1, 1, 8, 8};
  op.flags = uint32_t(PIXMAN_OP_SRC) | (uint32_t(PIXMAN_FILTER_NEAREST) << 8) | SPICE_COMPOSITE_HAS_SRC_TRANSFORM;
  op.src.surface_id = 1;
  op.src_transform = Transform{0x20000, 0, 0, 0, 0x20000, 0};
  ASSERT_TRUE(apply(op).ok());
  for (int y = 1; y < 9; ++y)
    for (int x = 1; x < 9; ++x) expected.row(y)[x] = src.pixel(2 * (x - 1), 2 * (y - 1)) | kX;
  expect_surface(expected, "scaled composite");
}

TEST_F(CpuDrawOps, CompositeAlphaOnlyMaskIgnoresComponentAlpha) {
  Image expected = reset({6, 4}, 51);
  auto m = std::make_shared<Image>(6, 4);
  for (int y = 0; y < 4; ++y)
    for (int x = 0; x < 6; ++x) m->row(y)[x] = uint32_t(x * 40 + y * 10) << 24;  // 8BIT_A as the IR carries it
  CompositeOp op;
  op.box = {0, 0, 6, 4};
  op.flags = uint32_t(PIXMAN_OP_OVER) | SPICE_COMPOSITE_HAS_MASK | SPICE_COMPOSITE_COMPONENT_ALPHA;
  auto solid = std::make_shared<Image>(1, 1);
  solid->row(0)[0] = 0xff336699u;
  op.src.image = solid;
  op.src.has_alpha = true;
  op.flags |= uint32_t(PIXMAN_REPEAT_NORMAL) << 14;
  op.mask.image = m;
  op.mask.has_alpha = true;
  ASSERT_TRUE(apply(op).ok());
  for (int y = 0; y < 4; ++y)
    for (int x = 0; x < 6; ++x) {
      const uint32_t a = m->pixel(x, y) >> 24;
      uint32_t s = 0;
      for (int c = 0; c < 4; ++c) s |= mul(channel(0xff336699u, c), a) << (8 * c);
      expected.row(y)[x] = porter_duff(PIXMAN_OP_OVER, s, expected.pixel(x, y)) | kX;
    }
  expect_surface(expected, "a8 mask");
}

TEST_F(CpuDrawOps, TextWithPatternForeBrushTilesFromTheStringOrigin) {
  for (int bpp : {1, 4, 8}) {
    Image expected = reset({20, 12}, 61 + uint32_t(bpp));
    const auto tile = noise_image(3, 4, 62);
    TextOp t;
    t.box = {0, 0, 20, 12};
    t.bpp = uint8_t(bpp);
    t.fore_brush.kind = Brush::Kind::pattern;
    t.fore_brush.pattern.image = tile;
    t.fore_brush.pattern_pos = {1, -2};
    t.fore_mode = SPICE_ROPD_OP_PUT;
    for (int i = 0; i < 3; ++i) {
      Glyph g;
      g.render_pos = {3 + 5 * i, 8};
      g.glyph_origin = {0, -6};
      g.size = {6, 7};
      for (int k = 0; k < 42; ++k) g.coverage.push_back(uint8_t(noise(uint32_t(k), uint32_t(i), 63) & 0xff));
      t.glyphs.push_back(g);
    }
    ASSERT_TRUE(apply(t, {2, 1, 15, 10}).ok());
    // The string's origin: the union of the glyph boxes starts at (3, 2).
    for (int y = 1; y < 11; ++y)
      for (int x = 2; x < 17; ++x) {
        uint32_t cover = 0;
        for (const Glyph& g : t.glyphs) {
          const int gx = x - g.render_pos.x - g.glyph_origin.x, gy = y - g.render_pos.y - g.glyph_origin.y;
          if (gx < 0 || gy < 0 || gx >= g.size.width || gy >= g.size.height) continue;
          uint32_t c = g.coverage[size_t(gy * g.size.width + gx)];
          if (bpp == 1) c = c ? 255 : 0;
          if (bpp == 4) c &= 0xf0;
          cover = std::max(cover, c);
        }
        const uint32_t p = tile->pixel(wrap(x - 3 - 1, 3), wrap(y - 2 + 2, 4)) | kX;
        const uint32_t d = expected.pixel(x, y);
        uint32_t out = 0;
        for (int c = 0; c < 3; ++c) out |= (mul(channel(p, c), cover) + mul(channel(d, c), 255 - cover)) << (8 * c);
        expected.row(y)[x] = out | kX;
      }
    expect_surface(expected, "pattern text bpp " + std::to_string(bpp));
  }
}

TEST_F(CpuDrawOps, HostileCommandsAreRejectedAndChangeNothing) {
  const Image before = reset({16, 16}, 71);
  const auto img = noise_image(8, 8, 72);
  std::vector<std::pair<std::string, DrawOp>> bad;
  {
    Rop3Op o;
    o.box = {0, 0, 4, 4};
    bad.emplace_back("rop3 without source", o);
    o.src.image = img;
    o.src_area = {6, 6, 4, 4};
    bad.emplace_back("rop3 source outside its image", o);
    o.src_area = {0, 0, 4, 4};
    o.box = {INT32_MAX - 2, 0, 4, 4};
    bad.emplace_back("rop3 box overflows", o);
    o.box = {0, 0, 4, 4};
    o.brush.kind = Brush::Kind::pattern;
    bad.emplace_back("rop3 pattern without image", o);
    o.brush.kind = Brush::Kind::solid;
    o.mask.size = {5, 5};
    o.mask.bits.assign(3, 1);
    bad.emplace_back("rop3 mask size mismatch", o);
    o.mask = {};
    o.src_area = {0, 0, 2, 2};
    o.scale_mode = 7;
    bad.emplace_back("rop3 unknown scale mode", o);
  }
  {
    OpaqueOp o;
    o.box = {0, 0, 4, 4};
    o.src.image = img;
    o.src_area = {0, 0, 9, 4};
    o.rop_descriptor = SPICE_ROPD_OP_PUT;
    bad.emplace_back("opaque source outside its image", o);
    o.src_area = {0, 0, 4, 4};
    o.brush.kind = Brush::Kind::pattern;
    bad.emplace_back("opaque pattern without image", o);
    o.brush.kind = Brush::Kind::solid;
    o.src.image.reset();
    o.src.surface_id = 9;
    bad.emplace_back("opaque from missing surface", o);
  }
  {
    CompositeOp o;
    o.box = {0, 0, 4, 4};
    o.flags = PIXMAN_OP_OVER;
    bad.emplace_back("composite without source", o);
    o.src.image = img;
    o.flags = 0x0e;
    bad.emplace_back("composite unknown operator", o);
    o.flags = PIXMAN_OP_OVER | (7u << 8);
    bad.emplace_back("composite unknown filter", o);
    o.flags = uint32_t(PIXMAN_OP_OVER) | SPICE_COMPOSITE_HAS_MASK;
    bad.emplace_back("composite mask flag without mask", o);
    o.flags = PIXMAN_OP_OVER;
    o.src_transform = Transform{INT32_MAX, 0, 0, 0, 0x10000, 0};
    bad.emplace_back("composite huge transform", o);
    o.src_transform.reset();
    o.box = {0, INT32_MAX, 1, 2};
    bad.emplace_back("composite box overflows", o);
  }
  {
    TextOp t;
    t.box = {0, 0, 16, 16};
    t.fore_brush.kind = Brush::Kind::pattern;
    Glyph g;
    g.size = {2, 2};
    g.coverage.assign(4, 255);
    t.glyphs.push_back(g);
    bad.emplace_back("text pattern without image", t);
  }
  for (auto& [what, op] : bad) {
    auto r = apply(op);
    EXPECT_FALSE(r.ok()) << what;
    expect_surface(before, what);
  }
}

TEST_F(CpuDrawOps, EmptyAndOffSurfaceBoxesDrawNothing) {
  const Image before = reset({8, 8}, 81);
  const auto img = noise_image(4, 4, 82);
  Rop3Op r3;
  r3.src.image = img;
  r3.src_area = {0, 0, 4, 4};
  r3.rop3 = 0x55;
  OpaqueOp op;
  op.src.image = img;
  op.src_area = {0, 0, 4, 4};
  op.rop_descriptor = SPICE_ROPD_OP_XOR;
  op.brush.kind = Brush::Kind::solid;
  CompositeOp c;
  c.src.image = img;
  c.flags = PIXMAN_OP_ADD;
  for (const Rect box : {Rect{20, 20, 4, 4}, Rect{-10, 0, 4, 4}, Rect{0, 0, 0, 0}}) {
    r3.box = op.box = c.box = box;
    for (DrawOp o : {DrawOp{r3}, DrawOp{op}, DrawOp{c}}) {
      auto r = apply(o);
      ASSERT_TRUE(r.ok()) << r.error().message;
      EXPECT_TRUE(r->empty());
    }
  }
  expect_surface(before, "off-surface");
}

}  // namespace
}  // namespace spiceflow::gpu
