#include "video_detect.hpp"

#include <algorithm>
#include <bit>

namespace spiceflow::engine {

namespace {
constexpr uint32_t kHistoryMask = (uint32_t{1} << VideoDetector::kHistory) - 1;
static_assert(VideoDetector::kHistory < 32 && VideoDetector::kMinChanges <= VideoDetector::kHistory);
}  // namespace

void VideoDetector::reset(Size size, int32_t tile, int32_t columns, int32_t rows) {
  size_ = size;
  tile_ = tile;
  columns_ = columns;
  rows_ = rows;
  changed_.assign(size_t(columns) * size_t(rows), 0);
  video_.assign(changed_.size(), 0);
  regions_.clear();
}

bool VideoDetector::steady(size_t t) const {
  return std::popcount(changed_[t] & kHistoryMask) >= kMinChanges;
}

bool VideoDetector::core(size_t t) const {
  return std::popcount(video_[t] & kHistoryMask) >= kMinChanges;
}

const VideoDetector::Region* VideoDetector::region_of(int32_t tile) const {
  if (columns_ == 0) return nullptr;
  const int32_t cx = tile % columns_, cy = tile / columns_;
  for (const auto& r : regions_) {
    if (!r.ending && r.tiles.contains(Rect{cx, cy, 1, 1})) return &r;
  }
  return nullptr;
}

std::vector<Rect> VideoDetector::update(std::span<const TileChange> changes) {
  std::vector<Rect> refresh;
  if (mode_ == StreamingVideo::off || changed_.empty()) return refresh;
  std::erase_if(regions_, [](const Region& r) { return r.ending; });
  for (auto& h : changed_) h <<= 1;
  for (auto& h : video_) h <<= 1;
  for (const auto& c : changes) {
    if (c.tile < 0 || size_t(c.tile) >= changed_.size() || c.coverage <= 0.0) continue;
    changed_[size_t(c.tile)] |= 1;
    if (mode_ == StreamingVideo::all || c.coverage >= kMinCoverage) video_[size_t(c.tile)] |= 1;
  }

  // Live regions: still or not; the still ones end (after one more pass, see update()).
  for (auto& r : regions_) {
    r.fresh = false;
    r.changed = false;
    for (int32_t y = r.tiles.y; y < r.tiles.bottom() && !r.changed; ++y) {
      for (int32_t x = r.tiles.x; x < r.tiles.right(); ++x) {
        if (changed_[size_t(y) * size_t(columns_) + size_t(x)] & 1) {
          r.changed = true;
          break;
        }
      }
    }
    r.still = r.changed ? 0 : r.still + 1;
    if (r.still >= kEndAfterStill) {
      r.ending = true;
      refresh.push_back(r.rect);
    }
  }

  // New regions: connected components of steady tiles outside live regions.
  const auto inside_live = [&](int32_t x, int32_t y) {
    return std::any_of(regions_.begin(), regions_.end(),
                       [&](const Region& r) { return r.tiles.contains(Rect{x, y, 1, 1}); });
  };
  std::vector<uint8_t> seen(changed_.size(), 0);
  std::vector<Rect> found;  // tile rects
  std::vector<int32_t> stack;
  for (int32_t start = 0; start < int32_t(changed_.size()); ++start) {
    if (seen[size_t(start)] || !steady(size_t(start))) continue;
    if (inside_live(start % columns_, start / columns_)) continue;
    int cores = 0;
    Rect box{start % columns_, start / columns_, 1, 1};
    stack.assign(1, start);
    seen[size_t(start)] = 1;
    while (!stack.empty()) {
      const int32_t t = stack.back();
      stack.pop_back();
      const int32_t x = t % columns_, y = t / columns_;
      cores += core(size_t(t));
      box = bounding_union(box, Rect{x, y, 1, 1});
      const int32_t next[4][2] = {{x - 1, y}, {x + 1, y}, {x, y - 1}, {x, y + 1}};
      for (const auto& n : next) {
        if (n[0] < 0 || n[1] < 0 || n[0] >= columns_ || n[1] >= rows_) continue;
        const int32_t nt = n[1] * columns_ + n[0];
        if (seen[size_t(nt)] || !steady(size_t(nt)) || inside_live(n[0], n[1])) continue;
        seen[size_t(nt)] = 1;
        stack.push_back(nt);
      }
    }
    // all: any steadily changing component streams; filter: only video-like ones.
    if (mode_ == StreamingVideo::all || cores >= kMinCoreTiles) found.push_back(box);
  }
  // Bounding rectangles that overlap merge (repeat until none do); any that would overlap
  // a live region is left for later (the live one keeps its place).
  for (bool merged = true; merged;) {
    merged = false;
    for (size_t i = 0; i < found.size() && !merged; ++i) {
      for (size_t j = i + 1; j < found.size(); ++j) {
        if (!intersect(found[i], found[j]).empty()) {
          found[i] = bounding_union(found[i], found[j]);
          found.erase(found.begin() + std::ptrdiff_t(j));
          merged = true;
          break;
        }
      }
    }
  }
  for (const Rect& t : found) {
    const bool overlaps = std::any_of(regions_.begin(), regions_.end(), [&](const Region& r) {
      return !intersect(r.tiles, t).empty();
    });
    if (overlaps) continue;
    Region r;
    r.id = next_id_++;
    r.tiles = t;
    r.rect = intersect(Rect{t.x * tile_, t.y * tile_, t.width * tile_, t.height * tile_},
                       Rect::from_size(size_));
    r.changed = true;
    r.fresh = true;
    regions_.push_back(r);
  }
  return refresh;
}

}  // namespace spiceflow::engine
