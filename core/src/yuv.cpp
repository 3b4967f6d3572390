#include "spiceflow/core/yuv.hpp"

#include <algorithm>

namespace spiceflow {
namespace {

constexpr int32_t kLumaOffset = (16 << 16) + (1 << 15);     // +16, round half up (2^16 scale)
constexpr int32_t kChromaOffset = (128 << 18) + (1 << 17);  // +128, round half up (2^18 scale)

inline uint8_t luma(uint32_t p) {
  const int32_t r = int32_t((p >> 16) & 0xff), g = int32_t((p >> 8) & 0xff), b = int32_t(p & 0xff);
  return uint8_t((kYuvY[0] * r + kYuvY[1] * g + kYuvY[2] * b + kLumaOffset) >> 16);
}

// Cb and Cr of the 2x2 block a, b (upper row), c, d (lower row).
inline void chroma(uint32_t a, uint32_t b, uint32_t c, uint32_t d, uint8_t* cb, uint8_t* cr) {
  const auto sum = [&](int shift) {
    return int32_t((a >> shift) & 0xff) + int32_t((b >> shift) & 0xff) + int32_t((c >> shift) & 0xff) +
           int32_t((d >> shift) & 0xff);
  };
  const int32_t r = sum(16), g = sum(8), bl = sum(0);
  *cb = uint8_t((kYuvCb[0] * r + kYuvCb[1] * g + kYuvCb[2] * bl + kChromaOffset) >> 18);
  *cr = uint8_t((kYuvCr[0] * r + kYuvCr[1] * g + kYuvCr[2] * bl + kChromaOffset) >> 18);
}

}  // namespace

YuvImage YuvImage::make(YuvFormat format, int32_t width, int32_t height) {
  YuvImage img;
  img.format = format;
  img.width = std::max(width, 0);
  img.height = std::max(height, 0);
  img.data.resize(img.byte_size());
  return img;
}

YuvImage convert_to_yuv(const ImageView& src, YuvFormat format) {
  YuvImage out = YuvImage::make(format, src.width, src.height);
  if (src.width <= 0 || src.height <= 0) return out;
  const int32_t w = src.width, h = src.height, ys = out.y_stride(), us = out.uv_stride();
  const bool nv12 = format == YuvFormat::nv12;
  for (int32_t cy = 0; cy < out.chroma_height(); ++cy) {
    const int32_t y0 = 2 * cy, y1 = std::min(y0 + 1, h - 1);
    const uint32_t* r0 = src.row(y0);
    const uint32_t* r1 = src.row(y1);
    uint8_t* l0 = out.y() + size_t(y0) * size_t(ys);
    uint8_t* l1 = y0 + 1 < h ? l0 + ys : nullptr;  // an odd height's last row has no pair
    uint8_t* u = out.u() + size_t(cy) * size_t(us);
    uint8_t* v = nv12 ? u + 1 : out.v() + size_t(cy) * size_t(us);
    const int step = nv12 ? 2 : 1;
    // Columns up to the padded stride; past the last pixel the edge pixel repeats.
    for (int32_t x = 0; x < ys; x += 2) {
      const int32_t x0 = std::min(x, w - 1), x1 = std::min(x + 1, w - 1);
      const uint32_t a = r0[x0], b = r0[x1], c = r1[x0], d = r1[x1];
      l0[x] = luma(a);
      l0[x + 1] = luma(b);
      if (l1) {
        l1[x] = luma(c);
        l1[x + 1] = luma(d);
      }
      const size_t k = size_t(x / 2) * size_t(step);
      chroma(a, b, c, d, u + k, v + k);
    }
  }
  return out;
}

}  // namespace spiceflow
