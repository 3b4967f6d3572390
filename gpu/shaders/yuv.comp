#version 460
// Colour conversion of one surface region to 4:2:0 YUV (I420 or NV12), BT.709 limited range,
// with exactly the integer formula of core/yuv.hpp (the CPU reference, convert_to_yuv): one
// invocation per 8 columns x 2 rows, so every invocation writes whole 32-bit words (two luma
// words per row, one I420 U and one V word, or two NV12 UV words) and none shares a word.
// The layout (strides, plane offsets) is YuvImage's; vulkan/convert.cpp fills the push
// constants (YuvJob mirrors them).
#extension GL_EXT_buffer_reference : require

layout(local_size_x = 64, local_size_y = 1) in;

layout(buffer_reference, std430, buffer_reference_align = 4) readonly buffer Pixels { uint p[]; };
layout(buffer_reference, std430, buffer_reference_align = 4) writeonly buffer Words { uint v[]; };

layout(push_constant, std430) uniform Job {
  Pixels src;      // the surface (packed xRGB words)
  Words dst;       // the picture: Y plane, then U and V (I420) or UV (NV12)
  ivec4 region;    // surface pixels converted: x, y, w, h
  int src_stride;  // surface pixels per row
  int y_stride;    // luma bytes per row (a multiple of 16)
  int u_offset;    // byte offset of the U (I420) or UV (NV12) plane
  int v_offset;    // byte offset of the V plane (I420)
  uint nv12;       // 1: NV12, 0: I420
};

// core/yuv.hpp's coefficients (2^16 scale) and offsets (+16 / +128, rounding half up).
const ivec3 kY = ivec3(11966, 40254, 4064);
const ivec3 kCb = ivec3(-6596, -22188, 28784);
const ivec3 kCr = ivec3(28784, -26145, -2639);
const int kLumaOffset = (16 << 16) + (1 << 15);
const int kChromaOffset = (128 << 18) + (1 << 17);

ivec3 rgb(uint p) { return ivec3(int((p >> 16) & 0xffu), int((p >> 8) & 0xffu), int(p & 0xffu)); }

// Pixels past the region's edge repeat the edge pixel (odd sizes, stride padding).
ivec3 pixel(int x, int y) {
  x = min(x, region.z - 1);
  y = min(y, region.w - 1);
  return rgb(src.p[(region.y + y) * src_stride + region.x + x]);
}

// Integer dot product (GLSL's dot() is floating point only).
int idot(ivec3 a, ivec3 b) { return a.x * b.x + a.y * b.y + a.z * b.z; }
uint luma(ivec3 c) { return uint((idot(kY, c) + kLumaOffset) >> 16); }
uint chroma(ivec3 k, ivec3 sum) { return uint((idot(k, sum) + kChromaOffset) >> 18); }

void main() {
  const int gx = int(gl_GlobalInvocationID.x);
  const int cy = int(gl_GlobalInvocationID.y);
  if (gx >= y_stride / 8 || cy >= (region.w + 1) / 2) return;
  const int x0 = gx * 8, y0 = cy * 2;
  ivec3 top[8], bottom[8];
  for (int i = 0; i < 8; ++i) {
    top[i] = pixel(x0 + i, y0);
    bottom[i] = pixel(x0 + i, y0 + 1);
  }
  for (int w = 0; w < 2; ++w) {
    uint t = 0u, b = 0u;
    for (int i = 0; i < 4; ++i) {
      t |= luma(top[w * 4 + i]) << (8 * i);
      b |= luma(bottom[w * 4 + i]) << (8 * i);
    }
    const int word = (y0 * y_stride + x0) / 4 + w;
    dst.v[word] = t;
    if (y0 + 1 < region.w) dst.v[word + y_stride / 4] = b;
  }
  uint cb[4], cr[4];
  for (int j = 0; j < 4; ++j) {
    const ivec3 sum = top[2 * j] + top[2 * j + 1] + bottom[2 * j] + bottom[2 * j + 1];
    cb[j] = chroma(kCb, sum);
    cr[j] = chroma(kCr, sum);
  }
  if (nv12 != 0u) {
    const int word = (u_offset + cy * y_stride + x0) / 4;
    dst.v[word] = cb[0] | cr[0] << 8 | cb[1] << 16 | cr[1] << 24;
    dst.v[word + 1] = cb[2] | cr[2] << 8 | cb[3] << 16 | cr[3] << 24;
  } else {
    const int row = cy * (y_stride / 2) + x0 / 2;
    dst.v[(u_offset + row) / 4] = cb[0] | cb[1] << 8 | cb[2] << 16 | cb[3] << 24;
    dst.v[(v_offset + row) / 4] = cr[0] | cr[1] << 8 | cr[2] << 16 | cr[3] << 24;
  }
}
