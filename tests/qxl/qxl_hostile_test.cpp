// The QXL parser against hostile guests: bad addresses, slots and generations, cyclic and
// overlong chunk lists, overflowing sizes, unknown types, truncated structs. Each rejection
// must name its reason and, where the command's release info could be found, return it.
#include "spiceflow/qxl/parser.hpp"

#include <gtest/gtest.h>

#include <cstddef>
#include <string>

#include "qxl_parser_fixture.hpp"

namespace spiceflow::qxl {
namespace {

using namespace testing;
class QxlHostile : public QxlParserTest {};

// ---- Hostile input ----------------------------------------------------------------------

TEST_F(QxlHostile, CommandOutsideAnySlot) {
  QXLCommandExt ext = ram.command(QXL_CMD_DRAW, nullptr);
  ext.cmd.data = ram.slots().make_address(GuestRam::kSlot, GuestRam::kGeneration, 0x10);
  auto c = parse(ext);
  EXPECT_FALSE(c.ok());
  EXPECT_EQ(c.release.info, nullptr);
  EXPECT_NE(c.command.error().message.find("outside slot"), std::string::npos);
  ext.cmd.data = 0;
  EXPECT_FALSE(parse(ext).ok());
}

TEST_F(QxlHostile, WrongGenerationAndUnknownSlot) {
  auto* d = ram.drawable(QXL_DRAW_NOP, qrect(0, 0, 1, 1));
  QXLCommandExt ext = ram.command(QXL_CMD_DRAW, d);
  ext.cmd.data = ram.slots().make_address(GuestRam::kSlot, GuestRam::kGeneration + 1,
                                          ext.cmd.data);
  auto c = parse(ext);
  EXPECT_FALSE(c.ok());
  EXPECT_NE(c.command.error().message.find("generation"), std::string::npos);
  ext.cmd.data = ram.slots().make_address(4, GuestRam::kGeneration, ext.cmd.data);
  EXPECT_NE(rejected(parse(ext), false).find("not present"), std::string::npos);
  ext.cmd.data = ram.slots().make_address(60, GuestRam::kGeneration, ext.cmd.data);
  EXPECT_NE(rejected(parse(ext), false).find("out of range"), std::string::npos);
  ext = ram.command(QXL_CMD_DRAW, d);
  ext.group_id = 9;
  EXPECT_NE(rejected(parse(ext), false).find("group"), std::string::npos);
}

TEST_F(QxlHostile, SourceImageInAnotherGeneration) {
  auto* d = ram.drawable(QXL_DRAW_COPY, qrect(0, 0, 2, 2));
  d->u.copy.src_bitmap = ram.slots().make_address(GuestRam::kSlot, 0, ram.addr(gradient(2, 2)));
  d->u.copy.src_area = qrect(0, 0, 2, 2);
  EXPECT_REASON(parse_draw(d), "generation");
}

TEST_F(QxlHostile, UnknownTypes) {
  auto* d = ram.drawable(QXL_DRAW_FILL, qrect(0, 0, 1, 1));
  auto c = parse(ram.command(77, d));
  EXPECT_FALSE(c.ok());
  EXPECT_EQ(c.release.info, nullptr);  // the struct is unknown: nothing to release
  EXPECT_NE(c.command.error().message.find("unknown command type 77"), std::string::npos);

  auto* u = ram.drawable(200, qrect(0, 0, 1, 1));
  EXPECT_REASON(parse_draw(u), "unknown draw type 200");
  auto* n = ram.drawable(200, qrect(0, 0, 0, 0));  // even when nothing would be drawn
  EXPECT_REASON(parse_draw(n), "unknown draw type 200");

  auto* img = gradient(2, 2);
  img->descriptor.type = 55;
  auto* di = ram.drawable(QXL_DRAW_COPY, qrect(0, 0, 2, 2));
  di->u.copy.src_bitmap = ram.addr(img);
  EXPECT_REASON(parse_draw(di), "unknown type 55");

  auto* q = gradient(2, 2);  // a bitmap's body read as QUIC data: not a QUIC stream
  q->descriptor.type = SPICE_IMAGE_TYPE_QUIC;
  auto* dq = ram.drawable(QXL_DRAW_COPY, qrect(0, 0, 2, 2));
  dq->u.copy.src_bitmap = ram.addr(q);
  EXPECT_REASON(parse_draw(dq), "QUIC");

  auto* bf = gradient(2, 2);
  bf->bitmap.format = 42;
  auto* db = ram.drawable(QXL_DRAW_COPY, qrect(0, 0, 2, 2));
  db->u.copy.src_bitmap = ram.addr(bf);
  EXPECT_REASON(parse_draw(db), "unknown format 42");

  auto* br = ram.drawable(QXL_DRAW_FILL, qrect(0, 0, 2, 2));
  br->u.fill.brush.type = 9;
  EXPECT_REASON(parse_draw(br), "brush: unknown type 9");

  auto* sc = ram.alloc<QXLSurfaceCmd>();
  sc->type = 5;
  EXPECT_REASON(parse(ram.command(QXL_CMD_SURFACE, sc)), "unknown type 5");
}

TEST_F(QxlHostile, BadClipTypeAndTooManyClipRects) {
  auto* d = ram.drawable(QXL_DRAW_FILL, qrect(0, 0, 10, 10));
  d->clip.type = 7;
  EXPECT_REASON(parse_draw(d), "clip: unknown type 7");

  auto* many = ram.alloc<QXLClipRects>();
  many->num_rects = limits.max_clip_rects + 1;
  auto* d2 = ram.drawable(QXL_DRAW_FILL, qrect(0, 0, 10, 10));
  d2->clip.type = SPICE_CLIP_TYPE_RECTS;
  d2->clip.data = ram.addr(many);
  EXPECT_REASON(parse_draw(d2), "exceed");

  // num_rects that does not match the bytes in the chunks.
  auto* lie = ram.alloc<QXLClipRects>(sizeof(QXLRect));
  lie->num_rects = 2;
  lie->chunk.data_size = sizeof(QXLRect);
  auto* d3 = ram.drawable(QXL_DRAW_FILL, qrect(0, 0, 10, 10));
  d3->clip.type = SPICE_CLIP_TYPE_RECTS;
  d3->clip.data = ram.addr(lie);
  EXPECT_REASON(parse_draw(d3), "need 32 bytes");
}

// A bitmap whose data is the chunk list `first`.
QXLDrawable* copy_of_chunked(GuestRam& ram, QXLDataChunk* first, uint32_t w, uint32_t h) {
  auto* img = ram.alloc<QXLImage>();
  img->descriptor.type = SPICE_IMAGE_TYPE_BITMAP;
  img->bitmap.format = SPICE_BITMAP_FMT_32BIT;
  img->bitmap.x = w;
  img->bitmap.y = h;
  img->bitmap.stride = w * 4;
  img->bitmap.data = ram.addr(first);
  auto* d = ram.drawable(QXL_DRAW_COPY, qrect(0, 0, w, h));
  d->u.copy.src_bitmap = ram.addr(img);
  d->u.copy.src_area = qrect(0, 0, w, h);
  return d;
}

TEST_F(QxlHostile, CyclicChunkList) {
  auto* a = ram.alloc<QXLDataChunk>(4);
  auto* b = ram.alloc<QXLDataChunk>(4);
  a->data_size = 4;
  b->data_size = 4;
  a->next_chunk = ram.addr(b);
  b->next_chunk = ram.addr(a);
  EXPECT_REASON(parse_draw(copy_of_chunked(ram, a, 100, 100)), "cyclic");
  // A cycle of empty chunks ends at the chunk cap too.
  auto* e = ram.alloc<QXLDataChunk>();
  e->next_chunk = ram.addr(e);
  EXPECT_REASON(parse_draw(copy_of_chunked(ram, e, 1, 1)), "cyclic");
}

TEST_F(QxlHostile, ChunkListLongerThanTheCap) {
  limits.max_chunks = 8;
  std::vector<uint8_t> data(4 * 4 * 4, 0x11);
  auto* first = ram.chunks(data, {4, 4, 4, 4, 4, 4, 4, 4, 4, 4});  // 11 chunks
  EXPECT_REASON(parse_draw(copy_of_chunked(ram, first, 4, 4)), "longer than 8 chunks");
  limits.max_chunks = 16;
  EXPECT_TRUE(parse_draw(copy_of_chunked(ram, first, 4, 4)).ok());
}

TEST_F(QxlHostile, ChunkDataSizeOverflow) {
  // Chunk sizes whose sum wraps 32 bits, and one chunk larger than its slot.
  auto* a = ram.alloc<QXLDataChunk>(16);
  auto* b = ram.alloc<QXLDataChunk>(16);
  a->data_size = 16;
  b->data_size = 0xfffffff8u;
  a->next_chunk = ram.addr(b);
  EXPECT_REASON(parse_draw(copy_of_chunked(ram, a, 2, 2)), "bytes");
  limits.max_data_bytes = ~uint64_t{0} >> 1;
  EXPECT_REASON(parse_draw(copy_of_chunked(ram, a, 2, 2)), "outside slot");
}

TEST_F(QxlHostile, ImageSizeOverflows) {
  auto* big = gradient(2, 2);
  big->bitmap.x = 0x10000;
  big->bitmap.y = 0x10000;
  big->bitmap.stride = 0x40000;
  auto* d = ram.drawable(QXL_DRAW_COPY, qrect(0, 0, 2, 2));
  d->u.copy.src_bitmap = ram.addr(big);
  d->u.copy.src_area = qrect(0, 0, 2, 2);
  EXPECT_REASON(parse_draw(d), "side limit");

  limits.max_image_side = 1 << 20;
  limits.max_image_pixels = int64_t{1} << 40;
  limits.max_data_bytes = ~uint64_t{0};
  big->bitmap.x = 0xffffffffu;  // width * 32 bits overflows 32-bit arithmetic
  big->bitmap.y = 0xffffffffu;
  big->bitmap.stride = 0xffffffffu;
  EXPECT_FALSE(parse_draw(d).ok());

  ParseLimits def;
  limits = def;
  big->bitmap.x = 1 << 14;
  big->bitmap.y = 1 << 14;  // 2^28 pixels > 2^26
  big->bitmap.stride = 1 << 16;
  EXPECT_REASON(parse_draw(d), "pixels");
  big->bitmap.x = 0;
  EXPECT_REASON(parse_draw(d), "zero area");
}

TEST_F(QxlHostile, StrideTooSmall) {
  auto* img = gradient(4, 2);
  img->bitmap.stride = 15;
  auto* d = ram.drawable(QXL_DRAW_COPY, qrect(0, 0, 4, 2));
  d->u.copy.src_bitmap = ram.addr(img);
  d->u.copy.src_area = qrect(0, 0, 4, 2);
  EXPECT_REASON(parse_draw(d), "stride 15 is smaller");
}

TEST_F(QxlHostile, BitmapDataShorterThanItsRows) {
  auto* img = gradient(4, 2);
  img->bitmap.y = 3;  // one row more than the chunks hold
  auto* d = ram.drawable(QXL_DRAW_COPY, qrect(0, 0, 4, 2));
  d->u.copy.src_bitmap = ram.addr(img);
  d->u.copy.src_area = qrect(0, 0, 4, 2);
  EXPECT_REASON(parse_draw(d), "chunks hold 32 bytes");
}

TEST_F(QxlHostile, PaletteShorterThanNeededOrMissing) {
  auto* img = ram.bitmap(SPICE_BITMAP_FMT_8BIT, 2, 1, 4, std::vector<uint8_t>{0, 5, 0, 0},
                         std::vector<uint32_t>{1, 2, 3});
  auto* d = ram.drawable(QXL_DRAW_COPY, qrect(0, 0, 2, 1));
  d->u.copy.src_bitmap = ram.addr(img);
  d->u.copy.src_area = qrect(0, 0, 2, 1);
  EXPECT_REASON(parse_draw(d), "palette index 5 but the palette has 3");
  img->bitmap.palette = 0;
  EXPECT_REASON(parse_draw(d), "without a palette");
  // A palette whose entries run past the slot end.
  auto* pal = reinterpret_cast<QXLPalette*>(ram.at_end(sizeof(QXLPalette) + 8));
  pal->num_ents = 200;
  img->bitmap.palette = ram.addr(pal);
  EXPECT_REASON(parse_draw(d), "palette entries");
}

TEST_F(QxlHostile, SourceAreaOutsideTheSource) {
  auto* d = ram.drawable(QXL_DRAW_COPY, qrect(0, 0, 4, 4));
  d->u.copy.src_bitmap = ram.addr(gradient(4, 4));
  d->u.copy.src_area = qrect(2, 2, 6, 6);
  EXPECT_REASON(parse_draw(d), "outside the 4x4 source");
  d->u.copy.src_area = qrect(-1, 0, 2, 2);
  EXPECT_REASON(parse_draw(d), "negative");
  d->u.copy.src_area = qrect(3, 0, 1, 2);
  EXPECT_REASON(parse_draw(d), "inverted");
  d->u.copy.src_bitmap = 0;
  EXPECT_REASON(parse_draw(d), "missing source");
}

TEST_F(QxlHostile, BadRectsAndSurfaceIds) {
  auto* d = ram.drawable(QXL_DRAW_FILL, qrect(10, 0, 5, 10));
  EXPECT_REASON(parse_draw(d), "inverted");
  auto* w = ram.drawable(QXL_DRAW_FILL, qrect(INT32_MIN, 0, INT32_MAX, 10));
  EXPECT_REASON(parse_draw(w), "too large");
  auto* s = ram.drawable(QXL_DRAW_FILL, qrect(0, 0, 1, 1), 4096);
  EXPECT_REASON(parse_draw(s), "surface id 4096");
  auto* dep = ram.drawable(QXL_DRAW_FILL, qrect(0, 0, 1, 1));
  dep->surfaces_dest[2] = -7;
  EXPECT_REASON(parse_draw(dep), "surface id -7");
  auto* im = ram.drawable(QXL_DRAW_COPY, qrect(0, 0, 1, 1));
  im->u.copy.src_bitmap = ram.addr(ram.surface_image(1 << 20));
  EXPECT_REASON(parse_draw(im), "surface image");
}

TEST_F(QxlHostile, MaskMustBeOneBit) {
  auto* d = ram.drawable(QXL_DRAW_BLACKNESS, qrect(0, 0, 2, 2));
  d->u.blackness.mask.bitmap = ram.addr(gradient(2, 2));
  EXPECT_REASON(parse_draw(d), "not 1-bit");
  d->u.blackness.mask.bitmap = ram.addr(ram.surface_image(1));
  EXPECT_REASON(parse_draw(d), "not a bitmap");
}

TEST_F(QxlHostile, TruncatedStructsAtTheSlotEnd) {
  // A drawable whose first bytes (its release info) fit but the rest runs off the slot.
  auto* d = ram.at_end(sizeof(QXLDrawable) - 8);
  std::memset(d, 0, sizeof(QXLDrawable) - 8);
  auto c = parse(ram.command(QXL_CMD_DRAW, d));
  EXPECT_FALSE(c.ok());
  EXPECT_EQ(c.release.info, reinterpret_cast<QXLReleaseInfo*>(d));
  EXPECT_NE(c.command.error().message.find("outside slot"), std::string::npos);
  // Not even the release info fits.
  auto* tiny = ram.at_end(4);
  auto ct = parse(ram.command(QXL_CMD_UPDATE, tiny));
  EXPECT_FALSE(ct.ok());
  EXPECT_EQ(ct.release.info, nullptr);
  // A surface command, a cursor command and an image descriptor cut short.
  EXPECT_REASON(parse(ram.command(QXL_CMD_SURFACE, ram.at_end(sizeof(QXLSurfaceCmd) - 1))),
                "outside slot");
  EXPECT_REASON(parse(ram.command(QXL_CMD_CURSOR, ram.at_end(sizeof(QXLCursorCmd) - 1))),
                "outside slot");
  auto* img = ram.at_end(sizeof(QXLImageDescriptor) + 4);
  std::memset(img, 0, sizeof(QXLImageDescriptor) + 4);  // type BITMAP, bitmap cut short
  auto* dc = ram.drawable(QXL_DRAW_COPY, qrect(0, 0, 1, 1));
  dc->u.copy.src_bitmap = ram.addr(img);
  EXPECT_REASON(parse_draw(dc), "bitmap");
}

TEST_F(QxlHostile, GlyphsAndPathsOverrunningTheirData) {
  auto* s = make_string(ram, SPICE_STRING_FLAGS_RASTER_A8, {{4, 4, {1, 2, 3}}});
  auto* d = ram.drawable(QXL_DRAW_TEXT, qrect(0, 0, 10, 10));
  d->u.text.str = ram.addr(s);
  EXPECT_REASON(parse_draw(d), "overruns");
  auto* s2 = make_string(ram, SPICE_STRING_FLAGS_RASTER_A8, {{1, 1, {1}}});
  s2->length = 2;
  d->u.text.str = ram.addr(s2);
  EXPECT_REASON(parse_draw(d), "length 2 but 1 glyphs");
  s2->length = 1;
  s2->flags = 0;
  EXPECT_REASON(parse_draw(d), "no raster format");

  std::vector<uint8_t> seg(sizeof(QXLPathSeg) + sizeof(QXLPointFix));
  reinterpret_cast<QXLPathSeg*>(seg.data())->count = 1000;
  auto* path = ram.alloc<QXLPath>(seg.size());
  ram.fill_chunk(&path->chunk, seg);
  auto* st = ram.drawable(QXL_DRAW_STROKE, qrect(0, 0, 10, 10));
  st->u.stroke.path = ram.addr(path);
  EXPECT_REASON(parse_draw(st), "overruns");
}

TEST_F(QxlHostile, GlyphAndPathCaps) {
  limits.max_glyphs = 2;
  auto* s = make_string(ram, SPICE_STRING_FLAGS_RASTER_A8, {{1, 1, {1}}, {1, 1, {1}}, {1, 1, {1}}});
  auto* d = ram.drawable(QXL_DRAW_TEXT, qrect(0, 0, 10, 10));
  d->u.text.str = ram.addr(s);
  EXPECT_REASON(parse_draw(d), "exceed 2");

  limits.max_path_segments = 1;
  std::vector<uint8_t> segs(2 * sizeof(QXLPathSeg));
  auto* path = ram.alloc<QXLPath>(segs.size());
  ram.fill_chunk(&path->chunk, segs);
  auto* st = ram.drawable(QXL_DRAW_STROKE, qrect(0, 0, 10, 10));
  st->u.stroke.path = ram.addr(path);
  EXPECT_REASON(parse_draw(st), "more than 1 segments");
}

TEST_F(QxlHostile, OffsetCannotCarryIntoTheSlotBits) {
  // A string struct whose embedded chunk would lie past the address bits: the offset must
  // not wrap into the generation/slot bits.
  const uint64_t top = ~uint64_t{0} >> 16;  // the last address-bit value
  QXLCommandExt ext = ram.command(QXL_CMD_DRAW, nullptr);
  auto* d = ram.drawable(QXL_DRAW_TEXT, qrect(0, 0, 10, 10));
  d->u.text.str = ram.slots().make_address(GuestRam::kSlot, GuestRam::kGeneration, top);
  ext.cmd.data = ram.addr(d);
  auto c = parse(ext);
  EXPECT_FALSE(c.ok());
  EXPECT_NE(c.release.info, nullptr);
}

}  // namespace
}  // namespace spiceflow::qxl
