// "window-drag": one window dragged over a static wallpaper along a smooth Lissajous path,
// at the speed of a hand on a mouse. Each frame draws the window at its new place and
// repaints the wallpaper it uncovered.
#include <cstdio>
#include <string>

#include "desktop_base.hpp"
#include "procedural.hpp"
#include "workloads.hpp"

namespace spiceflow::qxl {
namespace {

class WindowDrag final : public DesktopBase {
 public:
  explicit WindowDrag(const SyntheticOptions& opts);

 protected:
  void paint_scene(const Canvas& c) override;
  void advance(uint64_t frame, int64_t time_ms, const Canvas& c) override;

 private:
  Point position_at(int64_t time_ms) const;

  std::shared_ptr<const Image> wallpaper_;
  std::shared_ptr<const Image> window_;
  Point pos_;
};

WindowDrag::WindowDrag(const SyntheticOptions& opts) : DesktopBase("window-drag", opts) {
  const Size sz = size();
  const int s = ui().scale;
  const int lh = ui().line_h();

  auto wallpaper = std::make_shared<Image>(sz.width, sz.height);
  draw_wallpaper(*wallpaper, rgb(96, 60, 120), rgb(230, 140, 90), 7);
  // Desktop icons down the left edge, below the text box.
  const int icon = 24 * s;
  for (int i = 0; i < 5; ++i) {
    const int y = content_top() + i * (icon + lh + 8 * s);
    fill_rect(*wallpaper, Rect{ui().margin + 4 * s, y, icon, icon},
              blend(rgb(240, 240, 240), rgb(40, 120, 220), i * 50));
    const char* labels[] = {"Home", "Trash", "Docs", "Music", "Games"};
    draw_text(*wallpaper, Point{ui().margin, y + icon + 2 * s}, labels[i], rgb(255, 255, 255), s);
  }
  wallpaper_ = wallpaper;

  // The window: a file list and a bar chart, so it has both text and flat colour.
  const Size ws{std::max(sz.width * 42 / 100, 16), std::max(sz.height * 48 / 100, 16)};
  auto window = std::make_shared<Image>(ws.width, ws.height);
  draw_window_frame(*window, "Files - drag me", rgb(30, 150, 130), rgb(245, 246, 248), ui());
  const Rect client = window_client(Rect::from_size(ws), ui());
  const int pad = 4 * s;
  const int list_w = client.width / 2;
  const size_t cols = size_t(std::max(1, (list_w - 2 * pad) / ui().char_w()));
  for (int i = 0; client.y + pad + (i + 1) * lh <= client.bottom(); ++i) {
    const uint64_t h = mix64(uint64_t(i) + 99);
    const char* stems[] = {"report", "screen", "data", "video", "notes", "budget"};
    char name[48];
    std::snprintf(name, sizeof name, "%s_%02d.%s %6lluK", stems[h % 6], i,
                  (h >> 16) % 2 ? "txt" : "png", (unsigned long long)((h >> 24) % 99999));
    draw_text(*window, Point{client.x + pad, client.y + pad + i * lh},
              std::string(name).substr(0, cols), rgb(30, 30, 40), s);
  }
  const int bars = 8;
  const int chart_x = client.x + list_w;
  const int bar_w = std::max(1, (client.width - list_w - pad) / bars);
  for (int i = 0; i < bars; ++i) {
    const int bh = int(mix64(uint64_t(i)) % uint64_t(std::max(1, client.height - 2 * pad)));
    fill_rect(*window, Rect{chart_x + i * bar_w, client.bottom() - pad - bh, bar_w * 3 / 4, bh},
              blend(rgb(230, 80, 60), rgb(60, 120, 230), i * 32));
  }
  window_ = window;
  pos_ = position_at(0);
}

Point WindowDrag::position_at(int64_t time_ms) const {
  const int64_t xr = std::max(0, size().width - window_->width());
  const int64_t yr = std::max(0, size().height - window_->height());
  // Periods of 5.0 s and 3.3 s: the path does not repeat for a long while.
  const int ax = int(time_ms * 4096 / 5000);
  const int ay = int(time_ms * 4096 / 3300) + 700;
  return Point{int32_t(xr * (16384 - icos(ax)) / 32768), int32_t(yr * (16384 - icos(ay)) / 32768)};
}

void WindowDrag::paint_scene(const Canvas& c) {
  c.blit(Point{0, 0}, wallpaper_);
  c.blit(pos_, window_);
}

void WindowDrag::advance(uint64_t frame, int64_t time_ms, const Canvas& c) {
  const Point pos = position_at(time_ms);
  if (pos == pos_) return;
  const Rect old{pos_.x, pos_.y, window_->width(), window_->height()};
  pos_ = pos;
  c.blit(pos_, window_);
  std::vector<Rect> uncovered;
  subtract(old, Rect{pos_.x, pos_.y, window_->width(), window_->height()}, uncovered);
  for (const Rect& r : uncovered) c.clipped(r).blit(Point{0, 0}, wallpaper_);
}

}  // namespace

std::unique_ptr<SyntheticDesktop> make_window_drag(const SyntheticOptions& opts) {
  return std::make_unique<WindowDrag>(opts);
}

}  // namespace spiceflow::qxl
