// "video": a static desktop with a large media player (2/3 of the screen width, 16:9; 1280x720
// on a 1920x1080 screen) whose picture changes every frame, plus the player's progress bar
// and time display.
// "video-move": the same player dragged right and back again (kDragFrames frames of
// kDragStep pixels each, after kRestFrames at rest, and so on), moved as a window manager
// does: a copy of the window, the uncovered wallpaper repainted. A sticky note of text
// stays on top of the picture at a fixed place, so the picture is painted around it: the
// stream follows the window and is clipped around the note, which stays exact.
#include <cstdio>

#include "desktop_base.hpp"
#include "procedural.hpp"
#include "workloads.hpp"

namespace spiceflow::qxl {
namespace {

constexpr int64_t kDurationMs = 5 * 60 * 1000;
constexpr uint32_t kControlPaper = rgb(24, 24, 28);
constexpr uint32_t kTrackColor = rgb(70, 70, 80);
constexpr uint32_t kPlayedColor = rgb(230, 60, 60);
// video-move: rest, drag right, rest, drag back (frames at the desktop's rate). The drag's
// 8-pixel steps and the note's 8-aligned rectangle keep the note on the covered-part grid
// (engine's CoverTracker), so all of it stays exact.
constexpr int kRestFrames = 60;
constexpr int kDragFrames = 12;
constexpr int kDragStep = 8;
constexpr int kCycleFrames = 2 * (kRestFrames + kDragFrames);
constexpr uint32_t kNotePaper = rgb(250, 236, 140);
constexpr uint32_t kNoteInk = rgb(40, 40, 40);

// The window's horizontal offset at `frame` (video-move).
int drag_offset(uint64_t frame) {
  const int f = int(frame % kCycleFrames);
  const int far = kDragFrames * kDragStep;
  if (f < kRestFrames) return 0;
  if (f < kRestFrames + kDragFrames) return (f - kRestFrames + 1) * kDragStep;
  if (f < 2 * kRestFrames + kDragFrames) return far;
  return far - (f - 2 * kRestFrames - kDragFrames + 1) * kDragStep;
}

Rect shifted(const Rect& r, int dx) { return Rect{r.x + dx, r.y, r.width, r.height}; }

class Video final : public DesktopBase {
 public:
  Video(const SyntheticOptions& opts, bool moving);

 protected:
  void paint_scene(const Canvas& c) override;
  void advance(uint64_t frame, int64_t time_ms, const Canvas& c) override;

 private:
  void enter(int64_t time_ms);
  /// Paints the picture at the current offset, around the note.
  void paint_picture(const Canvas& c) const;
  /// The scene without the note (within c's clip).
  void paint_scene_under(const Canvas& c) const;
  int played_at(int64_t time_ms) const {
    return int(int64_t(track_.width) * (time_ms % kDurationMs) / kDurationMs);
  }

