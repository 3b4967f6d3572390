#include "scenes.hpp"

#include <algorithm>
#include <cmath>
#include <cstring>

#include "art.hpp"
#include "qxl_device.hpp"
#include "spiceflow/core/pixel_code.hpp"

namespace spiceflow::player {

namespace {

constexpr uint32_t kWhite = 0xffffff;
constexpr uint32_t kBorder = 0x707070;

Rect rect_at(int x, int y, int w, int h) { return Rect{x, y, x + w, y + h}; }

/// Draws `text` as one bitmap (fg on bg) with its top-left at (x, y).
void text_bitmap(QxlDevice& dev, int x, int y, const std::string& text, uint32_t fg,
                 uint32_t bg) {
  if (text.empty()) return;
  Bitmap bm = dev.alloc_bitmap(int(text.size()) * kGlyphW, kGlyphH);
  draw_text([&](int row) { return bm.row(row); }, 0, 0, text, fg, bg);
  dev.copy(std::move(bm), x, y);
}

/// Draws the part `r` of picture `pic` (whose top-left sits at (px, py)) as one bitmap.
void picture_part(QxlDevice& dev, const Picture& pic, int px, int py, const Rect& r) {
  if (r.empty()) return;
  Bitmap bm = dev.alloc_bitmap(r.width(), r.height());
  for (int y = 0; y < r.height(); ++y) {
    std::memcpy(bm.row(y), pic.row(r.top - py + y) + (r.left - px), size_t(r.width()) * 4);
  }
  dev.copy(std::move(bm), r.left, r.top);
}

/// A window frame: 1-pixel border, title bar with its title, body.
void window_chrome(QxlDevice& dev, const Rect& frame, uint32_t title_bg, const std::string& title,
                   uint32_t body) {
  dev.fill(frame, kBorder);
  dev.fill(Rect{frame.left + 1, frame.top + 1, frame.right - 1, frame.top + 29}, title_bg);
  text_bitmap(dev, frame.left + 10, frame.top + 7, title, kWhite, title_bg);
  dev.fill(Rect{frame.left + 1, frame.top + 29, frame.right - 1, frame.bottom - 1}, body);
}

// ---------------------------------------------------------------- office

/// A desktop with an editor in which text is typed (one character a frame, scrolling with
/// copy_bits when the page is full), a spreadsheet whose columns are recomputed every 90
/// frames, a small animation, a taskbar clock and a moving mouse pointer.
class Office final : public Scene {
 public:
  void frame(QxlDevice& dev, uint64_t n) override {
    if (n == 0) {
      paint_all(dev);
      return;
    }
    type_one(dev);
    spinner(dev, n);
    if (n % 90 == 0) recalc(dev, n / 90);
    if (n % 30 == 0) clock(dev, n / 30);
    dev.cursor_move(int(1300 + 200 * std::sin(n * 0.031)), int(400 + 120 * std::sin(n * 0.047)));
  }

 private:
  static constexpr Rect kEditor{80, 60, 1040, 800};
  static constexpr int kTextLeft = 100, kTextTop = 100, kCols = 115, kRows = 42;
  static constexpr Rect kSheet{1100, 100, 1840, 700};
  static constexpr int kCellW = 100, kCellH = 20, kSheetRows = 27, kSheetCols = 7;
  static constexpr Rect kSpinner{1760, 620, 1824, 684};

