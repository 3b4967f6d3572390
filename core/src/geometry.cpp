#include "spiceflow/core/geometry.hpp"

namespace spiceflow {

Rect intersect(const Rect& a, const Rect& b) {
  const int32_t l = std::max(a.left(), b.left());
  const int32_t t = std::max(a.top(), b.top());
  const int32_t r = std::min(a.right(), b.right());
  const int32_t btm = std::min(a.bottom(), b.bottom());
  if (r <= l || btm <= t) return {};
  return Rect::from_ltrb(l, t, r, btm);
}

Rect bounding_union(const Rect& a, const Rect& b) {
  if (a.empty()) return b;
  if (b.empty()) return a;
  return Rect::from_ltrb(std::min(a.left(), b.left()), std::min(a.top(), b.top()),
                         std::max(a.right(), b.right()), std::max(a.bottom(), b.bottom()));
}

}  // namespace spiceflow
