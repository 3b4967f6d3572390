// "office": the everyday desktop. A wallpaper, a taskbar whose clock ticks every second, an
// editor whose text scrolls a few lines a second (a copy plus the new lines), a media
// player with a small video, and a sticky-notes window that drifts slowly across the
// desktop above the others. Z-order, bottom up: wallpaper, editor, player, notes, taskbar.
#include <array>
#include <cstdio>

#include "desktop_base.hpp"
#include "procedural.hpp"
#include "workloads.hpp"

namespace spiceflow::qxl {
namespace {

constexpr int kEditorLinesPerSecond = 4;
constexpr int64_t kClockStartSeconds = 9 * 3600 + 41 * 60 + 7;

class Office final : public DesktopBase {
 public:
  explicit Office(const SyntheticOptions& opts);

 protected:
  void paint_scene(const Canvas& c) override;
  void advance(uint64_t frame, int64_t time_ms, const Canvas& c) override;

 private:
  struct State {
    int64_t top_line = 0;
    Rect notes;
    int64_t clock_seconds = -1;
    int64_t video_ms = -1;
  };

  State state_at(int64_t time_ms) const;
  // Moves to `s`, rendering what the new state shows (video frame, clock).
  void enter(const State& s);
  void paint_editor_lines(const Canvas& c);
  Point clock_pos() const;

