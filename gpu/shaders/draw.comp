#version 460
// The one compute shader of the Vulkan raster backend: draws one rectangle of one op,
// one invocation per destination pixel. Every operand is reached through a buffer device
// address held in the op record, the push constants (vulkan/plan.hpp's GpuOp mirrors its
// layout byte for byte). The CPU side (vulkan/plan.cpp) has already done
// the clipping, validation, snapshotting and sampling maps, so this only reads, combines
// and stores, with the CPU backend's exact integer arithmetic (pixman's for blending).
#extension GL_EXT_buffer_reference : require

// One invocation per column of kRows pixels: neighbouring invocations touch neighbouring
// words (coalesced on GPUs, one SIMD row on lavapipe), and the op record is read once per
// kRows pixels.
layout(local_size_x = 64, local_size_y = 1) in;
const int kRows = 8;

layout(buffer_reference, std430, buffer_reference_align = 4) buffer Words { uint w[]; };
layout(buffer_reference, std430, buffer_reference_align = 4) readonly buffer Ints { int v[]; };

// Source kinds.
const uint kSolid = 0u;    // `color`
const uint kOffset = 1u;   // src[(src_y + fy) * stride + src_x + fx]
const uint kMapped = 2u;   // src[ymap[fy] * stride + xmap[fx]]; a map entry < 0 reads 0
const uint kPattern = 3u;  // src[((src_y + fy) % src_h) * stride + (src_x + fx) % src_w]
// Combiners.
const uint kRop = 0u;          // dst = rop(s, dst) | X
const uint kTransparent = 1u;  // dst = s | X unless s's RGB equals `color`
const uint kOver = 2u;         // dst = s OVER dst (global alpha in `alpha`) | X
const uint kRaw = 3u;          // dst = s (snapshots into scratch buffers; X kept)
const uint kCoverOver = 4u;    // dst = (s IN mask byte) OVER dst | X (text: the mask is coverage)
const uint kRop3 = 5u;         // dst = rop3(color, s, dst) | X, the ternary code in kRopCode
const uint kComposite = 6u;    // a Porter-Duff operator, untransformed (see composite())
// dst = rop3(pattern, s, dst) | X: the pattern tile at `maps` (stride in `color`, size in
// src_w x src_h, the frame origin's tile pixel at (alpha & 0xffff, alpha >> 16)).
const uint kRop3Pattern = 7u;

// What kind of op this pipeline draws: specialization constants, so each pipeline holds only
// its own path (no divergence, and lavapipe does not run every branch under a mask). `kind`,
// `combine` and `rop` in the push constants repeat them for the CPU side's convenience.
layout(constant_id = 0) const uint kKind = 0u;
layout(constant_id = 1) const uint kCombine = 0u;
layout(constant_id = 2) const uint kRopCode = 3u;
layout(constant_id = 3) const bool kHasMask = false;
// A pixel list instead of a rectangle (strokes): invocation i draws the pixel whose (x, y)
// are words 2i and 2i + 1 at `maps`; region.z is the count. Solid and pattern sources only.
layout(constant_id = 4) const bool kList = false;

// The op record is the push-constant block itself (128 bytes, the guaranteed minimum): uniform
// for every invocation, so devices (and lavapipe) keep it in registers.
layout(push_constant, std430) uniform Op {
  Words dst;
  Words src;
  Words mask;   // one byte per mask pixel, packed four to a word (0: not drawn)
  Ints maps;    // kMapped: frame.z column entries, then frame.w row entries
  ivec4 region; // destination pixels this dispatch covers (x, y, w, h)
  ivec4 frame;  // (fx, fy) = (x - frame.x, y - frame.y) index sources, masks and maps
  int dst_stride;
  int src_stride;
  uint kind;
  uint combine;
  uint rop;     // the 16 binary rops, numbered as Rop in raster_util.hpp (kRop3: the ternary code)
  uint color;
  int src_x;
  int src_y;
  int src_w;
  int src_h;
  int mask_x;   // mask pixel of the frame origin
  int mask_y;
  int mask_w;   // 0: no mask
  int mask_h;
  uint mask_invert;
  uint alpha;   // kOver: global alpha in bits 0-7, bit 8 set when the source carries alpha
} op;

uint apply_rop(uint rop, uint s, uint d) {
  switch (rop) {
    case 0u: return 0u;
    case 1u: return s & d;
    case 2u: return s & ~d;
    case 3u: return s;
    case 4u: return ~s & d;
    case 5u: return d;
    case 6u: return s ^ d;
    case 7u: return s | d;
    case 8u: return ~(s | d);
    case 9u: return ~(s ^ d);
    case 10u: return ~d;
    case 11u: return s | ~d;
    case 12u: return ~s;
    case 13u: return ~s | d;
    case 14u: return ~(s & d);
    default: return 0xffffffffu;
  }
}

