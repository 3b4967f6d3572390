#include "spiceflow/qxl/parser.hpp"

#include <cstdlib>
#include <cstring>

#include "qxl_cursor.hpp"
#include "qxl_draw.hpp"
#include "qxl_guest.hpp"

namespace spiceflow::qxl {
namespace {

using detail::Guest;

const char* command_name(uint32_t type) {
  switch (type) {
    case QXL_CMD_NOP: return "NOP";
    case QXL_CMD_DRAW: return "DRAW";
    case QXL_CMD_UPDATE: return "UPDATE";
    case QXL_CMD_CURSOR: return "CURSOR";
    case QXL_CMD_MESSAGE: return "MESSAGE";
    case QXL_CMD_SURFACE: return "SURFACE";
    default: return "unknown";
  }
}

Result<ParsedUpdate> parse_update(const Guest& g, GuestAddress addr) {
  ParsedUpdate out;
  if (g.compat()) {
    SPICEFLOW_TRY(u, g.read<QXLCompatUpdateCmd>(addr, "update"));
    SPICEFLOW_TRY(area, detail::to_rect(u.area, "update area"));
    out.area = area;
    out.update_id = u.update_id;
    return out;
  }
  SPICEFLOW_TRY(u, g.read<QXLUpdateCmd>(addr, "update"));
  SPICEFLOW_TRY(area, detail::to_rect(u.area, "update area"));
  out.area = area;
  out.update_id = u.update_id;
  out.surface_id = u.surface_id;
  if (out.surface_id >= g.limits().max_surfaces) {
    return make_error(fmt::format("update: surface id {} out of range ({})", out.surface_id,
                                  g.limits().max_surfaces));
  }
  return out;
}

Result<ParsedMessage> parse_message(const Guest& g, const MemSlots& slots, GuestAddress addr) {
  // The text has no stated length: read up to its NUL, the slot end, or the cap.
  SPICEFLOW_TRY(text_addr, g.offset(addr, sizeof(QXLMessage), "message"));
  auto avail = slots.bytes_to_slot_end(g.group(), text_addr);
  if (!avail) return make_error(fmt::format("message: {}", avail.error().message));
  const uint64_t n = std::min<uint64_t>(*avail, g.limits().max_message_bytes);
  ParsedMessage out;
  if (n == 0) {
    out.truncated = true;
    return out;
  }
  SPICEFLOW_TRY(p, g.bytes(text_addr, n, "message"));
  const void* nul = std::memchr(p, 0, n);
  const size_t len = nul ? size_t(static_cast<const uint8_t*>(nul) - p) : size_t(n);
  out.text.assign(reinterpret_cast<const char*>(p), len);
  out.truncated = nul == nullptr;
  return out;
}

Result<Command> parse_surface(const Guest& g, const MemSlots& slots, GuestAddress addr) {
  SPICEFLOW_TRY(cmd, g.read<QXLSurfaceCmd>(addr, "surface command"));
  const uint32_t id = cmd.surface_id;
  if (id >= g.limits().max_surfaces) {
    return make_error(fmt::format("surface command: surface id {} out of range ({})", id,
                                  g.limits().max_surfaces));
  }
  switch (cmd.type) {
    case QXL_SURFACE_CMD_CREATE: {
      const QXLSurface s = cmd.u.surface_create;
      SPICEFLOW_TRY(mem, map_surface(slots, g.group(), s.data, s.width, s.height, s.stride,
                                     s.format, g.limits()));
      ParsedSurfaceCreate out;
      out.create.surface_id = id;
      out.create.size = {int32_t(s.width), int32_t(s.height)};
      out.create.format = s.format;
      out.memory = mem;
      out.flags = cmd.flags;
      return Command{std::move(out)};
    }
    case QXL_SURFACE_CMD_DESTROY:
      return Command{ParsedSurfaceDestroy{SurfaceDestroy{id}}};
    default:
      return make_error(fmt::format("surface command: unknown type {}", cmd.type));
  }
}

template <class T>
Result<Command> as_command(Result<T> r) {
  if (!r) return r.error();
  return Command{std::move(*r)};
}

}  // namespace

uint32_t surface_format_bpp(uint32_t format) {
  switch (format) {
    case SPICE_SURFACE_FMT_1_A: return 1;
    case SPICE_SURFACE_FMT_8_A: return 8;
    case SPICE_SURFACE_FMT_16_555:
    case SPICE_SURFACE_FMT_16_565: return 16;
    case SPICE_SURFACE_FMT_32_xRGB:
    case SPICE_SURFACE_FMT_32_ARGB: return 32;
    default: return 0;
  }
}

Result<GuestSurface> map_surface(const MemSlots& slots, uint32_t group_id, GuestAddress mem,
                                 uint32_t width, uint32_t height, int32_t stride,
                                 uint32_t format, const ParseLimits& limits) {
  const uint32_t bpp = surface_format_bpp(format);
  if (bpp == 0) return make_error(fmt::format("surface: unknown format {}", format));
  if (width == 0 || height == 0) {
    return make_error(fmt::format("surface: empty size {}x{}", width, height));
  }
  if (width > uint32_t(limits.max_image_side) || height > uint32_t(limits.max_image_side)) {
    return make_error(fmt::format("surface: {}x{} exceeds the {}-pixel side limit", width,
                                  height, limits.max_image_side));
  }
  // |INT32_MIN| does not fit in int32; no real stride is near it.
  if (stride == INT32_MIN) return make_error("surface: stride out of range");
  const uint64_t abs_stride = uint64_t(std::abs(int64_t(stride)));
  const uint64_t row = (uint64_t(width) * bpp + 7) / 8;
  if (abs_stride < row) {
    return make_error(fmt::format("surface: stride {} is smaller than a row of {} bytes", stride,
                                  row));
  }
  const uint64_t size = abs_stride * height;
  if (size > limits.max_data_bytes) {
    return make_error(fmt::format("surface: {} bytes exceed {}", size, limits.max_data_bytes));
  }
  auto p = slots.translate(group_id, mem, size);
  if (!p) return make_error(fmt::format("surface memory: {}", p.error().message));
  GuestSurface out;
  out.address = mem;
  out.memory = *p;
  out.byte_size = size;
  out.stride = stride;
  out.line0 = stride < 0 ? *p + (size - abs_stride) : *p;
  out.bits_per_pixel = bpp;
  return out;
}

ParsedCommand parse_command(const MemSlots& slots, const QXLCommandExt& ext,
                            const ParseLimits& limits) {
  ParsedCommand out;
  const GuestAddress addr = ext.cmd.data;
  const uint32_t type = ext.cmd.type;
  Guest g(slots, ext.group_id, limits, ext.flags);
  auto fail = [&](const Error& e) {
    out.command = make_error(fmt::format("QXL_CMD_{} at {:#x}: {}", command_name(type), addr,
                                         e.message));
    return out;
  };
  switch (type) {
    case QXL_CMD_DRAW:
    case QXL_CMD_UPDATE:
    case QXL_CMD_CURSOR:
    case QXL_CMD_MESSAGE:
    case QXL_CMD_SURFACE:
      // Every command struct starts with its QXLReleaseInfo: find it before anything else
      // can fail, so that even a rejected command goes back to the guest.
      out.release.info = g.release_info(addr);
      out.release.group_id = ext.group_id;
      if (!out.release.info) {
        auto probe = g.bytes(addr, sizeof(QXLReleaseInfo), "command");
        return fail(probe ? make_error("release info not found") : probe.error());
      }
      break;
    default:
      return fail(make_error(fmt::format("unknown command type {}", type)));
  }
  Result<Command> r = make_error("unreachable");
  switch (type) {
    case QXL_CMD_DRAW: r = as_command(detail::parse_drawable(g, addr)); break;
    case QXL_CMD_UPDATE: r = as_command(parse_update(g, addr)); break;
    case QXL_CMD_CURSOR: r = as_command(detail::parse_cursor(g, addr)); break;
    case QXL_CMD_MESSAGE: r = as_command(parse_message(g, slots, addr)); break;
    case QXL_CMD_SURFACE: r = parse_surface(g, slots, addr); break;
  }
  if (!r) return fail(r.error());
  out.command = std::move(r);
  return out;
}

}  // namespace spiceflow::qxl
