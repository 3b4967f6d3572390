#pragma once
/// The Vulkan compute raster backend. Private to gpu/: the registry in raster.cpp is the only
/// caller. No Vulkan types here (the SDK stays inside src/vulkan/).
#include <memory>

#include "spiceflow/gpu/raster.hpp"

namespace spiceflow::gpu::vulkan {

/// Whether a Vulkan loader can be reached: options' vkGetInstanceProcAddr, or
/// libvulkan.so.1 through dlopen.
Status probe_loader(const RasterOptions& options);

/// A backend on the best Vulkan device here. `automatic` ("auto" asked) declines software
/// devices (lavapipe), which are slower than the CPU backend; otherwise any device with
/// Vulkan 1.2 and buffer device addresses will do. Logs the device chosen and why others
/// were skipped; the error says why none could be used.
Result<std::unique_ptr<RasterBackend>> make_vulkan_raster(const RasterOptions& options, bool automatic);

}  // namespace spiceflow::gpu::vulkan
