#pragma once
/// The CPU raster backend (pixman). Private to gpu/: the registry in raster.cpp is the
/// only caller; everyone else goes through make_raster().
#include <memory>

#include "spiceflow/gpu/raster.hpp"

namespace spiceflow::gpu {

/// A new, empty CPU backend. Always available (the registry's last resort).
std::unique_ptr<RasterBackend> make_cpu_raster();

}  // namespace spiceflow::gpu