  void paint_all(QxlDevice& dev) {
    dev.fill(Rect{0, 0, 1920, 1040}, 0x2d5a7b);
    dev.fill(Rect{0, 1040, 1920, 1080}, 0x1e1e24);
    dev.fill(Rect{8, 1046, 48, 1074}, 0x3a7bd5);
    dev.fill(Rect{60, 1046, 260, 1074}, 0x3c3c46);
    dev.fill(Rect{270, 1046, 470, 1074}, 0x3c3c46);
    text_bitmap(dev, 72, 1052, "Document1", kWhite, 0x3c3c46);
    text_bitmap(dev, 282, 1052, "Budget.ods", kWhite, 0x3c3c46);
    clock(dev, 0);

    window_chrome(dev, kEditor, 0x2b579a, "Document1 - Editor", kWhite);
    for (int r = 0; r < 12; ++r) {
      text_bitmap(dev, kTextLeft, kTextTop + r * kGlyphH, text_line(line_, kCols), 0x202020,
                  kWhite);
      ++line_;
    }
    row_ = 12;
    current_ = text_line(line_, kCols);

    window_chrome(dev, kSheet, 0x217346, "Budget.ods - Spreadsheet", kWhite);
    const int top = kSheet.top + 29;
    dev.fill(Rect{kSheet.left + 1, top, kSheet.right - 1, top + kCellH}, 0xe8e8e8);
    for (int c = 1; c < kSheetCols + 1; ++c) {
      const int x = kSheet.left + c * kCellW;
      if (x < kSheet.right - 1) dev.fill(Rect{x, top, x + 1, kSheet.bottom - 1}, 0xd0d0d0);
    }
    for (int r = 1; r <= kSheetRows; ++r) {
      dev.fill(Rect{kSheet.left + 1, top + r * kCellH, kSheet.right - 1, top + r * kCellH + 1},
               0xd0d0d0);
    }
    for (int c = 0; c < kSheetCols; ++c) {
      text_bitmap(dev, kSheet.left + c * kCellW + 44, top + 2, std::string(1, char('A' + c)),
                  0x202020, 0xe8e8e8);
    }
    for (int c = 0; c < kSheetCols; ++c) column(dev, c, 0);
    spinner(dev, 0);
    dev.cursor_set(arrow_cursor().data(), 0, 0, 1300, 400);
  }

  void column(QxlDevice& dev, int c, uint64_t generation) {
    const int top = kSheet.top + 29 + kCellH;
    for (int r = 0; r < kSheetRows - 1; ++r) {
      const uint64_t h = mix64(generation * 7919 + uint64_t(c) * 131 + uint64_t(r));
      std::string cell = c == 0 ? text_line(h, 11).substr(0, 11) : std::to_string(h % 100000);
      cell.resize(11, ' ');
      text_bitmap(dev, kSheet.left + c * kCellW + 5, top + r * kCellH + 3, cell.substr(0, 11),
                  c == 0 ? 0x202020 : 0x1f4e79, kWhite);
    }
  }

  void recalc(QxlDevice& dev, uint64_t generation) {
    for (int c = 3; c < 6; ++c) column(dev, c, generation);
  }

  void clock(QxlDevice& dev, uint64_t seconds) {
    const uint64_t t = 9 * 3600 + 41 * 60 + seconds;
    char buf[16];
    std::snprintf(buf, sizeof buf, "%02u:%02u:%02u", unsigned(t / 3600 % 24),
                  unsigned(t / 60 % 60), unsigned(t % 60));
    text_bitmap(dev, 1840, 1052, buf, kWhite, 0x1e1e24);
  }

  void spinner(QxlDevice& dev, uint64_t n) {
    Bitmap bm = dev.alloc_bitmap(kSpinner.width(), kSpinner.height());
    const double turn = double(n % 60) / 60.0 * 2 * M_PI;
    for (int y = 0; y < 64; ++y) {
      uint32_t* row = bm.row(y);
      for (int x = 0; x < 64; ++x) {
        const double dx = x - 31.5, dy = y - 31.5;
        const double d2 = dx * dx + dy * dy;
        uint32_t px = kWhite;
        if (d2 > 18 * 18 && d2 < 28 * 28) {
          double a = std::atan2(dy, dx) - turn;
          a = std::fmod(a + 8 * M_PI, 2 * M_PI);
          const uint32_t v = uint32_t(40 + a / (2 * M_PI) * 200);
          px = rgb(v / 3, v / 2 + 40, v);
        }
        row[x] = px;
      }
    }
    dev.copy(std::move(bm), kSpinner.left, kSpinner.top);
  }

  void type_one(QxlDevice& dev) {
    if (col_ >= int(current_.size())) {  // Enter
      col_ = 0;
      current_ = text_line(++line_, kCols);
      if (++row_ == kRows) {
        const int bottom = kTextTop + kRows * kGlyphH;
        dev.copy_bits(kTextLeft, kTextTop + kGlyphH,
                      Rect{kTextLeft, kTextTop, kTextLeft + kCols * kGlyphW, bottom - kGlyphH});
        dev.fill(Rect{kTextLeft, bottom - kGlyphH, kTextLeft + kCols * kGlyphW, bottom}, kWhite);
        row_ = kRows - 1;
      }
      return;
    }
    text_bitmap(dev, kTextLeft + col_ * kGlyphW, kTextTop + row_ * kGlyphH,
                std::string(1, current_[size_t(col_)]), 0x202020, kWhite);
    ++col_;
  }

