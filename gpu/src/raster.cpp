#include "spiceflow/gpu/raster.hpp"

#include <array>
#include <string>

#include "cpu_raster.hpp"
#include "spiceflow/core/log.hpp"
#ifdef SPICEFLOW_HAVE_VULKAN
#include "vulkan/vulkan_raster.hpp"
#endif

namespace spiceflow::gpu {

std::vector<Result<Rect>> RasterBackend::apply_batch(std::span<const DrawCommand> cmds) {
  std::vector<Result<Rect>> out;
  out.reserve(cmds.size());
  for (const DrawCommand& c : cmds) out.push_back(apply(c));
  return out;
}

ImageView RasterBackend::view(uint32_t id, std::span<const Rect>) const { return view(id); }

Result<YuvImage> RasterBackend::convert(uint32_t id, const Rect& region, YuvFormat format) {
  const ImageView pixels = view(id, std::span<const Rect>(&region, 1));
  if (!pixels.data) return make_error("convert: no surface " + std::to_string(id));
  const Rect r = intersect(region, Rect::from_size(pixels.size()));
  if (r.empty()) return make_error("convert: empty region");
  return convert_to_yuv(pixels.sub(r), format);
}

namespace {

// One registered backend. probe() says whether it can run here at all (and why not);
// create() builds an instance once the probe has passed; `automatic` is set when "auto"
// asks, and lets a backend decline a device that would be slower than the next entry.
struct RasterEntry {
  std::string_view name;
  Status (*probe)(const RasterOptions&);
  Result<std::unique_ptr<RasterBackend>> (*create)(const RasterOptions&, bool automatic);
};

// Best first; "auto" takes the first that probes and creates. The CPU backend is always
// built and always last.
constexpr std::array kBackends{
#ifdef SPICEFLOW_HAVE_VULKAN
    RasterEntry{
        "vulkan",
        [](const RasterOptions& o) { return vulkan::probe_loader(o); },
        [](const RasterOptions& o, bool automatic) { return vulkan::make_vulkan_raster(o, automatic); },
    },
#endif
    RasterEntry{
        "cpu",
        [](const RasterOptions&) { return Status::success(); },
        [](const RasterOptions&, bool) -> Result<std::unique_ptr<RasterBackend>> {
          return make_cpu_raster();
        },
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

Result<std::unique_ptr<RasterBackend>> make_raster(std::string_view name, const RasterOptions& options) {
  if (name == "auto") {
    std::string skipped;
    for (const RasterEntry& e : kBackends) {
      if (Status st = e.probe(options); !st) {
        skipped += std::string(skipped.empty() ? "" : "; ") + std::string(e.name) + ": " +
                   st.error().message;
        continue;
      }
      auto backend = e.create(options, true);
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
    if (Status st = e.probe(options); !st) {
      return make_error("raster backend " + std::string(name) +
                        " unavailable: " + st.error().message);
    }
    auto backend = e.create(options, false);
    if (!backend) {
      return make_error("raster backend " + std::string(name) +
                        " unavailable: " + backend.error().message);
    }
    log::info("raster: chose {} (asked for by name)", e.name);
    return backend;
  }
  if (name == "vulkan") {
    return make_error("raster backend vulkan unavailable: this build has no Vulkan support "
                      "(configure with the Vulkan headers and glslc installed)");
  }
  return make_error("unknown raster backend '" + std::string(name) + "' (valid: " + valid_names() +
                    ")");
}

}  // namespace spiceflow::gpu
