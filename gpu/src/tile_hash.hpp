#pragma once
/// Tile hashing shared by the backends (see TileHashes in raster.hpp): the CPU reference
/// hash, and which tiles a batch's damage meets. Private to gpu/.
#include <cstdint>
#include <span>
#include <vector>

#include "spiceflow/gpu/raster.hpp"

namespace spiceflow::gpu {

/// FNV-1a's 32-bit offset basis and prime (gpu/shaders/tilehash.comp uses the same).
inline constexpr uint32_t kFnvBasis = 2166136261u;
inline constexpr uint32_t kFnvPrime = 16777619u;

/// The hash of `tile` (inside `img`): each row's pixels (RGB, X masked off) hashed with
/// FNV-1a over 32-bit words, then the rows' hashes in order the same way.
uint32_t hash_tile(const ImageView& img, const Rect& tile);

/// The grid of kHashTile tiles over a surface of `size`.
inline int32_t hash_columns(Size size) { return (size.width + TileHashes::kHashTile - 1) / TileHashes::kHashTile; }
inline int32_t hash_rows(Size size) { return (size.height + TileHashes::kHashTile - 1) / TileHashes::kHashTile; }
inline Rect hash_tile_rect(Size size, int32_t column, int32_t row) {
  const int32_t t = TileHashes::kHashTile;
  return intersect(Rect{column * t, row * t, t, t}, Rect::from_size(size));
}

/// One flag per tile (row-major): 1 where a rectangle of `damage` meets the tile.
std::vector<uint32_t> tiles_meeting(Size size, std::span<const Rect> damage);

}  // namespace spiceflow::gpu
