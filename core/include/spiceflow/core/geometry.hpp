#pragma once
/// Geometry vocabulary: points, sizes and half-open rectangles in surface pixels.
/// Plain values; no ownership, no threading concerns.
#include <algorithm>
#include <cstdint>
#include <vector>

namespace spiceflow {

struct Point {
  int32_t x = 0;
  int32_t y = 0;
  friend bool operator==(const Point&, const Point&) = default;
};

struct Size {
  int32_t width = 0;
  int32_t height = 0;
  bool empty() const { return width <= 0 || height <= 0; }
  int64_t area() const { return empty() ? 0 : int64_t(width) * height; }
  friend bool operator==(const Size&, const Size&) = default;
};

/// A rectangle covering [x, x + width) x [y, y + height).
struct Rect {
  int32_t x = 0;
  int32_t y = 0;
  int32_t width = 0;
  int32_t height = 0;

  static Rect from_size(Size s) { return {0, 0, s.width, s.height}; }
  static Rect from_ltrb(int32_t l, int32_t t, int32_t r, int32_t b) { return {l, t, r - l, b - t}; }

  int32_t left() const { return x; }
  int32_t top() const { return y; }
  int32_t right() const { return x + width; }
  int32_t bottom() const { return y + height; }
  Size size() const { return {width, height}; }
  bool empty() const { return width <= 0 || height <= 0; }
  int64_t area() const { return empty() ? 0 : int64_t(width) * height; }
  bool contains(Point p) const { return p.x >= x && p.y >= y && p.x < right() && p.y < bottom(); }
  bool contains(const Rect& r) const {
    return r.empty() || (r.x >= x && r.y >= y && r.right() <= right() && r.bottom() <= bottom());
  }
  Rect translated(int32_t dx, int32_t dy) const { return {x + dx, y + dy, width, height}; }

  friend bool operator==(const Rect&, const Rect&) = default;
};

/// The overlap of two rectangles; empty (all zero) when they do not meet.
Rect intersect(const Rect& a, const Rect& b);
/// The smallest rectangle holding both (an empty one is ignored).
Rect bounding_union(const Rect& a, const Rect& b);

}  // namespace spiceflow
