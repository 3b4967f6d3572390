#pragma once
/// The part every synthetic workload shares: the input overlay (a text box, button dots and
/// the pointer marker drawn above the scene), keyboard decoding, frozen mode, and the
/// bookkeeping that keeps overlay pixels correct while the scene underneath changes.
///
/// A workload supplies two things: paint_scene() paints its scene as it stands, within a
/// clip, with fills and blits only (so any rectangle can be repainted at any time); and
/// advance() moves the scene to a new frame and draws the difference, assuming the screen
/// shows the scene as it stood (it may read the screen with copies). The base then repairs
/// whatever the scene commands did to the overlay and redraws it on top.
#include <cstdint>
#include <deque>
#include <memory>
#include <string>
#include <vector>

#include "paint.hpp"
#include "spiceflow/qxl/synthetic.hpp"

namespace spiceflow::qxl {

class DesktopBase : public SyntheticDesktop {
 public:
  DesktopBase(std::string_view name, const SyntheticOptions& opts);

  std::string_view name() const final { return name_; }
  DrawBatch start() final;
  DrawBatch next_frame(uint64_t frame) final;
  void on_input(const InputEvent& ev) final;

 protected:
  /// Paints the scene (the overlay excluded) as of the last advance(), within c.clip().
  /// Fills and blits only: no copies, since the screen may hold anything there.
  virtual void paint_scene(const Canvas& c) = 0;
  /// Moves the scene to `frame` (at `time_ms` since frame 0) and draws the change. Frames
  /// can be skipped or repeated; the change is from whatever state was drawn last.
  virtual void advance(uint64_t frame, int64_t time_ms, const Canvas& c) = 0;

  Size size() const { return size_; }
  const Ui& ui() const { return ui_; }
  int fps() const { return fps_; }
  /// Where the text box sits; workloads keep animated content out of it where they can.
  const Rect& text_box() const { return text_box_; }
  /// Whether the desktop shows the pointer (a full-screen game hides it).
  virtual bool shows_cursor() const { return true; }
  /// The first row below the text box and its margin.
  int32_t content_top() const { return text_box_.bottom() + ui_.margin; }

 private:
  static constexpr size_t kMaxDots = 32;
  static constexpr size_t kMaxText = 256;

  struct Dot {
    Point at;
    uint32_t color;
  };

  void on_key(const KeyEvent& ev);
  void move_pointer(int32_t x, int32_t y);
  /// The overlay's rectangles in drawing order: text box, dots, marker.
  std::vector<Rect> overlay_rects() const;
  Rect marker_rect() const;
  /// Repairs what the scene commands (the first `scene_count` of `commands`) did to the
  /// overlay and redraws it where needed.
  void update_overlay(const std::vector<DrawCommand>& commands, size_t scene_count,
                      const Canvas& c);
  void draw_overlay(const Canvas& c);
  /// The pixel code's rectangle (empty when the desktop paints none).
  Rect pixel_code_rect() const;
  /// Paints the next pixel code (a new frame id, the time now) at (0,0).
  void draw_pixel_code(const Canvas& c);
  void render_text_box();

  std::string name_;
  Size size_;
  int fps_;
  bool frozen_;
  bool pixel_code_;  // paint the pixel code on every frame (never when frozen)
  uint32_t pixel_code_frames_ = 0;
  uint64_t pixel_code_frame_no_ = 0;  // the frame number the code was last drawn for
  Ui ui_;
  Rect text_box_;

  // Input state, changed by on_input() and shown at the next next_frame().
  std::string text_;
  bool text_changed_ = true;
  bool shift_left_ = false;
  bool shift_right_ = false;
  bool caps_lock_ = false;
  Point pointer_;
  std::deque<Dot> dots_;
  uint64_t dots_made_ = 0;
  // Relative motion (server mouse mode) moved the pointer: the cursor follows it.
  bool cursor_moved_ = false;
  std::shared_ptr<const CursorShape> cursor_;

  // What the last batch left on screen.
  std::shared_ptr<const Image> text_image_;
  std::vector<Rect> drawn_overlay_;
};

}  // namespace spiceflow::qxl