  Rect window_;
  Rect video_;
  Rect track_;
  Point time_pos_;
  std::shared_ptr<const Image> wallpaper_;
  std::shared_ptr<const Image> frame_;
  std::shared_ptr<const Image> picture_;
  std::shared_ptr<const Image> time_image_;
  ImagePool pool_;
  int64_t time_ms_ = -1;
  int64_t shown_second_ = -1;
  int played_ = 0;
  const bool moving_;
  int dx_ = 0;    // the window's offset as drawn (video-move)
  Rect note_;     // the sticky note over the picture (empty: "video")
  std::shared_ptr<const Image> note_image_;
};

Video::Video(const SyntheticOptions& opts, bool moving)
    : DesktopBase(moving ? "video-move" : "video", opts), moving_(moving) {
  const Size sz = size();
  const int s = ui().scale;
  const int lh = ui().line_h();
  const Chrome ch = chrome(ui());
  const int control_h = lh + 6 * s;

  int vw = sz.width * 2 / 3;
  int vh = vw * 9 / 16;
  if (vh > sz.height * 2 / 3) {
    vh = sz.height * 2 / 3;
    vw = vh * 16 / 9;
  }
  vw = std::max(16, vw & ~1);
  vh = std::max(8, vh & ~1);
  const Size ws{vw + 2 * ch.border, ch.title_h + vh + control_h + ch.border};
  window_ = Rect{(sz.width - ws.width) / 2, std::max(content_top(), (sz.height - ws.height) / 2),
                 ws.width, ws.height};
  video_ = Rect{window_.x + ch.border, window_.y + ch.title_h, vw, vh};

  auto wallpaper = std::make_shared<Image>(sz.width, sz.height);
  draw_wallpaper(*wallpaper, rgb(20, 20, 24), rgb(60, 64, 72), 3);
  wallpaper_ = wallpaper;

  // Player frame with its control bar: a pause sign, then the time, then the progress track.
  auto frame = std::make_shared<Image>(ws.width, ws.height);
  draw_window_frame(*frame, "Video - synthetic.mkv", rgb(40, 40, 48), kControlPaper, ui());
  const int bar_y = ch.title_h + vh;
  const int icon_x = ch.border + 3 * s;
  const int icon_y = bar_y + 3 * s;
  fill_rect(*frame, Rect{icon_x + 2 * s, icon_y, 2 * s, lh}, rgb(230, 230, 230));
  fill_rect(*frame, Rect{icon_x + 6 * s, icon_y, 2 * s, lh}, rgb(230, 230, 230));
  time_pos_ = Point{window_.x + icon_x + lh + 4 * s, window_.y + icon_y};
  const int track_x = icon_x + lh + 8 * s + text_width("00:00 / 05:00", s);
  track_ = Rect{window_.x + track_x, window_.y + icon_y + lh / 2 - s,
                std::max(0, ws.width - ch.border - 6 * s - track_x), 2 * s};
  frame_ = frame;

  if (moving_) {
    // Inside the picture at either end of the drag: it starts an eighth of the picture in,
    // and the drag is shorter than that.
    const auto a8 = [](int v) { return (v + 7) / 8 * 8; };
    note_ = Rect{a8(video_.x + vw / 8), a8(video_.y + vh / 8), a8(std::max(64, vw / 4)),
                 a8(std::max(48, vh / 4))};
    auto note = std::make_shared<Image>(note_.width, note_.height);
    fill_rect(*note, Rect::from_size(note_.size()), kNotePaper);
    const char* lines[] = {"Sticky note", "stays exact", "over the video"};
    int y = 4 * s;
    for (const char* l : lines) {
      draw_text(*note, Point{4 * s, y}, l, kNoteInk, s);
      y += lh + 2 * s;
    }
    note_image_ = note;
  }
  enter(0);
}

void Video::paint_picture(const Canvas& c) const {
  const Rect at = shifted(video_, dx_);
  if (note_.empty()) {
    c.blit(Point{at.x, at.y}, picture_);
    return;
  }
  for (const Rect& r : subtract_all(at, std::span<const Rect>(&note_, 1))) {
    c.blit(r, picture_, Point{r.x - at.x, r.y - at.y});
  }
}

void Video::enter(int64_t time_ms) {
  if (time_ms == time_ms_) return;
  time_ms_ = time_ms;
  auto picture = pool_.acquire(video_.size());
  draw_plasma(*picture, time_ms, true);
  picture_ = picture;
  played_ = played_at(time_ms);
  const int64_t second = (time_ms % kDurationMs) / 1000;
  if (second != shown_second_) {
    shown_second_ = second;
    char text[32];
    std::snprintf(text, sizeof text, "%02d:%02d / %02d:%02d", int(second / 60), int(second % 60),
                  int(kDurationMs / 60000), int(kDurationMs / 1000 % 60));
    time_image_ = text_image(text, rgb(230, 230, 230), kControlPaper, ui().scale,
                             text_width(text, ui().scale));
  }
}

void Video::paint_scene(const Canvas& c) {
  paint_scene_under(c);
  if (!note_.empty()) c.blit(Point{note_.x, note_.y}, note_image_);
}

void Video::paint_scene_under(const Canvas& c) const {
  const Rect win = shifted(window_, dx_);
  const Rect track = shifted(track_, dx_);
  c.blit(Point{0, 0}, wallpaper_);
  c.blit(Point{win.x, win.y}, frame_);
  paint_picture(c);
  c.blit(Point{time_pos_.x + dx_, time_pos_.y}, time_image_);
  c.fill(Rect{track.x, track.y, played_, track.height}, kPlayedColor);
  c.fill(Rect::from_ltrb(track.x + played_, track.y, track.right(), track.bottom()),
         kTrackColor);
}

void Video::advance(uint64_t frame, int64_t time_ms, const Canvas& c) {
  const int64_t old_second = shown_second_;
  const int old_played = played_;
  const int dx = moving_ ? drag_offset(frame) : 0;
  if (time_ms == time_ms_ && dx == dx_) return;
  if (dx != dx_) {
    // The window moves with its pixels; the wallpaper it uncovers is repainted, and the
    // note (moved along by the copy) goes back on top below.
    const Rect from = shifted(window_, dx_);
    const Rect to = shifted(window_, dx);
    c.copy(to, Point{from.x, from.y});
    for (const Rect& r : subtract_all(from, std::span<const Rect>(&to, 1))) {
      c.blit(r, wallpaper_, Point{r.x, r.y});
    }
    const int moved = dx - dx_;
    dx_ = dx;
    // The note's pixels went along with the copy: the scene goes back where they landed.
    if (!note_.empty()) paint_scene_under(c.clipped(shifted(note_, moved)));
  }
  enter(time_ms);
  paint_picture(c);
  if (!note_.empty()) c.blit(Point{note_.x, note_.y}, note_image_);
  const Point time_pos{time_pos_.x + dx_, time_pos_.y};
  const Rect track = shifted(track_, dx_);
  if (shown_second_ != old_second) c.blit(time_pos, time_image_);
  if (played_ > old_played) {
    c.fill(Rect::from_ltrb(track.x + old_played, track.y, track.x + played_, track.bottom()),
           kPlayedColor);
  } else if (played_ < old_played) {
    c.fill(Rect{track.x, track.y, played_, track.height}, kPlayedColor);
    c.fill(Rect::from_ltrb(track.x + played_, track.y, track.right(), track.bottom()),
           kTrackColor);
  }
}

}  // namespace

std::unique_ptr<SyntheticDesktop> make_video(const SyntheticOptions& opts) {
  return std::make_unique<Video>(opts, false);
}

std::unique_ptr<SyntheticDesktop> make_video_move(const SyntheticOptions& opts) {
  return std::make_unique<Video>(opts, true);
}

}  // namespace spiceflow::qxl
