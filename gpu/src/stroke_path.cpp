// DRAW_STROKE's pixels, as the SPICE client draws them (canvas_draw_stroke); both backends
// draw what this walks (see stroke_path.hpp).
// The client strokes every path as X11 zero-width lines (lineWidth 0, CapNotLast: a segment
// never draws its end point), flattening Bezier curves first; each segment is drawn on its
// own, so a rop that is not idempotent (xor, invert) applies twice where segments meet or
// cross, as in the client.
//
// A zero-width line is X's Bresenham line with its tie-breaking bias per octant. Pixel j
// of a segment (0 <= j < major length) sits at major offset j and minor offset
// floor((2 * minor * j + major - bias) / (2 * major)), which is what X's error-term loop
// produces; evaluating it directly lets a segment with far-away end points (guest coordinates
// reach +-2^27) visit only the pixels inside the drawable area, with the same pixels as
// X's clipped line.
//
// Styled (dashed) lines: the client draws them with X's wide-line dash code at width 1 (a
// 1-pixel-wide polygon per dash, each pixel of a polyline once, dash lengths along the
// line). We draw each dash as that rectangle (pixel centres inside it, left edges kept) and
// the vertex pixel of a join that neither segment covers (flush_dashed): single segments and
// polylines of horizontal and vertical segments match the client pixel for pixel; the tips
// of sharp miter joins are not drawn (see gpu/README.md).
#include "stroke_path.hpp"

#include <spice/enums.h>

#include <algorithm>
#include <cmath>
#include <optional>
#include <string>
#include <vector>

#include "raster_util.hpp"

namespace spiceflow::gpu {
namespace {

// X's octant numbering (mi.h): bits for a decreasing x, a decreasing y, a y-major line.
constexpr uint32_t kXDecreasing = 4;
constexpr uint32_t kYDecreasing = 2;
constexpr uint32_t kYMajor = 1;
// X's default zero-line bias (DEFAULTZEROLINEBIAS): the octants in which a tie in the error
// term does not step the minor axis yet (octants 2, 3, 4 and 5).
constexpr uint32_t kZeroLineBias = (1u << (kYDecreasing | kYMajor)) |
                                   (1u << (kXDecreasing | kYDecreasing | kYMajor)) |
                                   (1u << (kXDecreasing | kYDecreasing)) | (1u << kXDecreasing);

// Bezier flattening halves a curve until it is flat to within half a pixel; a curve whose
// end points coincide never becomes "flat" by that test (the client recurses without end),
// so the depth is bounded: 2^16 pieces are far below a pixel for any 28.4 coordinates.
constexpr int kMaxBezierDepth = 16;

// SPICE's 28.4 -> integer rounding (the canvas's fix_to_int): a fraction above one half
// rounds up, one half and below rounds down.
int32_t fix_to_int(int32_t f) {
  int32_t v = f >> 4;
  if ((f & 0x0f) > 8) ++v;
  return v;
}

// An on/off dash list: `ends[i]` is where dash i ends within one period; even dashes are
// drawn. The list repeats as it is, odd length included (the client's lines.c does not
// alternate an odd list as X's protocol describes: [4] is a solid line, [5 6 3] is 5 on,
// 6 off, 3 on, then 5 on again).
struct Dashes {
  std::vector<int64_t> ends;
  int64_t offset = 0;

