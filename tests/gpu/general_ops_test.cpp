// The general IR ops the CPU backend draws through its fast paths, and clip-rect lists.
#include <gtest/gtest.h>
#include <spice/enums.h>

#include "spiceflow/gpu/raster.hpp"

namespace spiceflow::gpu {
namespace {

std::unique_ptr<RasterBackend> make_surface(uint32_t id, Size size) {
  auto r = make_raster("cpu");
  EXPECT_TRUE(r.ok());
  EXPECT_TRUE((*r)->create_surface(id, size).ok());
  return std::move(*r);
}

void paint_gradient(RasterBackend& r, uint32_t id, Size size) {
  auto img = std::make_shared<Image>(size.width, size.height);
  for (int y = 0; y < size.height; ++y)
    for (int x = 0; x < size.width; ++x) img->row(y)[x] = rgb(uint8_t(x * 7), uint8_t(y * 11), 90);
  ASSERT_TRUE(r.apply({id, {}, BlitOp{Rect::from_size(size), img, {0, 0}}}).ok());
}

TEST(GeneralOps, CopyFromAnotherSurface) {
  auto r = make_surface(0, {32, 32});
  ASSERT_TRUE(r->create_surface(5, {16, 16}).ok());
  paint_gradient(*r, 5, {16, 16});
  CopyOp c;
  c.box = {10, 12, 8, 6};
  c.src.surface_id = 5;
  c.src_area = {4, 3, 8, 6};
  c.rop_descriptor = SPICE_ROPD_OP_PUT;
  auto d = r->apply({0, {}, c});
  ASSERT_TRUE(d.ok()) << d.error().message;
  EXPECT_EQ(*d, c.box);
  for (int y = 0; y < 6; ++y)
    for (int x = 0; x < 8; ++x)
      EXPECT_EQ(r->view(0).pixel(10 + x, 12 + y), r->view(5).pixel(4 + x, 3 + y));
}

TEST(GeneralOps, OverlappingCopyWithinOneSurfaceReadsTheOldPixels) {
  auto r = make_surface(0, {32, 32});
  paint_gradient(*r, 0, {32, 32});
  const Image before = Image::copy_of(r->view(0), Rect{0, 0, 32, 32});
  CopyOp c;
  c.box = {2, 2, 20, 20};
  c.src.surface_id = 0;
  c.src_area = {0, 0, 20, 20};
  c.rop_descriptor = SPICE_ROPD_OP_PUT;
  ASSERT_TRUE(r->apply({0, {}, c}).ok());
  for (int y = 0; y < 20; ++y)
    for (int x = 0; x < 20; ++x) EXPECT_EQ(r->view(0).pixel(2 + x, 2 + y), before.pixel(x, y));
}

TEST(GeneralOps, CopyFromMissingSurfaceOrOutsideIsAnError) {
  auto r = make_surface(0, {32, 32});
  CopyOp c;
  c.box = {0, 0, 8, 8};
  c.src.surface_id = 9;
  c.src_area = {0, 0, 8, 8};
  c.rop_descriptor = SPICE_ROPD_OP_PUT;
  EXPECT_FALSE(r->apply({0, {}, c}).ok());
  c.src.surface_id = 0;
  c.src_area = {28, 28, 8, 8};
  EXPECT_FALSE(r->apply({0, {}, c}).ok());
}

TEST(GeneralOps, SolidBrushFillAndBlackness) {
  auto r = make_surface(0, {16, 16});
  BrushFillOp f;
  f.box = {1, 1, 4, 4};
  f.brush.kind = Brush::Kind::solid;
  f.brush.color = rgb(10, 20, 30);
  f.rop_descriptor = SPICE_ROPD_OP_PUT;
  ASSERT_TRUE(r->apply({0, {}, f}).ok());
  EXPECT_EQ(r->view(0).pixel(2, 2), rgb(10, 20, 30));
  SolidRopOp w{SolidRopOp::Kind::whiteness, {0, 0, 2, 2}, {}};
  ASSERT_TRUE(r->apply({0, {}, w}).ok());
  EXPECT_EQ(r->view(0).pixel(1, 1), 0xffffffffu);
  SolidRopOp b{SolidRopOp::Kind::blackness, {0, 0, 16, 16}, {}};
  ASSERT_TRUE(r->apply({0, {}, b}).ok());
  EXPECT_EQ(r->view(0).pixel(2, 2), 0xff000000u);
}

TEST(GeneralOps, ClipRectsLimitDrawing) {
  auto r = make_surface(0, {16, 16});
  DrawCommand cmd{0, {}, FillOp{{0, 0, 16, 16}, rgb(200, 0, 0)}, {{0, 0, 4, 4}, {8, 8, 4, 4}}};
  auto d = r->apply(cmd);
  ASSERT_TRUE(d.ok());
  EXPECT_EQ(*d, (Rect{0, 0, 12, 12}));
  EXPECT_EQ(r->view(0).pixel(1, 1), rgb(200, 0, 0));
  EXPECT_EQ(r->view(0).pixel(9, 9), rgb(200, 0, 0));
  EXPECT_EQ(r->view(0).pixel(5, 5), 0xff000000u);
}

TEST(GeneralOps, CopyBitsWithOverlappingClipRectsReadsASnapshot) {
  auto r = make_surface(0, {16, 16});
  paint_gradient(*r, 0, {16, 16});
  const Image before = Image::copy_of(r->view(0), Rect{0, 0, 16, 16});
  // Scroll up by 2 through two overlapping clip rects: each destination pixel must come
  // from the picture before the command, not from a pixel the other rect already moved.
  DrawCommand cmd{0, {}, CopyBitsOp{{0, 0, 16, 14}, {0, 2}}, {{0, 0, 16, 8}, {0, 4, 16, 10}}};
  ASSERT_TRUE(r->apply(cmd).ok());
  for (int y = 0; y < 14; ++y)
    for (int x = 0; x < 16; ++x) ASSERT_EQ(r->view(0).pixel(x, y), before.pixel(x, y + 2)) << x << "," << y;
}

}  // namespace
}  // namespace spiceflow::gpu

namespace spiceflow::gpu {
namespace {

// A general (non-PUT) copy reads a surface operand exactly as it reads the same pixels
// given as an image: the snapshot of the source area is placed right.
TEST(GeneralOps, XorCopyFromSurfaceEqualsXorCopyFromImage) {
  auto a = make_surface(0, {48, 40});
  auto b = make_surface(0, {48, 40});
  for (auto* r : {a.get(), b.get()}) {
    ASSERT_TRUE(r->create_surface(3, {40, 30}).ok());
    paint_gradient(*r, 3, {40, 30});
    paint_gradient(*r, 0, {48, 40});
  }
  const Image src = Image::copy_of(a->view(3), Rect{0, 0, 40, 30});
  CopyOp from_surface;
  from_surface.box = {5, 6, 20, 12};
  from_surface.src.surface_id = 3;
  from_surface.src_area = {11, 9, 20, 12};
  from_surface.rop_descriptor = SPICE_ROPD_OP_XOR;
  CopyOp from_image = from_surface;
  from_image.src.surface_id.reset();
  from_image.src.image = std::make_shared<Image>(src);
  ASSERT_TRUE(a->apply({0, {}, from_surface}).ok());
  ASSERT_TRUE(b->apply({0, {}, from_image}).ok());
  for (int y = 0; y < 40; ++y)
    for (int x = 0; x < 48; ++x) ASSERT_EQ(a->view(0).pixel(x, y), b->view(0).pixel(x, y)) << x << "," << y;
}

}  // namespace
}  // namespace spiceflow::gpu
