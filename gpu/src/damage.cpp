#include <cassert>

#include "spiceflow/gpu/raster.hpp"

namespace spiceflow::gpu {
namespace {
int32_t tiles_for(int32_t length, int32_t tile) {
  assert(tile > 0);
  return length <= 0 ? 0 : (length + tile - 1) / tile;
}
}  // namespace

DamageGrid::DamageGrid(Size surface, int32_t tile)
    : size_(surface),
      tile_(tile),
      cols_(tiles_for(surface.width, tile)),
      rows_(tiles_for(surface.height, tile)),
      dirty_(size_t(cols_) * size_t(rows_), 0) {}

bool DamageGrid::any_in(const Rect& r) const {
  const Rect c = intersect(r, Rect::from_size(size_));
  if (c.empty() || dirty_count_ == 0) return false;
  for (int32_t ty = c.top() / tile_; ty <= (c.bottom() - 1) / tile_; ++ty) {
    const uint8_t* row = dirty_.data() + size_t(ty) * size_t(cols_);
    for (int32_t tx = c.left() / tile_; tx <= (c.right() - 1) / tile_; ++tx) {
      if (row[tx]) return true;
    }
  }
  return false;
}

void DamageGrid::clear() {
  std::fill(dirty_.begin(), dirty_.end(), uint8_t{0});
  dirty_count_ = 0;
}

void DamageGrid::mark(const Rect& r) {
  const Rect c = intersect(r, Rect::from_size(size_));
  if (c.empty()) return;
  const int32_t c0 = c.left() / tile_;
  const int32_t c1 = (c.right() - 1) / tile_;
  const int32_t r0 = c.top() / tile_;
  const int32_t r1 = (c.bottom() - 1) / tile_;
  for (int32_t ty = r0; ty <= r1; ++ty) {
    uint8_t* row = dirty_.data() + size_t(ty) * size_t(cols_);
    for (int32_t tx = c0; tx <= c1; ++tx) {
      dirty_count_ += row[tx] == 0;
      row[tx] = 1;
    }
  }
}

void DamageGrid::mark_all() {
  std::fill(dirty_.begin(), dirty_.end(), uint8_t{1});
  dirty_count_ = int32_t(dirty_.size());
}

Rect DamageGrid::tile_rect(int32_t i) const {
  assert(i >= 0 && i < cols_ * rows_);
  const Rect full{(i % cols_) * tile_, (i / cols_) * tile_, tile_, tile_};
  return intersect(full, Rect::from_size(size_));
}

std::vector<int32_t> DamageGrid::take_indices() {
  std::vector<int32_t> out;
  out.reserve(size_t(dirty_count_));
  for (size_t i = 0; i < dirty_.size() && int32_t(out.size()) < dirty_count_; ++i) {
    if (dirty_[i]) {
      out.push_back(int32_t(i));
      dirty_[i] = 0;
    }
  }
  dirty_count_ = 0;
  return out;
}

std::vector<Rect> DamageGrid::take() {
  std::vector<Rect> out;
  out.reserve(size_t(dirty_count_));
  for (int32_t i : take_indices()) out.push_back(tile_rect(i));
  return out;
}

}  // namespace spiceflow::gpu