  bool on(int64_t pos) const {
    const int64_t period = ends.back();
    const int64_t p = (offset + pos) % period;
    const size_t i = size_t(std::upper_bound(ends.begin(), ends.end(), p) - ends.begin());
    return i % 2 == 0;
  }
  bool on_at(double pos) const {
    const double period = double(ends.back());
    double p = std::fmod(double(offset) + pos, period);
    if (p < 0) p += period;
    const size_t i = size_t(std::upper_bound(ends.begin(), ends.end(), p, [](double v, int64_t e) { return v < double(e); }) - ends.begin());
    return i % 2 == 0;
  }
  // Whether a dash starts exactly at `pos`.
  bool starts_at(double pos) const {
    const double p = std::fmod(double(offset) + pos, double(ends.back()));
    if (p != std::floor(p)) return false;
    return p == 0 || std::binary_search(ends.begin(), ends.end(), int64_t(p));
  }
};

// The dash list the client builds from the style (in 28.4): START_WITH_GAP rotates the
// first entry to the end and starts the pattern one entry in.
Result<Dashes> dashes_of(const StrokeOp& op) {
  if (op.style.empty()) return make_error("styled stroke without a style");
  // The client stores each dash in an unsigned char (X's dash list), so lengths wrap at 256.
  std::vector<int64_t> dash;
  for (uint32_t s : op.style) dash.push_back(uint8_t(fix_to_int(int32_t(s))));
  int64_t offset = 0;
  if (op.line_flags & SPICE_LINE_FLAGS_START_WITH_GAP) {
    std::rotate(dash.begin(), dash.begin() + 1, dash.end());
    offset = dash[0];
  }
  Dashes d;
  int64_t sum = 0;
  for (int64_t v : dash) d.ends.push_back(sum += v);
  if (sum == 0) return make_error("stroke style with only empty dashes");
  d.offset = offset % sum;
  return d;
}

int64_t floor_div(int64_t a, int64_t b) {  // b > 0
  return a >= 0 ? a / b : -((-a + b - 1) / b);
}

// One zero-width segment from a to b, without its end point. `dash_pos` is the dash
// position of the segment's first pixel; it advances by the segment's length.
void draw_segment(StrokeSink& pen, const Rect& r, Point a, Point b, const Dashes* dashes, double& dash_pos) {
  const int64_t dx = int64_t(b.x) - a.x;
  const int64_t dy = int64_t(b.y) - a.y;
  uint32_t octant = 0;
  if (dx < 0) octant |= kXDecreasing;
  if (dy < 0) octant |= kYDecreasing;
  const int64_t adx = dx < 0 ? -dx : dx;
  const int64_t ady = dy < 0 ? -dy : dy;
  const bool x_major = adx > ady;
  if (!x_major) octant |= kYMajor;
  const int64_t bias = (kZeroLineBias >> octant) & 1;
  const int64_t major = x_major ? adx : ady;
  const int64_t minor = x_major ? ady : adx;
  const double start_pos = dash_pos;
  // Dash positions run along the line (its length); the same as the major length for a
  // horizontal or vertical segment.
  const double seg_len = std::sqrt(double(dx) * double(dx) + double(dy) * double(dy));
  dash_pos += minor == 0 ? double(major) : seg_len;
  if (major == 0) return;
  const int64_t smaj = (x_major ? dx : dy) < 0 ? -1 : 1;
  const int64_t smin = (x_major ? dy : dx) < 0 ? -1 : 1;
  // A dashed axis-aligned segment covers the pixels of [start, end) in increasing
  // coordinates whichever way it runs (the client's 1-pixel-wide dash rectangles), so one
  // running left or up starts a pixel before its start point.
  const int64_t shift = dashes && minor == 0 && smaj < 0 ? -1 : 0;
  const int64_t maj0 = (x_major ? a.x : a.y) + shift;
  const int64_t min0 = x_major ? a.y : a.x;
  const int64_t maj_lo = x_major ? r.x : r.y;
  const int64_t maj_hi = (x_major ? r.right() : r.bottom()) - 1;
  const int64_t min_lo = x_major ? r.y : r.x;
  const int64_t min_hi = (x_major ? r.bottom() : r.right()) - 1;
  // The steps whose major coordinate is inside the area.
  int64_t j0 = smaj > 0 ? maj_lo - maj0 : maj0 - maj_hi;
  int64_t j1 = smaj > 0 ? maj_hi - maj0 : maj0 - maj_lo;
  j0 = std::max<int64_t>(j0, 0);
  j1 = std::min<int64_t>(j1, major - 1);
  if (dashes && minor != 0) {
    // A slanted dash is the client's 1-pixel-wide rectangle along the segment: the pixels
    // whose centres lie inside it, looked for one either side of the zero-width line's pixel
    // at each major step (the rectangle is never wider than that).
    const double len = seg_len;
    const bool left = dx < 0;
    for (int64_t j = std::max<int64_t>(j0 - 1, -1); j <= std::min<int64_t>(j1 + 1, major); ++j) {
      const int64_t mc = min0 + smin * floor_div(2 * minor * j + major - bias, 2 * major);
      for (int64_t m = mc - 1; m <= mc + 1; ++m) {
        const int64_t maj = maj0 + smaj * j;
        const int64_t px = x_major ? maj : m, py = x_major ? m : maj;
        if (px < r.x || py < r.y || px >= r.right() || py >= r.bottom()) continue;
        // Exact tests in integers: the centre's distance across the line below one half
        // (4 * cross^2 < len^2), its place along it inside the segment (0 <= dot < len^2).
        const int64_t rx = px - a.x, ry = py - a.y;
        const __int128 dot = __int128(rx) * dx + __int128(ry) * dy;
        const __int128 cross = __int128(rx) * dy - __int128(ry) * dx;
        const __int128 len2 = __int128(dx) * dx + __int128(dy) * dy;
        if (4 * cross * cross >= len2) continue;
        // The client's polygons keep pixels on their left edges: a segment running left
        // keeps its end and drops its start.
        if (left ? (dot <= 0 || dot > len2) : (dot < 0 || dot >= len2)) continue;
        const double along = double(dot) / len;
        const double pos = start_pos + along;
        if (!dashes->on_at(left ? std::nextafter(pos, -HUGE_VAL) : pos)) continue;
        pen.plot(int32_t(px), int32_t(py));
      }
    }
    return;
  }
  for (int64_t j = j0; j <= j1; ++j) {
    const int64_t m = min0 + smin * floor_div(2 * minor * j + major - bias, 2 * major);
    if (m < min_lo || m > min_hi) {
      // The minor coordinate only moves one way: once past the area it stays out.
      if ((smin > 0 && m > min_hi) || (smin < 0 && m < min_lo)) break;
      continue;
    }
    if (dashes && !dashes->on_at(start_pos + double(j))) continue;
    const int64_t maj = maj0 + smaj * j;
    if (x_major) pen.plot(int32_t(maj), int32_t(m));
    else pen.plot(int32_t(m), int32_t(maj));
  }
}

// The points of a polyline being built, flushed (drawn) at each new subpath and path end.
class Polyline {
 public:
  Polyline(StrokeSink& pen, const Rect& area, const Dashes* dashes) : pen_(pen), area_(area), dashes_(dashes) {}
  bool empty() const { return points_.empty(); }
  Point first() const { return points_.front(); }
  Point last() const { return points_.back(); }
  void add(Point p) { points_.push_back(p); }
  void add_fix(Point f) { points_.push_back({fix_to_int(f.x), fix_to_int(f.y)}); }

