#pragma once
// Video-region detection for the classify stage: finds rectangles of tiles that change at
// a steady rate, whatever draws them, and turns them into stream regions that stay put
// while they keep changing and end once they go still.
//
// Per tile it keeps a bit history of the last kHistory passes (one pass per tick, so the
// history is in frames of the desktop's rate): whether the tile changed, and whether the
// change was "video-like" (covered at least kMinCoverage of the tile's pixels). A tile is
// steady when it changed in >= kMinChanges of those passes, core when its video-like
// changes alone reach that. Filter mode: core tiles, and steady tiles that steadily
// receive "bulk" paints (a paint rectangle covering >= kMinCoverage of the tile, or >=
// kMinBulkSide on both sides: a video frame's edge, a window), connected side by side form
// a component; a steady tile of thin or small paints only (a clock, a progress bar, a
// caret, the pixel code's 640x8 strip) never joins one, as it would drag the region over
// content that must stay exact. A component with >= kMinCoreTiles becomes a region, its
// tile-aligned bounding rectangle less any thin strip repainted at the very same place
// (kMinThinChanges) along one of its edges (the pixel code above a player or over a
// window dragged to the top): that band, at most kMaxStripCut pixels rounded to
// kRegionAlign, stays lossless. All mode: steady tiles form components, and each becomes
// a region of its tile-aligned bounding rectangle. Overlapping rectangles merge. A live
// region follows its picture: each pass the bounding box of the large paints (both sides >=
// kMinBulkSide) that meet the region is its picture; a picture that moved or shrank (still
// >= kMinFollowArea of the old one) moves or resizes the region at once, one that grew
// only after it held kFollowGrowPasses passes (a window painted over the video for one
// pass must not drag the stream over it). A moved picture keeps the region's size where a
// tile-aligned rectangle of that size holds it (a stream of the same size only moves). The region keeps its id; the tiles it left lose
// their history (or they would start a second region there). It ends after kEndAfterStill
// passes in which nothing painted inside its rectangle changed. Threading: owned by the
// pipeline, used by the classify stage only.
#include <cstdint>
#include <optional>
#include <span>
#include <vector>

#include "spiceflow/core/geometry.hpp"
#include "spiceflow/engine/desktop.hpp"

namespace spiceflow::engine {

class VideoDetector {
 public:
  /// Passes looked back on: ~0.5 s at 30 fps, long enough to tell a steady rate from a
  /// burst (a window being dragged, a menu opening), short enough to start a stream soon.
  static constexpr int kHistory = 16;
  /// Changes needed within kHistory: 10 of 16 accepts 20 fps video on a 30 fps desktop
  /// (and 24/25 fps content with skipped ticks) while typing, a clock, a blinking caret or
  /// a progress bar change far less often.
  static constexpr int kMinChanges = 10;
  /// Fraction of a tile's pixels a change must touch to look like video (filter mode):
  /// scrolling text repaints a few rows per frame, video repaints nearly every pixel.
  static constexpr double kMinCoverage = 0.25;
  /// A region with fewer core tiles is not worth a stream in filter mode (a spinner, an
  /// animated icon): lossless tiles cost little there and stay exact.
  static constexpr int kMinCoreTiles = 2;
  /// A paint this large on both sides is "bulk" (part of a picture, a window) in every
  /// tile it touches, however little of the tile that is; smaller paints are bulk in a
  /// tile only where they cover >= kMinCoverage of it. Half a tile: the pixel code (8
  /// rows), a progress bar, a caret or a line of text is thinner.
  static constexpr int32_t kMinBulkSide = 32;
  /// A thin paint (a side < kMinBulkSide) repeated at the same rectangle in this many of
  /// the last kHistory passes is a strip, cut off a new region's side (filter mode). Fewer
  /// than kMinChanges: the first pass of a surface paints whole tiles (no strip is seen)
  /// yet counts as a change towards kMinChanges.
  static constexpr int kMinThinChanges = kMinChanges / 2;
  /// The thickest band cut off a region's side for a thin strip there (a quarter tile):
  /// the pixel code is 8 rows, a progress bar or a status line about as thin.
  static constexpr int32_t kMaxStripCut = 16;
  /// A band cut off a region for a strip is rounded to this many pixels: even sizes for
  /// the video encoders, and the pixel code's 8 rows cost no more than themselves.
  static constexpr int32_t kRegionAlign = 8;
  /// Passes without any change before a region ends (~0.5 s at 30 fps): a paused or
  /// stuttering video keeps its stream, a stopped one turns lossless soon.
  static constexpr int kEndAfterStill = 15;
  /// A picture that moved or shrank is followed when it keeps at least this part of the
  /// old picture's area: a window dragged or made smaller keeps its whole video, while a
  /// small paint inside a paused video (an icon, a caption) is no new picture.
  static constexpr double kMinFollowArea = 0.5;
  /// Passes a larger picture must hold before the region grows to it (~0.1 s at 30 fps):
  /// a resize that ended, not one pass of a window painted over the video.
  static constexpr int kFollowGrowPasses = 3;

