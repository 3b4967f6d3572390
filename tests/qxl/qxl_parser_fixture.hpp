#pragma once
// The fixture of the QXL parser tests: a GuestRam, limits, and helpers that build commands
// and pick the IR out of a ParsedCommand.
#include <gtest/gtest.h>

#include <string>
#include <tuple>

#include "qxl_guest_ram.hpp"
#include "spiceflow/qxl/parser.hpp"

namespace spiceflow::qxl::testing {

template <class T>
inline std::span<const uint8_t> as_bytes(const std::vector<T>& v) {
  return {reinterpret_cast<const uint8_t*>(v.data()), v.size() * sizeof(T)};
}

inline const ParsedDraw& draw_of(const ParsedCommand& c) {
  EXPECT_TRUE(c.ok()) << c.command.error().message;
  return std::get<ParsedDraw>(*c.command);
}

template <class Op>
const Op& op_of(const ParsedCommand& c) {
  const ParsedDraw& d = draw_of(c);
  EXPECT_TRUE(d.command.has_value());
  EXPECT_TRUE(std::holds_alternative<Op>(d.command->op)) << "op index " << d.command->op.index();
  return std::get<Op>(d.command->op);
}

// The rejection reason, checking the release info came back anyway.
inline std::string rejected(const ParsedCommand& c, bool expect_release = true) {
  EXPECT_FALSE(c.ok());
  if (c.ok()) return {};
  if (expect_release) {
    EXPECT_NE(c.release.info, nullptr) << c.command.error().message;
  }
  return c.command.error().message;
}

#define EXPECT_REASON(cmd, text)                                                   \
  do {                                                                             \
    const std::string reason_ = rejected(cmd);                                     \
    EXPECT_NE(reason_.find(text), std::string::npos) << "reason: " << reason_;     \
  } while (0)

class QxlParserTest : public ::testing::Test {
 protected:
  ParsedCommand parse(const QXLCommandExt& ext) { return parse_command(ram.slots(), ext, limits); }
  ParsedCommand parse_draw(const QXLDrawable* d, uint32_t flags = 0) {
    return parse(ram.command(QXL_CMD_DRAW, d, flags));
  }
  // A 32-bit top-down image with pixel (x, y) = 0xff000000 | y << 8 | x.
  QXLImage* gradient(uint32_t w, uint32_t h, bool direct = false) {
    std::vector<uint32_t> px(size_t(w) * h);
    for (uint32_t y = 0; y < h; ++y)
      for (uint32_t x = 0; x < w; ++x) px[y * w + x] = 0xff000000u | y << 8 | x;
    return ram.bitmap(SPICE_BITMAP_FMT_32BIT, w, h, w * 4, as_bytes(px), {},
                      QXL_BITMAP_TOP_DOWN, direct);
  }
  // One bitmap of `format` decoded through a COPY; the image of the resulting BlitOp.
  std::shared_ptr<const Image> decode(uint8_t format, uint32_t w, uint32_t h, uint32_t stride,
                                      const std::vector<uint8_t>& data,
                                      std::vector<uint32_t> palette = {},
                                      uint8_t flags = QXL_BITMAP_TOP_DOWN) {
    auto* img = ram.bitmap(format, w, h, stride, data, palette, flags);
    auto* d = ram.drawable(QXL_DRAW_COPY, qrect(0, 0, w, h));
    d->u.copy.src_bitmap = ram.addr(img);
    d->u.copy.src_area = qrect(0, 0, w, h);
    d->u.copy.rop_descriptor = SPICE_ROPD_OP_PUT;
    auto c = parse_draw(d);
    if (!c.ok()) {
      ADD_FAILURE() << c.command.error().message;
      return nullptr;
    }
    return op_of<BlitOp>(c).src;
  }

  GuestRam ram;
  ParseLimits limits;
};

inline QXLString* make_string(GuestRam& ram, uint16_t flags,
                       const std::vector<std::tuple<uint16_t, uint16_t, std::vector<uint8_t>>>& gl) {
  std::vector<uint8_t> data;
  int i = 0;
  for (const auto& [w, h, bits] : gl) {
    QXLRasterGlyph g{};
    g.render_pos = {10 * i, 20};
    g.glyph_origin = {0, -int32_t(h)};
    g.width = w;
    g.height = h;
    const auto* p = reinterpret_cast<const uint8_t*>(&g);
    data.insert(data.end(), p, p + sizeof(g));
    data.insert(data.end(), bits.begin(), bits.end());
    ++i;
  }
  auto* s = ram.alloc<QXLString>(data.size());
  s->data_size = uint32_t(data.size());
  s->length = uint16_t(gl.size());
  s->flags = flags;
  ram.fill_chunk(&s->chunk, data);
  return s;
}

inline QXLCursorCmd* cursor_set(GuestRam& ram, uint16_t type, uint16_t w, uint16_t h,
                         const std::vector<uint8_t>& data) {
  auto* cur = ram.alloc<QXLCursor>(data.size());
  cur->header.unique = 42;
  cur->header.type = type;
  cur->header.width = w;
  cur->header.height = h;
  cur->header.hot_spot_x = 1;
  cur->header.hot_spot_y = 100;  // clamped
  cur->data_size = uint32_t(data.size());
  ram.fill_chunk(&cur->chunk, data);
  auto* cmd = ram.alloc<QXLCursorCmd>();
  cmd->type = QXL_CURSOR_SET;
  cmd->u.set.position = {300, 200};
  cmd->u.set.visible = 1;
  cmd->u.set.shape = ram.addr(cur);
  return cmd;
}

}  // namespace spiceflow::qxl::testing