// One of the 256 ternary rops (raster_util.hpp's apply_rop3): bit i of `code` is the result
// where pattern, source and destination bits are (i >> 2, i >> 1, i) & 1. `code` is a
// specialization constant, so the loop folds to the op's own expression.
uint apply_rop3(uint code, uint p, uint s, uint d) {
  uint r = 0u;
  for (uint i = 0u; i < 8u; ++i) {
    if (((code >> i) & 1u) == 0u) continue;
    r |= (((i & 4u) != 0u) ? p : ~p) & (((i & 2u) != 0u) ? s : ~s) & (((i & 1u) != 0u) ? d : ~d);
  }
  return r;
}

// pixman's MUL_UN8: a * b / 255, rounded.
uint mul_un8(uint a, uint b) {
  uint t = a * b + 0x80u;
  return (t + (t >> 8)) >> 8;
}

uint channel(uint p, uint shift) { return (p >> shift) & 0xffu; }

// pixman's OVER on premultiplied a8r8g8b8: s + d * (255 - s.a), each channel saturated.
uint over(uint s, uint d) {
  uint ia = 255u - (s >> 24);
  uint r = 0u;
  for (uint sh = 0u; sh < 32u; sh += 8u) {
    r |= min(255u, channel(s, sh) + mul_un8(channel(d, sh), ia)) << sh;
  }
  return r;
}

uint scale_un8x4(uint s, uint a) {
  uint r = 0u;
  for (uint sh = 0u; sh < 32u; sh += 8u) r |= mul_un8(channel(s, sh), a) << sh;
  return r;
}

// A Render operand pixel (pixman's repeat modes; outside with REPEAT_NONE: transparent).
// `has_alpha` false: x8r8g8b8, alpha reads as 255.
uint operand(Words img, int stride, int w, int h, int x, int y, uint repeat, bool has_alpha) {
  if (repeat == 0u) {
    if (x < 0 || y < 0 || x >= w || y >= h) return 0u;
  } else if (repeat == 1u) {
    x = ((x % w) + w) % w;
    y = ((y % h) + h) % h;
  } else if (repeat == 2u) {
    x = clamp(x, 0, w - 1);
    y = clamp(y, 0, h - 1);
  } else {
    x = ((x % (2 * w)) + 2 * w) % (2 * w);
    y = ((y % (2 * h)) + 2 * h) % (2 * h);
    if (x >= w) x = 2 * w - x - 1;
    if (y >= h) y = 2 * h - y - 1;
  }
  uint v = img.w[uint(y) * uint(stride) + uint(x)];
  return has_alpha ? v : (v | 0xff000000u);
}

// DRAW_COMPOSITE without transforms or component alpha, as pixman computes it onto an
// x8r8g8b8 destination (alpha 255): the source scaled by the mask's alpha, then
// s * Fa + d * Fb per channel, each product rounded as MUL_UN8, the sum saturated. `code`
// (kRopCode) packs the operator (bits 0-7, Porter-Duff 0-12), the source and mask repeats
// (bits 8-9, 10-11), whether each carries alpha (12, 13) and whether there is a mask (14).
// Operand origins: src_x/src_y and mask_x/mask_y at the frame origin; the mask image's
// stride is in mask_invert.
uint composite(uint code, int fx, int fy, uint d) {
  uint s = operand(op.src, op.src_stride, op.src_w, op.src_h, op.src_x + fx, op.src_y + fy, (code >> 8) & 3u,
                   ((code >> 12) & 1u) != 0u);
  if (((code >> 14) & 1u) != 0u) {
    uint m = operand(op.mask, int(op.mask_invert), op.mask_w, op.mask_h, op.mask_x + fx, op.mask_y + fy,
                    (code >> 10) & 3u, ((code >> 13) & 1u) != 0u);
    s = scale_un8x4(s, m >> 24);
  }
  uint sa = s >> 24;
  uint fa = 0u, fb = 0u;
  switch (code & 0xffu) {
    case 0u: fa = 0u; fb = 0u; break;           // clear
    case 1u: fa = 255u; fb = 0u; break;         // src
    case 2u: fa = 0u; fb = 255u; break;         // dst
    case 3u: fa = 255u; fb = 255u - sa; break;  // over
    case 4u: fa = 0u; fb = 255u; break;         // over_reverse (the destination is opaque)
    case 5u: fa = 255u; fb = 0u; break;         // in
    case 6u: fa = 0u; fb = sa; break;           // in_reverse
    case 7u: fa = 0u; fb = 0u; break;           // out
    case 8u: fa = 0u; fb = 255u - sa; break;    // out_reverse
    case 9u: fa = 255u; fb = 255u - sa; break;  // atop
    case 10u: fa = 0u; fb = sa; break;          // atop_reverse
    case 11u: fa = 0u; fb = 255u - sa; break;   // xor
    default: fa = 255u; fb = 255u; break;       // add
  }
  uint r = 0u;
  for (uint sh = 0u; sh < 24u; sh += 8u) {
    r |= min(255u, mul_un8(channel(s, sh), fa) + mul_un8(channel(d, sh), fb)) << sh;
  }
  return r;
}