  struct Region {
    uint32_t id = 0;
    Rect rect;           // pixels, tile-aligned (clipped to the surface)
    Rect tiles;          // in tile columns / rows (rect lies within them)
    int still = 0;       // passes since a tile inside changed
    bool changed = false;  // a tile inside changed in the last update()
    bool fresh = false;    // created by the last update()
    bool moved = false;    // rect changed (moved or resized) by the last update()
    /// The picture: the bounding box of the large paints that met the region in the last
    /// pass that had any (empty while unknown).
    Rect picture;
    Rect grow_to;          // a larger picture seen in the last grow_passes passes
    int grow_passes = 0;
    /// Went still in the last update(): still published for this pass while its tiles are
    /// re-snapshotted; removed by the next update().
    bool ending = false;
  };
  struct TileChange {
    int32_t tile = 0;
    double coverage = 1.0;  // fraction of the tile's pixels that differ
  };

  explicit VideoDetector(StreamingVideo mode) : mode_(mode) {}

  /// Starts over on a new surface of `columns` x `rows` tiles of `tile` pixels: every
  /// region ends (clients are sent a new surface anyway).
  void reset(Size size, int32_t tile, int32_t columns, int32_t rows);

  /// One pass: the tiles that changed by painting (not by forwarded moves), and `painted`,
  /// the rectangles this pass painted (per draw command; surface pixels) when the caller
  /// knows them: they tell which part of a tile changed, so a region's rectangle keeps
  /// thin strips that share its tiles out. Without them (nullopt: too many to keep) every
  /// changed tile counts as painted all over. Returns the rectangles of regions that went
  /// still in this pass: the caller marks them damaged so the next pass publishes their
  /// exact pixels as fresh lossless tiles, and that pass's update() removes the regions
  /// (clients end their streams on the same frame that carries the exact picture).
  std::vector<Rect> update(std::span<const TileChange> changes,
                           std::optional<std::span<const Rect>> painted = std::nullopt);

  const std::vector<Region>& regions() const { return regions_; }
  /// The live region whose rectangle holds all of tile index `tile`, or null (a tile only
  /// partly inside stays lossless: its pixels outside are not in the stream).
  const Region* region_of(int32_t tile) const;
  StreamingVideo mode() const { return mode_; }

 private:
  bool steady(size_t t) const;
  /// Cuts a thin strip repainted at an edge of `r` off it (filter mode; see the header).
  Rect cut_strips(Rect r) const;
  /// The tile-aligned rectangle (pixels, clipped to the surface) and tile span around `r`.
  Rect tiles_around(const Rect& r) const;
  /// Moves or resizes live regions whose picture moved (see the header).
  void follow(std::span<const Rect> painted);
  bool core(size_t t) const;
  Rect tile_rect(int32_t t) const;

  StreamingVideo mode_;
  Size size_;
  int32_t tile_ = 0, columns_ = 0, rows_ = 0;
  std::vector<uint32_t> changed_;  // per tile: bit i = changed i passes ago
  std::vector<uint32_t> video_;    // per tile: bit i = a video-like change i passes ago
  std::vector<uint32_t> bulk_;     // per tile: bit i = a bulk paint i passes ago
  std::vector<Rect> touched_;  // per tile: surface pixels this pass painted in it
  // Thin paints (a side < kMinBulkSide) repeated at the very same rectangle: the pixel
  // code, a status line, a progress bar's track. Bit i = painted i passes ago.
  struct Strip {
    Rect rect;
    uint32_t history = 0;
  };
  static constexpr size_t kMaxStrips = 64;
  std::vector<Strip> strips_;
  std::vector<Region> regions_;
  uint32_t next_id_ = 1;
};

}  // namespace spiceflow::engine
