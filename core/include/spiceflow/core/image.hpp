#pragma once
/// Pixel buffers. spiceflow keeps every surface as 32-bit xRGB in little-endian memory
/// order B, G, R, X (pixman's x8r8g8b8, SPICE's SPICE_SURFACE_FMT_32_xRGB). `Image` owns
/// its pixels; `ImageView` borrows them and must not outlive the owner.
#include <cstdint>
#include <cstring>
#include <span>
#include <string>
#include <utility>
#include <vector>

#include "spiceflow/core/geometry.hpp"
#include "spiceflow/core/result.hpp"

namespace spiceflow {

/// Packs an opaque colour as 0xXXRRGGBB (X = 0xff).
constexpr uint32_t rgb(uint8_t r, uint8_t g, uint8_t b) {
  return 0xff000000u | (uint32_t(r) << 16) | (uint32_t(g) << 8) | uint32_t(b);
}

struct ImageView {
  const uint8_t* data = nullptr;
  int32_t width = 0;
  int32_t height = 0;
  int32_t stride = 0;  // bytes per row

  const uint32_t* row(int32_t y) const {
    return reinterpret_cast<const uint32_t*>(data + size_t(y) * size_t(stride));
  }
  uint32_t pixel(int32_t x, int32_t y) const { return row(y)[x]; }
  Size size() const { return {width, height}; }
  /// A view of `r` (which must lie inside this view).
  ImageView sub(const Rect& r) const {
    return {data + size_t(r.y) * size_t(stride) + size_t(r.x) * 4, r.width, r.height, stride};
  }
};

/// An allocator whose value-initialisation leaves bytes uninitialised: an Image that is
/// about to be overwritten whole (copy_of) skips the zero fill.
template <class T>
struct DefaultInitAllocator : std::allocator<T> {
  template <class U>
  struct rebind {
    using other = DefaultInitAllocator<U>;
  };
  using std::allocator<T>::allocator;
  template <class U>
  void construct(U* p) noexcept {
    ::new (static_cast<void*>(p)) U;
  }
  template <class U, class... Args>
  void construct(U* p, Args&&... args) {
    ::new (static_cast<void*>(p)) U(std::forward<Args>(args)...);
  }
};

class Image {
 public:
  Image() = default;
  /// A zero-filled (black, X = 0) image with a tightly packed stride.
  Image(int32_t width, int32_t height);

  int32_t width() const { return width_; }
  int32_t height() const { return height_; }
  int32_t stride() const { return stride_; }
  Size size() const { return {width_, height_}; }
  uint8_t* data() { return pixels_.data(); }
  const uint8_t* data() const { return pixels_.data(); }
  size_t byte_size() const { return pixels_.size(); }
  uint32_t* row(int32_t y) { return reinterpret_cast<uint32_t*>(data() + size_t(y) * stride_); }
  const uint32_t* row(int32_t y) const {
    return reinterpret_cast<const uint32_t*>(data() + size_t(y) * stride_);
  }
  uint32_t pixel(int32_t x, int32_t y) const { return row(y)[x]; }
  ImageView view() const { return {data(), width_, height_, stride_}; }

  /// A packed copy of `r` of `src` (r must lie inside src).
  static Image copy_of(const ImageView& src, const Rect& r);
  /// An image whose pixels are undefined, for a caller that writes every one of them
  /// (saves the zero fill of a large picture).
  static Image uninitialized(int32_t width, int32_t height) {
    return Image(width, height, Uninitialized{});
  }

 private:
  int32_t width_ = 0;
  int32_t height_ = 0;
  int32_t stride_ = 0;
  struct Uninitialized {};
  Image(int32_t width, int32_t height, Uninitialized);

  std::vector<uint8_t, DefaultInitAllocator<uint8_t>> pixels_;
};

/// Writes `img` as a binary PPM (P6, 8-bit RGB). Returns an error naming the path on failure.
Status write_ppm(const std::string& path, const ImageView& img);
/// Reads a binary PPM (P6, maxval 255) into an xRGB image.
Result<Image> read_ppm(const std::string& path);

}  // namespace spiceflow
