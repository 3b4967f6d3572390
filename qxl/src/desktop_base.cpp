#include "desktop_base.hpp"

#include <algorithm>
#include <variant>

#include "spiceflow/core/pixel_code.hpp"

namespace spiceflow::qxl {
namespace {

constexpr uint32_t kTextBoxBorder = rgb(30, 30, 36);
constexpr uint32_t kTextBoxPaper = rgb(255, 255, 250);
constexpr uint32_t kTextBoxInk = rgb(10, 10, 10);
constexpr uint32_t kDotColors[] = {rgb(255, 64, 64), rgb(64, 200, 64), rgb(64, 128, 255),
                                   rgb(255, 200, 0), rgb(255, 0, 255), rgb(0, 220, 220),
                                   rgb(255, 128, 0), rgb(160, 64, 255)};

// PC/XT set 1 make codes 0x00..0x39 to characters, without and with shift. 0 = no character.
// clang-format off
constexpr char kPlain[0x3a] = {
    0,   0,   '1', '2', '3', '4', '5', '6', '7', '8', '9', '0', '-', '=', 0,   0,     // 0x00
    'q', 'w', 'e', 'r', 't', 'y', 'u', 'i', 'o', 'p', '[', ']', 0,   0,   'a', 's',   // 0x10
    'd', 'f', 'g', 'h', 'j', 'k', 'l', ';', '\'', '`', 0,  '\\', 'z', 'x', 'c', 'v',  // 0x20
    'b', 'n', 'm', ',', '.', '/', 0,   0,   0,   ' '};                                // 0x30
constexpr char kShifted[0x3a] = {
    0,   0,   '!', '@', '#', '$', '%', '^', '&', '*', '(', ')', '_', '+', 0,   0,    // 0x00
    'Q', 'W', 'E', 'R', 'T', 'Y', 'U', 'I', 'O', 'P', '{', '}', 0,   0,   'A', 'S',  // 0x10
    'D', 'F', 'G', 'H', 'J', 'K', 'L', ':', '"', '~', 0,   '|', 'Z', 'X', 'C', 'V',  // 0x20
    'B', 'N', 'M', '<', '>', '?', 0,   0,   0,   ' '};                               // 0x30
// clang-format on

constexpr uint32_t kShiftLeft = 0x2a;
constexpr uint32_t kShiftRight = 0x36;
constexpr uint32_t kCapsLock = 0x3a;
constexpr uint32_t kEnter = 0x1c;
constexpr uint32_t kBackspace = 0x0e;
constexpr uint32_t kExtendedPrefix = 0xe0;

// A 12x19 arrow pointer: black outline, white fill, transparent elsewhere (ARGB).
std::shared_ptr<const CursorShape> make_arrow() {
  auto img = std::make_shared<Image>(12, 19);
  for (int y = 0; y < img->height(); ++y) {
    // The right edge widens by one pixel per row, then a narrower stem below row 12.
    const int edge = y < 12 ? y : (y < 16 ? 4 + (y - 12) / 2 : -1);
    for (int x = 0; x < img->width(); ++x) {
      uint32_t argb = 0;
      if (edge >= 0 && x <= edge) argb = (x == 0 || x == edge || y == 11) ? 0xff000000u : 0xffffffffu;
      img->row(y)[x] = argb;
    }
  }
  auto shape = std::make_shared<CursorShape>();
  shape->id = 0x5346'4152'524f'5731ull;  // "SFARROW1": stable across runs
  shape->hotspot = Point{0, 0};
  shape->pixels = std::move(img);
  return shape;
}

}  // namespace

DesktopBase::DesktopBase(std::string_view name, const SyntheticOptions& opts)
    : name_(name),
      size_(opts.size),
      fps_(opts.fps),
      frozen_(opts.frozen),
      pixel_code_(opts.pixel_code && !opts.frozen),
      ui_(Ui::for_size(opts.size)) {
  const int s = ui_.scale;
  const int w = std::min(size_.width - 2 * ui_.margin, 40 * ui_.char_w() + 6 * s);
  text_box_ = Rect{ui_.margin, ui_.margin, w, ui_.line_h() + 6 * s};
  pointer_ = Point{size_.width / 2, size_.height / 2};
}

DrawBatch DesktopBase::start() {
  DrawBatch batch;
  batch.creates.push_back(SurfaceCreate{0, size_});
  Canvas c(size_, &batch.commands);
  paint_scene(c);
  draw_overlay(c);
  if (pixel_code_) draw_pixel_code(c);
  if (shows_cursor()) {
    cursor_ = make_arrow();
    batch.cursor.push_back(CursorSet{cursor_, pointer_});
  } else {
    batch.cursor.push_back(CursorHide{});
  }
  return batch;
}

DrawBatch DesktopBase::next_frame(uint64_t frame) {
  DrawBatch batch;
  if (cursor_moved_) {
    cursor_moved_ = false;
    if (cursor_) batch.cursor.push_back(CursorMove{pointer_});
  }
  Canvas c(size_, &batch.commands);
  if (!frozen_) advance(frame, int64_t(frame * 1000 / uint64_t(fps_)), c);
  update_overlay(batch.commands, batch.commands.size(), c);
  // Last, so nothing of this frame covers it and its time is when the frame was made. A
  // repeated frame number (the pipeline after --stop-after) gets no new code: the picture
  // holds still.
  if (pixel_code_ && frame != pixel_code_frame_no_) {
    pixel_code_frame_no_ = frame;
    draw_pixel_code(c);
  }
  return batch;
}

void DesktopBase::update_overlay(const std::vector<DrawCommand>& commands, size_t scene_count,
                                 const Canvas& c) {
  const std::vector<Rect> now = overlay_rects();
  const bool overlay_changed = text_changed_ || now != drawn_overlay_;
  if (scene_count == 0 && !overlay_changed) return;

  // Follow the overlay pixels on screen through the scene commands. An overlay rectangle
  // that is still drawn at the same place is simply drawn again on top; one that is not
  // (the marker moved, a dot was dropped), and any overlay pixels a copy carried
  // elsewhere, must get the scene painted back. Anything an opaque command fully covers is
  // clean already.
  struct Tracked {
    Rect rect;
    bool repaint;
  };
  std::vector<Tracked> tracked;
  for (const Rect& r : drawn_overlay_) {
    tracked.push_back({r, std::find(now.begin(), now.end(), r) == now.end()});
  }
  bool touched = false;
  auto drop_covered = [&](const Rect& cover) {
    std::erase_if(tracked, [&](const Tracked& t) { return cover.contains(t.rect); });
  };
  for (size_t i = 0; i < scene_count; ++i) {
    const DrawOp& op = commands[i].op;
    if (const auto* copy = std::get_if<CopyBitsOp>(&op)) {
      const Rect& d = copy->dst;
      const Rect s{copy->src.x, copy->src.y, d.width, d.height};
      std::vector<Tracked> carried;
      for (const Tracked& t : tracked) {
        if (overlaps(t.rect, s) || overlaps(t.rect, d)) touched = true;
        Rect piece = intersect(intersect(t.rect, s).translated(d.x - s.x, d.y - s.y), d);
        if (!piece.empty()) carried.push_back({piece, true});
      }
      drop_covered(d);
      tracked.insert(tracked.end(), carried.begin(), carried.end());
    } else {
      const Rect& d =
          std::holds_alternative<FillOp>(op) ? std::get<FillOp>(op).rect : std::get<BlitOp>(op).dst;
      for (const Tracked& t : tracked) touched = touched || overlaps(t.rect, d);
      drop_covered(d);
    }
    if (tracked.size() > 4 * kMaxDots) {
      // A pathological run of copies: repaint one bounding rectangle instead.
      Rect all;
      for (const Tracked& t : tracked) all = bounding_union(all, t.rect);
      tracked.assign(1, Tracked{all, true});
    }
  }

  const bool repaint =
      std::any_of(tracked.begin(), tracked.end(), [](const Tracked& t) { return t.repaint; });
  if (!touched && !overlay_changed && !repaint) return;
  for (const Tracked& t : tracked) {
    if (t.repaint) paint_scene(c.clipped(t.rect));
  }
  draw_overlay(c);
}

void DesktopBase::on_input(const InputEvent& ev) {
  if (const auto* key = std::get_if<KeyEvent>(&ev)) {
    on_key(*key);
  } else if (const auto* p = std::get_if<PointerEvent>(&ev)) {
    move_pointer(p->x, p->y);
  } else if (const auto* m = std::get_if<MotionEvent>(&ev)) {
    move_pointer(pointer_.x + m->dx, pointer_.y + m->dy);
    cursor_moved_ = true;
  } else if (const auto* b = std::get_if<ButtonEvent>(&ev)) {
    if (!b->down) return;
    dots_.push_back(Dot{pointer_, kDotColors[dots_made_ % std::size(kDotColors)]});
    ++dots_made_;
    if (dots_.size() > kMaxDots) dots_.pop_front();
  }
}

void DesktopBase::on_key(const KeyEvent& ev) {
  uint32_t code = ev.scancode & 0xff;
  bool extended = false;
  if (code == kExtendedPrefix) {
    code = (ev.scancode >> 8) & 0xff;
    extended = true;
  }
  const bool down = ev.down && !(code & 0x80);
  code &= 0x7f;
  if (extended) {
    // Of the extended keys only keypad Enter types anything.
    if (code == kEnter && down) {
      text_.clear();
      text_changed_ = true;
    }
    return;
  }
  if (code == kShiftLeft) {
    shift_left_ = down;
    return;
  }
  if (code == kShiftRight) {
    shift_right_ = down;
    return;
  }
  if (!down) return;
  if (code == kCapsLock) {
    caps_lock_ = !caps_lock_;
  } else if (code == kEnter) {
    text_.clear();
    text_changed_ = true;
  } else if (code == kBackspace) {
    if (!text_.empty()) text_.pop_back();
    text_changed_ = true;
  } else if (code < std::size(kPlain) && kPlain[code] != 0) {
    const bool shift = shift_left_ || shift_right_;
    char ch = shift ? kShifted[code] : kPlain[code];
    // Caps lock inverts the case of letters only, as on a PC.
    if (caps_lock_ && ch >= 'a' && ch <= 'z')
      ch = char(ch - 'a' + 'A');
    else if (caps_lock_ && ch >= 'A' && ch <= 'Z')
      ch = char(ch - 'A' + 'a');
    text_.push_back(ch);
    if (text_.size() > kMaxText) text_.erase(0, text_.size() - kMaxText);
    text_changed_ = true;
  }
}

void DesktopBase::move_pointer(int32_t x, int32_t y) {
  pointer_.x = std::clamp(x, 0, size_.width - 1);
  pointer_.y = std::clamp(y, 0, size_.height - 1);
}

Rect DesktopBase::marker_rect() const {
  const int r = 6 * ui_.scale;
  return Rect{pointer_.x - r, pointer_.y - r, 2 * r + 1, 2 * r + 1};
}

std::vector<Rect> DesktopBase::overlay_rects() const {
  std::vector<Rect> rects;
  rects.reserve(dots_.size() + 2);
  rects.push_back(text_box_);
  const int d = 4 * ui_.scale;
  for (const Dot& dot : dots_)
    rects.push_back(Rect{dot.at.x - d, dot.at.y - d, 2 * d + 1, 2 * d + 1});
  rects.push_back(marker_rect());
  // The pixel code is redrawn every frame, but a scene copy can carry its pixels elsewhere.
  if (pixel_code_) rects.push_back(pixel_code_rect());
  // Only what lies on the surface matters when comparing with what was drawn.
  for (Rect& r : rects) r = intersect(r, Rect::from_size(size_));
  return rects;
}

void DesktopBase::render_text_box() {
  const int s = ui_.scale;
  const int border = s;
  const Rect inner{border, border, text_box_.width - 2 * border, text_box_.height - 2 * border};
  if (inner.empty()) {
    text_image_.reset();
    return;
  }
  auto img = std::make_shared<Image>(inner.width, inner.height);
  fill_rect(*img, Rect::from_size(img->size()), kTextBoxPaper);
  // Show the tail of the text and a caret, as a one-line input field scrolls.
  const int pad = 2 * s;
  const size_t columns = size_t(std::max(1, (inner.width - 2 * pad) / ui_.char_w()));
  std::string shown = text_ + "_";
  if (shown.size() > columns) shown.erase(0, shown.size() - columns);
  draw_text(*img, Point{pad, pad}, shown, kTextBoxInk, s);
  text_image_ = std::move(img);
}

void DesktopBase::draw_overlay(const Canvas& c) {
  if (text_changed_ || !text_image_) render_text_box();
  text_changed_ = false;
  c.fill(text_box_, kTextBoxBorder);
  if (text_image_) c.blit(Point{text_box_.x + ui_.scale, text_box_.y + ui_.scale}, text_image_);

  const int d = 4 * ui_.scale;
  for (const Dot& dot : dots_)
    c.fill(Rect{dot.at.x - d, dot.at.y - d, 2 * d + 1, 2 * d + 1}, dot.color);

  // The marker: a white cross with a black outline and a red centre, readable on any
  // background.
  const int u = ui_.scale;
  const int r = 6 * u;
  const int t = u / 2;
  const Point p = pointer_;
  c.fill(Rect{p.x - r, p.y - u, 2 * r + 1, 2 * u + 1}, rgb(0, 0, 0));
  c.fill(Rect{p.x - u, p.y - r, 2 * u + 1, 2 * r + 1}, rgb(0, 0, 0));
  c.fill(Rect{p.x - r + u, p.y - t, 2 * (r - u) + 1, 2 * t + 1}, rgb(255, 255, 255));
  c.fill(Rect{p.x - t, p.y - r + u, 2 * t + 1, 2 * (r - u) + 1}, rgb(255, 255, 255));
  c.fill(Rect{p.x - u, p.y - u, 2 * u + 1, 2 * u + 1}, rgb(230, 20, 20));

  drawn_overlay_ = overlay_rects();
}

Rect DesktopBase::pixel_code_rect() const {
  return pixel_code_ ? Rect{0, 0, pixel_code::kWidth, pixel_code::kHeight} : Rect{};
}

void DesktopBase::draw_pixel_code(const Canvas& c) {
  auto img = std::make_shared<Image>(pixel_code::kWidth, pixel_code::kHeight);
  const pixel_code::Stamp stamp{pixel_code_frames_++, pixel_code::now_us()};
  pixel_code::write(img->data(), size_t(img->stride()), 0, 0, stamp);
  // Clipped to the surface by the canvas: a desktop narrower than the code shows a part of
  // it, which a reader rejects (it checks the marker and the CRC).
  c.blit(Point{0, 0}, img);
}

}  // namespace spiceflow::qxl
