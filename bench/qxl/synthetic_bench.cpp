// Cost of producing one frame of each synthetic workload at 1920x1080 (the commands only;
// rasterising them is the gpu module's business). Counters: commands per frame, and the
// pixels of new image data per frame (what a raster backend must upload).
#include <benchmark/benchmark.h>

#include <set>

#include "spiceflow/qxl/synthetic.hpp"

namespace {

using spiceflow::qxl::SyntheticOptions;

void next_frame(benchmark::State& state, const std::string& name) {
  SyntheticOptions opts;
  opts.size = {1920, 1080};
  auto desktop = std::move(spiceflow::qxl::make_synthetic(name, opts)).value();
  (void)desktop->start();
  uint64_t frame = 0;
  uint64_t commands = 0;
  uint64_t blit_pixels = 0;
  for (auto _ : state) {
    spiceflow::DrawBatch batch = desktop->next_frame(++frame);
    commands += batch.commands.size();
    for (const auto& c : batch.commands) {
      if (const auto* b = std::get_if<spiceflow::BlitOp>(&c.op))
        blit_pixels += uint64_t(b->dst.area());
    }
    benchmark::DoNotOptimize(batch);
  }
  state.counters["cmds/frame"] = benchmark::Counter(double(commands) / double(frame));
  state.counters["blit_px/frame"] = benchmark::Counter(double(blit_pixels) / double(frame));
}

const bool kRegistered = [] {
  for (const auto& info : spiceflow::qxl::list_synthetic()) {
    benchmark::RegisterBenchmark(("next_frame_1080p/" + info.name).c_str(),
                                 [name = info.name](benchmark::State& s) { next_frame(s, name); })
        ->Unit(benchmark::kMicrosecond);
  }
  return true;
}();

}  // namespace
