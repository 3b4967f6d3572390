#pragma once
/// Raster backends: hold the surfaces of one desktop and apply draw commands to them.
/// The CPU backend (pixman) is always built; the Vulkan compute backend (when built) sits
/// in front of it behind the same interface. `make_raster` chooses by name ("auto" = best
/// available).
///
/// Threading: a backend instance belongs to one desktop and is used by one thread at a
/// time (the desktop's render stage). Views returned by view() stay valid until the next
/// apply()/apply_batch()/create_surface()/destroy_surface() call.
#include <memory>
#include <span>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "spiceflow/core/draw.hpp"
#include "spiceflow/core/result.hpp"
#include "spiceflow/core/yuv.hpp"

namespace spiceflow::gpu {

/// Per-tile content tracking of one surface (the video detector's input): a grid of
/// kHashTile-pixel square tiles (row-major; edge tiles clipped to the surface), each with a
/// hash of its pixels and the history of its changes over the last kTileWindow updates.
struct TileHashes {
  /// Tile side: small enough to follow a video's edge, large enough that a 4K surface is
  /// ~2,000 tiles (one device workgroup each).
  static constexpr int32_t kHashTile = 64;
  /// Updates remembered per tile (the bits of `history`).
  static constexpr int kTileWindow = 32;
  int32_t columns = 0;
  int32_t rows = 0;
  /// Per tile: the content hash (the RGB of each row hashed with FNV-1a over 32-bit words,
  /// then the rows' hashes in order; the same on every backend).
  std::vector<uint32_t> hash;
  /// Per tile: bit i set = its hash changed in the update i updates ago.
  std::vector<uint32_t> history;
  /// How many of the last kTileWindow updates changed tile `t`.
  int changes(size_t t) const;
};

/// What a backend has done that a caller may want to see (tests, logs, benchmarks).
struct RasterStats {
  uint64_t submissions = 0;        ///< device submissions (0 for the CPU backend)
  uint64_t fallbacks = 0;          ///< commands drawn by the CPU twin of a device backend
  uint64_t validation_errors = 0;  ///< Vulkan validation-layer errors seen (when enabled)
  uint64_t readback_bytes = 0;     ///< bytes copied device -> host for view()
};

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
  /// Applies `cmds` in order, exactly as apply() on each would, and returns one result per
  /// command. A backend that queues work on a device submits the whole batch at once (the
  /// default just loops apply()).
  virtual std::vector<Result<Rect>> apply_batch(std::span<const DrawCommand> cmds);
  /// The current pixels of surface `id` (empty view when it does not exist).
  virtual ImageView view(uint32_t id) const = 0;
  /// The pixels of surface `id` with at least `regions` current: a device backend reads
  /// back only those, and other pixels of the view may be stale. Same lifetime as view();
  /// the default is view(id).
  virtual ImageView view(uint32_t id, std::span<const Rect> regions) const;
  /// `region` of surface `id` (clipped to it) as a 4:2:0 picture for the video encoders,
  /// with core/yuv.hpp's formula, bit-identical on every backend (a device backend converts
  /// on the device and reads back only the YUV bytes). Error when the surface does not
  /// exist or the clipped region is empty. The default converts view(id, region) on the CPU.
  virtual Result<YuvImage> convert(uint32_t id, const Rect& region, YuvFormat format);
  /// One update of surface `id`'s tile tracking, to be called once per batch with the
  /// rectangles the batch damaged on it: every tile's history moves on by one, and the tiles
  /// meeting `damage` are hashed again (a changed hash sets the newest history bit). A
  /// device backend hashes on the device. The first update of a surface id, or one after
  /// it changed size, hashes every tile and counts none as changed (a surface replaced by
  /// one of the same size keeps its state: its tiles count as changed where they differ). Returns the tracking state
  /// after the update; error when the surface does not exist.
  virtual Result<TileHashes> update_tile_hashes(uint32_t id, std::span<const Rect> damage);
  /// Counters since creation (all zero by default).
  virtual RasterStats stats() const { return {}; }

 private:
  // The default update_tile_hashes()'s state, per surface id (the render stage's thread).
  std::unordered_map<uint32_t, TileHashes> tile_hashes_;
  std::unordered_map<uint32_t, Size> hashed_size_;
};

/// How make_raster builds a backend beyond its name.
struct RasterOptions {
  /// Vulkan: enable VK_LAYER_KHRONOS_validation and count its errors (tests).
  bool vulkan_validation = false;
  /// Vulkan: where the loader's vkGetInstanceProcAddr comes from, as an untyped function
  /// (null: dlopen libvulkan.so.1). Tests pass a fake to exercise the fallbacks.
  void (*(*vulkan_get_instance_proc_addr)(void* instance, const char* name))() = nullptr;
  /// Vulkan: read back through a staging copy even where surface memory could be mapped
  /// directly (lets tests on lavapipe run the discrete-GPU path).
  bool vulkan_staging_readback = false;
};

/// "auto", "vulkan" or "cpu". "auto" takes a hardware Vulkan device (discrete, integrated
/// or virtual GPU) when there is one and the CPU backend otherwise (a software Vulkan
/// device such as lavapipe is no faster than pixman); "vulkan" takes any Vulkan device,
/// lavapipe included, and is an error when there is none. The choice and the reasons are
/// logged.
Result<std::unique_ptr<RasterBackend>> make_raster(std::string_view name,
                                                   const RasterOptions& options = {});

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
