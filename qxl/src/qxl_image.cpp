#include "qxl_image.hpp"

#include <array>

#include "spiceflow/encode/quic_decoder.hpp"

namespace spiceflow::qxl::detail {
namespace {

constexpr uint32_t kOpaque = 0xff000000u;

const char* image_type_name(uint8_t type) {
  switch (type) {
    case SPICE_IMAGE_TYPE_QUIC: return "QUIC";
    case SPICE_IMAGE_TYPE_LZ_PLT: return "LZ_PLT";
    case SPICE_IMAGE_TYPE_LZ_RGB: return "LZ_RGB";
    case SPICE_IMAGE_TYPE_GLZ_RGB: return "GLZ_RGB";
    case SPICE_IMAGE_TYPE_FROM_CACHE: return "FROM_CACHE";
    case SPICE_IMAGE_TYPE_JPEG: return "JPEG";
    case SPICE_IMAGE_TYPE_FROM_CACHE_LOSSLESS: return "FROM_CACHE_LOSSLESS";
    case SPICE_IMAGE_TYPE_ZLIB_GLZ_RGB: return "ZLIB_GLZ_RGB";
    case SPICE_IMAGE_TYPE_JPEG_ALPHA: return "JPEG_ALPHA";
    case SPICE_IMAGE_TYPE_LZ4: return "LZ4";
    default: return nullptr;
  }
}

// A bitmap's validated geometry and its bytes (a span into guest memory or into `storage`).
struct BitmapBits {
  uint8_t format = 0;
  bool top_down = false;
  uint32_t width = 0;
  uint32_t height = 0;
  uint32_t stride = 0;
  GuestAddress palette = 0;
  std::span<const uint8_t> data;
  std::vector<uint8_t> storage;
};

Status read_bitmap_bits(const Guest& g, const QXLBitmap& bm, BitmapBits& out) {
  const auto& lim = g.limits();
  out.format = bm.format;
  out.top_down = (bm.flags & QXL_BITMAP_TOP_DOWN) != 0;
  out.width = bm.x;
  out.height = bm.y;
  out.stride = bm.stride;
  out.palette = bm.palette;
  const uint32_t bpp = bitmap_format_bpp(out.format);
  if (bpp == 0) return make_error(fmt::format("bitmap: unknown format {}", out.format));
  if (out.width == 0 || out.height == 0) return make_error("bitmap: zero area");
  if (out.width > uint32_t(lim.max_image_side) || out.height > uint32_t(lim.max_image_side)) {
    return make_error(fmt::format("bitmap: {}x{} exceeds the {}-pixel side limit", out.width,
                                  out.height, lim.max_image_side));
  }
  if (uint64_t(out.width) * out.height > uint64_t(lim.max_image_pixels)) {
    return make_error(fmt::format("bitmap: {}x{} exceeds {} pixels", out.width, out.height,
                                  lim.max_image_pixels));
  }
  const uint64_t row_bytes = (uint64_t(out.width) * bpp + 7) / 8;
  if (out.stride < row_bytes) {
    return make_error(fmt::format("bitmap: stride {} is smaller than a row of {} bytes",
                                  out.stride, row_bytes));
  }
  const uint64_t size = uint64_t(out.stride) * out.height;
  if (size > lim.max_data_bytes) {
    return make_error(fmt::format("bitmap: {} data bytes exceed {}", size, lim.max_data_bytes));
  }
  if (bm.flags & QXL_BITMAP_DIRECT) {
    auto p = g.bytes(bm.data, size, "bitmap data");
    if (!p) return p.error();
    out.data = {*p, size};
    return {};
  }
  auto chunks = g.chunks(bm.data, "bitmap chunks");
  if (!chunks) return chunks.error();
  if (chunks->size < size) {
    return make_error(fmt::format("bitmap: chunks hold {} bytes, {} rows of {} need {}",
                                  chunks->size, out.height, out.stride, size));
  }
  out.data = chunks->contiguous(size, out.storage);
  return {};
}

Result<std::vector<uint32_t>> read_palette(const Guest& g, GuestAddress addr, uint32_t bpp) {
  // QXLPalette: unique (8), num_ents (2), then the entries.
  constexpr uint64_t kHeader = sizeof(uint64_t) + sizeof(uint16_t);
  static_assert(sizeof(QXLPalette) == kHeader);
  SPICEFLOW_TRY(hdr, g.read<QXLPalette>(addr, "palette"));
  const uint32_t wanted = std::min<uint32_t>(hdr.num_ents, 1u << bpp);
  SPICEFLOW_TRY(ents_addr, g.offset(addr, kHeader, "palette"));
  SPICEFLOW_TRY(p, g.bytes(ents_addr, uint64_t(wanted) * 4, "palette entries"));
  std::vector<uint32_t> ents(wanted);
  std::memcpy(ents.data(), p, size_t(wanted) * 4);
  for (auto& e : ents) e = (g.colors_16bpp() ? color_555_to_32(e & 0xffff) : e) | kOpaque;
  return ents;
}

template <class IndexOf>
Status convert_indexed(Image& img, const BitmapBits& b, std::span<const uint32_t> palette,
                       IndexOf index_of) {
  for (uint32_t y = 0; y < b.height; ++y) {
    const uint32_t sy = b.top_down ? y : b.height - 1 - y;
    const uint8_t* src = b.data.data() + size_t(sy) * b.stride;
    uint32_t* dst = img.row(int32_t(y));
    for (uint32_t x = 0; x < b.width; ++x) {
      const uint32_t i = index_of(src, x);
      if (i >= palette.size()) {
        return make_error(fmt::format("bitmap: pixel uses palette index {} but the palette has "
                                      "{} entries", i, palette.size()));
      }
      dst[x] = palette[i];
    }
  }
  return {};
}

Result<std::shared_ptr<Image>> convert(const BitmapBits& b, std::span<const uint32_t> palette) {
  auto img = std::make_shared<Image>(int32_t(b.width), int32_t(b.height));
  auto src_row = [&](uint32_t y) {
    const uint32_t sy = b.top_down ? y : b.height - 1 - y;
    return b.data.data() + size_t(sy) * b.stride;
  };
  Status st;
  switch (b.format) {
    case SPICE_BITMAP_FMT_1BIT_LE:
      st = convert_indexed(*img, b, palette,
                           [](const uint8_t* s, uint32_t x) { return (s[x >> 3] >> (x & 7)) & 1u; });
      break;
    case SPICE_BITMAP_FMT_1BIT_BE:
      st = convert_indexed(*img, b, palette, [](const uint8_t* s, uint32_t x) {
        return (s[x >> 3] >> (7 - (x & 7))) & 1u;
      });
      break;
    case SPICE_BITMAP_FMT_4BIT_LE:
      st = convert_indexed(*img, b, palette, [](const uint8_t* s, uint32_t x) {
        return (x & 1) ? uint32_t(s[x >> 1] >> 4) : uint32_t(s[x >> 1] & 0xf);
      });
      break;
    case SPICE_BITMAP_FMT_4BIT_BE:
      st = convert_indexed(*img, b, palette, [](const uint8_t* s, uint32_t x) {
        return (x & 1) ? uint32_t(s[x >> 1] & 0xf) : uint32_t(s[x >> 1] >> 4);
      });
      break;
    case SPICE_BITMAP_FMT_8BIT:
      st = convert_indexed(*img, b, palette,
                           [](const uint8_t* s, uint32_t x) { return uint32_t(s[x]); });
      break;
    case SPICE_BITMAP_FMT_16BIT:
      for (uint32_t y = 0; y < b.height; ++y) {
        const uint8_t* s = src_row(y);
        uint32_t* d = img->row(int32_t(y));
        for (uint32_t x = 0; x < b.width; ++x) {
          d[x] = color_555_to_32(uint32_t(s[2 * x]) | uint32_t(s[2 * x + 1]) << 8) | kOpaque;
        }
      }
      break;
    case SPICE_BITMAP_FMT_24BIT:
      for (uint32_t y = 0; y < b.height; ++y) {
        const uint8_t* s = src_row(y);
        uint32_t* d = img->row(int32_t(y));
        for (uint32_t x = 0; x < b.width; ++x, s += 3) {
          d[x] = kOpaque | uint32_t(s[2]) << 16 | uint32_t(s[1]) << 8 | s[0];
        }
      }
      break;
    case SPICE_BITMAP_FMT_32BIT:
    case SPICE_BITMAP_FMT_RGBA:
      // The top byte is kept as sent: alpha for RGBA, and for 32BIT the alpha an
      // ALPHA_BLEND with SRC_SURFACE_HAS_ALPHA uses (ignored by everything else).
      for (uint32_t y = 0; y < b.height; ++y) {
        std::memcpy(img->row(int32_t(y)), src_row(y), size_t(b.width) * 4);
      }
      break;
    case SPICE_BITMAP_FMT_8BIT_A:
      for (uint32_t y = 0; y < b.height; ++y) {
        const uint8_t* s = src_row(y);
        uint32_t* d = img->row(int32_t(y));
        for (uint32_t x = 0; x < b.width; ++x) d[x] = uint32_t(s[x]) << 24;
      }
      break;
    default:
      return make_error(fmt::format("bitmap: unknown format {}", b.format));
  }
  if (!st) return st.error();
  return img;
}

// A QUIC image: QXLQUICData is data_size and then, inline, the first QXLDataChunk of the
// compressed stream (like the reference server, the list must hold exactly data_size
// bytes). The stream's declared size must match the image descriptor's.
Result<std::shared_ptr<Image>> read_quic(const Guest& g, const QXLImageDescriptor& desc,
                                         GuestAddress body, bool& has_alpha) {
  const auto& lim = g.limits();
  SPICEFLOW_TRY(data_size, g.read<uint32_t>(body, "QUIC image"));
  SPICEFLOW_TRY(first, g.offset(body, sizeof(uint32_t), "QUIC image"));
  SPICEFLOW_TRY(chunks, g.chunks(first, "QUIC chunks"));
  if (chunks.size != data_size) {
    return make_error(fmt::format("QUIC image: chunks hold {} bytes but data_size is {}",
                                  chunks.size, data_size));
  }
  std::vector<uint8_t> storage;
  const auto bytes = chunks.contiguous(data_size, storage);
  SPICEFLOW_TRY(dec, encode::decode_quic(bytes, {lim.max_image_side, lim.max_image_pixels}));
  // Copied out of the packed struct: fmt binds its arguments by reference.
  const uint32_t desc_w = desc.width, desc_h = desc.height;
  if (uint32_t(dec.image.width()) != desc_w || uint32_t(dec.image.height()) != desc_h) {
    return make_error(fmt::format("QUIC image: the stream is {}x{}, the descriptor says {}x{}",
                                  dec.image.width(), dec.image.height(), desc_w, desc_h));
  }
  has_alpha = dec.has_alpha;
  return std::make_shared<Image>(std::move(dec.image));
}

}  // namespace

uint32_t bitmap_format_bpp(uint8_t format) {
  switch (format) {
    case SPICE_BITMAP_FMT_1BIT_LE:
    case SPICE_BITMAP_FMT_1BIT_BE: return 1;
    case SPICE_BITMAP_FMT_4BIT_LE:
    case SPICE_BITMAP_FMT_4BIT_BE: return 4;
    case SPICE_BITMAP_FMT_8BIT:
    case SPICE_BITMAP_FMT_8BIT_A: return 8;
    case SPICE_BITMAP_FMT_16BIT: return 16;
    case SPICE_BITMAP_FMT_24BIT: return 24;
    case SPICE_BITMAP_FMT_32BIT:
    case SPICE_BITMAP_FMT_RGBA: return 32;
    default: return 0;
  }
}

Result<std::shared_ptr<Image>> convert_bitmap(uint8_t format, bool top_down, uint32_t width,
                                              uint32_t height, uint32_t stride,
                                              std::span<const uint8_t> data,
                                              std::span<const uint32_t> palette) {
  const uint32_t bpp = bitmap_format_bpp(format);
  if (bpp == 0) return make_error(fmt::format("bitmap: unknown format {}", format));
  if (width == 0 || height == 0) return make_error("bitmap: zero area");
  if (stride < (uint64_t(width) * bpp + 7) / 8 || data.size() < uint64_t(stride) * height) {
    return make_error("bitmap: data too small");
  }
  BitmapBits b;
  b.format = format;
  b.top_down = top_down;
  b.width = width;
  b.height = height;
  b.stride = stride;
  b.data = data;
  return convert(b, palette);
}

Result<ImageSource> read_image(const Guest& g, GuestAddress addr, Size* src_size) {
  SPICEFLOW_TRY(desc, g.read<QXLImageDescriptor>(addr, "image"));
  SPICEFLOW_TRY(body, g.offset(addr, sizeof(QXLImageDescriptor), "image"));
  ImageSource out;
  if (desc.flags & QXL_IMAGE_CACHE) out.id = desc.id;
  const uint8_t type = desc.type;
  switch (type) {
    case SPICE_IMAGE_TYPE_BITMAP: {
      SPICEFLOW_TRY(bm, g.read<QXLBitmap>(body, "bitmap"));
      BitmapBits bits;
      if (auto st = read_bitmap_bits(g, bm, bits); !st) return st.error();
      const uint32_t bpp = bitmap_format_bpp(bits.format);
      std::vector<uint32_t> palette;
      if (bpp <= 8 && bits.format != SPICE_BITMAP_FMT_8BIT_A) {
        if (bits.palette == 0) {
          return make_error(fmt::format("bitmap: format {} without a palette", bits.format));
        }
        SPICEFLOW_TRY(pal, read_palette(g, bits.palette, bpp));
        palette = std::move(pal);
      }
      SPICEFLOW_TRY(img, convert(bits, palette));
      out.has_alpha =
          bits.format == SPICE_BITMAP_FMT_RGBA || bits.format == SPICE_BITMAP_FMT_8BIT_A;
      if (src_size) *src_size = img->size();
      out.image = std::move(img);
      return out;
    }
    case SPICE_IMAGE_TYPE_QUIC: {
      SPICEFLOW_TRY(img, read_quic(g, desc, body, out.has_alpha));
      if (src_size) *src_size = img->size();
      out.image = std::move(img);
      return out;
    }
    case SPICE_IMAGE_TYPE_SURFACE: {
      SPICEFLOW_TRY(sid, g.read<QXLSurfaceId>(body, "surface image"));
      const uint32_t id = sid.surface_id;
      if (id >= g.limits().max_surfaces) {
        return make_error(fmt::format("surface image: surface id {} out of range ({})", id,
                                      g.limits().max_surfaces));
      }
      out.surface_id = id;
      if (src_size) *src_size = {};
      return out;
    }
    default:
      if (const char* name = image_type_name(type)) {
        // The reference server accepts only BITMAP, SURFACE and QUIC from a guest.
        return make_error(fmt::format("image type {} ({}) is not accepted from a guest (only "
                                      "bitmaps, surfaces and QUIC are)", name, type));
      }
      return make_error(fmt::format("image: unknown type {}", type));
  }
}

Result<Mask> read_mask(const Guest& g, const QXLQMask& qmask) {
  Mask m;
  const GuestAddress addr = qmask.bitmap;
  if (addr == 0) return m;
  SPICEFLOW_TRY(desc, g.read<QXLImageDescriptor>(addr, "mask"));
  if (desc.type != SPICE_IMAGE_TYPE_BITMAP) {
    return make_error(fmt::format("mask: image type {} is not a bitmap", desc.type));
  }
  SPICEFLOW_TRY(body, g.offset(addr, sizeof(QXLImageDescriptor), "mask"));
  SPICEFLOW_TRY(bm, g.read<QXLBitmap>(body, "mask bitmap"));
  BitmapBits b;
  if (auto st = read_bitmap_bits(g, bm, b); !st) return st.error();
  const bool le = b.format == SPICE_BITMAP_FMT_1BIT_LE;
  if (!le && b.format != SPICE_BITMAP_FMT_1BIT_BE) {
    return make_error(fmt::format("mask: bitmap format {} is not 1-bit", b.format));
  }
  m.size = {int32_t(b.width), int32_t(b.height)};
  m.bits.resize(size_t(b.width) * b.height);
  for (uint32_t y = 0; y < b.height; ++y) {
    const uint32_t sy = b.top_down ? y : b.height - 1 - y;
    const uint8_t* s = b.data.data() + size_t(sy) * b.stride;
    uint8_t* d = m.bits.data() + size_t(y) * b.width;
    for (uint32_t x = 0; x < b.width; ++x) {
      d[x] = uint8_t((s[x >> 3] >> (le ? (x & 7) : 7 - (x & 7))) & 1);
    }
  }
  m.pos = {qmask.pos.x, qmask.pos.y};
  m.invert = (qmask.flags & SPICE_MASK_FLAGS_INVERS) != 0;
  return m;
}

Result<Brush> read_brush(const Guest& g, const QXLBrush& qb) {
  Brush b;
  switch (qb.type) {
    case SPICE_BRUSH_TYPE_NONE:
      return b;
    case SPICE_BRUSH_TYPE_SOLID: {
      const uint32_t c = qb.u.color;
      b.kind = Brush::Kind::solid;
      b.color = g.colors_16bpp() ? color_555_to_32(c & 0xffff) : c;
      return b;
    }
    case SPICE_BRUSH_TYPE_PATTERN: {
      b.kind = Brush::Kind::pattern;
      const GuestAddress pat = qb.u.pattern.pat;
      SPICEFLOW_TRY(img, read_image(g, pat));
      b.pattern = std::move(img);
      b.pattern_pos = {qb.u.pattern.pos.x, qb.u.pattern.pos.y};
      return b;
    }
    default:
      return make_error(fmt::format("brush: unknown type {}", uint32_t(qb.type)));
  }
}

}  // namespace spiceflow::qxl::detail
