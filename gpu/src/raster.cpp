#include "spiceflow/gpu/raster.hpp"

#include <array>
#include <string>

#include "cpu_raster.hpp"
#include "spiceflow/core/log.hpp"

namespace spiceflow::gpu {
namespace {

// One registered backend. probe() says whether it can run here (and why not);
// create() builds an instance once the probe has passed.
struct RasterEntry {
  std::string_view name;
  Status (*probe)();
  Result<std::unique_ptr<RasterBackend>> (*create)();
};

// Best first; "auto" takes the first whose probe passes. The CPU backend is always built
// and always last. A Vulkan entry goes in front of it, behind SPICEFLOW_HAVE_VULKAN.
constexpr std::array kBackends{
    RasterEntry{
        "cpu",
        [] { return Status::success(); },
        []() -> Result<std::unique_ptr<RasterBackend>> { return make_cpu_raster(); },
    },
};

std::string valid_names() {
  std::string names = "auto";
  for (const RasterEntry& e : kBackends) {
    names += ", ";
    names += e.name;
  }
  return names;
}

}  // namespace

Result<std::unique_ptr<RasterBackend>> make_raster(std::string_view name) {
  if (name == "auto") {
    std::string skipped;
    for (const RasterEntry& e : kBackends) {
      if (Status st = e.probe(); !st) {
        skipped += std::string(skipped.empty() ? "" : "; ") + std::string(e.name) + ": " +
                   st.error().message;
        continue;
      }
      auto backend = e.create();
      if (!backend) {
        skipped += std::string(skipped.empty() ? "" : "; ") + std::string(e.name) + ": " +
                   backend.error().message;
        continue;
      }
      if (skipped.empty()) {
        log::info("raster: chose {}", e.name);
      } else {
        log::info("raster: chose {} (skipped {})", e.name, skipped);
      }
      return backend;
    }
    return make_error("raster: no backend available (" + skipped + ")");
  }
  for (const RasterEntry& e : kBackends) {
    if (e.name != name) continue;
    if (Status st = e.probe(); !st) {
      return make_error("raster backend " + std::string(name) +
                        " unavailable: " + st.error().message);
    }
    return e.create();
  }
  return make_error("unknown raster backend '" + std::string(name) + "' (valid: " + valid_names() +
                    ")");
}

}  // namespace spiceflow::gpu