  uint64_t line_ = 0;
  int row_ = 0;
  int col_ = 0;
  std::string current_;
};

// ---------------------------------------------------------------- text-scroll

/// A full-screen terminal: every frame the text scrolls up one line (copy_bits) and a new
/// line is drawn at the bottom.
class TextScroll final : public Scene {
 public:
  void frame(QxlDevice& dev, uint64_t n) override {
    if (n == 0) {
      dev.fill(Rect{0, 0, 1920, 1080}, 0x101010);
      dev.fill(Rect{0, 0, 1920, kTop}, 0x3a3a3a);
      text_bitmap(dev, 660, 0, "user@host: ~/src - terminal", 0xe0e0e0, 0x3a3a3a);
      return;
    }
    dev.copy_bits(0, kTop + kGlyphH, Rect{0, kTop, 1920, kBottom - kGlyphH});
    Bitmap bm = dev.alloc_bitmap(1920, kGlyphH);
    const std::string text = text_line(n, 1920 / kGlyphW);
    std::string padded = text;
    padded.resize(1920 / kGlyphW, ' ');
    const uint64_t h = mix64(n);
    const uint32_t fg = h % 7 == 0 ? 0x5fd75f : h % 11 == 0 ? 0x5f87ff : 0xc8c8c8;
    draw_text([&](int row) { return bm.row(row); }, 0, 0, padded, fg, 0x101010);
    dev.copy(std::move(bm), 0, kBottom - kGlyphH);
  }

 private:
  static constexpr int kTop = 16;
  static constexpr int kBottom = kTop + 66 * kGlyphH;  // 1072
};

// ---------------------------------------------------------------- window-drag

/// A 640x480 window dragged over a photographic wallpaper: copy_bits moves it and the
/// uncovered wallpaper is drawn back; every 15th frame the application repaints the whole
/// window instead.
class WindowDrag final : public Scene {
 public:
  WindowDrag() : wallpaper_(make_texture(1920, 1080, 7)) {
    window_.width = kW;
    window_.height = kH;
    window_.pixels.assign(size_t(kW) * kH, kWhite);
    for (int y = 0; y < kH; ++y) {
      for (int x = 0; x < kW; ++x) {
        if (x == 0 || y == 0 || x == kW - 1 || y == kH - 1) {
          window_.row(y)[x] = kBorder;
        } else if (y < 29) {
          window_.row(y)[x] = 0x8a3ab9;
        }
      }
    }
    auto row_of = [&](int y) { return window_.row(y); };
    draw_text(row_of, 10, 7, "Photos - Viewer", kWhite, 0x8a3ab9);
    for (int r = 0; r < 26; ++r) draw_text(row_of, 12, 40 + r * 16, text_line(r + 500, 76), 0x202020, kWhite);
  }

  void frame(QxlDevice& dev, uint64_t n) override {
    const Rect now = position(n);
    if (n == 0) {
      picture_part(dev, wallpaper_, 0, 0, Rect{0, 0, 1920, 1080});
      picture_part(dev, window_, now.left, now.top, now);
      dev.cursor_set(arrow_cursor().data(), 0, 0, now.left + 100, now.top + 14);
      return;
    }
    const Rect before = position(n - 1);
    if (n % 15 == 0) {
      picture_part(dev, window_, now.left, now.top, now);
    } else if (before.left != now.left || before.top != now.top) {
      dev.copy_bits(before.left, before.top, now);
    }
    // What the window uncovered: a vertical and a horizontal strip of `before`.
    Rect v{}, h{};
    if (now.left >= before.right || now.right <= before.left || now.top >= before.bottom ||
        now.bottom <= before.top) {
      v = before;
    } else {
      if (now.left > before.left) v = Rect{before.left, before.top, now.left, before.bottom};
      if (now.left < before.left) v = Rect{now.right, before.top, before.right, before.bottom};
      const int xl = std::max(before.left, now.left), xr = std::min(before.right, now.right);
      if (now.top > before.top) h = Rect{xl, before.top, xr, now.top};
      if (now.top < before.top) h = Rect{xl, now.bottom, xr, before.bottom};
    }
    picture_part(dev, wallpaper_, 0, 0, v);
    picture_part(dev, wallpaper_, 0, 0, h);
    dev.cursor_move(now.left + 100, now.top + 14);
  }

