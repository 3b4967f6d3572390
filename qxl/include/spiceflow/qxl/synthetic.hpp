#pragma once
/// Deterministic synthetic desktops: generated workloads (an office desktop, scrolling
/// text, window drags, a video window, full-screen game-like motion) that produce display
/// commands through the same draw-command IR that QXL commands use. The same (name, size,
/// frame number, input history) always gives the same commands, so frames are
/// reproducible pixel for pixel.
///
/// Threading: a SyntheticDesktop is not thread-safe; the engine calls it from one ingest
/// stage at a time (on_input and next_frame are never concurrent).
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "spiceflow/core/draw.hpp"
#include "spiceflow/core/input.hpp"
#include "spiceflow/core/result.hpp"

namespace spiceflow::qxl {

struct SyntheticOptions {
  Size size{1920, 1080};
  int fps = 30;
  /// One fixed frame: next_frame() changes nothing unless input arrived.
  bool frozen = false;
  /// Paint a pixel code (core/pixel_code.hpp: an increasing frame id and the monotonic
  /// time the frame's commands were produced) at (0,0) on top of every frame, for latency
  /// measurement by a client (spiceflow-meter). Makes frames time-dependent, so off by
  /// default; ignored when frozen.
  bool pixel_code = false;
};

struct SyntheticInfo {
  std::string name;
  std::string description;
};

class SyntheticDesktop {
 public:
  virtual ~SyntheticDesktop() = default;
  virtual std::string_view name() const = 0;
  /// The primary surface (id 0) creation, a full first paint (frame 0), and the pointer:
  /// an arrow (CursorSet), or CursorHide for workloads that hide it (game).
  virtual DrawBatch start() = 0;
  /// The commands that turn frame `frame - 1` into frame `frame` (frame >= 1), including
  /// the visible effect of input received since the previous call. Frozen: only input.
  virtual DrawBatch next_frame(uint64_t frame) = 0;
  /// Keyboard and mouse input; takes effect at the next next_frame(). Typed characters
  /// appear in a text box; the pointer position is drawn as a marker; a button press
  /// leaves a dot. Relative motion (server mouse mode) also moves the cursor (CursorMove).
  virtual void on_input(const InputEvent& ev) = 0;
};

/// The registered workloads, the default ("office") first.
const std::vector<SyntheticInfo>& list_synthetic();
/// Creates the named workload; an unknown name or a size outside 64x64..8192x8192 is an
/// error listing the valid choices.
Result<std::unique_ptr<SyntheticDesktop>> make_synthetic(std::string_view name,
                                                         const SyntheticOptions& opts);

}  // namespace spiceflow::qxl
