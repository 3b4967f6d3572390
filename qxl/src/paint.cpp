#include "paint.hpp"

#include <algorithm>

namespace spiceflow::qxl {

void Canvas::fill(const Rect& r, uint32_t color) const {
  Rect d = intersect(r, clip_);
  if (d.empty()) return;
  out_->push_back(DrawCommand{0, {}, FillOp{d, color}});
}

void Canvas::blit(const Rect& dst, const std::shared_ptr<const Image>& src, Point src_pos) const {
  Rect d = intersect(dst, clip_);
  if (d.empty() || !src) return;
  // Keep the source window inside the image too, moving the destination with it.
  Rect s{src_pos.x + (d.x - dst.x), src_pos.y + (d.y - dst.y), d.width, d.height};
  Rect si = intersect(s, Rect::from_size(src->size()));
  if (si.empty()) return;
  d = Rect{d.x + (si.x - s.x), d.y + (si.y - s.y), si.width, si.height};
  out_->push_back(DrawCommand{0, {}, BlitOp{d, src, Point{si.x, si.y}}});
}

void Canvas::copy(const Rect& dst, Point src) const {
  Rect d = intersect(dst, clip_);
  if (d.empty()) return;
  Rect s{src.x + (d.x - dst.x), src.y + (d.y - dst.y), d.width, d.height};
  Rect si = intersect(s, bounds_);
  if (si.empty()) return;
  d = Rect{d.x + (si.x - s.x), d.y + (si.y - s.y), si.width, si.height};
  if (d.x == si.x && d.y == si.y) return;  // a copy onto itself changes nothing
  out_->push_back(DrawCommand{0, {}, CopyBitsOp{d, Point{si.x, si.y}}});
}

void subtract(const Rect& a, const Rect& b, std::vector<Rect>& out) {
  if (a.empty()) return;
  Rect i = intersect(a, b);
  if (i.empty()) {
    out.push_back(a);
    return;
  }
  // Full-width bands above and below the overlap, then the pieces left and right of it.
  if (i.top() > a.top()) out.push_back(Rect::from_ltrb(a.left(), a.top(), a.right(), i.top()));
  if (i.bottom() < a.bottom()) {
    out.push_back(Rect::from_ltrb(a.left(), i.bottom(), a.right(), a.bottom()));
  }
  if (i.left() > a.left()) out.push_back(Rect::from_ltrb(a.left(), i.top(), i.left(), i.bottom()));
  if (i.right() < a.right()) {
    out.push_back(Rect::from_ltrb(i.right(), i.top(), a.right(), i.bottom()));
  }
}

std::vector<Rect> subtract_all(const Rect& a, std::span<const Rect> holes) {
  std::vector<Rect> parts;
  if (!a.empty()) parts.push_back(a);
  std::vector<Rect> next;
  for (const Rect& h : holes) {
    next.clear();
    for (const Rect& p : parts) subtract(p, h, next);
    parts.swap(next);
  }
  return parts;
}

Ui Ui::for_size(Size s) {
  Ui ui;
  ui.scale = std::clamp(std::min(s.height / 500, s.width / 900), 1, 4);
  ui.margin = (s.width < 200 || s.height < 200) ? 2 : 4 * ui.scale;
  return ui;
}

void fill_rect(Image& img, const Rect& r, uint32_t color) {
  Rect d = intersect(r, Rect::from_size(img.size()));
  for (int32_t y = d.y; y < d.bottom(); ++y) {
    std::fill_n(img.row(y) + d.x, d.width, color);
  }
}

void draw_text(Image& img, Point at, std::string_view text, uint32_t ink, int scale) {
  const int w = img.width();
  const int h = img.height();
  for (size_t i = 0; i < text.size(); ++i) {
    const int cx = at.x + int(i) * font::kCellWidth * scale;
    if (cx >= w) break;
    if (cx + font::kCellWidth * scale <= 0) continue;
    const font::Glyph& g = font::glyph(text[i]);
    for (int r = 0; r < font::kCellHeight; ++r) {
      const uint8_t bits = g[size_t(r)];
      if (bits == 0) continue;
      for (int sy = 0; sy < scale; ++sy) {
        const int y = at.y + r * scale + sy;
        if (y < 0 || y >= h) continue;
        uint32_t* row = img.row(y);
        for (int c = 0; c < font::kCellWidth; ++c) {
          if (!(bits & (1u << (font::kCellWidth - 1 - c)))) continue;
          const int x0 = std::max(cx + c * scale, 0);
          const int x1 = std::min(cx + (c + 1) * scale, w);
          for (int x = x0; x < x1; ++x) row[x] = ink;
        }
      }
    }
  }
}

std::shared_ptr<const Image> text_image(std::string_view text, uint32_t ink, uint32_t paper,
                                        int scale, int width, int pad) {
  auto img = std::make_shared<Image>(std::max(width, 1), font::kCellHeight * scale);
  fill_rect(*img, Rect::from_size(img->size()), paper);
  draw_text(*img, Point{pad, 0}, text, ink, scale);
  return img;
}

Chrome chrome(const Ui& ui) { return Chrome{ui.scale, ui.line_h() + 4 * ui.scale}; }

Rect window_client(const Rect& window, const Ui& ui) {
  const Chrome c = chrome(ui);
  return Rect::from_ltrb(window.left() + c.border, window.top() + c.title_h,
                         window.right() - c.border, window.bottom() - c.border);
}

void draw_window_frame(Image& img, std::string_view title, uint32_t accent, uint32_t client,
                       const Ui& ui) {
  const Chrome c = chrome(ui);
  const int w = img.width();
  const int h = img.height();
  fill_rect(img, Rect{0, 0, w, h}, rgb(40, 44, 52));
  // Title bar: a horizontal gradient from the accent colour to a darker shade.
  const uint32_t dark = blend(accent, rgb(0, 0, 0), 110);
  for (int y = c.border; y < std::min(c.title_h, h); ++y) {
    uint32_t* row = img.row(y);
    for (int x = c.border; x < w - c.border; ++x) row[x] = blend(accent, dark, x * 256 / w);
  }
  const int s = ui.scale;
  draw_text(img, Point{c.border + 4 * s, c.border + 2 * s}, title, rgb(255, 255, 255), s);
  // Minimise, maximise and close buttons.
  const int b = ui.line_h();
  const int by = c.border + 2 * s;
  const uint32_t button_colors[3] = {rgb(200, 200, 200), rgb(200, 200, 200), rgb(220, 70, 60)};
  for (int i = 0; i < 3; ++i) {
    const int bx = w - c.border - (3 - i) * (b + 2 * s) - 2 * s;
    if (bx < w / 2) continue;
    fill_rect(img, Rect{bx, by, b, b}, button_colors[i]);
    fill_rect(img, Rect{bx + s, by + s, b - 2 * s, b - 2 * s}, blend(button_colors[i], dark, 80));
  }
  fill_rect(img, Rect::from_ltrb(c.border, c.title_h, w - c.border, h - c.border), client);
}

namespace {
// sin(x) for x in [0, pi/2] by its Taylor series, evaluated by the compiler so the table is
// the same wherever the code is built.
constexpr double taylor_sin(double x) {
  double term = x;
  double sum = x;
  for (int n = 1; n < 12; ++n) {
    term *= -x * x / double((2 * n) * (2 * n + 1));
    sum += term;
  }
  return sum;
}

constexpr std::array<int16_t, 1025> make_quarter_sine() {
  std::array<int16_t, 1025> t{};
  constexpr double kPi = 3.14159265358979323846;
  for (int i = 0; i <= 1024; ++i) {
    t[size_t(i)] = int16_t(taylor_sin(kPi / 2 * i / 1024) * 16384 + 0.5);
  }
  return t;
}

constexpr std::array<int16_t, 1025> kQuarterSine = make_quarter_sine();
}  // namespace

int isin(int angle) {
  const int a = angle & 4095;
  if (a < 1024) return kQuarterSine[size_t(a)];
  if (a < 2048) return kQuarterSine[size_t(2048 - a)];
  if (a < 3072) return -kQuarterSine[size_t(a - 2048)];
  return -kQuarterSine[size_t(4096 - a)];
}

int64_t bounce(int64_t t, int64_t range) {
  if (range <= 0) return 0;
  const int64_t period = 2 * range;
  int64_t p = t % period;
  if (p < 0) p += period;
  return p <= range ? p : period - p;
}

uint32_t blend(uint32_t a, uint32_t b, int t) {
  t = std::clamp(t, 0, 256);
  auto ch = [&](int shift) {
    const uint32_t ca = (a >> shift) & 0xff;
    const uint32_t cb = (b >> shift) & 0xff;
    return ((ca * uint32_t(256 - t) + cb * uint32_t(t)) >> 8) << shift;
  };
  return 0xff000000u | ch(16) | ch(8) | ch(0);
}

std::shared_ptr<Image> ImagePool::acquire(Size size) {
  Image pixels;
  {
    std::lock_guard lock(spare_->mutex);
    auto& spare = spare_->images;
    auto it = std::find_if(spare.begin(), spare.end(),
                           [&](const Image& img) { return img.size() == size; });
    if (it != spare.end()) {
      pixels = std::move(*it);
      spare.erase(it);
    }
  }
  if (pixels.size() != size) pixels = Image(size.width, size.height);
  // The deleter hands the memory back while the pool lives; the weak reference lets images
  // outlive the pool (and the desktop) safely.
  std::weak_ptr<Spare> home = spare_;
  return std::shared_ptr<Image>(new Image(std::move(pixels)), [home](Image* img) {
    if (auto spare = home.lock()) {
      std::lock_guard lock(spare->mutex);
      if (spare->images.size() < kMaxSpare) spare->images.push_back(std::move(*img));
    }
    delete img;
  });
}

const std::shared_ptr<const Image>& LineCache::get(int64_t index) {
  Entry& e = entries_[size_t(uint64_t(index) % entries_.size())];
  if (e.index != index || !e.image) {
    e.index = index;
    e.image = render_(index);
  }
  return e.image;
}

}  // namespace spiceflow::qxl