  // The client's flattening (canvas_base.c subdivide_bezier): a straight line when both
  // control points lie within half a pixel of the chord (squared distances compared in
  // 28.4), else halve at the midpoint (de Casteljau, C's truncating division).
  void add_bezier(Point p0, Point p1, Point p2, Point p3, int depth = 0) {
    using Wide = __int128;  // the client's int64 products overflow for far-apart points
    auto dot = [](int64_t x1, int64_t y1, int64_t x2, int64_t y2) { return (Wide(x1) * x2 + Wide(y1) * y2) >> 4; };
    const Wide a2 = dot(p1.x - p0.x, p1.y - p0.y, p1.x - p0.x, p1.y - p0.y);
    const Wide b2 = dot(int64_t(p3.x) - p0.x, int64_t(p3.y) - p0.y, int64_t(p3.x) - p0.x, int64_t(p3.y) - p0.y);
    const Wide c2 = dot(p2.x - p3.x, p2.y - p3.y, p2.x - p3.x, p2.y - p3.y);
    const Wide ab = dot(p1.x - p0.x, p1.y - p0.y, int64_t(p3.x) - p0.x, int64_t(p3.y) - p0.y);
    const Wide cb = dot(p2.x - p3.x, p2.y - p3.y, int64_t(p0.x) - p3.x, int64_t(p0.y) - p3.y);
    const Wide h1 = (a2 * b2 - ab * ab) >> 3;
    const Wide h2 = (c2 * b2 - cb * cb) >> 3;
    if ((h1 < b2 && h2 < b2) || depth >= kMaxBezierDepth) {
      add_fix(p3);
      return;
    }
    auto mid = [](Point u, Point v) {
      return Point{int32_t((int64_t(u.x) + v.x) / 2), int32_t((int64_t(u.y) + v.y) / 2)};
    };
    const Point p01 = mid(p0, p1), p12 = mid(p1, p2), p23 = mid(p2, p3);
    const Point p012 = mid(p01, p12), p123 = mid(p12, p23);
    const Point p0123 = mid(p012, p123);
    add_bezier(p0, p01, p012, p0123, depth + 1);
    add_bezier(p0123, p123, p23, p3, depth + 1);
  }

  void flush() {
    if (dashes_) {
      flush_dashed();
    } else {
      double dash_pos = 0;
      for (size_t i = 1; i < points_.size(); ++i) {
        draw_segment(pen_, area_, points_[i - 1], points_[i], nullptr, dash_pos);
        pen_.segment_end();
      }
    }
    points_.clear();
  }

 private:
  // The miter join at v of a dashed polyline (a to v to b), as far as we follow it: the
  // vertex pixel when neither segment keeps it (a runs right, or straight down; b left, or
  // straight up). The pixels of a sharp miter's tip beyond the vertex are not drawn (the
  // client draws some; see gpu/README.md).
  template <class Sink>
  void join(Sink& out, Point a, Point v, Point b) const {
    const int64_t cross = (int64_t(v.x) - a.x) * (int64_t(b.y) - v.y) - (int64_t(v.y) - a.y) * (int64_t(b.x) - v.x);
    if (cross == 0) return;  // straight on or back: no miter
    const bool a_keeps_end = a.x > v.x || (a.x == v.x && a.y > v.y);
    const bool b_keeps_start = !(b.x < v.x || (b.x == v.x && b.y < v.y));
    if (!a_keeps_end && !b_keeps_start && area_.contains(Rect{v.x, v.y, 1, 1})) out.plot(v.x, v.y);
  }

