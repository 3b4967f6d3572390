#pragma once
// The classify stage's per-tile policy: every damaged tile starts lossless; the stage then
// marks tiles inside a live video region (video_detect.hpp) as video. The change streak
// kept here is a per-tile statistic; the detector keeps its own rate history.
#include <cstdint>
#include <vector>

namespace spiceflow::engine {

enum class TileClass { lossless, video };

class Classifier {
 public:
  /// Records that `tile` changed in frame `frame_no`; returns lossless (video regions are
  /// the detector's call, made for whole rectangles).
  TileClass classify(int32_t tile, uint64_t frame_no) {
    if (size_t(tile) >= last_change_.size()) {
      last_change_.resize(size_t(tile) + 1, 0);
      streak_.resize(size_t(tile) + 1, 0);
    }
    // A streak counts consecutive frames in which the tile changed.
    streak_[size_t(tile)] = (last_change_[size_t(tile)] + 1 == frame_no) ? streak_[size_t(tile)] + 1 : 1;
    last_change_[size_t(tile)] = frame_no;
    return TileClass::lossless;
  }
  uint32_t streak(int32_t tile) const {
    return size_t(tile) < streak_.size() ? streak_[size_t(tile)] : 0;
  }

 private:
  std::vector<uint64_t> last_change_;
  std::vector<uint32_t> streak_;
};

}  // namespace spiceflow::engine