 private:
  static constexpr int kW = 640, kH = 480;
  static Rect position(uint64_t n) {
    const int x = int(std::lround(640 + 600 * std::sin(double(n) * 0.045)));
    const int y = int(std::lround(300 + 260 * std::sin(double(n) * 0.07 + 0.5)));
    return rect_at(x, y, kW, kH);
  }
  Picture wallpaper_;
  Picture window_;
};

// ---------------------------------------------------------------- footage

/// Moving photographic footage (a camera panning over a landscape, film grain, a moving
/// object) drawn every frame as one bitmap into `area`; `desktop` paints the rest at frame 0.
class Footage final : public Scene {
 public:
  Footage(Rect area, bool desktop)
      : area_(area),
        margin_(area.width() / 15),
        tex_(make_texture(area.width() + 2 * margin_, area.height() + 2 * margin_, 11)),
        noise_(make_noise_tile(5)),
        desktop_(desktop) {}

  void frame(QxlDevice& dev, uint64_t n) override {
    if (n == 0 && desktop_) paint_desktop(dev);
    const int w = area_.width(), h = area_.height();
    const double t = double(n);
    const int ox = int(margin_ + margin_ * std::sin(t * 0.05));
    const int oy = int(margin_ + margin_ * std::cos(t * 0.037));
    const uint64_t r = mix64(n);
    Bitmap bm = dev.alloc_bitmap(w, h);
    render_footage(tex_, noise_, w, h, ox, oy, int(r & 255), int((r >> 8) & 255),
                   int(w / 2 + w * 0.35 * std::sin(t * 0.06)),
                   int(h / 2 + h * 0.3 * std::sin(t * 0.083)), h / 9,
                   [&](int y) { return bm.row(y); });
    dev.copy(std::move(bm), area_.left, area_.top);
    if (desktop_ && n % 30 == 0) {  // the player's progress bar
      const int progress = int(std::min<uint64_t>(1240, n / 30 * 8));
      if (progress) dev.fill(Rect{340, 920, 340 + progress, 926}, 0xd04040);
    }
  }

 private:
  void paint_desktop(QxlDevice& dev) {
    dev.fill(Rect{0, 0, 1920, 1080}, 0x404850);
    const Rect frame{300, 130, 1620, 950};
    window_chrome(dev, frame, 0x303030, "clip.mkv - Video Player", 0x181818);
    dev.fill(Rect{301, 900, 1619, 949}, 0x202020);
    dev.fill(Rect{340, 920, 1580, 926}, 0x505050);
  }

  Rect area_;
  int margin_;
  Picture tex_;
  Picture noise_;
  bool desktop_;
};

}  // namespace

const char* scene_names() { return "office|text-scroll|window-drag|video720|motion1080|motion4k"; }

bool scene_size(std::string_view name, SceneSize* size) {
  if (name == "motion4k") {
    *size = {3840, 2160};
    return true;
  }
  if (name == "office" || name == "text-scroll" || name == "window-drag" || name == "video720" ||
      name == "motion1080") {
    *size = {1920, 1080};
    return true;
  }
  return false;
}

std::unique_ptr<Scene> make_scene(std::string_view name) {
  if (name == "office") return std::make_unique<Office>();
  if (name == "text-scroll") return std::make_unique<TextScroll>();
  if (name == "window-drag") return std::make_unique<WindowDrag>();
  if (name == "video720") return std::make_unique<Footage>(Rect{320, 180, 1600, 900}, true);
  if (name == "motion1080") return std::make_unique<Footage>(Rect{0, 0, 1920, 1080}, false);
  if (name == "motion4k") return std::make_unique<Footage>(Rect{0, 0, 3840, 2160}, false);
  return nullptr;
}

void draw_pixel_code(QxlDevice& dev, uint32_t frame_id) {
  Bitmap bm = dev.alloc_bitmap(pixel_code::kWidth, pixel_code::kHeight);
  // The code's 8 rows lie in the bitmap's first chunk: one contiguous block.
  pixel_code::write(reinterpret_cast<uint8_t*>(bm.row(0)), size_t(pixel_code::kWidth) * 4, 0, 0,
                    pixel_code::Stamp{frame_id, pixel_code::now_us()});
  dev.copy(std::move(bm), 0, 0);
}

}  // namespace spiceflow::player