  // A dashed polyline as the client draws it (X's wide-dash code at width 1): its pixels
  // are a set, each drawn once whatever the rop (X gathers them into one span group), and
  // where an axis-aligned segment running right or down turns into one running left or up
  // with the dash on, the miter join fills the corner pixel that neither segment covers.
  void flush_dashed() {
    struct Collect final : StrokeSink {
      std::vector<std::pair<int32_t, int32_t>> pixels;  // (y, x): sorted row by row
      void plot(int32_t x, int32_t y) override { pixels.emplace_back(y, x); }
    } all;
    double dash_pos = 0;
    for (size_t i = 1; i < points_.size(); ++i) {
      draw_segment(all, area_, points_[i - 1], points_[i], dashes_, dash_pos);
      // X carries what is left of the current dash to the next segment as an int
      // (miWideDashSegment truncates it), so the next segment starts at the position
      // rounded up; floating-point noise next to an integer is not a fraction.
      const double whole = std::round(dash_pos);
      dash_pos = std::fabs(dash_pos - whole) < 1e-6 ? whole : std::ceil(dash_pos);
      // The join needs one dash running through the vertex (not one ending there and the
      // next starting) and a turn (a reversal has no miter).
      if (i + 1 < points_.size() && dashes_->on_at(dash_pos) && !dashes_->starts_at(dash_pos)) {
        join(all, points_[i - 1], points_[i], points_[i + 1]);
      }
    }
    std::sort(all.pixels.begin(), all.pixels.end());
    all.pixels.erase(std::unique(all.pixels.begin(), all.pixels.end()), all.pixels.end());
    for (const auto& [y, x] : all.pixels) pen_.plot(x, y);
    pen_.segment_end();
  }

 public:

 private:
  StrokeSink& pen_;
  const Rect area_;
  const Dashes* dashes_;
  std::vector<Point> points_;
};

// The path as the client walks it, checked before anything is drawn (the client gives up
// half-way on a malformed path, or reads outside it; we reject the whole command).
Status check_path(const std::vector<PathSegment>& path) {
  size_t pending = 0;  // points in the client's list (flushed at BEGIN and END)
  for (const PathSegment& seg : path) {
    size_t n = seg.points.size();
    if (seg.flags & SPICE_PATH_BEGIN) {
      if (n == 0) return make_error("stroke: a subpath begins without a point");
      --n;
      pending = 1;
    }
    if (seg.flags & SPICE_PATH_BEZIER) {
      if (n % 3 != 0) return make_error("stroke: a Bezier segment's points are not in threes");
      if (n > 0 && pending == 0) return make_error("stroke: a Bezier segment without a start point");
    }
    pending += n;
    if (seg.flags & SPICE_PATH_END) pending = 0;
  }
  return Status::success();
}

}  // namespace

Status check_stroke(const StrokeOp& op) {
  if (!edges_fit(op.box)) return make_error("stroke " + describe(op.box) + " overflows");
  if (auto st = check_path(op.path); !st) return st;
  if (op.line_flags & SPICE_LINE_FLAGS_STYLED) {
    if (auto d = dashes_of(op); !d) return d.error();
  }
  return Status::success();
}

void walk_stroke(const StrokeOp& op, const Rect& area, StrokeSink& sink) {
  std::optional<Dashes> dashes;
  if (op.line_flags & SPICE_LINE_FLAGS_STYLED) {
    auto d = dashes_of(op);
    if (!d) return;  // check_stroke rejects it
    dashes = std::move(*d);
  }
  Polyline line(sink, area, dashes ? &*dashes : nullptr);
  for (const PathSegment& seg : op.path) {
    size_t i = 0;
    if (seg.flags & SPICE_PATH_BEGIN) {
      line.flush();
      line.add_fix(seg.points[i++]);
    }
    if (seg.flags & SPICE_PATH_BEZIER) {
      for (; i + 2 < seg.points.size(); i += 3) {
        const Point p0{int32_t(int64_t(line.last().x) * 16), int32_t(int64_t(line.last().y) * 16)};
        line.add_bezier(p0, seg.points[i], seg.points[i + 1], seg.points[i + 2]);
      }
    } else {
      for (; i < seg.points.size(); ++i) line.add_fix(seg.points[i]);
    }
    if (seg.flags & SPICE_PATH_END) {
      if ((seg.flags & SPICE_PATH_CLOSE) && !line.empty()) line.add(line.first());
      line.flush();
    }
  }
  line.flush();
}

}  // namespace spiceflow::gpu
