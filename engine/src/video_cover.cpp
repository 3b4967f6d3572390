#include "video_cover.hpp"

#include <algorithm>
#include <cstring>

namespace spiceflow::engine {

namespace {
int32_t floor_div(int32_t v, int32_t d) { return v >= 0 ? v / d : -((-v + d - 1) / d); }
}  // namespace

void CoverTracker::reset(const Rect& rect) {
  rect_ = rect;
  bx0_ = floor_div(rect.x, kBlock);
  by0_ = floor_div(rect.y, kBlock);
  columns_ = rect.empty() ? 0 : floor_div(rect.right() - 1, kBlock) - bx0_ + 1;
  rows_ = rect.empty() ? 0 : floor_div(rect.bottom() - 1, kBlock) - by0_ + 1;
  still_.assign(size_t(columns_) * size_t(rows_), 0);
  covered_.clear();
  shown_.clear();
}

Rect CoverTracker::block_rect(int32_t bx, int32_t by) const {
  return intersect(Rect{(bx0_ + bx) * kBlock, (by0_ + by) * kBlock, kBlock, kBlock}, rect_);
}

// Runs of blocks in each block row, then runs that span the same columns in adjacent rows
// joined: few rectangles for window-shaped areas.
template <typename In>
std::vector<Rect> CoverTracker::rects_of(In in) const {
  std::vector<Rect> out;
  std::vector<size_t> open;  // indices into out of the previous row's runs
  for (int32_t by = 0; by < rows_; ++by) {
    std::vector<size_t> now;
    for (int32_t bx = 0; bx < columns_;) {
      const auto is = [&](int32_t x) { return in(size_t(by) * size_t(columns_) + size_t(x)); };
      if (!is(bx)) {
        ++bx;
        continue;
      }
      int32_t end = bx;
      while (end < columns_ && is(end)) ++end;
      const Rect run = bounding_union(block_rect(bx, by), block_rect(end - 1, by));
      const auto above = std::find_if(open.begin(), open.end(), [&](size_t i) {
        return out[i].x == run.x && out[i].width == run.width && out[i].bottom() == run.y;
      });
      if (above != open.end()) {
        out[*above].height += run.height;
        now.push_back(*above);
      } else {
        out.push_back(run);
        now.push_back(out.size() - 1);
      }
      bx = end;
    }
    open = std::move(now);
    if (out.size() > kMaxRects) break;  // the caller gives up on a clip this ragged
  }
  return out;
}

bool CoverTracker::update(const ImageView& before, const ImageView& after) {
  if (before.width != rect_.width || before.height != rect_.height ||
      after.width != rect_.width || after.height != rect_.height) {
    return false;
  }
  for (int32_t by = 0; by < rows_; ++by) {
    for (int32_t bx = 0; bx < columns_; ++bx) {
      const Rect b = block_rect(bx, by);
      const int32_t lx = b.x - rect_.x;
      bool same = true;
      for (int32_t y = b.y - rect_.y; y < b.bottom() - rect_.y && same; ++y) {
        same = std::memcmp(before.data + size_t(y) * size_t(before.stride) + size_t(lx) * 4,
                           after.data + size_t(y) * size_t(after.stride) + size_t(lx) * 4,
                           size_t(b.width) * 4) == 0;
      }
      uint8_t& s = still_[size_t(by) * size_t(columns_) + size_t(bx)];
      s = same ? uint8_t(std::min(s + 1, kStillUpdates)) : 0;
    }
  }
  // Still blocks, less the parts too thin to be a window (kMinCoveredSide); the rest of
  // the region is shown.
  std::vector<Rect> covered =
      rects_of([&](size_t b) { return still_[b] >= kStillUpdates; });
  std::erase_if(covered, [](const Rect& r) {
    return std::min(r.width, r.height) < kMinCoveredSide;
  });
  std::vector<Rect> shown;
  if (!covered.empty() && covered.size() <= kMaxRects) {
    std::vector<uint8_t> in(still_.size(), 0);
    for (int32_t by = 0; by < rows_; ++by) {
      for (int32_t bx = 0; bx < columns_; ++bx) {
        const Rect b = block_rect(bx, by);
        in[size_t(by) * size_t(columns_) + size_t(bx)] = std::any_of(
            covered.begin(), covered.end(), [&](const Rect& c) { return c.contains(b); });
      }
    }
    shown = rects_of([&](size_t b) { return in[b] == 0; });
  }
  if (covered.size() > kMaxRects || shown.size() > kMaxRects || shown.empty()) {
    covered.clear();
    shown.clear();
  }
  if (covered == covered_) return false;
  covered_ = std::move(covered);
  shown_ = std::move(shown);
  return true;
}

}  // namespace spiceflow::engine
