// "scroll-text": a full-screen terminal printing log lines quickly. Each frame moves the
// text up with one copy and draws the new lines at the bottom, as a terminal emulator
// does; the text box sits in the terminal's header bar.
#include "desktop_base.hpp"
#include "procedural.hpp"
#include "workloads.hpp"

namespace spiceflow::qxl {
namespace {

constexpr uint32_t kTerminalPaper = rgb(12, 14, 18);

class ScrollText final : public DesktopBase {
 public:
  explicit ScrollText(const SyntheticOptions& opts);

 protected:
  void paint_scene(const Canvas& c) override;
  void advance(uint64_t frame, int64_t time_ms, const Canvas& c) override;

 private:
  int64_t top_at(int64_t time_ms) const { return time_ms * lines_per_second_ / 1000; }
  void paint_rows(const Canvas& c, int first, int last);

  Rect header_;
  Rect terminal_;
  Rect text_;  // the rows of text inside the terminal
  int rows_ = 0;
  int lines_per_second_ = 0;
  std::shared_ptr<const Image> header_image_;
  LineCache lines_;
  int64_t top_ = 0;
};

ScrollText::ScrollText(const SyntheticOptions& opts)
    : DesktopBase("scroll-text", opts), lines_(1, nullptr) {
  const Size sz = size();
  const int s = ui().scale;
  const int lh = ui().line_h();
  header_ = Rect{0, 0, sz.width, content_top()};
  terminal_ = Rect::from_ltrb(0, header_.bottom(), sz.width, sz.height);
  const int pad = 2 * s;
  rows_ = std::max(1, (terminal_.height - pad) / lh);
  text_ = Rect{terminal_.x, terminal_.y + pad, terminal_.width, rows_ * lh};
  // Quick but readable: one to four lines a frame at 30 fps, more on taller screens.
  lines_per_second_ = 30 * std::clamp(rows_ / 12, 1, 4);

  auto header = std::make_shared<Image>(header_.width, std::max(header_.height, 1));
  fill_rect(*header, Rect::from_size(header->size()), rgb(48, 50, 58));
  fill_rect(*header, Rect{0, header->height() - s, header->width(), s}, rgb(90, 94, 104));
  draw_text(*header, Point{text_box().right() + 4 * s, (header->height() - lh) / 2},
            "user@synthetic: ~/logs - tail -f", rgb(220, 220, 220), s);
  header_image_ = header;

  const size_t columns = size_t(std::max(1, (text_.width - 2 * pad) / ui().char_w()));
  lines_ = LineCache(size_t(rows_) + 8, [this, columns, pad](int64_t i) {
    return text_image(log_line(uint64_t(i), columns), log_line_color(uint64_t(i)), kTerminalPaper,
                      ui().scale, text_.width, pad);
  });
}

void ScrollText::paint_rows(const Canvas& c, int first, int last) {
  for (int i = first; i < last; ++i) {
    c.blit(Point{text_.x, text_.y + i * ui().line_h()}, lines_.get(top_ + i));
  }
}

void ScrollText::paint_scene(const Canvas& c) {
  c.blit(Point{0, 0}, header_image_);
  // The terminal's paper around the rows of text.
  std::vector<Rect> paper;
  subtract(terminal_, text_, paper);
  for (const Rect& r : paper) c.fill(r, kTerminalPaper);
  if (overlaps(c.clip(), text_)) paint_rows(c.clipped(text_), 0, rows_);
}

void ScrollText::advance(uint64_t frame, int64_t time_ms, const Canvas& c) {
  const int64_t top = top_at(time_ms);
  const int64_t delta = top - top_;
  if (delta == 0) return;
  top_ = top;
  const Canvas t = c.clipped(text_);
  if (delta > 0 && delta < rows_) {
    const int keep = rows_ - int(delta);
    const int lh = ui().line_h();
    t.copy(Rect{text_.x, text_.y, text_.width, keep * lh},
           Point{text_.x, text_.y + int(delta) * lh});
    paint_rows(t, keep, rows_);
  } else {
    paint_rows(t, 0, rows_);
  }
}

}  // namespace

std::unique_ptr<SyntheticDesktop> make_scroll_text(const SyntheticOptions& opts) {
  return std::make_unique<ScrollText>(opts);
}

}  // namespace spiceflow::qxl
