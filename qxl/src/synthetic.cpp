#include "spiceflow/qxl/synthetic.hpp"

#include <string>

#include "workloads.hpp"

namespace spiceflow::qxl {
namespace {

constexpr int32_t kMinSide = 64;
constexpr int32_t kMaxSide = 8192;
constexpr int kMaxFps = 1000;

struct Workload {
  SyntheticInfo info;
  std::unique_ptr<SyntheticDesktop> (*make)(const SyntheticOptions&);
};

const std::vector<Workload>& workloads() {
  static const std::vector<Workload> kWorkloads = {
      {{"office",
        "desktop with a taskbar clock, a scrolling editor, a small video, a slowly moving "
        "window and a text box"},
       make_office},
      {{"scroll-text", "full-screen terminal scrolling log lines quickly"}, make_scroll_text},
      {{"window-drag", "a window dragged around over a static wallpaper"}, make_window_drag},
      {{"video", "static desktop with a large video window changing every frame"}, make_video},
      {{"video-move",
        "the video window dragged right and back every few seconds, under a sticky note "
        "of text covering part of its picture"},
       make_video_move},
      {{"game", "full-screen 3D-like scene where every pixel moves every frame"}, make_game},
      {{"mixed",
        "photo, text, gradients, a translucent panel and 2/16/256-colour swatches in one "
        "frame (codec tests)"},
       make_mixed},
  };
  return kWorkloads;
}

std::string names() {
  std::string s;
  for (const Workload& w : workloads()) s += (s.empty() ? "" : ", ") + w.info.name;
  return s;
}

}  // namespace

const std::vector<SyntheticInfo>& list_synthetic() {
  static const std::vector<SyntheticInfo> kInfos = [] {
    std::vector<SyntheticInfo> v;
    for (const Workload& w : workloads()) v.push_back(w.info);
    return v;
  }();
  return kInfos;
}

Result<std::unique_ptr<SyntheticDesktop>> make_synthetic(std::string_view name,
                                                         const SyntheticOptions& opts) {
  const Size s = opts.size;
  if (s.width < kMinSide || s.height < kMinSide || s.width > kMaxSide || s.height > kMaxSide) {
    return make_error("synthetic desktop size " + std::to_string(s.width) + "x" +
                      std::to_string(s.height) + " is outside " + std::to_string(kMinSide) + "x" +
                      std::to_string(kMinSide) + ".." + std::to_string(kMaxSide) + "x" +
                      std::to_string(kMaxSide));
  }
  if (opts.fps < 1 || opts.fps > kMaxFps) {
    return make_error("synthetic desktop fps " + std::to_string(opts.fps) + " is outside 1.." +
                      std::to_string(kMaxFps));
  }
  for (const Workload& w : workloads()) {
    if (w.info.name == name) return w.make(opts);
  }
  return make_error("unknown synthetic workload '" + std::string(name) + "'; choose one of " +
                    names());
}

}  // namespace spiceflow::qxl
