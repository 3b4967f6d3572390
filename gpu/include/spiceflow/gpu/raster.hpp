#pragma once
/// Raster backends: hold the surfaces of one desktop and apply draw commands to them.
/// The CPU backend (pixman) is always built; the Vulkan compute backend comes later
/// behind the same interface. `make_raster` chooses by name ("auto" = best available).
///
/// Threading: a backend instance belongs to one desktop and is used by one thread at a
/// time (the desktop's render stage). Views returned by view() stay valid until the next
/// apply()/create_surface()/destroy_surface() call.
#include <memory>
#include <string_view>
#include <vector>

#include "spiceflow/core/draw.hpp"
#include "spiceflow/core/result.hpp"

namespace spiceflow::gpu {

class RasterBackend {
 public:
  virtual ~RasterBackend() = default;
  virtual std::string_view name() const = 0;
  /// Creates (or replaces) surface `id`, filled with black (0xff000000).
  virtual Status create_surface(uint32_t id, Size size) = 0;
  virtual void destroy_surface(uint32_t id) = 0;
  /// Applies one command. Returns the rectangle it changed (clipped to the surface and to
  /// the command's clip; empty when nothing changed). A command naming a missing surface,
  /// or a blit whose source area lies outside its image, is an error and changes nothing.
  virtual Result<Rect> apply(const DrawCommand& cmd) = 0;
  /// The current pixels of surface `id` (empty view when it does not exist).
  virtual ImageView view(uint32_t id) const = 0;
};

/// "auto" or "cpu" (later also "vulkan").
Result<std::unique_ptr<RasterBackend>> make_raster(std::string_view name);

/// Damage tracking on a fixed grid of square tiles: mark() rectangles, take() the list of
/// dirty tile rectangles (row-major, clipped to the surface) and clear.
class DamageGrid {
 public:
  DamageGrid(Size surface, int32_t tile);
  void mark(const Rect& r);
  void mark_all();
  bool any() const { return dirty_count_ > 0; }
  /// Whether any tile overlapping `r` is marked.
  bool any_in(const Rect& r) const;
  bool is_marked(int32_t index) const { return dirty_[size_t(index)] != 0; }
  /// Unmarks every tile.
  void clear();
  std::vector<Rect> take();
  int32_t tile() const { return tile_; }
  int32_t columns() const { return cols_; }
  int32_t rows() const { return rows_; }
  /// The rectangle of tile index `i` (row-major).
  Rect tile_rect(int32_t i) const;
  /// Dirty tile indices (row-major) and clear.
  std::vector<int32_t> take_indices();

 private:
  Size size_;
  int32_t tile_;
  int32_t cols_;
  int32_t rows_;
  std::vector<uint8_t> dirty_;
  int32_t dirty_count_ = 0;
};

}  // namespace spiceflow::gpu
