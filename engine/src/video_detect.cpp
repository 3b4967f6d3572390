#include "video_detect.hpp"

#include <algorithm>
#include <bit>

namespace spiceflow::engine {

namespace {
constexpr uint32_t kHistoryMask = (uint32_t{1} << VideoDetector::kHistory) - 1;
static_assert(VideoDetector::kHistory < 32 && VideoDetector::kMinChanges <= VideoDetector::kHistory);

int32_t align_down(int32_t v, int32_t a) { return v >= 0 ? v / a * a : -((-v + a - 1) / a) * a; }
int32_t align_up(int32_t v, int32_t a) { return -align_down(-v, a); }
}  // namespace

void VideoDetector::reset(Size size, int32_t tile, int32_t columns, int32_t rows) {
  size_ = size;
  tile_ = tile;
  columns_ = columns;
  rows_ = rows;
  changed_.assign(size_t(columns) * size_t(rows), 0);
  video_.assign(changed_.size(), 0);
  bulk_.assign(changed_.size(), 0);
  strips_.clear();
  touched_.assign(changed_.size(), Rect{});
  regions_.clear();
}

bool VideoDetector::steady(size_t t) const {
  return std::popcount(changed_[t] & kHistoryMask) >= kMinChanges;
}

bool VideoDetector::core(size_t t) const {
  return std::popcount(video_[t] & kHistoryMask) >= kMinChanges;
}

Rect VideoDetector::tile_rect(int32_t t) const {
  return intersect(Rect{(t % columns_) * tile_, (t / columns_) * tile_, tile_, tile_},
                   Rect::from_size(size_));
}

const VideoDetector::Region* VideoDetector::region_of(int32_t tile) const {
  if (columns_ == 0) return nullptr;
  const Rect px = tile_rect(tile);
  for (const auto& r : regions_) {
    if (!r.ending && !px.empty() && r.rect.contains(px)) return &r;
  }
  return nullptr;
}

Rect VideoDetector::cut_strips(Rect r) const {
  // A thin strip repainted steadily at an edge of the region (the pixel code above a
  // player or over a window dragged to the top, a status line) is cut off: it stays
  // lossless and exact. The region's other edges stay on the tile grid (a region
  // trimmed to its picture would leave the partly covered tiles to be sent lossless
  // on every frame).
  for (const Strip& st : strips_) {
    const Rect& strip = st.rect;
    if (std::popcount(st.history & kHistoryMask) < kMinThinChanges) continue;
    if (intersect(strip, r).empty()) continue;
    const Rect& R = r;
    // Only a strip at an edge of the region, and only a band of at most
    // kMaxStripCut pixels: a strip inside the picture (a progress bar over it) stays in.
    const int32_t top = align_up(strip.bottom(), kRegionAlign);
    const int32_t bottom = align_down(strip.y, kRegionAlign);
    const int32_t left = align_up(strip.right(), kRegionAlign);
    const int32_t right = align_down(strip.x, kRegionAlign);
    Rect cuts[4] = {};
    if (strip.y <= R.y && top - R.y <= kMaxStripCut) {
      cuts[0] = Rect::from_ltrb(R.x, top, R.right(), R.bottom());
    }
    if (strip.bottom() >= R.bottom() && R.bottom() - bottom <= kMaxStripCut) {
      cuts[1] = Rect::from_ltrb(R.x, R.y, R.right(), bottom);
    }
    if (strip.x <= R.x && left - R.x <= kMaxStripCut) {
      cuts[2] = Rect::from_ltrb(left, R.y, R.right(), R.bottom());
    }
    if (strip.right() >= R.right() && R.right() - right <= kMaxStripCut) {
      cuts[3] = Rect::from_ltrb(R.x, R.y, right, R.bottom());
    }
    const Rect* best = nullptr;
    for (const Rect& c : cuts) {
      if (!c.empty() && (!best || c.area() > best->area())) best = &c;
    }
    if (best) r = *best;
  }
  return r;
}

Rect VideoDetector::tiles_around(const Rect& r) const {
  const int32_t x0 = std::max(0, r.x / tile_), y0 = std::max(0, r.y / tile_);
  const int32_t x1 = std::min(columns_, (r.right() + tile_ - 1) / tile_);
  const int32_t y1 = std::min(rows_, (r.bottom() + tile_ - 1) / tile_);
  return Rect::from_ltrb(x0, y0, std::max(x0, x1), std::max(y0, y1));
}

void VideoDetector::follow(std::span<const Rect> painted) {
  for (auto& r : regions_) {
    if (r.ending) continue;
    Rect picture;
    for (const Rect& p : painted) {
      if (std::min(p.width, p.height) < kMinBulkSide || intersect(p, r.rect).empty()) continue;
      picture = bounding_union(picture, p);
    }
    if (picture.empty()) continue;
    if (r.picture.empty() || picture == r.picture) {
      r.picture = picture;
      r.grow_passes = 0;
      continue;
    }
    if (picture.contains(r.picture)) {
      // Larger: only once it held (a resize that ended), not for a window painted once.
      r.grow_passes = picture == r.grow_to ? r.grow_passes + 1 : 1;
      r.grow_to = picture;
      if (r.grow_passes < kFollowGrowPasses) continue;
    } else if (double(picture.area()) < kMinFollowArea * double(r.picture.area())) {
      continue;  // a small paint inside (an icon, a caption): the picture stays
    }
    Rect tiles = tiles_around(picture);
    if (picture.size() == r.picture.size() && tiles.width <= r.tiles.width &&
        tiles.height <= r.tiles.height) {
      // Moved: the region keeps its size (clients keep their stream) where one of that
      // size holds the picture, the nearest to where it was.
      const int32_t tx = std::clamp(std::clamp(r.tiles.x, tiles.right() - r.tiles.width, tiles.x),
                                    0, columns_ - r.tiles.width);
      const int32_t ty = std::clamp(std::clamp(r.tiles.y, tiles.bottom() - r.tiles.height, tiles.y),
                                    0, rows_ - r.tiles.height);
      tiles = Rect{tx, ty, r.tiles.width, r.tiles.height};
    }
    const Rect px = intersect(Rect{tiles.x * tile_, tiles.y * tile_, tiles.width * tile_,
                                   tiles.height * tile_},
                              Rect::from_size(size_));
    const Rect rect = mode_ == StreamingVideo::filter ? cut_strips(px) : px;
    const bool blocked = std::any_of(regions_.begin(), regions_.end(), [&](const Region& o) {
      return &o != &r && !intersect(o.tiles, tiles).empty();
    });
    if (blocked || rect.empty()) continue;  // the other region keeps its place
    r.picture = picture;
    r.grow_passes = 0;
    if (rect == r.rect) continue;  // moved within the same tiles
    // The tiles left behind forget their history: they showed the video until now and
    // would otherwise form a second region where the picture was.
    for (int32_t y = r.tiles.y; y < r.tiles.bottom(); ++y) {
      for (int32_t x = r.tiles.x; x < r.tiles.right(); ++x) {
        if (tiles.contains(Rect{x, y, 1, 1})) continue;
        const size_t t = size_t(y) * size_t(columns_) + size_t(x);
        changed_[t] = video_[t] = bulk_[t] = 0;
      }
    }
    r.rect = rect;
    r.tiles = tiles;
    r.moved = true;
  }
}

std::vector<Rect> VideoDetector::update(std::span<const TileChange> changes,
                                        std::optional<std::span<const Rect>> painted) {
  std::vector<Rect> refresh;
  if (mode_ == StreamingVideo::off || changed_.empty()) return refresh;
  std::erase_if(regions_, [](const Region& r) { return r.ending; });
  for (auto& h : changed_) h <<= 1;
  for (auto& h : video_) h <<= 1;
  for (auto& h : bulk_) h <<= 1;
  // Thin paints repeated at the same place (see strips_).
  for (auto& st : strips_) st.history <<= 1;
  if (painted) {
    for (const Rect& r : *painted) {
      if (r.empty() || std::min(r.width, r.height) >= kMinBulkSide) continue;
      auto it = std::find_if(strips_.begin(), strips_.end(),
                             [&](const Strip& st) { return st.rect == r; });
      if (it != strips_.end()) {
        it->history |= 1;
      } else if (strips_.size() < kMaxStrips) {
        strips_.push_back(Strip{r, 1});
      }
    }
  }
  std::erase_if(strips_, [](const Strip& st) { return (st.history & kHistoryMask) == 0; });
  std::fill(touched_.begin(), touched_.end(), Rect{});
  for (const auto& c : changes) {
    if (c.tile < 0 || size_t(c.tile) >= changed_.size() || c.coverage <= 0.0) continue;
    const size_t t = size_t(c.tile);
    const Rect tr = tile_rect(c.tile);
    // Which part of the tile this pass painted, and its bulk: the paints that cover a
    // large part of the tile (>= kMinCoverage of it) or are large themselves (both sides
    // >= kMinBulkSide: a video frame, a window). A thin paint (a row of a progress bar, the
    // pixel code, a caret) is no bulk, so a tile holding only such paints never joins a
    // region however often it changes.
    Rect touched, bulk;
    if (painted) {
      for (const Rect& r : *painted) {
        const Rect in = intersect(r, tr);
        if (in.empty()) continue;
        touched = bounding_union(touched, in);
        const bool large = std::min(r.width, r.height) >= kMinBulkSide;
        if (large || double(in.area()) >= kMinCoverage * double(tr.area())) {
          bulk = bounding_union(bulk, in);
        }
      }
    }
    // Paints unknown (the first pass of a surface, a pass of very many paints): all of the
    // tile changed, as bulk. A change without a paint: all of it, no bulk.
    const bool has_bulk = !painted || !bulk.empty();
    const bool video_like = mode_ == StreamingVideo::all || c.coverage >= kMinCoverage;
    if (touched.empty()) touched = tr;
    changed_[t] |= 1;
    touched_[t] = touched;
    if (video_like) video_[t] |= 1;
    if (has_bulk) bulk_[t] |= 1;
  }

  for (auto& r : regions_) r.moved = false;
  if (painted) follow(*painted);
  // Live regions: still or not; the still ones end (after one more pass, see update()).
  // Only paints inside the region's rectangle count: a clock or the pixel code sharing its
  // tiles does not keep a stopped video's stream alive.
  for (auto& r : regions_) {
    r.fresh = false;
    r.changed = false;
    for (int32_t y = r.tiles.y; y < r.tiles.bottom() && !r.changed; ++y) {
      for (int32_t x = r.tiles.x; x < r.tiles.right(); ++x) {
        const size_t t = size_t(y) * size_t(columns_) + size_t(x);
        if ((changed_[t] & 1) && !intersect(touched_[t], r.rect).empty()) {
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

  // New regions: connected components outside live regions. Filter: of core tiles and of
  // steady tiles that steadily receive bulk paints (the edge of a video frame that covers
  // little of its tile, a band of a game whose pixels change less); a steady tile of thin
  // or small paints (a clock, a progress bar, the pixel code, a caret) never joins, or it
  // would drag the video's region over content that must stay exact. All: of steady tiles.
  const auto inside_live = [&](int32_t x, int32_t y) {
    return std::any_of(regions_.begin(), regions_.end(),
                       [&](const Region& r) { return r.tiles.contains(Rect{x, y, 1, 1}); });
  };
  const auto member = [&](size_t t) {
    if (mode_ == StreamingVideo::all) return steady(t);
    return core(t) || (steady(t) && std::popcount(bulk_[t] & kHistoryMask) >= kMinChanges);
  };
  std::vector<uint8_t> seen(changed_.size(), 0);
  std::vector<Rect> found;  // tile rects
  std::vector<int32_t> stack;
  for (int32_t start = 0; start < int32_t(changed_.size()); ++start) {
    if (seen[size_t(start)] || !member(size_t(start))) continue;
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
        if (seen[size_t(nt)] || !member(size_t(nt)) || inside_live(n[0], n[1])) continue;
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
    if (mode_ == StreamingVideo::filter) r.rect = cut_strips(r.rect);
    r.changed = true;
    r.fresh = true;
    regions_.push_back(r);
  }
  return refresh;
}

}  // namespace spiceflow::engine
