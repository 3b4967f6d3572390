// The QXL parser on commands built in a heap "guest RAM": the IR for each command, draw
// type and image format. Hostile input is in qxl_hostile_test.cpp.
#include "spiceflow/qxl/parser.hpp"

#include <gtest/gtest.h>

#include <cstddef>
#include <string>

#include "qxl_parser_fixture.hpp"

namespace spiceflow::qxl {
namespace {

using namespace testing;
using QxlParser = QxlParserTest;

// ---- Draw types -----------------------------------------------------------------------

TEST_F(QxlParser, SolidPutFillIsTheFastPath) {
  auto* d = ram.drawable(QXL_DRAW_FILL, qrect(10, 20, 110, 70), 0);
  d->u.fill.brush.type = SPICE_BRUSH_TYPE_SOLID;
  d->u.fill.brush.u.color = 0x00123456;
  d->u.fill.rop_descriptor = SPICE_ROPD_OP_PUT;
  auto c = parse_draw(d);
  const auto& fill = op_of<FillOp>(c);
  EXPECT_EQ(fill.rect, (Rect{10, 20, 100, 50}));
  EXPECT_EQ(fill.color, 0xff123456u);
  EXPECT_EQ(draw_of(c).command->clip, (Rect{10, 20, 100, 50}));
  EXPECT_TRUE(draw_of(c).command->clip_rects.empty());
  EXPECT_EQ(c.release.info, &d->release_info);
  EXPECT_EQ(c.release.info->id, 0xabcdefu);
  EXPECT_EQ(c.release.group_id, GuestRam::kGroup);
}

TEST_F(QxlParser, FillWithRopOrMaskIsGeneral) {
  auto* d = ram.drawable(QXL_DRAW_FILL, qrect(0, 0, 8, 2));
  d->u.fill.brush.type = SPICE_BRUSH_TYPE_SOLID;
  d->u.fill.brush.u.color = 0xff00ff;
  d->u.fill.rop_descriptor = SPICE_ROPD_OP_XOR;
  // A 8x2 mask, 1BIT_BE, bottom-up: row 0 in memory is the bottom row.
  std::vector<uint8_t> bits = {0x0f, 0xf0};
  auto* mask = ram.bitmap(SPICE_BITMAP_FMT_1BIT_BE, 8, 2, 1, bits, {}, 0);
  d->u.fill.mask.bitmap = ram.addr(mask);
  d->u.fill.mask.flags = SPICE_MASK_FLAGS_INVERS;
  d->u.fill.mask.pos = {1, 0};
  auto c = parse_draw(d);
  const auto& op = op_of<BrushFillOp>(c);
  EXPECT_EQ(op.rop_descriptor, SPICE_ROPD_OP_XOR);
  EXPECT_EQ(op.brush.kind, Brush::Kind::solid);
  EXPECT_EQ(op.brush.color, 0xff00ffu);
  ASSERT_EQ(op.mask.size, (Size{8, 2}));
  EXPECT_TRUE(op.mask.invert);
  EXPECT_EQ(op.mask.pos, (Point{1, 0}));
  const std::vector<uint8_t> top = {1, 1, 1, 1, 0, 0, 0, 0}, bottom = {0, 0, 0, 0, 1, 1, 1, 1};
  EXPECT_EQ(std::vector<uint8_t>(op.mask.bits.begin(), op.mask.bits.begin() + 8), top);
  EXPECT_EQ(std::vector<uint8_t>(op.mask.bits.begin() + 8, op.mask.bits.end()), bottom);
}

TEST_F(QxlParser, PatternBrushFill) {
  auto* d = ram.drawable(QXL_DRAW_FILL, qrect(0, 0, 16, 16));
  d->u.fill.brush.type = SPICE_BRUSH_TYPE_PATTERN;
  d->u.fill.brush.u.pattern.pat = ram.addr(gradient(4, 4));
  d->u.fill.brush.u.pattern.pos = {2, 3};
  d->u.fill.rop_descriptor = SPICE_ROPD_OP_PUT;
  auto c = parse_draw(d);
  const auto& op = op_of<BrushFillOp>(c);
  EXPECT_EQ(op.brush.kind, Brush::Kind::pattern);
  ASSERT_TRUE(op.brush.pattern.image);
  EXPECT_EQ(op.brush.pattern.image->size(), (Size{4, 4}));
  EXPECT_EQ(op.brush.pattern_pos, (Point{2, 3}));
}

TEST_F(QxlParser, PutCopyOfABitmapIsABlit) {
  auto* d = ram.drawable(QXL_DRAW_COPY, qrect(100, 50, 104, 53));
  d->u.copy.src_bitmap = ram.addr(gradient(8, 8));
  d->u.copy.src_area = qrect(2, 1, 6, 4);
  d->u.copy.rop_descriptor = SPICE_ROPD_OP_PUT;
  auto c = parse_draw(d);
  const auto& blit = op_of<BlitOp>(c);
  EXPECT_EQ(blit.dst, (Rect{100, 50, 4, 3}));
  EXPECT_EQ(blit.src_pos, (Point{2, 1}));
  ASSERT_TRUE(blit.src);
  EXPECT_EQ(blit.src->pixel(5, 3), 0xff000305u);
}

TEST_F(QxlParser, ScaledOrMaskedCopyIsGeneral) {
  auto* d = ram.drawable(QXL_DRAW_COPY, qrect(0, 0, 16, 16));
  d->u.copy.src_bitmap = ram.addr(gradient(8, 8));
  d->u.copy.src_area = qrect(0, 0, 8, 8);
  d->u.copy.rop_descriptor = SPICE_ROPD_OP_PUT;
  d->u.copy.scale_mode = SPICE_IMAGE_SCALE_MODE_NEAREST;
  auto c = parse_draw(d);
  const auto& op = op_of<CopyOp>(c);
  EXPECT_EQ(op.src_area, (Rect{0, 0, 8, 8}));
  EXPECT_EQ(op.box, (Rect{0, 0, 16, 16}));
  EXPECT_EQ(op.scale_mode, SPICE_IMAGE_SCALE_MODE_NEAREST);
  EXPECT_FALSE(op.blend);
}

TEST_F(QxlParser, CopyFromASurface) {
  auto* d = ram.drawable(QXL_DRAW_COPY, qrect(0, 0, 10, 10), 2);
  d->u.copy.src_bitmap = ram.addr(ram.surface_image(5));
  d->u.copy.src_area = qrect(0, 0, 10, 10);
  d->u.copy.rop_descriptor = SPICE_ROPD_OP_PUT;
  d->surfaces_dest[0] = 5;
  d->surfaces_dest[1] = 2;  // itself: not a dependency
  auto c = parse_draw(d);
  const auto& op = op_of<CopyOp>(c);
  EXPECT_EQ(op.src.surface_id, std::optional<uint32_t>(5));
  EXPECT_FALSE(op.src.image);
  EXPECT_EQ(draw_of(c).command->surface_id, 2u);
  EXPECT_EQ(draw_of(c).surface_deps, std::vector<uint32_t>{5});
}

TEST_F(QxlParser, Blend) {
  auto* d = ram.drawable(QXL_DRAW_BLEND, qrect(0, 0, 4, 4));
  d->u.blend.src_bitmap = ram.addr(gradient(4, 4));
  d->u.blend.src_area = qrect(0, 0, 4, 4);
  d->u.blend.rop_descriptor = SPICE_ROPD_OP_AND;
  auto c = parse_draw(d);
  const auto& op = op_of<CopyOp>(c);
  EXPECT_TRUE(op.blend);
  EXPECT_EQ(op.rop_descriptor, SPICE_ROPD_OP_AND);
}

TEST_F(QxlParser, Opaque) {
  auto* d = ram.drawable(QXL_DRAW_OPAQUE, qrect(0, 0, 4, 4));
  d->u.opaque.src_bitmap = ram.addr(gradient(4, 4));
  d->u.opaque.src_area = qrect(0, 0, 4, 4);
  d->u.opaque.brush.type = SPICE_BRUSH_TYPE_SOLID;
  d->u.opaque.brush.u.color = 0x112233;
  d->u.opaque.rop_descriptor = SPICE_ROPD_OP_PUT | SPICE_ROPD_INVERS_SRC;
  auto c = parse_draw(d);
  const auto& op = op_of<OpaqueOp>(c);
  EXPECT_EQ(op.brush.color, 0x112233u);
  EXPECT_EQ(op.rop_descriptor, SPICE_ROPD_OP_PUT | SPICE_ROPD_INVERS_SRC);
  EXPECT_TRUE(op.src.image);
}

TEST_F(QxlParser, SolidRops) {
  const std::pair<uint8_t, SolidRopOp::Kind> kinds[] = {
      {QXL_DRAW_BLACKNESS, SolidRopOp::Kind::blackness},
      {QXL_DRAW_WHITENESS, SolidRopOp::Kind::whiteness},
      {QXL_DRAW_INVERS, SolidRopOp::Kind::invers}};
  for (auto [type, kind] : kinds) {
    auto* d = ram.drawable(type, qrect(1, 2, 3, 4));
    auto c = parse_draw(d);
    const auto& op = op_of<SolidRopOp>(c);
    EXPECT_EQ(op.kind, kind);
    EXPECT_EQ(op.box, (Rect{1, 2, 2, 2}));
    EXPECT_TRUE(op.mask.empty());
  }
}

TEST_F(QxlParser, Rop3) {
  auto* d = ram.drawable(QXL_DRAW_ROP3, qrect(0, 0, 4, 4));
  d->u.rop3.src_bitmap = ram.addr(gradient(4, 4));
  d->u.rop3.src_area = qrect(0, 0, 4, 4);
  d->u.rop3.brush.type = SPICE_BRUSH_TYPE_SOLID;
  d->u.rop3.brush.u.color = 0xabcdef;
  d->u.rop3.rop3 = 0xb8;
  auto c = parse_draw(d);
  const auto& op = op_of<Rop3Op>(c);
  EXPECT_EQ(op.rop3, 0xb8);
  EXPECT_EQ(op.brush.color, 0xabcdefu);
}

TEST_F(QxlParser, Transparent) {
  auto* d = ram.drawable(QXL_DRAW_TRANSPARENT, qrect(0, 0, 4, 4));
  d->u.transparent.src_bitmap = ram.addr(gradient(4, 4));
  d->u.transparent.src_area = qrect(0, 0, 4, 4);
  d->u.transparent.src_color = 0xff00ff;
  d->u.transparent.true_color = 0x00ff00;
  auto c = parse_draw(d);
  const auto& op = op_of<TransparentOp>(c);
  EXPECT_EQ(op.src_color, 0xff00ffu);
  EXPECT_EQ(op.true_color, 0x00ff00u);
}

TEST_F(QxlParser, AlphaBlend) {
  auto* d = ram.drawable(QXL_DRAW_ALPHA_BLEND, qrect(0, 0, 8, 8));
  d->u.alpha_blend.src_bitmap = ram.addr(gradient(4, 4));
  d->u.alpha_blend.src_area = qrect(0, 0, 4, 4);
  d->u.alpha_blend.alpha_flags = SPICE_ALPHA_FLAGS_SRC_SURFACE_HAS_ALPHA;
  d->u.alpha_blend.alpha = 128;
  auto c = parse_draw(d);
  const auto& op = op_of<AlphaBlendOp>(c);
  EXPECT_EQ(op.alpha, 128);
  EXPECT_EQ(op.alpha_flags, SPICE_ALPHA_FLAGS_SRC_SURFACE_HAS_ALPHA);
  EXPECT_EQ(op.src_area, (Rect{0, 0, 4, 4}));
}

TEST_F(QxlParser, CopyBits) {
  auto* d = ram.drawable(QXL_COPY_BITS, qrect(0, 0, 100, 80));
  d->u.copy_bits.src_pos = {0, 20};
  auto c = parse_draw(d);
  const auto& op = op_of<CopyBitsOp>(c);
  EXPECT_EQ(op.dst, (Rect{0, 0, 100, 80}));
  EXPECT_EQ(op.src, (Point{0, 20}));
}

TEST_F(QxlParser, NopHasNoCommand) {
  auto* d = ram.drawable(QXL_DRAW_NOP, qrect(0, 0, 10, 10));
  auto c = parse_draw(d);
  EXPECT_FALSE(draw_of(c).command.has_value());
  EXPECT_NE(c.release.info, nullptr);
}

TEST_F(QxlParser, Composite) {
  auto* d = ram.drawable(QXL_DRAW_COMPOSITE, qrect(0, 0, 8, 8));
  auto* t = ram.alloc<QXLTransform>();
  t->t00 = 0x20000;
  t->t11 = 0x20000;
  d->u.composite.flags = SPICE_COMPOSITE_OP3 | SPICE_COMPOSITE_HAS_MASK_TRANSFORM;  // bogus HAS_
  d->u.composite.src = ram.addr(gradient(4, 4));
  d->u.composite.src_transform = ram.addr(t);
  d->u.composite.mask = ram.addr(ram.surface_image(3));
  d->u.composite.src_origin = {1, 2};
  d->u.composite.mask_origin = {-3, 4};
  auto c = parse_draw(d);
  const auto& op = op_of<CompositeOp>(c);
  EXPECT_EQ(op.flags, uint32_t(SPICE_COMPOSITE_OP3 | SPICE_COMPOSITE_HAS_MASK |
                               SPICE_COMPOSITE_HAS_SRC_TRANSFORM));
  ASSERT_TRUE(op.src_transform);
  EXPECT_EQ(op.src_transform->t00, 0x20000);
  EXPECT_FALSE(op.mask_transform);
  EXPECT_EQ(op.mask.surface_id, std::optional<uint32_t>(3));
  EXPECT_EQ(op.src_origin, (Point{1, 2}));
  EXPECT_EQ(op.mask_origin, (Point{-3, 4}));
  EXPECT_EQ(draw_of(c).surface_deps, std::vector<uint32_t>{3});
}

// A QXLPath with two segments, the second one in a second chunk.
TEST_F(QxlParser, Stroke) {
  std::vector<uint8_t> seg1(sizeof(QXLPathSeg) + 2 * sizeof(QXLPointFix));
  std::vector<uint8_t> seg2(sizeof(QXLPathSeg) + 1 * sizeof(QXLPointFix));
  auto* s1 = reinterpret_cast<QXLPathSeg*>(seg1.data());
  s1->flags = QXL_PATH_BEGIN;
  s1->count = 2;
  s1->points[0] = {16, 32};
  s1->points[1] = {160, 32};
  auto* s2 = reinterpret_cast<QXLPathSeg*>(seg2.data());
  s2->flags = QXL_PATH_END | QXL_PATH_CLOSE;
  s2->count = 1;
  s2->points[0] = {160, 320};
  auto* path = ram.alloc<QXLPath>(seg1.size());
  path->data_size = uint32_t(seg1.size() + seg2.size());
  ram.fill_chunk(&path->chunk, seg1);
  path->chunk.next_chunk = ram.addr(ram.chunks(seg2));
  auto* style = ram.alloc<QXLFIXED>(sizeof(QXLFIXED));
  style[0] = 48;
  style[1] = 16;

  auto* d = ram.drawable(QXL_DRAW_STROKE, qrect(0, 0, 20, 30));
  d->u.stroke.path = ram.addr(path);
  d->u.stroke.attr.flags = SPICE_LINE_FLAGS_STYLED;
  d->u.stroke.attr.style_nseg = 2;
  d->u.stroke.attr.style = ram.addr(style);
  d->u.stroke.brush.type = SPICE_BRUSH_TYPE_SOLID;
  d->u.stroke.brush.u.color = 0xff0000;
  d->u.stroke.fore_mode = SPICE_ROPD_OP_PUT;
  auto c = parse_draw(d);
  const auto& op = op_of<StrokeOp>(c);
  ASSERT_EQ(op.path.size(), 2u);
  EXPECT_EQ(op.path[0].flags, uint32_t(QXL_PATH_BEGIN));
  EXPECT_EQ(op.path[0].points, (std::vector<Point>{{16, 32}, {160, 32}}));
  EXPECT_EQ(op.path[1].points, (std::vector<Point>{{160, 320}}));
  EXPECT_EQ(op.style, (std::vector<uint32_t>{48, 16}));
  EXPECT_EQ(op.brush.color, 0xff0000u);
  EXPECT_EQ(op.fore_mode, SPICE_ROPD_OP_PUT);
}

// Builds a QXLString of glyphs (width, height, bytes) with the given raster flag.

TEST_F(QxlParser, TextA1) {
  // 3x2 glyph, rows bottom-up in memory, MSB first: top row 101, bottom row 010.
  auto* s = make_string(ram, SPICE_STRING_FLAGS_RASTER_A1, {{3, 2, {0x40, 0xa0}}});
  auto* d = ram.drawable(QXL_DRAW_TEXT, qrect(0, 0, 50, 30));
  d->u.text.str = ram.addr(s);
  d->u.text.fore_brush.type = SPICE_BRUSH_TYPE_SOLID;
  d->u.text.fore_brush.u.color = 0x000000;
  d->u.text.back_brush.type = SPICE_BRUSH_TYPE_NONE;
  d->u.text.fore_mode = SPICE_ROPD_OP_PUT;
  auto c = parse_draw(d);
  const auto& op = op_of<TextOp>(c);
  EXPECT_EQ(op.bpp, 1);
  ASSERT_EQ(op.glyphs.size(), 1u);
  EXPECT_EQ(op.glyphs[0].size, (Size{3, 2}));
  EXPECT_EQ(op.glyphs[0].render_pos, (Point{0, 20}));
  EXPECT_EQ(op.glyphs[0].glyph_origin, (Point{0, -2}));
  EXPECT_EQ(op.glyphs[0].coverage, (std::vector<uint8_t>{255, 0, 255, 0, 255, 0}));
  EXPECT_TRUE(op.back_area.empty());
  EXPECT_EQ(op.back_brush.kind, Brush::Kind::none);
}

TEST_F(QxlParser, TextA4AndA8TopDown) {
  auto* s4 = make_string(ram, SPICE_STRING_FLAGS_RASTER_A4 | SPICE_STRING_FLAGS_RASTER_TOP_DOWN,
                         {{3, 1, {0xf1, 0x80}}, {1, 1, {0x20}}});
  auto* d = ram.drawable(QXL_DRAW_TEXT, qrect(0, 0, 50, 30));
  d->u.text.str = ram.addr(s4);
  auto c = parse_draw(d);
  const auto& op = op_of<TextOp>(c);
  EXPECT_EQ(op.bpp, 4);
  ASSERT_EQ(op.glyphs.size(), 2u);
  EXPECT_EQ(op.glyphs[0].coverage, (std::vector<uint8_t>{255, 17, 136}));
  EXPECT_EQ(op.glyphs[1].coverage, (std::vector<uint8_t>{34}));
  EXPECT_EQ(op.glyphs[1].render_pos, (Point{10, 20}));

  auto* s8 = make_string(ram, SPICE_STRING_FLAGS_RASTER_A8, {{2, 2, {1, 2, 3, 4}}});
  auto* d8 = ram.drawable(QXL_DRAW_TEXT, qrect(0, 0, 50, 30));
  d8->u.text.str = ram.addr(s8);
  auto c8 = parse_draw(d8);
  EXPECT_EQ(op_of<TextOp>(c8).glyphs[0].coverage, (std::vector<uint8_t>{3, 4, 1, 2}));
}

TEST_F(QxlParser, ClipRects) {
  auto* d = ram.drawable(QXL_DRAW_FILL, qrect(0, 0, 100, 100));
  d->u.fill.brush.type = SPICE_BRUSH_TYPE_SOLID;
  d->u.fill.rop_descriptor = SPICE_ROPD_OP_PUT;
  std::vector<QXLRect> rects = {qrect(0, 0, 10, 10), qrect(5, 5, 5, 9), qrect(20, 30, 40, 50)};
  auto bytes = as_bytes(rects);
  auto* clip = ram.alloc<QXLClipRects>(sizeof(QXLRect));
  clip->num_rects = 3;
  ram.fill_chunk(&clip->chunk, bytes.first(sizeof(QXLRect)));
  clip->chunk.next_chunk = ram.addr(ram.chunks(bytes.subspan(sizeof(QXLRect)), {7}));
  d->clip.type = SPICE_CLIP_TYPE_RECTS;
  d->clip.data = ram.addr(clip);
  auto c = parse_draw(d);
  ASSERT_TRUE(draw_of(c).command);
  // The empty rectangle is dropped.
  EXPECT_EQ(draw_of(c).command->clip_rects, (std::vector<Rect>{{0, 0, 10, 10}, {20, 30, 20, 20}}));
}

TEST_F(QxlParser, EmptyClipOrBboxDrawsNothing) {
  auto* d = ram.drawable(QXL_DRAW_FILL, qrect(0, 0, 100, 100));
  auto* clip = ram.alloc<QXLClipRects>();
  d->clip.type = SPICE_CLIP_TYPE_RECTS;
  d->clip.data = ram.addr(clip);
  auto c = parse_draw(d);
  EXPECT_FALSE(draw_of(c).command);
  auto* e = ram.drawable(QXL_DRAW_FILL, qrect(5, 5, 5, 100));
  auto ce = parse_draw(e);
  EXPECT_FALSE(draw_of(ce).command);
}

TEST_F(QxlParser, CompatDrawable) {
  auto* d = ram.alloc<QXLCompatDrawable>();
  d->type = QXL_DRAW_ALPHA_BLEND;
  d->bbox = qrect(0, 0, 4, 4);
  d->u.alpha_blend.alpha = 77;
  d->u.alpha_blend.src_bitmap = ram.addr(gradient(4, 4));
  d->u.alpha_blend.src_area = qrect(0, 0, 4, 4);
  auto c = parse(ram.command(QXL_CMD_DRAW, d, QXL_COMMAND_FLAG_COMPAT));
  const auto& op = op_of<AlphaBlendOp>(c);
  EXPECT_EQ(op.alpha, 77);
  EXPECT_EQ(op.alpha_flags, 0);
  EXPECT_EQ(draw_of(c).command->surface_id, 0u);
}

TEST_F(QxlParser, Compat16bppColors) {
  auto* d = ram.drawable(QXL_DRAW_FILL, qrect(0, 0, 4, 4));
  d->u.fill.brush.type = SPICE_BRUSH_TYPE_SOLID;
  d->u.fill.brush.u.color = 0x7c00;  // red in 555
  d->u.fill.rop_descriptor = SPICE_ROPD_OP_PUT;
  auto c = parse_draw(d, QXL_COMMAND_FLAG_COMPAT_16BPP);
  EXPECT_EQ(op_of<FillOp>(c).color, 0xffff0000u);
}

// ---- Bitmap formats ---------------------------------------------------------------------

TEST_F(QxlParser, Bitmap32BottomUpDirect) {
  std::vector<uint32_t> px = {0x01, 0x02, 0x03, 0x04, 0x05, 0x06};  // 3x2, bottom row first
  auto* img = ram.bitmap(SPICE_BITMAP_FMT_32BIT, 3, 2, 12, as_bytes(px), {}, 0, true);
  auto* d = ram.drawable(QXL_DRAW_COPY, qrect(0, 0, 3, 2));
  d->u.copy.src_bitmap = ram.addr(img);
  d->u.copy.src_area = qrect(0, 0, 3, 2);
  d->u.copy.rop_descriptor = SPICE_ROPD_OP_PUT;
  auto c = parse_draw(d);
  const auto& src = *op_of<BlitOp>(c).src;
  EXPECT_EQ(src.pixel(0, 0), 0x04u);
  EXPECT_EQ(src.pixel(2, 1), 0x03u);
}

TEST_F(QxlParser, Bitmap32AcrossChunksWithPaddedStride) {
  // 2x3, stride 12 (4 bytes padding), rows split across odd-sized chunks.
  std::vector<uint32_t> rows = {1, 2, 0xdead, 3, 4, 0xdead, 5, 6, 0xdead};
  auto* img = ram.alloc<QXLImage>();
  img->descriptor.type = SPICE_IMAGE_TYPE_BITMAP;
  img->bitmap.format = SPICE_BITMAP_FMT_32BIT;
  img->bitmap.flags = QXL_BITMAP_TOP_DOWN;
  img->bitmap.x = 2;
  img->bitmap.y = 3;
  img->bitmap.stride = 12;
  img->bitmap.data = ram.addr(ram.chunks(as_bytes(rows), {5, 0, 13}));
  auto* d = ram.drawable(QXL_DRAW_COPY, qrect(0, 0, 2, 3));
  d->u.copy.src_bitmap = ram.addr(img);
  d->u.copy.src_area = qrect(0, 0, 2, 3);
  d->u.copy.rop_descriptor = SPICE_ROPD_OP_PUT;
  auto c = parse_draw(d);
  const auto& src = *op_of<BlitOp>(c).src;
  EXPECT_EQ(src.pixel(0, 0), 1u);
  EXPECT_EQ(src.pixel(1, 1), 4u);
  EXPECT_EQ(src.pixel(1, 2), 6u);
}

TEST_F(QxlParser, BitmapRgbaKeepsAlpha) {
  std::vector<uint32_t> px = {0x80102030};
  auto* img = ram.bitmap(SPICE_BITMAP_FMT_RGBA, 1, 1, 4, as_bytes(px));
  auto* d = ram.drawable(QXL_DRAW_ALPHA_BLEND, qrect(0, 0, 1, 1));
  d->u.alpha_blend.src_bitmap = ram.addr(img);
  d->u.alpha_blend.src_area = qrect(0, 0, 1, 1);
  d->u.alpha_blend.alpha = 255;
  auto c = parse_draw(d);
  const auto& op = op_of<AlphaBlendOp>(c);
  EXPECT_TRUE(op.src.has_alpha);
  EXPECT_EQ(op.src.image->pixel(0, 0), 0x80102030u);
}

TEST_F(QxlParser, Bitmap24And16) {
  auto i24 = decode(SPICE_BITMAP_FMT_24BIT, 2, 1, 8, {0x30, 0x20, 0x10, 0xff, 0x00, 0x80, 0, 0});
  ASSERT_TRUE(i24);
  EXPECT_EQ(i24->pixel(0, 0), 0xff102030u);
  EXPECT_EQ(i24->pixel(1, 0), 0xff8000ffu);
  // 555: 0x7c00 red, 0x03e0 green, 0x001f blue, 0x4210 mid grey.
  auto i16 = decode(SPICE_BITMAP_FMT_16BIT, 4, 1, 8, {0x00, 0x7c, 0xe0, 0x03, 0x1f, 0x00, 0x10, 0x42});
  ASSERT_TRUE(i16);
  EXPECT_EQ(i16->pixel(0, 0), 0xffff0000u);
  EXPECT_EQ(i16->pixel(1, 0), 0xff00ff00u);
  EXPECT_EQ(i16->pixel(2, 0), 0xff0000ffu);
  EXPECT_EQ(i16->pixel(3, 0), 0xff848484u);
}

TEST_F(QxlParser, BitmapPalettedFormats) {
  const std::vector<uint32_t> pal2 = {0x000000, 0xffffff};
  // 10 pixels of 1 bit: 1 0 1 1 0 0 0 1 | 1 0
  auto be = decode(SPICE_BITMAP_FMT_1BIT_BE, 10, 1, 2, {0xb1, 0x80}, pal2);
  ASSERT_TRUE(be);
  const uint32_t w = 0xffffffffu, k = 0xff000000u;
  const uint32_t expect1[] = {w, k, w, w, k, k, k, w, w, k};
  for (int x = 0; x < 10; ++x) EXPECT_EQ(be->pixel(x, 0), expect1[x]) << x;
  // The same pixels, least significant bit first.
  auto le = decode(SPICE_BITMAP_FMT_1BIT_LE, 10, 1, 2, {0x8d, 0x01}, pal2);
  ASSERT_TRUE(le);
  for (int x = 0; x < 10; ++x) EXPECT_EQ(le->pixel(x, 0), expect1[x]) << x;

  std::vector<uint32_t> pal16(16);
  for (uint32_t i = 0; i < 16; ++i) pal16[i] = i * 0x010101;
  auto be4 = decode(SPICE_BITMAP_FMT_4BIT_BE, 3, 1, 2, {0x12, 0x30}, pal16);
  ASSERT_TRUE(be4);
  EXPECT_EQ(be4->pixel(0, 0), 0xff010101u);
  EXPECT_EQ(be4->pixel(1, 0), 0xff020202u);
  EXPECT_EQ(be4->pixel(2, 0), 0xff030303u);
  auto le4 = decode(SPICE_BITMAP_FMT_4BIT_LE, 3, 1, 2, {0x21, 0x03}, pal16);
  ASSERT_TRUE(le4);
  EXPECT_EQ(le4->pixel(0, 0), 0xff010101u);
  EXPECT_EQ(le4->pixel(1, 0), 0xff020202u);
  EXPECT_EQ(le4->pixel(2, 0), 0xff030303u);

  std::vector<uint32_t> pal256(256);
  for (uint32_t i = 0; i < 256; ++i) pal256[i] = i << 8;
  auto i8 = decode(SPICE_BITMAP_FMT_8BIT, 2, 2, 4, {1, 2, 0, 0, 200, 255, 0, 0}, pal256, 0);
  ASSERT_TRUE(i8);
  EXPECT_EQ(i8->pixel(0, 0), 0xff00c800u);  // bottom-up: memory row 1 is the top
  EXPECT_EQ(i8->pixel(1, 1), 0xff000200u);
}

TEST_F(QxlParser, Bitmap8BitAlpha) {
  auto* img = ram.bitmap(SPICE_BITMAP_FMT_8BIT_A, 2, 1, 4, std::vector<uint8_t>{0x00, 0x7f, 0, 0});
  auto* d = ram.drawable(QXL_DRAW_COMPOSITE, qrect(0, 0, 2, 1));
  d->u.composite.src = ram.addr(img);
  auto c = parse_draw(d);
  const auto& op = op_of<CompositeOp>(c);
  EXPECT_TRUE(op.src.has_alpha);
  EXPECT_EQ(op.src.image->pixel(1, 0), 0x7f000000u);
  EXPECT_EQ(op.flags & SPICE_COMPOSITE_HAS_MASK, 0u);
}

TEST_F(QxlParser, PaletteIn16bppCompat) {
  auto* img = ram.bitmap(SPICE_BITMAP_FMT_8BIT, 1, 1, 4, std::vector<uint8_t>{0, 0, 0, 0},
                         std::vector<uint32_t>{0x001f});
  auto* d = ram.drawable(QXL_DRAW_COPY, qrect(0, 0, 1, 1));
  d->u.copy.src_bitmap = ram.addr(img);
  d->u.copy.src_area = qrect(0, 0, 1, 1);
  d->u.copy.rop_descriptor = SPICE_ROPD_OP_PUT;
  auto c = parse_draw(d, QXL_COMMAND_FLAG_COMPAT_16BPP);
  EXPECT_EQ(op_of<BlitOp>(c).src->pixel(0, 0), 0xff0000ffu);
}

TEST_F(QxlParser, CachedImageKeepsItsId) {
  auto* img = gradient(2, 2);
  img->descriptor.id = 0x1234567890;
  img->descriptor.flags = QXL_IMAGE_CACHE;
  auto* d = ram.drawable(QXL_DRAW_COPY, qrect(0, 0, 4, 4));
  d->u.copy.src_bitmap = ram.addr(img);
  d->u.copy.src_area = qrect(0, 0, 2, 2);
  auto c = parse_draw(d);
  EXPECT_EQ(op_of<CopyOp>(c).src.id, 0x1234567890u);
}

// ---- Other commands ---------------------------------------------------------------------

TEST_F(QxlParser, Update) {
  auto* u = ram.alloc<QXLUpdateCmd>();
  u->area = qrect(1, 2, 30, 40);
  u->update_id = 99;
  u->surface_id = 3;
  auto c = parse(ram.command(QXL_CMD_UPDATE, u));
  ASSERT_TRUE(c.ok()) << c.command.error().message;
  const auto& up = std::get<ParsedUpdate>(*c.command);
  EXPECT_EQ(up.surface_id, 3u);
  EXPECT_EQ(up.area, (Rect{1, 2, 29, 38}));
  EXPECT_EQ(up.update_id, 99u);
  EXPECT_EQ(c.release.info, &u->release_info);
}

TEST_F(QxlParser, SurfaceCreateAndDestroy) {
  uint8_t* mem = ram.alloc_bytes(64 * 16 * 4);
  auto* s = ram.alloc<QXLSurfaceCmd>();
  s->surface_id = 7;
  s->type = QXL_SURFACE_CMD_CREATE;
  s->flags = QXL_SURF_FLAG_KEEP_DATA;
  s->u.surface_create.format = SPICE_SURFACE_FMT_32_xRGB;
  s->u.surface_create.width = 64;
  s->u.surface_create.height = 16;
  s->u.surface_create.stride = -256;
  s->u.surface_create.data = ram.addr(mem);
  auto c = parse(ram.command(QXL_CMD_SURFACE, s));
  ASSERT_TRUE(c.ok()) << c.command.error().message;
  const auto& sc = std::get<ParsedSurfaceCreate>(*c.command);
  EXPECT_EQ(sc.create.surface_id, 7u);
  EXPECT_EQ(sc.create.size, (Size{64, 16}));
  EXPECT_EQ(sc.create.format, uint32_t(SPICE_SURFACE_FMT_32_xRGB));
  EXPECT_EQ(sc.flags, uint32_t(QXL_SURF_FLAG_KEEP_DATA));
  EXPECT_EQ(sc.memory.memory, mem);
  EXPECT_EQ(sc.memory.byte_size, 64u * 16 * 4);
  EXPECT_EQ(sc.memory.stride, -256);
  EXPECT_EQ(sc.memory.line0, mem + 15 * 256);
  EXPECT_EQ(sc.memory.bits_per_pixel, 32u);

  auto* del = ram.alloc<QXLSurfaceCmd>();
  del->surface_id = 7;
  del->type = QXL_SURFACE_CMD_DESTROY;
  auto cd = parse(ram.command(QXL_CMD_SURFACE, del));
  ASSERT_TRUE(cd.ok());
  EXPECT_EQ(std::get<ParsedSurfaceDestroy>(*cd.command).destroy.surface_id, 7u);
}

TEST_F(QxlParser, SurfaceRejections) {
  uint8_t* mem = ram.alloc_bytes(1024);
  auto make = [&](uint32_t w, uint32_t h, int32_t stride, uint32_t fmt, uint32_t id = 1) {
    auto* s = ram.alloc<QXLSurfaceCmd>();
    s->surface_id = id;
    s->type = QXL_SURFACE_CMD_CREATE;
    s->u.surface_create = {fmt, w, h, stride, ram.addr(mem)};
    return parse(ram.command(QXL_CMD_SURFACE, s));
  };
  EXPECT_REASON(make(16, 16, 32, SPICE_SURFACE_FMT_32_xRGB), "smaller than a row");
  EXPECT_REASON(make(16, 16, 64, 33), "unknown format");
  EXPECT_REASON(make(16, 16, INT32_MIN, SPICE_SURFACE_FMT_32_xRGB), "stride");
  EXPECT_REASON(make(16, 16000, 128, SPICE_SURFACE_FMT_32_xRGB), "outside slot");
  EXPECT_REASON(make(8, 8, 32, SPICE_SURFACE_FMT_32_xRGB, 5000), "out of range");
  EXPECT_REASON(make(0x10000, 0x10000, 0x40000, SPICE_SURFACE_FMT_32_xRGB), "limit");
}


TEST_F(QxlParser, CursorAlpha) {
  std::vector<uint32_t> px = {0x80404040, 0x00000000, 0xff102030, 0x11000000};
  auto* cmd = cursor_set(ram, SPICE_CURSOR_TYPE_ALPHA, 2, 2,
                         std::vector<uint8_t>(as_bytes(px).begin(), as_bytes(px).end()));
  auto c = parse(ram.command(QXL_CMD_CURSOR, cmd));
  ASSERT_TRUE(c.ok()) << c.command.error().message;
  const auto& cmds = std::get<ParsedCursor>(*c.command).commands;
  ASSERT_EQ(cmds.size(), 1u);
  const auto& set = std::get<CursorSet>(cmds[0]);
  EXPECT_EQ(set.pos, (Point{300, 200}));
  EXPECT_EQ(set.shape->id, 42u);
  EXPECT_EQ(set.shape->hotspot, (Point{1, 1}));
  EXPECT_EQ(set.shape->pixels->pixel(0, 0), 0x80404040u);
  EXPECT_EQ(set.shape->pixels->pixel(0, 1), 0xff102030u);
}

TEST_F(QxlParser, CursorMono) {
  // 2x2: AND rows 0b01.., 0b10..; XOR rows 0b11.., 0b00..
  // (0,0) and0 xor1 white; (1,0) and1 xor1 invert; (0,1) and1 xor0 transparent; (1,1) black.
  auto* cmd = cursor_set(ram, SPICE_CURSOR_TYPE_MONO, 2, 2, {0x40, 0x80, 0xc0, 0x00});
  cmd->u.set.visible = 0;
  auto c = parse(ram.command(QXL_CMD_CURSOR, cmd));
  ASSERT_TRUE(c.ok()) << c.command.error().message;
  const auto& cmds = std::get<ParsedCursor>(*c.command).commands;
  ASSERT_EQ(cmds.size(), 2u);
  EXPECT_TRUE(std::holds_alternative<CursorHide>(cmds[1]));
  const auto& img = *std::get<CursorSet>(cmds[0]).shape->pixels;
  EXPECT_EQ(img.pixel(0, 0), 0xffffffffu);
  EXPECT_EQ(img.pixel(1, 0) >> 24, 0xffu);  // invert shows as an opaque checker
  EXPECT_EQ(img.pixel(0, 1), 0u);
  EXPECT_EQ(img.pixel(1, 1), 0xff000000u);
}

TEST_F(QxlParser, CursorColor32And8) {
  // 2x1 COLOR32 with AND mask 0b01: first pixel opaque, second transparent.
  std::vector<uint8_t> c32 = {0x30, 0x20, 0x10, 0x00, 0x01, 0x02, 0x03, 0x00, 0x40};
  auto c = parse(ram.command(QXL_CMD_CURSOR, cursor_set(ram, SPICE_CURSOR_TYPE_COLOR32, 2, 1, c32)));
  ASSERT_TRUE(c.ok()) << c.command.error().message;
  const auto& img = *std::get<CursorSet>(std::get<ParsedCursor>(*c.command).commands[0]).shape->pixels;
  EXPECT_EQ(img.pixel(0, 0), 0xff102030u);
  EXPECT_EQ(img.pixel(1, 0), 0u);

  std::vector<uint8_t> c8 = {5, 0};
  std::vector<uint8_t> pal(256 * 4);
  pal[5 * 4] = 0x44;  // entry 5 = 0x000044
  c8.insert(c8.end(), pal.begin(), pal.end());
  c8.push_back(0x00);
  auto c2 = parse(ram.command(QXL_CMD_CURSOR, cursor_set(ram, SPICE_CURSOR_TYPE_COLOR8, 2, 1, c8)));
  ASSERT_TRUE(c2.ok()) << c2.command.error().message;
  const auto& img8 = *std::get<CursorSet>(std::get<ParsedCursor>(*c2.command).commands[0]).shape->pixels;
  EXPECT_EQ(img8.pixel(0, 0), 0xff000044u);
  EXPECT_EQ(img8.pixel(1, 0), 0xff000000u);
}

TEST_F(QxlParser, CursorMoveHideTrail) {
  auto* mv = ram.alloc<QXLCursorCmd>();
  mv->type = QXL_CURSOR_MOVE;
  mv->u.position = {-5, 7};
  auto c = parse(ram.command(QXL_CMD_CURSOR, mv));
  ASSERT_TRUE(c.ok());
  EXPECT_EQ(std::get<CursorMove>(std::get<ParsedCursor>(*c.command).commands.at(0)).pos,
            (Point{-5, 7}));
  auto* hide = ram.alloc<QXLCursorCmd>();
  hide->type = QXL_CURSOR_HIDE;
  auto ch = parse(ram.command(QXL_CMD_CURSOR, hide));
  ASSERT_TRUE(ch.ok());
  EXPECT_TRUE(std::holds_alternative<CursorHide>(std::get<ParsedCursor>(*ch.command).commands.at(0)));
  auto* trail = ram.alloc<QXLCursorCmd>();
  trail->type = QXL_CURSOR_TRAIL;
  auto ct = parse(ram.command(QXL_CMD_CURSOR, trail));
  ASSERT_TRUE(ct.ok());
  EXPECT_TRUE(std::get<ParsedCursor>(*ct.command).commands.empty());
  EXPECT_NE(ct.release.info, nullptr);
}

TEST_F(QxlParser, CursorRejections) {
  EXPECT_REASON(parse(ram.command(QXL_CMD_CURSOR, cursor_set(ram, SPICE_CURSOR_TYPE_ALPHA, 4, 4,
                                                             std::vector<uint8_t>(60)))),
                "needs 64 bytes");
  EXPECT_REASON(parse(ram.command(QXL_CMD_CURSOR, cursor_set(ram, 9, 1, 1, {0, 0, 0, 0}))),
                "unknown type");
  EXPECT_REASON(parse(ram.command(QXL_CMD_CURSOR, cursor_set(ram, SPICE_CURSOR_TYPE_ALPHA, 2000,
                                                             1, {0}))),
                "size");
  auto* bad = ram.alloc<QXLCursorCmd>();
  bad->type = 17;
  EXPECT_REASON(parse(ram.command(QXL_CMD_CURSOR, bad)), "unknown type 17");
}

TEST_F(QxlParser, Message) {
  const char text[] = "driver says hi";
  auto* m = ram.alloc<QXLMessage>(sizeof(text));
  std::memcpy(m->data, text, sizeof(text));
  auto c = parse(ram.command(QXL_CMD_MESSAGE, m));
  ASSERT_TRUE(c.ok());
  EXPECT_EQ(std::get<ParsedMessage>(*c.command).text, "driver says hi");
  EXPECT_FALSE(std::get<ParsedMessage>(*c.command).truncated);

  // No NUL before the end of the slot: cut there.
  uint8_t* end = ram.at_end(sizeof(QXLMessage) + 5);
  std::memset(end, 'x', sizeof(QXLMessage) + 5);
  auto ce = parse(ram.command(QXL_CMD_MESSAGE, end));
  ASSERT_TRUE(ce.ok());
  EXPECT_EQ(std::get<ParsedMessage>(*ce.command).text, "xxxxx");
  EXPECT_TRUE(std::get<ParsedMessage>(*ce.command).truncated);
}

}  // namespace
}  // namespace spiceflow::qxl