  Rect taskbar_;
  Rect desk_;  // where windows live: between the text box row and the taskbar
  Rect editor_;
  Rect editor_text_;  // the rows of the editor's text
  int editor_rows_ = 0;
  Rect player_;
  Rect video_;
  Size notes_size_;
  std::shared_ptr<const Image> wallpaper_;
  std::shared_ptr<const Image> editor_frame_;
  std::shared_ptr<const Image> player_frame_;
  std::shared_ptr<const Image> notes_image_;
  std::shared_ptr<const Image> taskbar_image_;
  std::shared_ptr<const Image> clock_image_;
  std::shared_ptr<const Image> video_image_;
  ImagePool video_pool_;
  LineCache editor_lines_;
  State state_;
};

Office::Office(const SyntheticOptions& opts)
    : DesktopBase("office", opts), editor_lines_(1, nullptr) {
  const Size sz = size();
  const int s = ui().scale;
  const int lh = ui().line_h();
  const Chrome ch = chrome(ui());

  taskbar_ = Rect{0, sz.height - (lh + 8 * s), sz.width, lh + 8 * s};
  desk_ = Rect::from_ltrb(0, content_top(), sz.width, taskbar_.top());

  auto wallpaper = std::make_shared<Image>(sz.width, sz.height);
  draw_wallpaper(*wallpaper, rgb(32, 84, 140), rgb(12, 30, 58), 1);
  wallpaper_ = wallpaper;

  // Editor: left half of the desk.
  editor_ =
      Rect{desk_.x + sz.width * 3 / 100, desk_.y, sz.width * 44 / 100, desk_.height * 72 / 100};
  const Rect client = window_client(editor_, ui());
  const int pad = 3 * s;
  editor_rows_ = std::max(1, (client.height - 2 * pad) / lh);
  editor_text_ = Rect{client.x, client.y + pad, client.width, editor_rows_ * lh};
  {
    auto img = std::make_shared<Image>(editor_.width, editor_.height);
    draw_window_frame(*img, "report.txt - Editor", rgb(60, 110, 200), rgb(252, 252, 248), ui());
    editor_frame_ = img;
  }
  const size_t columns = size_t(std::max(1, (client.width - 2 * pad) / ui().char_w()));
  editor_lines_ = LineCache(size_t(editor_rows_) + 2, [this, columns, pad](int64_t i) {
    return text_image(prose_line(uint64_t(i), columns), rgb(20, 20, 30), rgb(252, 252, 248),
                      ui().scale, editor_text_.width, pad);
  });

  // Media player: top right, a 16:9 video that grows with the screen.
  const Size video{std::min(160 * s, sz.width * 40 / 100),
                   std::min(90 * s, desk_.height * 50 / 100)};
  player_ = Rect{sz.width * 52 / 100, desk_.y, video.width + 2 * ch.border,
                 video.height + ch.title_h + ch.border};
  video_ = window_client(player_, ui());
  {
    auto img = std::make_shared<Image>(player_.width, player_.height);
    draw_window_frame(*img, "Media Player", rgb(150, 60, 160), rgb(0, 0, 0), ui());
    player_frame_ = img;
  }

  // Sticky notes: static content; only its position changes.
  notes_size_ = Size{std::max(sz.width * 30 / 100, 8), std::max(desk_.height * 40 / 100, 8)};
  {
    auto img = std::make_shared<Image>(notes_size_.width, notes_size_.height);
    draw_window_frame(*img, "Notes", rgb(200, 150, 20), rgb(255, 244, 170), ui());
    const Rect nc = window_client(Rect::from_size(notes_size_), ui());
    const size_t cols = size_t(std::max(1, (nc.width - 2 * pad) / ui().char_w()));
    for (int i = 0; nc.y + pad + (i + 1) * lh <= nc.bottom(); ++i) {
      draw_text(*img, Point{nc.x + pad, nc.y + pad + i * lh}, prose_line(uint64_t(1000 + i), cols),
                rgb(60, 50, 10), s);
    }
    notes_image_ = img;
  }

  // Taskbar: start button and one button per window; the clock is drawn separately.
  {
    auto img = std::make_shared<Image>(taskbar_.width, taskbar_.height);
    fill_rect(*img, Rect::from_size(img->size()), rgb(28, 30, 36));
    fill_rect(*img, Rect{0, 0, img->width(), s}, rgb(70, 74, 84));
    const int by = 3 * s;
    const int bh = taskbar_.height - 6 * s;
    int x = ui().margin;
    const char* labels[] = {"Start", "Editor", "Media Player", "Notes"};
    for (int i = 0; i < 4; ++i) {
      const int bw = text_width(labels[i], s) + 8 * s;
      fill_rect(*img, Rect{x, by, bw, bh}, i == 0 ? rgb(40, 140, 80) : rgb(52, 56, 66));
      draw_text(*img, Point{x + 4 * s, by + (bh - lh) / 2}, labels[i], rgb(235, 235, 235), s);
      x += bw + 4 * s;
    }
    taskbar_image_ = img;
  }

  enter(state_at(0));
}

Office::State Office::state_at(int64_t time_ms) const {
  State s;
  s.top_line = time_ms * kEditorLinesPerSecond / 1000;
  // The notes window bounces around the desk at a leisurely, screen-relative speed.
  const int64_t xr = std::max(0, desk_.width - notes_size_.width);
  const int64_t yr = std::max(0, desk_.height - notes_size_.height);
  const int64_t speed = 40 * ui().scale;  // pixels per second
  s.notes = Rect{int32_t(bounce(xr * 3 / 4 + time_ms * speed / 1000, xr)),
                 desk_.y + int32_t(bounce(yr / 2 + time_ms * speed * 5 / 8 / 1000, yr)),
                 notes_size_.width, notes_size_.height};
  s.clock_seconds = kClockStartSeconds + time_ms / 1000;
  s.video_ms = time_ms;
  return s;
}

void Office::enter(const State& s) {
  if (s.video_ms != state_.video_ms) {
    auto img = video_pool_.acquire(video_.size());
    draw_plasma(*img, s.video_ms, true);
    video_image_ = img;
  }
  if (s.clock_seconds != state_.clock_seconds) {
    const int64_t t = s.clock_seconds % 86400;
    char text[16];
    std::snprintf(text, sizeof text, "%02d:%02d:%02d", int(t / 3600), int(t / 60 % 60),
                  int(t % 60));
    clock_image_ = text_image(text, rgb(235, 235, 235), rgb(28, 30, 36), ui().scale,
                              text_width(text, ui().scale));
  }
  state_ = s;
}

Point Office::clock_pos() const {
  return Point{taskbar_.right() - ui().margin - clock_image_->width(),
               taskbar_.y + (taskbar_.height - clock_image_->height()) / 2};
}

void Office::paint_editor_lines(const Canvas& c) {
  for (int i = 0; i < editor_rows_; ++i) {
    c.blit(Point{editor_text_.x, editor_text_.y + i * ui().line_h()},
           editor_lines_.get(state_.top_line + i));
  }
}

void Office::paint_scene(const Canvas& c) {
  c.blit(Point{0, 0}, wallpaper_);
  c.blit(Point{editor_.x, editor_.y}, editor_frame_);
  if (overlaps(c.clip(), editor_text_)) paint_editor_lines(c.clipped(editor_text_));
  c.blit(Point{player_.x, player_.y}, player_frame_);
  c.blit(Point{video_.x, video_.y}, video_image_);
  c.clipped(desk_).blit(Point{state_.notes.x, state_.notes.y}, notes_image_);
  c.blit(Point{taskbar_.x, taskbar_.y}, taskbar_image_);
  c.blit(clock_pos(), clock_image_);
}

void Office::advance(uint64_t frame, int64_t time_ms, const Canvas& c) {
  const State old = state_;
  enter(state_at(time_ms));
  const int lh = ui().line_h();

  // Editor scroll: a copy only when nothing covered the editor text in the last frame, so
  // the copy reads editor pixels alone; otherwise its visible parts are repainted below.
  const int64_t delta = state_.top_line - old.top_line;
  bool editor_repaint = false;
  if (delta != 0) {
    const std::array<Rect, 3> above{player_, old.notes, taskbar_};
    const bool clear = std::none_of(above.begin(), above.end(),
                                    [&](const Rect& r) { return overlaps(r, editor_text_); });
    if (clear && delta > 0 && delta < editor_rows_) {
      const Canvas e = c.clipped(editor_text_);
      const int keep = editor_rows_ - int(delta);
      e.copy(Rect{editor_text_.x, editor_text_.y, editor_text_.width, keep * lh},
             Point{editor_text_.x, editor_text_.y + int(delta) * lh});
      for (int i = keep; i < editor_rows_; ++i) {
        e.blit(Point{editor_text_.x, editor_text_.y + i * lh},
               editor_lines_.get(state_.top_line + i));
      }
    } else {
      editor_repaint = true;
    }
  }

  // Notes: draw at the new place (below the taskbar), then repaint what it uncovered.
  if (state_.notes != old.notes) {
    c.clipped(desk_).blit(Point{state_.notes.x, state_.notes.y}, notes_image_);
    std::vector<Rect> uncovered;
    subtract(old.notes, state_.notes, uncovered);
    for (const Rect& r : uncovered) paint_scene(c.clipped(r));
  }

  if (editor_repaint) {
    const std::array<Rect, 3> above{player_, state_.notes, taskbar_};
    for (const Rect& r : subtract_all(editor_text_, above)) paint_editor_lines(c.clipped(r));
  }

  if (state_.video_ms != old.video_ms) {
    const std::array<Rect, 2> above{state_.notes, taskbar_};
    for (const Rect& r : subtract_all(video_, above)) {
      c.clipped(r).blit(Point{video_.x, video_.y}, video_image_);
    }
  }

  if (state_.clock_seconds != old.clock_seconds) c.blit(clock_pos(), clock_image_);
}

}  // namespace

std::unique_ptr<SyntheticDesktop> make_office(const SyntheticOptions& opts) {
  return std::make_unique<Office>(opts);
}

}  // namespace spiceflow::qxl
