#include "tile_hash.hpp"

#include <algorithm>
#include <bit>

namespace spiceflow::gpu {

int TileHashes::changes(size_t t) const { return std::popcount(history[t]); }

uint32_t hash_tile(const ImageView& img, const Rect& tile) {
  uint32_t h = kFnvBasis;
  for (int32_t y = tile.y; y < tile.bottom(); ++y) {
    const uint32_t* row = img.row(y);
    uint32_t r = kFnvBasis;
    for (int32_t x = tile.x; x < tile.right(); ++x) r = (r ^ (row[x] & 0x00ffffffu)) * kFnvPrime;
    h = (h ^ r) * kFnvPrime;
  }
  return h;
}

std::vector<uint32_t> tiles_meeting(Size size, std::span<const Rect> damage) {
  const int32_t cols = hash_columns(size), rows = hash_rows(size), t = TileHashes::kHashTile;
  std::vector<uint32_t> flags(size_t(cols) * size_t(rows), 0);
  for (const Rect& d : damage) {
    const Rect r = intersect(d, Rect::from_size(size));
    if (r.empty()) continue;
    for (int32_t ty = r.y / t; ty <= (r.bottom() - 1) / t; ++ty) {
      std::fill_n(flags.begin() + ptrdiff_t(ty) * cols + r.x / t, (r.right() - 1) / t - r.x / t + 1, 1u);
    }
  }
  return flags;
}

Result<TileHashes> RasterBackend::update_tile_hashes(uint32_t id, std::span<const Rect> damage) {
  ImageView img = view(id, damage);
  if (!img.data) return make_error("tile hashes: no surface " + std::to_string(id));
  const Size size = img.size();
  const int32_t cols = hash_columns(size), rows = hash_rows(size);
  TileHashes& st = tile_hashes_[id];
  // A new surface, or one of another size: hash everything, nothing counts as changed.
  const bool fresh = st.columns != cols || st.rows != rows || hashed_size_[id] != size;
  hashed_size_[id] = size;
  const std::vector<uint32_t> dirty = tiles_meeting(size, damage);
  if (fresh) {
    img = view(id);  // every tile is hashed
    st.columns = cols;
    st.rows = rows;
    st.hash.assign(dirty.size(), 0);
    st.history.assign(dirty.size(), 0);
  }
  for (int32_t ty = 0; ty < rows; ++ty) {
    for (int32_t tx = 0; tx < cols; ++tx) {
      const size_t t = size_t(ty) * size_t(cols) + size_t(tx);
      if (fresh) {
        st.hash[t] = hash_tile(img, hash_tile_rect(size, tx, ty));
        continue;
      }
      st.history[t] <<= 1;
      if (!dirty[t]) continue;
      const uint32_t h = hash_tile(img, hash_tile_rect(size, tx, ty));
      if (h != st.hash[t]) st.history[t] |= 1;
      st.hash[t] = h;
    }
  }
  return st;
}

}  // namespace spiceflow::gpu
