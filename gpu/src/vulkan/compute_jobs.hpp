#pragma once
/// The compute jobs besides drawing, each one dispatch of its own shader through
/// Device::compute_pipeline(): colour conversion (gpu/shaders/yuv.comp) and tile tracking
/// (gpu/shaders/tilehash.comp). Each binds its own pipeline: the caller rebinds before
/// drawing. Private to gpu/src/vulkan/.
#include "device.hpp"
#include "spiceflow/core/yuv.hpp"

namespace spiceflow::gpu::vulkan {

/// Records, into `cmd`, the conversion of `region` (inside the surface) of the surface at
/// device address `surface` (`stride` pixels per row) into the buffer at device address
/// `out`, laid out as `layout` (a YuvImage of the region's size and the wanted format; only
/// its geometry is used).
Status record_yuv(Device& dev, VkCommandBuffer cmd, uint64_t surface, int32_t stride, const Rect& region,
                  const YuvImage& layout, uint64_t out);

/// Records, into `cmd`, one update of the tile state at device address `state` (per tile:
/// hash, history; `columns` x `rows` tiles) of the surface at `surface` (`size`, packed),
/// with the per-tile flags at `flags` (0 untouched, 1 hash again, 2 first hash).
Status record_tile_hash(Device& dev, VkCommandBuffer cmd, uint64_t surface, Size size, int32_t columns,
                        int32_t rows, uint64_t state, uint64_t flags);

}  // namespace spiceflow::gpu::vulkan
