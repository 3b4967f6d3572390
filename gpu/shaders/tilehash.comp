#version 460
// Tile tracking (raster.hpp's TileHashes) on the device: one workgroup per 64x64 tile, one
// invocation per row. A tile flagged for hashing gets each row hashed (FNV-1a over the RGB
// of its pixels, in order), then the row hashes combined in order by the first invocation,
// exactly as gpu/src/tile_hash.cpp's hash_tile(); every tile's history moves on by one bit,
// and the newest bit is set where the hash changed. vulkan/tile_hash.cpp fills the push
// constants (TileHashJob mirrors them).
#extension GL_EXT_buffer_reference : require

layout(local_size_x = 64, local_size_y = 1) in;
const int kTile = 64;

layout(buffer_reference, std430, buffer_reference_align = 4) readonly buffer Pixels { uint p[]; };
layout(buffer_reference, std430, buffer_reference_align = 4) buffer Words { uint v[]; };
layout(buffer_reference, std430, buffer_reference_align = 4) readonly buffer Flags { uint f[]; };

layout(push_constant, std430) uniform Job {
  Pixels src;   // the surface (packed xRGB words)
  Words state;  // per tile: hash, history
  Flags flags;  // per tile: 0 = untouched, 1 = hash again, 2 = first hash (no history)
  int width;    // surface size in pixels (also its stride)
  int height;
  int columns;  // tiles per row
};

const uint kFnvBasis = 2166136261u;
const uint kFnvPrime = 16777619u;

shared uint row_hash[kTile];

void main() {
  const int tx = int(gl_WorkGroupID.x), ty = int(gl_WorkGroupID.y);
  const int t = ty * columns + tx;
  const int r = int(gl_LocalInvocationID.x);
  const uint flag = flags.f[t];  // the same for the whole workgroup
  if (flag == 0u) {
    if (r == 0) state.v[2 * t + 1] <<= 1;
    return;
  }
  const int x0 = tx * kTile, y0 = ty * kTile;
  const int w = min(kTile, width - x0), h = min(kTile, height - y0);
  if (r < h) {
    uint hr = kFnvBasis;
    const int base = (y0 + r) * width + x0;
    for (int i = 0; i < w; ++i) hr = (hr ^ (src.p[base + i] & 0x00ffffffu)) * kFnvPrime;
    row_hash[r] = hr;
  }
  barrier();
  if (r != 0) return;
  uint hash = kFnvBasis;
  for (int i = 0; i < h; ++i) hash = (hash ^ row_hash[i]) * kFnvPrime;
  if (flag == 2u) {
    state.v[2 * t + 1] = 0u;
  } else {
    state.v[2 * t + 1] = (state.v[2 * t + 1] << 1) | (hash != state.v[2 * t] ? 1u : 0u);
  }
  state.v[2 * t] = hash;
}
