#pragma once
// The covered parts of a video region: blocks of its picture that stay the same while the
// rest of it changes (a window or a caption over the player, a sticky note, letterbox
// bars). Clients clip the region's stream to the rest (STREAM_CLIP) and get these parts as
// exact images, so text over a video stays lossless. Blocks lie on a kBlock grid of the
// surface (not of the region, which may move); a block becomes covered after
// kStillUpdates region changes that left it unchanged and is uncovered by its first change.
// Threading: owned by the pipeline's classify stage.
#include <cstdint>
#include <vector>

#include "spiceflow/core/geometry.hpp"
#include "spiceflow/core/image.hpp"

namespace spiceflow::engine {

class CoverTracker {
 public:
  /// Block side in surface pixels: fine enough that a window edge costs a few lossy
  /// pixels at most, coarse enough that comparing a 1280x720 picture is a row memcmp per
  /// block (14400 blocks).
  static constexpr int32_t kBlock = 8;
  /// Region changes a block must sit out before it counts as covered (~0.5 s at 30 fps):
  /// a dark or still scene in a video is not a window, and re-clipping costs messages.
  static constexpr int kStillUpdates = 15;
  /// The most rectangles a clip (or the covered list) may take; past that the region is
  /// streamed unclipped (a ragged shape is not worth a long clip list per client).
  static constexpr size_t kMaxRects = 32;
  /// A covered part thinner than this on either side stays in the stream: windows, notes,
  /// captions and letterbox bars are larger, while a game or a film has scattered small
  /// patches that hold still for a while (clipping them out would re-clip every frame).
  static constexpr int32_t kMinCoveredSide = 32;

  /// Starts over for a region at `rect` (a new region, or one that moved or resized).
  void reset(const Rect& rect);
  /// One change of the region: `before` and `after` are its previous and new pictures
  /// (rect-sized). Returns true when the covered set changed.
  bool update(const ImageView& before, const ImageView& after);
  /// Covered parts (surface pixels), and the rest of the region (the stream's clip); both
  /// empty while nothing is covered.
  const std::vector<Rect>& covered() const { return covered_; }
  const std::vector<Rect>& shown() const { return shown_; }

 private:
  Rect block_rect(int32_t bx, int32_t by) const;
  /// Rectangles of the blocks where `in(block index)` holds: row runs, joined downwards.
  template <typename In>
  std::vector<Rect> rects_of(In in) const;

  Rect rect_;
  int32_t bx0_ = 0, by0_ = 0, columns_ = 0, rows_ = 0;
  std::vector<uint8_t> still_;  // per block: region changes it sat out, capped
  std::vector<Rect> covered_, shown_;
};

}  // namespace spiceflow::engine
