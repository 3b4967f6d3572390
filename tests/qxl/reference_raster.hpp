#pragma once
// A plain-loop CPU renderer of the draw-command IR, for tests only: it is slow on purpose
// and checks as it goes (it is not the raster backend; that lives in gpu/).
#include <gtest/gtest.h>

#include <cstring>
#include <variant>

#include "spiceflow/core/draw.hpp"

namespace spiceflow::qxl::testing {

// Applies one command to `target` (surface 0). Returns false, after a gtest failure, when
// the command reaches outside the surface or its source image.
inline bool apply(Image& target, const DrawCommand& cmd) {
  const Rect surface = Rect::from_size(target.size());
  const Rect clip = cmd.clip.empty() ? surface : intersect(cmd.clip, surface);
  if (const auto* f = std::get_if<FillOp>(&cmd.op)) {
    EXPECT_TRUE(surface.contains(f->rect)) << "fill outside the surface";
    const Rect r = intersect(f->rect, clip);
    for (int32_t y = r.y; y < r.bottom(); ++y) {
      for (int32_t x = r.x; x < r.right(); ++x) target.row(y)[x] = f->color;
    }
    return surface.contains(f->rect);
  }
  if (const auto* b = std::get_if<BlitOp>(&cmd.op)) {
    const Rect src{b->src_pos.x, b->src_pos.y, b->dst.width, b->dst.height};
    const bool ok =
        b->src && surface.contains(b->dst) && Rect::from_size(b->src->size()).contains(src);
    EXPECT_TRUE(ok) << "blit outside the surface or its image";
    if (!ok) return false;
    const Rect r = intersect(b->dst, clip);
    for (int32_t y = r.y; y < r.bottom(); ++y) {
      for (int32_t x = r.x; x < r.right(); ++x) {
        target.row(y)[x] = b->src->pixel(src.x + (x - b->dst.x), src.y + (y - b->dst.y));
      }
    }
    return true;
  }
  const auto& c = std::get<CopyBitsOp>(cmd.op);
  const Rect src{c.src.x, c.src.y, c.dst.width, c.dst.height};
  const bool ok = surface.contains(c.dst) && surface.contains(src);
  EXPECT_TRUE(ok) << "copy outside the surface";
  if (!ok) return false;
  // Read everything first: source and destination may overlap.
  Image tmp = Image::copy_of(target.view(), src);
  const Rect r = intersect(c.dst, clip);
  for (int32_t y = r.y; y < r.bottom(); ++y) {
    for (int32_t x = r.x; x < r.right(); ++x) {
      target.row(y)[x] = tmp.pixel(x - c.dst.x, y - c.dst.y);
    }
  }
  return true;
}

// Applies a batch: (re)creates surface 0 when asked, then runs the commands in order.
inline void apply(Image& target, const DrawBatch& batch) {
  for (const SurfaceCreate& sc : batch.creates) {
    if (sc.surface_id == 0) target = Image(sc.size.width, sc.size.height);
  }
  for (const DrawCommand& cmd : batch.commands) {
    EXPECT_EQ(cmd.surface_id, 0u);
    apply(target, cmd);
  }
}

// FNV-1a over the pixels, ignoring the unused X byte.
inline uint64_t pixel_hash(const Image& img) {
  uint64_t h = 1469598103934665603ull;
  for (int32_t y = 0; y < img.height(); ++y) {
    for (int32_t x = 0; x < img.width(); ++x) {
      const uint32_t p = img.pixel(x, y) & 0xffffff;
      for (int i = 0; i < 3; ++i) {
        h ^= (p >> (8 * i)) & 0xff;
        h *= 1099511628211ull;
      }
    }
  }
  return h;
}

// The bounding box of the pixels that differ between two same-sized images (empty if none).
inline Rect diff_bounds(const Image& a, const Image& b) {
  Rect box;
  for (int32_t y = 0; y < a.height(); ++y) {
    for (int32_t x = 0; x < a.width(); ++x) {
      if ((a.pixel(x, y) & 0xffffff) != (b.pixel(x, y) & 0xffffff))
        box = bounding_union(box, Rect{x, y, 1, 1});
    }
  }
  return box;
}

}  // namespace spiceflow::qxl::testing