void draw_pixel(int x, int y) {
  int fx = x - op.frame.x;
  int fy = y - op.frame.y;

  uint coverage = 255u;
  if (kHasMask) {
    // Pixels outside the mask bitmap are never drawn, inverted or not.
    int mx = op.mask_x + fx;
    int my = op.mask_y + fy;
    if (mx < 0 || my < 0 || mx >= op.mask_w || my >= op.mask_h) return;
    uint i = uint(my) * uint(op.mask_w) + uint(mx);
    coverage = (op.mask.w[i >> 2] >> ((i & 3u) * 8u)) & 0xffu;
    if ((coverage != 0u) == (op.mask_invert != 0u)) return;
  }

  uint s = 0u;
  if (kKind == kSolid) {
    s = op.color;
  } else if (kKind == kOffset) {
    s = op.src.w[uint(op.src_y + fy) * uint(op.src_stride) + uint(op.src_x + fx)];
  } else if (kKind == kMapped) {
    int sx = op.maps.v[fx];
    int sy = op.maps.v[op.frame.z + fy];
    if (sx >= 0 && sy >= 0) s = op.src.w[uint(sy) * uint(op.src_stride) + uint(sx)];
  } else {
    uint tx = uint(op.src_x + fx) % uint(op.src_w);
    uint ty = uint(op.src_y + fy) % uint(op.src_h);
    s = op.src.w[ty * uint(op.src_stride) + tx];
  }

  uint di = uint(y) * uint(op.dst_stride) + uint(x);
  if (kCombine == kRaw) {
    op.dst.w[di] = s;
    return;
  }
  uint d = op.dst.w[di];
  uint result;
  if (kCombine == kRop) {
    result = apply_rop(kRopCode, s, d);
  } else if (kCombine == kRop3) {
    result = apply_rop3(kRopCode, op.color, s, d);
  } else if (kCombine == kRop3Pattern) {
    uint tx = ((op.alpha & 0xffffu) + uint(fx)) % uint(op.src_w);
    uint ty = ((op.alpha >> 16) + uint(fy)) % uint(op.src_h);
    result = apply_rop3(kRopCode, uint(op.maps.v[ty * op.color + tx]), s, d);
  } else if (kCombine == kComposite) {
    result = composite(kRopCode, fx, fy, d);
  } else if (kCombine == kTransparent) {
    if ((s & 0xffffffu) == (op.color & 0xffffffu)) return;
    result = s;
  } else if (kCombine == kCoverOver) {
    result = over(scale_un8x4(s | 0xff000000u, coverage), d);
  } else {
    // Samples outside a mapped source are transparent (pixman's REPEAT_NONE) in either format.
    bool inside = kKind != kMapped || (op.maps.v[fx] >= 0 && op.maps.v[op.frame.z + fy] >= 0);
    if (inside && (op.alpha & 0x100u) == 0u) s |= 0xff000000u;
    uint a = op.alpha & 0xffu;
    if (a != 255u) s = scale_un8x4(s, a);
    result = over(s, d);
  }
  op.dst.w[di] = result | 0xff000000u;
}

void main() {
  int gx = int(gl_GlobalInvocationID.x);
  if (gx >= op.region.z) return;
  if (kList) {
    if (gl_GlobalInvocationID.y == 0u) draw_pixel(op.maps.v[2 * gx], op.maps.v[2 * gx + 1]);
    return;
  }
  int y0 = int(gl_GlobalInvocationID.y) * kRows;
  int y1 = min(y0 + kRows, op.region.w);
  for (int gy = y0; gy < y1; ++gy) draw_pixel(op.region.x + gx, op.region.y + gy);
}
