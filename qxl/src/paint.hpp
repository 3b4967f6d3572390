#pragma once
/// Drawing helpers shared by the synthetic workloads: a Canvas that turns drawing calls into
/// pre-clipped DrawCommands, rectangle arithmetic, CPU drawing into Images (text, fills,
/// window frames), deterministic integer maths and an image pool. Private to spiceflow_qxl.
#include <algorithm>
#include <array>
#include <cstdint>
#include <functional>
#include <memory>
#include <mutex>
#include <span>
#include <string_view>
#include <vector>

#include "font.hpp"
#include "spiceflow/core/draw.hpp"

namespace spiceflow::qxl {

/// Collects drawing calls as DrawCommands on surface 0. Every command is clipped here to the
/// canvas clip and the surface (and a blit to its source image), so consumers get exact
/// rectangles, never an empty one, and DrawCommand::clip stays empty. A Canvas is a cheap
/// handle: copies share the output vector, which must outlive them.
class Canvas {
 public:
  Canvas(Size surface, std::vector<DrawCommand>* out)
      : bounds_(Rect::from_size(surface)), clip_(bounds_), out_(out) {}

  /// The same canvas limited further to `r`.
  Canvas clipped(const Rect& r) const {
    Canvas c = *this;
    c.clip_ = intersect(clip_, r);
    return c;
  }
  const Rect& clip() const { return clip_; }
  const Rect& bounds() const { return bounds_; }

  void fill(const Rect& r, uint32_t color) const;
  /// Copies `src` from `src_pos` into `dst` (same size, no scaling).
  void blit(const Rect& dst, const std::shared_ptr<const Image>& src, Point src_pos = {}) const;
  /// Blits all of `src` with its top-left at `at`.
  void blit(Point at, const std::shared_ptr<const Image>& src) const {
    blit(Rect{at.x, at.y, src->width(), src->height()}, src);
  }
  /// Moves the surface pixels at `src` (same size as dst) to `dst`.
  void copy(const Rect& dst, Point src) const;

 private:
  Rect bounds_;
  Rect clip_;
  std::vector<DrawCommand>* out_;
};

/// Appends the parts of `a` outside `b` to `out` (at most four rectangles).
void subtract(const Rect& a, const Rect& b, std::vector<Rect>& out);
/// The parts of `a` covered by none of `holes`.
std::vector<Rect> subtract_all(const Rect& a, std::span<const Rect> holes);
inline bool overlaps(const Rect& a, const Rect& b) { return !intersect(a, b).empty(); }

/// Layout metrics that grow with the screen, so a 4K desktop looks like a scaled 1080p one.
struct Ui {
  int scale = 1;   // font and widget scale factor
  int margin = 2;  // gap between widgets and the screen edge
  int char_w() const { return font::kCellWidth * scale; }
  int line_h() const { return font::kCellHeight * scale; }
  static Ui for_size(Size s);
};

/// Fills `r` (clipped to the image).
void fill_rect(Image& img, const Rect& r, uint32_t color);
/// Draws the ink of `text` with the cell's top-left at `at`, each font pixel as a
/// scale x scale block, clipped to the image; the paper is left untouched.
void draw_text(Image& img, Point at, std::string_view text, uint32_t ink, int scale);
inline int text_width(std::string_view text, int scale) {
  return int(text.size()) * font::kCellWidth * scale;
}
/// A `width` x line-height image of `text` on `paper`, starting `pad` pixels from the left.
std::shared_ptr<const Image> text_image(std::string_view text, uint32_t ink, uint32_t paper,
                                        int scale, int width, int pad = 0);

/// Window decoration sizes for a Ui.
struct Chrome {
  int border;
  int title_h;
};
Chrome chrome(const Ui& ui);
/// The client area of a window at `window`.
Rect window_client(const Rect& window, const Ui& ui);
/// Draws a window frame (border, title bar in `accent` with `title` and three buttons) over
/// all of `img`, and fills the client area with `client`.
void draw_window_frame(Image& img, std::string_view title, uint32_t accent, uint32_t client,
                       const Ui& ui);

/// A 64-bit mixing function (splitmix64's finaliser): deterministic pseudo-randomness.
constexpr uint64_t mix64(uint64_t x) {
  x += 0x9e3779b97f4a7c15ull;
  x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9ull;
  x = (x ^ (x >> 27)) * 0x94d049bb133111ebull;
  return x ^ (x >> 31);
}

/// Integer sine: `angle` in 1/4096 turns, result in [-16384, 16384]. Integer maths keeps
/// frames identical on every platform and libm.
int isin(int angle);
inline int icos(int angle) { return isin(angle + 1024); }
/// A triangle wave over [0, range]: `t` walks up and back down (a bounce).
int64_t bounce(int64_t t, int64_t range);
/// Linear blend of two colours, `t` in [0, 256].
uint32_t blend(uint32_t a, uint32_t b, int t);

/// Per-frame full-size images (video, game) without allocating and zeroing megabytes every
/// frame: the pixel memory of an image is recycled once its last holder lets go. Each
/// acquire() still returns a new Image object with a new shared_ptr control block, so a
/// consumer that caches by shared_ptr or weak_ptr never sees an image it knew change.
class ImagePool {
 public:
  ImagePool() : spare_(std::make_shared<Spare>()) {}
  /// A new image of `size`, owned by the caller; its pixels are stale (not zeroed).
  std::shared_ptr<Image> acquire(Size size);

 private:
  static constexpr size_t kMaxSpare = 3;
  // Released pixel memory. Images are released on whichever thread drops the last
  // reference (a raster or encoder thread), hence the lock.
  struct Spare {
    std::mutex mutex;
    std::vector<Image> images;  // guarded by mutex
  };
  std::shared_ptr<Spare> spare_;
};

/// Rendered text lines by line number, for text areas that scroll through an endless
/// document: a line stays cached while it can still be on screen. With a capacity of at least
/// the visible row count, the visible lines never evict each other.
class LineCache {
 public:
  using Render = std::function<std::shared_ptr<const Image>(int64_t index)>;
  LineCache(size_t capacity, Render render)
      : entries_(std::max<size_t>(capacity, 1)), render_(std::move(render)) {}
  const std::shared_ptr<const Image>& get(int64_t index);

 private:
  struct Entry {
    int64_t index = -1;
    std::shared_ptr<const Image> image;
  };
  std::vector<Entry> entries_;
  Render render_;
};

}  // namespace spiceflow::qxl
