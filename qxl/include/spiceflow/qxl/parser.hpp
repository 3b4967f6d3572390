#pragma once
/// The QXL command parser: one QXLCommandExt from a guest's command or cursor ring, read
/// through MemSlots, turned into the draw-command IR (spiceflow/core/draw.hpp) or one of
/// the other command results below. Guest memory is hostile: every address is translated
/// and bounds-checked, every size is overflow-checked and capped (ParseLimits), chunk lists
/// are bounded, and each structure is copied out of guest memory once before it is
/// validated, so a guest that rewrites memory while we parse can garble pixels but cannot
/// make us read out of bounds. Nothing returned points into guest memory except the two
/// fields whose purpose is to (the release info, and a surface's backing memory).
///
/// Threading: parse_command is reentrant; it only reads the MemSlots it is given.
#include <cstdint>
#include <optional>
#include <string>
#include <variant>
#include <vector>

#include <spice/qxl_dev.h>

#include "spiceflow/core/draw.hpp"
#include "spiceflow/core/result.hpp"
#include "spiceflow/qxl/memslots.hpp"

namespace spiceflow::qxl {

/// Caps on what one command may ask us to allocate or walk. Every rejection for exceeding
/// one names the cap. The defaults admit anything a real driver sends (8192x8192 surfaces,
/// 16384-pixel image sides, 4 KiB-chunked bitmaps of 256 MiB).
struct ParseLimits {
  uint32_t max_surfaces = 1024;          ///< surface ids must be below this (QXLDevInitInfo::n_surfaces)
  int32_t max_image_side = 1 << 14;      ///< width or height of a bitmap, mask, pattern
  int64_t max_image_pixels = int64_t{1} << 26;  ///< width * height of one image
  uint64_t max_data_bytes = uint64_t{1} << 28;  ///< bytes in one chunk list / bitmap
  uint32_t max_chunks = 1u << 17;        ///< chunks in one list (cyclic lists end here)
  uint32_t max_clip_rects = 1u << 14;
  uint32_t max_glyphs = 1u << 14;
  int64_t max_glyph_pixels = int64_t{1} << 24;  ///< sum over a string's glyphs
  uint32_t max_path_segments = 1u << 16;
  uint32_t max_path_points = 1u << 20;
  uint32_t max_cursor_side = 1024;
  uint32_t max_message_bytes = 4096;
};

/// A drawable (QXL_CMD_DRAW) in IR form.
struct ParsedDraw {
  /// The op to apply; empty for QXL_DRAW_NOP and for drawables that cannot touch a pixel
  /// (empty bbox, or a clip of zero rectangles). `command.clip` is the drawable's bbox.
  std::optional<DrawCommand> command;
  /// QXL_DRAW_* as the guest sent it.
  uint8_t qxl_type = 0;
  /// QXLEffectType (informational: how the op combines with what is beneath).
  uint8_t effect = 0;
  uint32_t mm_time = 0;
  /// Surfaces this drawable reads (surfaces_dest of the drawable, and surface images of
  /// its operands), deduplicated, excluding `command->surface_id` itself. Render them first.
  std::vector<uint32_t> surface_deps;
  /// The guest asked for the area under the op to be kept as an image before drawing
  /// (self_bitmap); spiceflow renders server-side, so this is informational.
  bool self_bitmap = false;
  Rect self_bitmap_area;
};

/// QXL_CMD_UPDATE: render `area` of `surface_id` into guest memory, then notify `update_id`.
struct ParsedUpdate {
  uint32_t surface_id = 0;
  Rect area;
  uint32_t update_id = 0;
};

/// The guest memory behind a surface (off-screen surfaces from QXL_CMD_SURFACE, the primary
/// from spice_qxl_create_primary_surface). The caller copies rendered pixels back into it on
/// update_area; it is valid while the device keeps the memslot.
struct GuestSurface {
  GuestAddress address = 0;  ///< the guest address of the lowest byte
  uint8_t* memory = nullptr;  ///< host pointer to the lowest byte
  uint64_t byte_size = 0;     ///< height * |stride|
  int32_t stride = 0;         ///< bytes per row; negative: rows run bottom-up from `line0`
  uint8_t* line0 = nullptr;   ///< first (top) row: memory, or the last row when stride < 0
  uint32_t bits_per_pixel = 0;
};

/// QXL_CMD_SURFACE / QXL_SURFACE_CMD_CREATE. `create.format` keeps SPICE_SURFACE_FMT_*.
struct ParsedSurfaceCreate {
  SurfaceCreate create;
  GuestSurface memory;
  uint32_t flags = 0;  ///< QXL_SURF_FLAG_KEEP_DATA: the guest memory already holds the picture
};

/// QXL_CMD_SURFACE / QXL_SURFACE_CMD_DESTROY.
struct ParsedSurfaceDestroy {
  SurfaceDestroy destroy;
};

/// QXL_CMD_CURSOR. `commands` is empty for QXL_CURSOR_TRAIL (ignored); a SET with
/// visible = 0 gives CursorSet followed by CursorHide.
struct ParsedCursor {
  std::vector<CursorCommand> commands;
};

/// QXL_CMD_MESSAGE: a driver log line, NUL-terminated in guest memory; cut at
/// ParseLimits::max_message_bytes or the slot end (`truncated` then).
struct ParsedMessage {
  std::string text;
  bool truncated = false;
};

using Command = std::variant<ParsedDraw, ParsedUpdate, ParsedSurfaceCreate,
                             ParsedSurfaceDestroy, ParsedCursor, ParsedMessage>;

/// What parse_command returns. Whether or not parsing succeeded, when `release.info` is not
/// null the caller must hand `release` back to the device (QXLInterface::release_resource)
/// once it no longer needs guest memory the command referenced. For a rejected command that
/// is at once; for a parsed one nothing in `command` depends on the guest memory except a
/// GuestSurface, so it may be released at once too (the reference holds surface commands
/// until the surface is destroyed; compat decides).
struct ParsedCommand {
  QXLReleaseInfoExt release{nullptr, 0};
  /// The command, or an Error whose message names the reason (log it once).
  Result<Command> command = make_error("not parsed");

  bool ok() const { return command.ok(); }
};

/// Parses one command. `ext.flags` may carry QXL_COMMAND_FLAG_COMPAT (old drivers:
/// QXLCompatDrawable / QXLCompatUpdateCmd layouts) and QXL_COMMAND_FLAG_COMPAT_16BPP
/// (palettes and solid colours in 16-bit 555). Never throws for guest input.
ParsedCommand parse_command(const MemSlots& slots, const QXLCommandExt& ext,
                            const ParseLimits& limits = {});

/// Checks a surface's geometry the way the reference does (known SPICE_SURFACE_FMT_*,
/// |stride| holds a row, height * |stride| within limits) and maps its memory. Used for
/// QXL_SURFACE_CMD_CREATE and by compat for the primary surface (QXLDevSurfaceCreate).
Result<GuestSurface> map_surface(const MemSlots& slots, uint32_t group_id, GuestAddress mem,
                                 uint32_t width, uint32_t height, int32_t stride,
                                 uint32_t format, const ParseLimits& limits = {});

/// Bits per pixel of a SPICE_SURFACE_FMT_*; 0 for unknown formats.
uint32_t surface_format_bpp(uint32_t format);

}  // namespace spiceflow::qxl
