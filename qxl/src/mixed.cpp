// "mixed": one frame holding every kind of content an image codec meets, for codec tests
// and benchmarks: a photograph-like picture (top left), a text document (top right),
// gradients and colour ramps (bottom left), a translucent panel composited over the
// wallpaper and flat palette swatches of 2, 16 and 256 colours (bottom right). The surface
// is xRGB, so the panel's alpha is composited into its pixels. Animated, the photograph
// changes once a second and a status line counts the seconds; everything else stays still.
#include <cstdio>

#include "desktop_base.hpp"
#include "procedural.hpp"
#include "workloads.hpp"

namespace spiceflow::qxl {
namespace {

constexpr uint32_t kPaper = rgb(252, 252, 250);
constexpr uint32_t kInk = rgb(20, 20, 30);

class Mixed final : public DesktopBase {
 public:
  explicit Mixed(const SyntheticOptions& opts);

 protected:
  void paint_scene(const Canvas& c) override;
  void advance(uint64_t frame, int64_t time_ms, const Canvas& c) override;

 private:
  void enter_second(int64_t second);

  Rect photo_;
  Rect status_;
  std::shared_ptr<const Image> background_;
  std::shared_ptr<const Image> photo_image_;
  std::shared_ptr<const Image> status_image_;
  int64_t second_ = -1;
};

// Horizontal, vertical and diagonal ramps, hue bands and a fine grey step wedge.
void draw_gradients(Image& img, const Rect& r) {
  const int h4 = r.height / 4;
  for (int y = r.y; y < r.bottom(); ++y) {
    auto* row = img.row(y);
    const int band = std::min(3, (y - r.y) / std::max(1, h4));
    for (int x = r.x; x < r.right(); ++x) {
      const int u = (x - r.x) * 255 / std::max(1, r.width - 1);
      const int v = (y - r.y) * 255 / std::max(1, r.height - 1);
      uint32_t c = 0;
      switch (band) {
        case 0: c = rgb(uint8_t(u), uint8_t(u), uint8_t(u)); break;
        case 1: c = rgb(uint8_t(u), uint8_t(v), uint8_t(255 - u)); break;
        case 2: c = rgb(uint8_t((u + v) / 2), uint8_t(255 - (u + v) / 2), uint8_t(128)); break;
        default: c = rgb(uint8_t(u / 16 * 17), uint8_t(u / 16 * 17), uint8_t(u / 16 * 17)); break;
      }
      row[x] = c;
    }
  }
}

// A panel of `tint` at `alpha`/256 over whatever `img` holds at `r`, with a title.
void composite_panel(Image& img, const Rect& r, uint32_t tint, int alpha, int scale) {
  for (int y = r.y; y < r.bottom(); ++y) {
    auto* row = img.row(y);
    for (int x = r.x; x < r.right(); ++x) row[x] = blend(row[x], tint, alpha);
  }
  draw_text(img, Point{r.x + 4 * scale, r.y + 4 * scale}, "Translucent panel (alpha 60%)",
            rgb(255, 255, 255), scale);
}

// Swatch rows of 2, 16 and 256 distinct colours.
void draw_palettes(Image& img, const Rect& r) {
  const int rows = 3;
  const int rh = r.height / rows;
  const int counts[rows] = {2, 16, 256};
  for (int i = 0; i < rows; ++i) {
    const int n = counts[i];
    for (int k = 0; k < n; ++k) {
      const uint64_t h = mix64(uint64_t(n) * 1000 + uint64_t(k));
      const uint32_t c = n == 2 ? (k ? rgb(255, 255, 255) : rgb(0, 0, 0))
                                : rgb(uint8_t(h), uint8_t(h >> 8), uint8_t(h >> 16));
      const int x0 = r.x + r.width * k / n;
      const int x1 = r.x + r.width * (k + 1) / n;
      fill_rect(img, Rect{x0, r.y + i * rh, x1 - x0, rh - 1}, c);
    }
  }
}

Mixed::Mixed(const SyntheticOptions& opts) : DesktopBase("mixed", opts) {
  const Size sz = size();
  const int s = ui().scale;
  const int lh = ui().line_h();
  const int top = std::min(content_top(), sz.height / 4);
  const int mid_x = sz.width / 2;
  const int mid_y = top + (sz.height - top) / 2;

  auto bg = std::make_shared<Image>(sz.width, sz.height);
  draw_wallpaper(*bg, rgb(30, 60, 110), rgb(200, 120, 60), 11);

  // Text document, top right.
  const Rect doc = Rect::from_ltrb(mid_x + 2 * s, top, sz.width - ui().margin, mid_y - 2 * s);
  fill_rect(*bg, doc, kPaper);
  const size_t cols = size_t(std::max(1, (doc.width - 8 * s) / ui().char_w()));
  for (int i = 0; doc.y + 4 * s + (i + 1) * lh <= doc.bottom(); ++i) {
    draw_text(*bg, Point{doc.x + 4 * s, doc.y + 4 * s + i * lh}, prose_line(uint64_t(i), cols),
              i == 0 ? rgb(160, 20, 20) : kInk, s);
  }

  // Gradients, bottom left; panel and palettes, bottom right.
  draw_gradients(*bg, Rect::from_ltrb(ui().margin, mid_y + 2 * s, mid_x - 2 * s,
                                      sz.height - ui().margin));
  const Rect right = Rect::from_ltrb(mid_x + 2 * s, mid_y + 2 * s, sz.width - ui().margin,
                                     sz.height - ui().margin);
  const Rect panel{right.x + right.width / 8, right.y, right.width * 3 / 4, right.height / 2};
  composite_panel(*bg, panel, rgb(20, 30, 60), 154, s);
  draw_palettes(*bg, Rect::from_ltrb(right.x, right.y + right.height / 2 + 2 * s, right.right(),
                                     right.bottom()));
  background_ = bg;

  photo_ = Rect::from_ltrb(ui().margin, top, mid_x - 2 * s, mid_y - 2 * s - lh);
  status_ = Rect{photo_.x, photo_.bottom(), photo_.width, lh};
  enter_second(0);
}

void Mixed::enter_second(int64_t second) {
  if (second == second_) return;
  second_ = second;
  auto photo = std::make_shared<Image>(photo_.width, photo_.height);
  draw_plasma(*photo, second * 1000 + 400, true);
  photo_image_ = photo;
  char text[48];
  std::snprintf(text, sizeof text, "photo %lld", static_cast<long long>(second));
  status_image_ = text_image(text, kInk, kPaper, ui().scale, status_.width, ui().scale);
}

void Mixed::paint_scene(const Canvas& c) {
  c.blit(Point{0, 0}, background_);
  c.blit(Point{photo_.x, photo_.y}, photo_image_);
  c.blit(Point{status_.x, status_.y}, status_image_);
}

void Mixed::advance(uint64_t /*frame*/, int64_t time_ms, const Canvas& c) {
  const int64_t second = time_ms / 1000;
  if (second == second_) return;
  enter_second(second);
  c.blit(Point{photo_.x, photo_.y}, photo_image_);
  c.blit(Point{status_.x, status_.y}, status_image_);
}

}  // namespace

std::unique_ptr<SyntheticDesktop> make_mixed(const SyntheticOptions& opts) {
  return std::make_unique<Mixed>(opts);
}

}  // namespace spiceflow::qxl
