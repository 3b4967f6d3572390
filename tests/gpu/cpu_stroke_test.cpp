// DRAW_STROKE on the CPU backend against a model written here, X11's zero-width line loop
// (the error-term Bresenham of mi's miZeroLine, with its octant bias and CapNotLast, each
// segment drawn in turn with the fore rop), and against golden pixels recorded from the
// SPICE client's own line code for solid and dashed lines.
#include <gtest/gtest.h>
#include <spice/enums.h>

#include <functional>
#include <random>

#include "spiceflow/gpu/raster.hpp"

namespace spiceflow::gpu {
namespace {

constexpr uint32_t kX = 0xff000000u;
constexpr uint32_t kBase = 0xff203040u;

// X's octant flags and its default bias (octants 2-5 do not step the minor axis on a tie).
constexpr unsigned kXDec = 4, kYDec = 2, kYMaj = 1;
constexpr unsigned kBias = (1u << (kYDec | kYMaj)) | (1u << (kXDec | kYDec | kYMaj)) | (1u << (kXDec | kYDec)) |
                           (1u << kXDec);

// The pixels of one zero-width segment, without its end point, in drawing order.
std::vector<Point> x_zero_line(Point a, Point b) {
  std::vector<Point> out;
  int adx = b.x - a.x, ady = b.y - a.y, sx = 1, sy = 1;
  unsigned octant = 0;
  if (adx < 0) adx = -adx, sx = -1, octant |= kXDec;
  if (ady < 0) ady = -ady, sy = -1, octant |= kYDec;
  int x = a.x, y = a.y;
  if (adx > ady) {
    const int e1 = ady * 2, e2 = e1 - adx * 2, e3 = e2 - e1;
    int e = e1 - adx - int((kBias >> octant) & 1);
    e -= e1;
    for (int n = adx; n > 0; --n) {
      out.push_back({x, y});
      e += e1;
      if (e >= 0) y += sy, e += e3;
      x += sx;
    }
  } else {
    octant |= kYMaj;
    const int e1 = adx * 2, e2 = e1 - ady * 2, e3 = e2 - e1;
    int e = e1 - ady - int((kBias >> octant) & 1);
    e -= e1;
    for (int n = ady; n > 0; --n) {
      out.push_back({x, y});
      e += e1;
      if (e >= 0) x += sx, e += e3;
      y += sy;
    }
  }
  return out;
}

Point fix(int x, int y) { return {x * 16, y * 16}; }

class CpuStroke : public ::testing::Test {
 protected:
  void SetUp() override {
    auto r = make_raster("cpu");
    ASSERT_TRUE(r.ok());
    r_ = std::move(*r);
  }
  Image reset(Size size) {
    EXPECT_TRUE(r_->create_surface(0, size).ok());
    EXPECT_TRUE(r_->apply({0, {}, FillOp{Rect::from_size(size), kBase}, {}}).ok());
    return Image::copy_of(r_->view(0), Rect::from_size(size));
  }
  void expect_surface(const Image& expected, const std::string& what) {
    const ImageView v = r_->view(0);
    int bad = 0;
    for (int y = 0; y < v.height; ++y)
      for (int x = 0; x < v.width; ++x)
        if (v.pixel(x, y) != expected.pixel(x, y) && bad++ < 3)
          ADD_FAILURE() << what << ": (" << x << ", " << y << ") is 0x" << std::hex << v.pixel(x, y)
                        << ", expected 0x" << expected.pixel(x, y);
  }
  std::unique_ptr<RasterBackend> r_;
};

StrokeOp polyline(const std::vector<Point>& pts, uint16_t fore_mode, uint32_t color, Rect box) {
  StrokeOp op;
  op.box = box;
  PathSegment seg;
  seg.flags = SPICE_PATH_BEGIN | SPICE_PATH_END;
  for (Point p : pts) seg.points.push_back(fix(p.x, p.y));
  op.path.push_back(seg);
  op.brush.kind = Brush::Kind::solid;
  op.brush.color = color;
  op.fore_mode = fore_mode;
  return op;
}

TEST_F(CpuStroke, ZeroWidthPolylinesMatchXsLineLoopInEveryOctant) {
  std::mt19937 rng(7);
  auto uni = [&](int lo, int hi) { return std::uniform_int_distribution<int>(lo, hi)(rng); };
  const Size size{37, 29};
  for (int round = 0; round < 400; ++round) {
    Image expected = reset(size);
    std::vector<Point> pts;
    const int n = uni(2, 5);
    for (int i = 0; i < n; ++i) pts.push_back({uni(-20, 56), uni(-20, 48)});
    if (round % 10 == 0) pts.push_back(pts.back());  // a zero-length segment
    const bool xor_mode = round % 2 == 1;
    const Rect box = round % 3 == 0 ? Rect{3, 2, 30, 20} : Rect::from_size(size);
    const Rect clip = round % 5 == 0 ? Rect{5, 5, 20, 15} : Rect{};
    StrokeOp op = polyline(pts, xor_mode ? SPICE_ROPD_OP_XOR : SPICE_ROPD_OP_PUT, 0x00ff8800u, box);
    auto r = r_->apply({0, clip, op, {}});
    ASSERT_TRUE(r.ok()) << r.error().message;
    const Rect area = intersect(intersect(box, Rect::from_size(size)), clip.empty() ? Rect::from_size(size) : clip);
    for (int i = 1; i < n + (round % 10 == 0 ? 1 : 0); ++i) {
      for (Point p : x_zero_line(pts[size_t(i - 1)], pts[size_t(i)])) {
        if (!area.contains(Rect{p.x, p.y, 1, 1})) continue;
        uint32_t& d = expected.row(p.y)[p.x];
        d = (xor_mode ? d ^ 0x00ff8800u : 0x00ff8800u) | kX;
      }
    }
    expect_surface(expected, "round " + std::to_string(round));
    if (HasFailure()) return;
  }
}

TEST_F(CpuStroke, FixedPointRoundsAboveOneHalfUp) {
  Image expected = reset({10, 4});
  StrokeOp op;
  op.box = {0, 0, 10, 4};
  PathSegment seg;
  seg.flags = SPICE_PATH_BEGIN | SPICE_PATH_END;
  seg.points = {{1 * 16 + 8, 1 * 16 + 9}, {8 * 16 + 9, 1 * 16 + 7}};  // (1, 2) -> (9, 1)
  op.path.push_back(seg);
  op.brush.kind = Brush::Kind::solid;
  op.brush.color = 0x0000ff00u;
  op.fore_mode = SPICE_ROPD_OP_PUT;
  ASSERT_TRUE(r_->apply({0, {}, op, {}}).ok());
  for (Point p : x_zero_line({1, 2}, {9, 1})) expected.row(p.y)[p.x] = 0xff00ff00u;
  expect_surface(expected, "rounding");
}

TEST_F(CpuStroke, ClosedSubpathsAndSeparateSubpaths) {
  Image expected = reset({20, 20});
  StrokeOp op;
  op.box = {0, 0, 20, 20};
  op.brush.kind = Brush::Kind::solid;
  op.brush.color = 0x00ffffffu;
  op.fore_mode = SPICE_ROPD_OP_XOR;
  PathSegment a;
  a.flags = SPICE_PATH_BEGIN;
  a.points = {fix(2, 2), fix(12, 3)};
  PathSegment b;
  b.flags = SPICE_PATH_END | SPICE_PATH_CLOSE;
  b.points = {fix(8, 14)};
  PathSegment c;
  c.flags = SPICE_PATH_BEGIN | SPICE_PATH_END;
  c.points = {fix(0, 10), fix(19, 10)};
  op.path = {a, b, c};
  ASSERT_TRUE(r_->apply({0, {}, op, {}}).ok());
  const std::vector<std::pair<Point, Point>> segs = {
      {{2, 2}, {12, 3}}, {{12, 3}, {8, 14}}, {{8, 14}, {2, 2}}, {{0, 10}, {19, 10}}};
  for (auto [p, q] : segs)
    for (Point s : x_zero_line(p, q)) expected.row(s.y)[s.x] = (expected.pixel(s.x, s.y) ^ 0x00ffffffu) | kX;
  expect_surface(expected, "closed");
}

TEST_F(CpuStroke, StraightBezierFlattensToItsChord) {
  Image expected = reset({40, 20});
  StrokeOp op;
  op.box = {0, 0, 40, 20};
  op.brush.kind = Brush::Kind::solid;
  op.brush.color = 0x00123456u;
  op.fore_mode = SPICE_ROPD_OP_PUT;
  PathSegment a;
  a.flags = SPICE_PATH_BEGIN;
  a.points = {fix(1, 1)};
  PathSegment b;
  b.flags = SPICE_PATH_BEZIER | SPICE_PATH_END;
  b.points = {fix(13, 7), fix(25, 13), fix(37, 19)};  // control points on the chord
  op.path = {a, b};
  ASSERT_TRUE(r_->apply({0, {}, op, {}}).ok());
  for (Point s : x_zero_line({1, 1}, {37, 19})) expected.row(s.y)[s.x] = 0xff123456u;
  expect_surface(expected, "bezier chord");
}

TEST_F(CpuStroke, CurvedBezierStaysInsideItsHullAndIsConnected) {
  reset({64, 64});
  StrokeOp op;
  op.box = {0, 0, 64, 64};
  op.brush.kind = Brush::Kind::solid;
  op.brush.color = 0x00ffffffu;
  op.fore_mode = SPICE_ROPD_OP_PUT;
  PathSegment s;
  s.flags = SPICE_PATH_BEGIN | SPICE_PATH_BEZIER | SPICE_PATH_END;
  s.points = {fix(2, 60), fix(2, 2), fix(60, 2), fix(60, 60)};
  op.path = {s};
  auto r = r_->apply({0, {}, op, {}});
  ASSERT_TRUE(r.ok());
  const ImageView v = r_->view(0);
  int drawn = 0;
  for (int y = 0; y < 64; ++y)
    for (int x = 0; x < 64; ++x)
      if (v.pixel(x, y) != kBase) {
        ++drawn;
        EXPECT_TRUE(x >= 2 && x <= 60 && y >= 2 && y <= 60) << x << "," << y;
        // 8-connected to another drawn pixel.
        bool near = false;
        for (int dy = -1; dy <= 1; ++dy)
          for (int dx = -1; dx <= 1; ++dx)
            if ((dx || dy) && x + dx >= 0 && y + dy >= 0 && x + dx < 64 && y + dy < 64 &&
                v.pixel(x + dx, y + dy) != kBase)
              near = true;
        EXPECT_TRUE(near) << x << "," << y;
      }
  EXPECT_GT(drawn, 100);
  EXPECT_EQ(v.pixel(2, 60), 0xffffffffu);  // starts at its first point
}

TEST_F(CpuStroke, PatternBrushAndRopDescriptors) {
  Image expected = reset({16, 16});
  auto tile = std::make_shared<Image>(3, 2);
  for (int y = 0; y < 2; ++y)
    for (int x = 0; x < 3; ++x) tile->row(y)[x] = 0x00010203u * uint32_t(1 + x + 3 * y);
  StrokeOp op = polyline({{0, 3}, {15, 12}}, SPICE_ROPD_OP_OR | SPICE_ROPD_INVERS_BRUSH, 0, {0, 0, 16, 16});
  op.brush.kind = Brush::Kind::pattern;
  op.brush.pattern.image = tile;
  op.brush.pattern_pos = {1, 1};
  ASSERT_TRUE(r_->apply({0, {}, op, {}}).ok());
  for (Point p : x_zero_line({0, 3}, {15, 12})) {
    const uint32_t t = tile->pixel(((p.x - 1) % 3 + 3) % 3, ((p.y - 1) % 2 + 2) % 2);
    expected.row(p.y)[p.x] = (~t | expected.pixel(p.x, p.y)) | kX;
  }
  expect_surface(expected, "pattern stroke");
}

TEST_F(CpuStroke, ClipRectListsDrawEachPixelOnce) {
  Image expected = reset({20, 20});
  StrokeOp op = polyline({{0, 0}, {19, 19}}, SPICE_ROPD_OP_XOR, 0x00ffffffu, {0, 0, 20, 20});
  const std::vector<Rect> rects = {{0, 0, 10, 10}, {5, 5, 10, 10}};
  ASSERT_TRUE(r_->apply({0, {}, op, rects}).ok());
  for (Point p : x_zero_line({0, 0}, {19, 19}))
    if (p.x < 15) expected.row(p.y)[p.x] = (expected.pixel(p.x, p.y) ^ 0x00ffffffu) | kX;
  expect_surface(expected, "clip rects");
}

// Golden pixels: what the SPICE client's own line code (spice-common common/lines.c,
// spice_canvas_zero_line with CapNotLast, as canvas_draw_stroke calls it) draws for these
// polylines on a 32x24 canvas with a xor rop (a pixel drawn twice is clear), one bit per
// pixel, row by row. Recorded once from that code; points off the canvas exercise its
// clipping.
struct GoldenLine {
  std::vector<Point> points;
  uint32_t rows[24];
};
const GoldenLine kClientLines[] = {
  {{{1, 1}, {30, 9}, {4, 22}, {1, 1}},
   {0x00000000u, 0x00000006u, 0x0000007au, 0x00000782u, 0x00003802u, 0x0003c004u,
    0x001c0004u, 0x01e00004u, 0x1e000004u, 0x40000004u, 0x18000004u, 0x06000004u,
    0x01800008u, 0x00600008u, 0x00180008u, 0x00060008u, 0x00018008u, 0x00006008u,
    0x00001808u, 0x00000610u, 0x00000190u, 0x00000070u, 0x00000010u, 0x00000000u}},
  {{{31, 0}, {0, 23}},
   {0x80000000u, 0x60000000u, 0x10000000u, 0x08000000u, 0x06000000u, 0x01000000u,
    0x00800000u, 0x00600000u, 0x00100000u, 0x00080000u, 0x00060000u, 0x00010000u,
    0x00008000u, 0x00006000u, 0x00001000u, 0x00000800u, 0x00000600u, 0x00000100u,
    0x00000080u, 0x00000060u, 0x00000010u, 0x00000008u, 0x00000006u, 0x00000000u}},
  {{{-10, 5}, {40, 17}, {16, -8}, {16, 30}},
   {0x01010000u, 0x02010000u, 0x04010000u, 0x08010000u, 0x10010000u, 0x10010000u,
    0x20010000u, 0x40010001u, 0x8001001eu, 0x000101e0u, 0x00011e00u, 0x0002e000u,
    0x003d0000u, 0x03c10000u, 0x3c010000u, 0xc0010000u, 0x00010000u, 0x00010000u,
    0x00010000u, 0x00010000u, 0x00010000u, 0x00010000u, 0x00010000u, 0x00010000u}},
  {{{2, 20}, {29, 20}, {29, 3}, {2, 3}, {2, 20}},
   {0x00000000u, 0x00000000u, 0x00000000u, 0x3ffffffcu, 0x20000004u, 0x20000004u,
    0x20000004u, 0x20000004u, 0x20000004u, 0x20000004u, 0x20000004u, 0x20000004u,
    0x20000004u, 0x20000004u, 0x20000004u, 0x20000004u, 0x20000004u, 0x20000004u,
    0x20000004u, 0x20000004u, 0x3ffffffcu, 0x00000000u, 0x00000000u, 0x00000000u}},
  {{{5, 5}, {6, 20}, {7, 5}, {25, 6}, {5, 7}},
   {0x00000000u, 0x00000000u, 0x00000000u, 0x00000000u, 0x00000000u, 0x0000ffa0u,
    0x020080a0u, 0x00007f60u, 0x000000a0u, 0x000000a0u, 0x000000a0u, 0x000000a0u,
    0x000000a0u, 0x00000000u, 0x00000000u, 0x00000000u, 0x00000000u, 0x00000000u,
    0x00000000u, 0x00000000u, 0x00000040u, 0x00000000u, 0x00000000u, 0x00000000u}},
  {{{-100, -37}, {60, 50}},
   {0x00000000u, 0x00000000u, 0x00000000u, 0x00000000u, 0x00000000u, 0x00000000u,
    0x00000000u, 0x00000000u, 0x00000000u, 0x00000000u, 0x00000000u, 0x00000000u,
    0x00000000u, 0x00000000u, 0x00000000u, 0x00000000u, 0x00000000u, 0x00000001u,
    0x00000006u, 0x00000008u, 0x00000030u, 0x000000c0u, 0x00000300u, 0x00000c00u}},
  {{{0, 12}, {31, 11}, {0, 10}, {31, 13}},
   {0x00000000u, 0x00000000u, 0x00000000u, 0x00000000u, 0x00000000u, 0x00000000u,
    0x00000000u, 0x00000000u, 0x00000000u, 0x00000000u, 0x0000ffc1u, 0x8000ffc0u,
    0x03ffffffu, 0x7c000000u, 0x00000000u, 0x00000000u, 0x00000000u, 0x00000000u,
    0x00000000u, 0x00000000u, 0x00000000u, 0x00000000u, 0x00000000u, 0x00000000u}},
  {{{20, 2}, {3, 19}, {3, 18}, {22, 18}},
   {0x00000000u, 0x00000000u, 0x00100000u, 0x00080000u, 0x00040000u, 0x00020000u,
    0x00010000u, 0x00008000u, 0x00004000u, 0x00002000u, 0x00001000u, 0x00000800u,
    0x00000400u, 0x00000200u, 0x00000100u, 0x00000080u, 0x00000040u, 0x00000020u,
    0x003fffe8u, 0x00000008u, 0x00000000u, 0x00000000u, 0x00000000u, 0x00000000u}},
};

TEST_F(CpuStroke, SolidLinesMatchTheClientsPixels) {
  for (const GoldenLine& g : kClientLines) {
    reset({32, 24});
    StrokeOp op = polyline(g.points, SPICE_ROPD_OP_XOR, 0x00ffffffu, {0, 0, 32, 24});
    ASSERT_TRUE(r_->apply({0, {}, op, {}}).ok());
    const ImageView v = r_->view(0);
    for (int y = 0; y < 24; ++y) {
      uint32_t row = 0;
      for (int x = 0; x < 32; ++x)
        if (v.pixel(x, y) != kBase) row |= 1u << x;
      EXPECT_EQ(row, g.rows[y]) << "row " << y << " of the line from (" << g.points[0].x << ", " << g.points[0].y << ")";
    }
  }
}

// The same for dashed strokes (the client's spice_canvas_zero_dash_line, X's wide-dash code
// at width 1, set up as canvas_draw_stroke does, START_WITH_GAP included): polylines of
// horizontal and vertical segments, single slanted segments, and slanted polylines whose
// joins are not sharp (we draw no miter tips; see gpu/README.md); xor rop (each pixel is
// drawn once). Dash lengths in pixels.
struct GoldenDashes {
  std::vector<Point> points;
  std::vector<int> dash;
  bool start_with_gap;
  uint32_t rows[24];
};
const GoldenDashes kClientDashes[] = {
  {{{1, 2}, {30, 2}, {30, 20}, {3, 20}, {3, 4}},
   {3, 2}, false,
   {0x00000000u, 0x00000000u, 0x1ce739ceu, 0x40000000u, 0x40000000u, 0x40000000u,
    0x00000008u, 0x00000008u, 0x40000008u, 0x40000000u, 0x40000000u, 0x00000008u,
    0x00000008u, 0x40000008u, 0x40000000u, 0x40000000u, 0x00000008u, 0x00000008u,
    0x40000008u, 0x40000000u, 0x6739ce70u, 0x00000000u, 0x00000000u, 0x00000000u}},
  {{{28, 22}, {28, 1}, {2, 1}, {2, 22}, {20, 22}},
   {5, 6, 3}, false,
   {0x00000000u, 0x00ff03fcu, 0x00000000u, 0x10000000u, 0x10000000u, 0x10000000u,
    0x10000000u, 0x10000004u, 0x10000004u, 0x10000004u, 0x10000004u, 0x00000004u,
    0x00000004u, 0x00000004u, 0x00000004u, 0x00000000u, 0x00000000u, 0x10000000u,
    0x10000000u, 0x10000000u, 0x10000000u, 0x10000004u, 0x000f81fcu, 0x00000000u}},
  {{{-5, 10}, {40, 10}, {15, 10}, {15, -3}, {15, 30}},
   {1}, false,
   {0x00008000u, 0x00008000u, 0x00008000u, 0x00008000u, 0x00008000u, 0x00008000u,
    0x00008000u, 0x00008000u, 0x00008000u, 0x00008000u, 0xffffffffu, 0x00008000u,
    0x00008000u, 0x00008000u, 0x00008000u, 0x00008000u, 0x00008000u, 0x00008000u,
    0x00008000u, 0x00008000u, 0x00008000u, 0x00008000u, 0x00008000u, 0x00008000u}},
  {{{31, 5}, {0, 5}, {0, 15}, {31, 15}, {31, 8}, {10, 8}},
   {2, 1, 1, 3}, false,
   {0x00000000u, 0x00000000u, 0x00000000u, 0x00000000u, 0x00000000u, 0x68d1a347u,
    0x00000000u, 0x00000000u, 0xa3468c00u, 0x80000001u, 0x00000001u, 0x00000000u,
    0x00000001u, 0x80000000u, 0x00000000u, 0x62c58b16u, 0x00000000u, 0x00000000u,
    0x00000000u, 0x00000000u, 0x00000000u, 0x00000000u, 0x00000000u, 0x00000000u}},
  {{{4, 23}, {4, 0}, {25, 0}, {25, 23}},
   {4}, false,
   {0x03fffff0u, 0x02000010u, 0x02000010u, 0x02000010u, 0x02000010u, 0x02000010u,
    0x02000010u, 0x02000010u, 0x02000010u, 0x02000010u, 0x02000010u, 0x02000010u,
    0x02000010u, 0x02000010u, 0x02000010u, 0x02000010u, 0x02000010u, 0x02000010u,
    0x02000010u, 0x02000010u, 0x02000010u, 0x02000010u, 0x02000010u, 0x00000000u}},
  {{{1, 1}, {30, 9}},
   {3, 2}, false,
   {0x00000000u, 0x00000006u, 0x00000048u, 0x00000180u, 0x00003800u, 0x00030000u,
    0x00240000u, 0x00e00000u, 0x1c000000u, 0x00000000u, 0x00000000u, 0x00000000u,
    0x00000000u, 0x00000000u, 0x00000000u, 0x00000000u, 0x00000000u, 0x00000000u,
    0x00000000u, 0x00000000u, 0x00000000u, 0x00000000u, 0x00000000u, 0x00000000u}},
  {{{30, 22}, {2, 3}},
   {5, 6, 3}, false,
   {0x00000000u, 0x00000000u, 0x00000000u, 0x00000000u, 0x00000018u, 0x00000020u,
    0x000000c0u, 0x00000100u, 0x00000200u, 0x00000000u, 0x00000000u, 0x00000000u,
    0x00018000u, 0x00030000u, 0x000c0000u, 0x00180000u, 0x00000000u, 0x00000000u,
    0x00000000u, 0x04000000u, 0x08000000u, 0x30000000u, 0x00000000u, 0x00000000u}},
  {{{-5, 30}, {36, -4}},
   {2, 1, 1, 3}, true,
   {0x00000000u, 0x40000000u, 0x30000000u, 0x08000000u, 0x08000000u, 0x00000000u,
    0x01000000u, 0x00800000u, 0x00600000u, 0x00000000u, 0x00080000u, 0x00040000u,
    0x00010000u, 0x00010000u, 0x00004000u, 0x00002000u, 0x00001000u, 0x00000800u,
    0x00000000u, 0x00000300u, 0x00000080u, 0x00000000u, 0x00000000u, 0x00000008u}},
  {{{16, 0}, {11, 23}},
   {4, 2}, true,
   {0x00000000u, 0x00000000u, 0x00000000u, 0x00000000u, 0x00008000u, 0x00008000u,
    0x00000000u, 0x00000000u, 0x00000000u, 0x00000000u, 0x00004000u, 0x00004000u,
    0x00000000u, 0x00000000u, 0x00000000u, 0x00000000u, 0x00002000u, 0x00001000u,
    0x00000000u, 0x00000000u, 0x00000000u, 0x00000000u, 0x00000800u, 0x00000800u}},
  {{{1, 20}, {30, 20}, {30, 2}, {3, 2}},
   {3, 2, 2}, true,
   {0x00000000u, 0x00000000u, 0x73e7cf98u, 0x40000000u, 0x40000000u, 0x00000000u,
    0x00000000u, 0x40000000u, 0x40000000u, 0x40000000u, 0x40000000u, 0x40000000u,
    0x00000000u, 0x00000000u, 0x40000000u, 0x40000000u, 0x40000000u, 0x40000000u,
    0x40000000u, 0x00000000u, 0x1f3e7cf8u, 0x00000000u, 0x00000000u, 0x00000000u}},
  {{{2, 22}, {12, 2}, {29, 21}, {31, 3}},
   {4, 3, 2}, false,
   {0x00000000u, 0x00000000u, 0x00000000u, 0x00001800u, 0x80004800u, 0x80008c00u,
    0x80018400u, 0x80030600u, 0x40020000u, 0x40000000u, 0x00000000u, 0x00100180u,
    0x00200080u, 0x404000c0u, 0x40800040u, 0x40000060u, 0x40000000u, 0x24000000u,
    0x04000000u, 0x08000018u, 0x10000008u, 0x0000000cu, 0x00000004u, 0x00000000u}},
  {{{-4, 5}, {35, 12}, {20, 30}},
   {5, 2}, true,
   {0x00000000u, 0x00000000u, 0x00000000u, 0x00000000u, 0x00000000u, 0x00000000u,
    0x00000006u, 0x00000300u, 0x00008000u, 0x00010000u, 0x00c00000u, 0x60000000u,
    0x00000000u, 0x00000000u, 0x00000000u, 0x00000000u, 0x00000000u, 0x00000000u,
    0x40000000u, 0x00000000u, 0x00000000u, 0x00000000u, 0x00000000u, 0x04000000u}},
};

TEST_F(CpuStroke, DashesMatchTheClientsPixels) {
  for (const GoldenDashes& g : kClientDashes) {
    reset({32, 24});
    StrokeOp op = polyline(g.points, SPICE_ROPD_OP_XOR, 0x00ffffffu, {0, 0, 32, 24});
    op.line_flags = SPICE_LINE_FLAGS_STYLED | (g.start_with_gap ? SPICE_LINE_FLAGS_START_WITH_GAP : 0);
    for (int d : g.dash) op.style.push_back(uint32_t(d * 16));
    ASSERT_TRUE(r_->apply({0, {}, op, {}}).ok());
    const ImageView v = r_->view(0);
    for (int y = 0; y < 24; ++y) {
      uint32_t row = 0;
      for (int x = 0; x < 32; ++x)
        if (v.pixel(x, y) != kBase) row |= 1u << x;
      EXPECT_EQ(row, g.rows[y]) << "row " << y << " of the dashed line from (" << g.points[0].x << ", "
                                << g.points[0].y << ")";
    }
  }
}

TEST_F(CpuStroke, HostilePathsAreRejectedOrBounded) {
  const Image before = reset({32, 32});
  auto stroke = [](std::vector<PathSegment> path) {
    StrokeOp op;
    op.box = {0, 0, 32, 32};
    op.path = std::move(path);
    op.brush.kind = Brush::Kind::solid;
    op.fore_mode = SPICE_ROPD_OP_PUT;
    return op;
  };
  std::vector<std::pair<std::string, StrokeOp>> bad;
  bad.emplace_back("begin without a point", stroke({{SPICE_PATH_BEGIN, {}}}));
  bad.emplace_back("bezier without a start", stroke({{SPICE_PATH_BEZIER, {fix(1, 1), fix(2, 2), fix(3, 3)}}}));
  bad.emplace_back("bezier not in threes", stroke({{SPICE_PATH_BEGIN | SPICE_PATH_BEZIER, {fix(1, 1), fix(2, 2)}}}));
  StrokeOp styled = stroke({{SPICE_PATH_BEGIN | SPICE_PATH_END, {fix(0, 0), fix(9, 9)}}});
  styled.line_flags = SPICE_LINE_FLAGS_STYLED;
  bad.emplace_back("styled without a style", styled);
  styled.style = {0, 7, 256 * 16};  // all round to 0 or wrap to 0
  bad.emplace_back("only empty dashes", styled);
  StrokeOp pattern = stroke({{SPICE_PATH_BEGIN | SPICE_PATH_END, {fix(0, 0), fix(9, 9)}}});
  pattern.brush.kind = Brush::Kind::pattern;
  bad.emplace_back("pattern without image", pattern);
  StrokeOp overflow = pattern;
  overflow.brush.kind = Brush::Kind::solid;
  overflow.box = {INT32_MAX, 0, 5, 5};
  bad.emplace_back("box overflows", overflow);
  for (auto& [what, op] : bad) {
    EXPECT_FALSE(r_->apply({0, {}, op, {}}).ok()) << what;
    expect_surface(before, what);
  }
  // Far-away and degenerate geometry completes and draws only what lies on the surface.
  const std::vector<PathSegment> wild = {
      {SPICE_PATH_BEGIN | SPICE_PATH_END, {{INT32_MIN, INT32_MIN}, {INT32_MAX, INT32_MAX}, {INT32_MIN, 5 * 16}}},
      // A curve whose end points coincide: the client recurses without end here.
      {SPICE_PATH_BEGIN | SPICE_PATH_BEZIER | SPICE_PATH_END, {fix(5, 5), fix(30, 0), fix(0, 30), fix(5, 5)}},
      {SPICE_PATH_BEGIN | SPICE_PATH_BEZIER | SPICE_PATH_END,
       {{INT32_MIN, 0}, {INT32_MAX, INT32_MAX}, {INT32_MIN, INT32_MIN}, {INT32_MAX, 0}}},
  };
  for (const PathSegment& seg : wild) {
    auto r = r_->apply({0, {}, stroke({seg}), {}});
    ASSERT_TRUE(r.ok()) << r.error().message;
    EXPECT_TRUE(Rect::from_size({32, 32}).contains(*r) || r->empty());
  }
  StrokeOp huge_style = stroke({{SPICE_PATH_BEGIN | SPICE_PATH_END, {fix(0, 0), fix(31, 31)}}});
  huge_style.line_flags = SPICE_LINE_FLAGS_STYLED;
  huge_style.style.assign(255, 0x12345678u);  // each wraps to a 103-pixel dash
  EXPECT_TRUE(r_->apply({0, {}, huge_style, {}}).ok());
}

}  // namespace
}  // namespace spiceflow::gpu
