#pragma once
/// 4:2:0 YUV pictures for the video encoders, and the one RGB -> YUV formula every raster
/// backend implements bit-exactly (the CPU one here, the Vulkan one in gpu/shaders/yuv.comp).
///
/// Formula (BT.709, limited range, 8 bits; R, G, B from xRGB, X ignored), with integer
/// coefficients scaled by 2^16 and round-half-up:
///   Y = (11966 R + 40254 G + 4064 B + 16 * 2^16 + 2^15) >> 16           (per pixel)
///   C = (cR sumR + cG sumG + cB sumB + 128 * 2^18 + 2^17) >> 18         (per 2x2 block)
/// with (cR, cG, cB) = (-6596, -22188, 28784) for Cb and (28784, -26145, -2639) for Cr, and
/// sumR, sumG, sumB the sums over the four pixels of the block (chroma of the 2x2 average).
/// Each row of coefficients sums to 219/255 * 2^16 (Y) or to 0 (grey gives Cb = Cr = 128).
/// Pixels outside the picture (odd widths and heights, and the padding up to the stride)
/// repeat the nearest edge pixel, so every stored byte is defined.
///
/// Layout: planes packed one after the other in `data`; the luma stride is the width rounded
/// up to kYuvStrideAlign (JPEG's and most encoders' block width), chroma rows are half of it
/// (I420: U plane, then V plane) or all of it (NV12: interleaved U, V).
#include <cstdint>
#include <vector>

#include "spiceflow/core/geometry.hpp"
#include "spiceflow/core/image.hpp"

namespace spiceflow {

enum class YuvFormat : uint8_t { i420, nv12 };

/// Luma rows are padded to a multiple of this many bytes: a 16x16 macroblock / JPEG 4:2:0
/// MCU, and a whole number of 32-bit words for a device writing 4 luma bytes at a time.
inline constexpr int32_t kYuvStrideAlign = 16;

/// Fixed-point coefficients of the formula above (scaled by 2^16).
inline constexpr int32_t kYuvY[3] = {11966, 40254, 4064};
inline constexpr int32_t kYuvCb[3] = {-6596, -22188, 28784};
inline constexpr int32_t kYuvCr[3] = {28784, -26145, -2639};

/// A 4:2:0 picture: width x height luma samples, (width+1)/2 x (height+1)/2 chroma samples.
struct YuvImage {
  YuvFormat format = YuvFormat::i420;
  int32_t width = 0;
  int32_t height = 0;
  std::vector<uint8_t> data;

  /// A picture of the given size with the layout above (contents zero).
  static YuvImage make(YuvFormat format, int32_t width, int32_t height);
  int32_t chroma_width() const { return (width + 1) / 2; }
  int32_t chroma_height() const { return (height + 1) / 2; }
  int32_t y_stride() const { return (width + kYuvStrideAlign - 1) / kYuvStrideAlign * kYuvStrideAlign; }
  /// Bytes per row of the U and V planes (I420) or of the UV plane (NV12).
  int32_t uv_stride() const { return format == YuvFormat::i420 ? y_stride() / 2 : y_stride(); }
  size_t y_size() const { return size_t(y_stride()) * size_t(height); }
  size_t uv_plane_size() const { return size_t(uv_stride()) * size_t(chroma_height()); }
  /// Bytes of the whole picture for this format and size.
  size_t byte_size() const {
    return y_size() + uv_plane_size() * (format == YuvFormat::i420 ? 2 : 1);
  }
  uint8_t* y() { return data.data(); }
  const uint8_t* y() const { return data.data(); }
  /// I420: the U plane; NV12: the interleaved UV plane.
  uint8_t* u() { return data.data() + y_size(); }
  const uint8_t* u() const { return data.data() + y_size(); }
  /// I420 only: the V plane.
  uint8_t* v() { return data.data() + y_size() + uv_plane_size(); }
  const uint8_t* v() const { return data.data() + y_size() + uv_plane_size(); }
};

/// Converts `src` (all of it) to `format` with the formula above. The CPU reference.
YuvImage convert_to_yuv(const ImageView& src, YuvFormat format);

}  // namespace spiceflow
