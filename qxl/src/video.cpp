// "video": a static desktop with a large media player (2/3 of the screen width, 16:9; 1280x720
// on a 1920x1080 screen) whose picture changes every frame, plus the player's progress bar
// and time display.
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

class Video final : public DesktopBase {
 public:
  explicit Video(const SyntheticOptions& opts);

 protected:
  void paint_scene(const Canvas& c) override;
  void advance(uint64_t frame, int64_t time_ms, const Canvas& c) override;

 private:
  void enter(int64_t time_ms);
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
};

Video::Video(const SyntheticOptions& opts) : DesktopBase("video", opts) {
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

  enter(0);
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
  c.blit(Point{0, 0}, wallpaper_);
  c.blit(Point{window_.x, window_.y}, frame_);
  c.blit(Point{video_.x, video_.y}, picture_);
  c.blit(time_pos_, time_image_);
  c.fill(Rect{track_.x, track_.y, played_, track_.height}, kPlayedColor);
  c.fill(Rect::from_ltrb(track_.x + played_, track_.y, track_.right(), track_.bottom()),
         kTrackColor);
}

void Video::advance(uint64_t frame, int64_t time_ms, const Canvas& c) {
  const int64_t old_second = shown_second_;
  const int old_played = played_;
  if (time_ms == time_ms_) return;
  enter(time_ms);
  c.blit(Point{video_.x, video_.y}, picture_);
  if (shown_second_ != old_second) c.blit(time_pos_, time_image_);
  if (played_ > old_played) {
    c.fill(Rect::from_ltrb(track_.x + old_played, track_.y, track_.x + played_, track_.bottom()),
           kPlayedColor);
  } else if (played_ < old_played) {
    c.fill(Rect{track_.x, track_.y, played_, track_.height}, kPlayedColor);
    c.fill(Rect::from_ltrb(track_.x + played_, track_.y, track_.right(), track_.bottom()),
           kTrackColor);
  }
}

}  // namespace

std::unique_ptr<SyntheticDesktop> make_video(const SyntheticOptions& opts) {
  return std::make_unique<Video>(opts);
}

}  // namespace spiceflow::qxl
