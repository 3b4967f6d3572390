#include "qxl_cursor.hpp"

#include <algorithm>
#include <cstddef>

namespace spiceflow::qxl::detail {
namespace {

constexpr uint32_t kOpaqueBlack = 0xff000000u;
constexpr uint32_t kOpaqueWhite = 0xffffffffu;

// Stands in for "invert the screen", which an ARGB cursor cannot express.
constexpr uint32_t invert_pixel(uint32_t x, uint32_t y) {
  return ((x ^ y) & 1) ? kOpaqueWhite : kOpaqueBlack;
}

bool bit_be(const uint8_t* row, uint32_t x) { return (row[x >> 3] >> (7 - (x & 7))) & 1; }

}  // namespace

Result<std::shared_ptr<Image>> convert_cursor(uint16_t type, uint32_t w, uint32_t h,
                                              std::span<const uint8_t> data) {
  const uint64_t mask_row = (uint64_t(w) + 7) / 8;
  const uint64_t mask_size = mask_row * h;
  uint64_t pixel_row = 0;  // bytes of a row of colour data
  uint64_t palette = 0;    // palette entries after the colour data
  switch (type) {
    case SPICE_CURSOR_TYPE_ALPHA: pixel_row = uint64_t(w) * 4; break;
    case SPICE_CURSOR_TYPE_MONO: pixel_row = mask_row; break;  // the XOR mask
    case SPICE_CURSOR_TYPE_COLOR4: pixel_row = (uint64_t(w) + 1) / 2; palette = 16; break;
    case SPICE_CURSOR_TYPE_COLOR8: pixel_row = w; palette = 256; break;
    case SPICE_CURSOR_TYPE_COLOR16: pixel_row = uint64_t(w) * 2; break;
    case SPICE_CURSOR_TYPE_COLOR24: pixel_row = uint64_t(w) * 3; break;
    case SPICE_CURSOR_TYPE_COLOR32: pixel_row = uint64_t(w) * 4; break;
    default: return make_error(fmt::format("cursor: unknown type {}", type));
  }
  const bool has_and = type != SPICE_CURSOR_TYPE_ALPHA;
  const uint64_t need = pixel_row * h + palette * 4 + (has_and ? mask_size : 0);
  if (data.size() < need) {
    return make_error(fmt::format("cursor: type {} {}x{} needs {} bytes, got {}", type, w, h,
                                  need, data.size()));
  }
  auto img = std::make_shared<Image>(int32_t(w), int32_t(h));
  const uint8_t* color = data.data();
  const uint8_t* pal = color + pixel_row * h;
  // MONO: the AND mask comes first, the XOR mask (our "colour") second.
  const uint8_t* and_mask = type == SPICE_CURSOR_TYPE_MONO ? data.data() : pal + palette * 4;
  if (type == SPICE_CURSOR_TYPE_MONO) color = data.data() + mask_size;
  auto pal_entry = [&](uint32_t i) {
    uint32_t v;
    std::memcpy(&v, pal + size_t(i) * 4, 4);
    return v & 0xffffffu;
  };
  for (uint32_t y = 0; y < h; ++y) {
    const uint8_t* c = color + size_t(y) * pixel_row;
    const uint8_t* a = and_mask + size_t(y) * mask_row;
    uint32_t* d = img->row(int32_t(y));
    for (uint32_t x = 0; x < w; ++x) {
      uint32_t rgb = 0;
      switch (type) {
        case SPICE_CURSOR_TYPE_ALPHA: {
          uint32_t v;
          std::memcpy(&v, c + size_t(x) * 4, 4);
          d[x] = v;
          continue;
        }
        case SPICE_CURSOR_TYPE_MONO: rgb = bit_be(c, x) ? 0xffffffu : 0; break;
        case SPICE_CURSOR_TYPE_COLOR4:
          rgb = pal_entry((x & 1) ? (c[x >> 1] & 0xf) : (c[x >> 1] >> 4));
          break;
        case SPICE_CURSOR_TYPE_COLOR8: rgb = pal_entry(c[x]); break;
        case SPICE_CURSOR_TYPE_COLOR16:
          rgb = color_555_to_32(uint32_t(c[2 * x]) | uint32_t(c[2 * x + 1]) << 8);
          break;
        case SPICE_CURSOR_TYPE_COLOR24:
          rgb = uint32_t(c[3 * x + 2]) << 16 | uint32_t(c[3 * x + 1]) << 8 | c[3 * x];
          break;
        default: {
          uint32_t v;
          std::memcpy(&v, c + size_t(x) * 4, 4);
          rgb = v & 0xffffffu;
          break;
        }
      }
      if (!bit_be(a, x)) {
        d[x] = 0xff000000u | rgb;
      } else if (rgb == (type == SPICE_CURSOR_TYPE_COLOR16 ? color_555_to_32(0x7fff) : 0xffffffu)) {
        d[x] = invert_pixel(x, y);
      } else {
        d[x] = 0;  // transparent
      }
    }
  }
  return img;
}

Result<ParsedCursor> parse_cursor(const Guest& g, GuestAddress addr) {
  SPICEFLOW_TRY(cmd, g.read<QXLCursorCmd>(addr, "cursor command"));
  ParsedCursor out;
  switch (cmd.type) {
    case QXL_CURSOR_SET: {
      const GuestAddress shape_addr = cmd.u.set.shape;
      SPICEFLOW_TRY(cur, g.read<QXLCursor>(shape_addr, "cursor shape"));
      const uint32_t w = cur.header.width, h = cur.header.height;
      const uint32_t cap = g.limits().max_cursor_side;
      if (w == 0 || h == 0 || w > cap || h > cap) {
        return make_error(fmt::format("cursor shape: size {}x{} outside 1..{}", w, h, cap));
      }
      SPICEFLOW_TRY(first, g.offset(shape_addr, offsetof(QXLCursor, chunk), "cursor shape"));
      SPICEFLOW_TRY(chunks, g.chunks(first, "cursor shape"));
      // As the reference: the stated size, but no more than the chunks hold.
      const uint64_t size = std::min<uint64_t>(cur.data_size, chunks.size);
      std::vector<uint8_t> storage;
      SPICEFLOW_TRY(img, convert_cursor(cur.header.type, w, h, chunks.contiguous(size, storage)));
      auto shape = std::make_shared<CursorShape>();
      shape->id = cur.header.unique;
      shape->hotspot = {std::min<int32_t>(cur.header.hot_spot_x, int32_t(w) - 1),
                        std::min<int32_t>(cur.header.hot_spot_y, int32_t(h) - 1)};
      shape->pixels = std::move(img);
      out.commands.push_back(
          CursorSet{std::move(shape), {cmd.u.set.position.x, cmd.u.set.position.y}});
      if (!cmd.u.set.visible) out.commands.push_back(CursorHide{});
      return out;
    }
    case QXL_CURSOR_MOVE:
      out.commands.push_back(CursorMove{{cmd.u.position.x, cmd.u.position.y}});
      return out;
    case QXL_CURSOR_HIDE:
      out.commands.push_back(CursorHide{});
      return out;
    case QXL_CURSOR_TRAIL:
      return out;  // pointer trails are a Windows nicety no client shows
    default:
      return make_error(fmt::format("cursor command: unknown type {}", cmd.type));
  }
}

}  // namespace spiceflow::qxl::detail
