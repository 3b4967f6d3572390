#pragma once
/// Planning for the Vulkan backend: turns one DrawCommand into dispatches of
/// gpu/shaders/draw.comp, with exactly the CPU backend's semantics (which commands are
/// errors, which rectangle each damages, which pixels each writes). All the geometry,
/// validation, sampling maps and snapshots are decided here on the CPU; the shader only
/// combines pixels. No Vulkan types: the backend implements Recorder over its buffers.
#include <cstdint>
#include <vector>

#include "spiceflow/core/draw.hpp"

namespace spiceflow::gpu::vulkan {

/// One dispatch of draw.comp; the layout of its `Op` block, byte for byte.
struct GpuOp {
  uint64_t dst = 0, src = 0, mask = 0, maps = 0;  // device addresses
  int32_t region[4] = {};  // destination pixels covered: x, y, w, h
  int32_t frame[4] = {};   // origin (and, for maps, size) of source/mask/map indexing
  int32_t dst_stride = 0, src_stride = 0;  // in pixels
  uint32_t kind = 0, combine = 0, rop = 0, color = 0;
  int32_t src_x = 0, src_y = 0, src_w = 0, src_h = 0;
  int32_t mask_x = 0, mask_y = 0, mask_w = 0, mask_h = 0;
  uint32_t mask_invert = 0, alpha = 0;
};
static_assert(sizeof(GpuOp) == 128, "GpuOp must match draw.comp's Op block");

// Source kinds and combiners (draw.comp's constants).
enum : uint32_t { kSolid = 0, kOffset = 1, kMapped = 2, kPattern = 3 };
/// Or'ed into `kind`: draw the pixel list at `maps` (region[2] pixels as x, y pairs) instead
/// of a rectangle (draw.comp's kList).
constexpr uint32_t kListed = 0x10;
enum : uint32_t { kRop = 0, kTransparent = 1, kOver = 2, kRaw = 3, kCoverOver = 4, kRop3 = 5, kComposite = 6,
                  kRop3Pattern = 7 };

/// A surface as the device holds it: tightly packed 32-bit pixels at `address`.
struct DeviceSurface {
  Size size;
  uint64_t address = 0;
};

/// Where planning puts its work; the backend implements it over per-batch memory. Every
/// call records in order after the previous ones.
class Recorder {
 public:
  virtual ~Recorder() = default;
  /// The surface `id`, or null when there is none.
  virtual const DeviceSurface* surface(uint32_t id) const = 0;
  /// Copies `part` (inside `img`) into memory the device reads during this batch; rows
  /// packed (stride = part.width). Returns its device address.
  virtual uint64_t upload(const ImageView& img, const Rect& part) = 0;
  virtual uint64_t upload_bytes(const void* data, size_t bytes) = 0;
  /// Device memory that lives for this batch (snapshots). Returns its address.
  virtual uint64_t scratch(size_t bytes) = 0;
  /// Records one dispatch of `op` over op.region, after everything recorded before it.
  virtual void dispatch(const GpuOp& op) = 0;
};

/// The outcome of planning one command.
struct Planned {
  Result<Rect> result = Rect{};
  /// Set (to the op's name) when this command must be drawn by the CPU twin instead;
  /// nothing was recorded then and `result` means nothing.
  const char* fallback = nullptr;
};

/// Records `cmd` (dispatches and uploads) into `rec` and returns what apply() returns.
Planned plan_command(const DrawCommand& cmd, Recorder& rec);

/// The union of `rects` as disjoint rectangles (row bands), for drawing each pixel once.
std::vector<Rect> disjoint_union(const std::vector<Rect>& rects);

}  // namespace spiceflow::gpu::vulkan
