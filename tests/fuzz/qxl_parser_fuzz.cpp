// libFuzzer target for the QXL parser: the input is a command header followed by the bytes
// of "guest RAM", which one memslot covers. Whatever the bytes, parse_command must return
// (a command or a reason) without reading outside the slot, leaking or overflowing.
//
// Layout: [0] command type, [1] command flags, [2..5] offset of the command in the RAM
// (little-endian), [6..] the RAM. Guest addresses inside the RAM are plain offsets (slot 0,
// generation 0: the top two address bits are the slot id and generation bit), so the
// fuzzer finds valid pointers easily; other values exercise the slot checks.
#include <cstdint>
#include <cstring>
#include <vector>

#include "spiceflow/qxl/memslots.hpp"
#include "spiceflow/qxl/parser.hpp"

using namespace spiceflow;
using namespace spiceflow::qxl;

namespace {

// Touches every result so that the sanitizers see the data the parser produced.
uint64_t consume(const Command& cmd) {
  uint64_t sum = 0;
  auto image_sum = [&](const std::shared_ptr<const Image>& img) {
    if (!img) return;
    for (int32_t y = 0; y < img->height(); ++y) sum += img->row(y)[img->width() - 1];
  };
  if (const auto* d = std::get_if<ParsedDraw>(&cmd)) {
    if (d->command) {
      sum += d->command->clip_rects.size();
      std::visit(
          [&](const auto& op) {
            using T = std::decay_t<decltype(op)>;
            if constexpr (std::is_same_v<T, BlitOp>) image_sum(op.src);
            if constexpr (std::is_same_v<T, CopyOp>) {
              image_sum(op.src.image);
              sum += op.mask.bits.size();
            }
            if constexpr (std::is_same_v<T, TextOp>) {
              for (const auto& g : op.glyphs) sum += g.coverage.size();
            }
            if constexpr (std::is_same_v<T, StrokeOp>) {
              for (const auto& s : op.path) sum += s.points.size();
            }
          },
          d->command->op);
    }
  } else if (const auto* c = std::get_if<ParsedCursor>(&cmd)) {
    for (const auto& cc : c->commands) {
      if (const auto* set = std::get_if<CursorSet>(&cc)) image_sum(set->shape->pixels);
    }
  } else if (const auto* m = std::get_if<ParsedMessage>(&cmd)) {
    sum += m->text.size();
  }
  return sum;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  constexpr size_t kHeader = 6;
  if (size < kHeader) return 0;
  // The RAM gets its own allocation so that ASan catches a read one byte past the slot.
  std::vector<uint8_t> ram(data + kHeader, data + size);
  uint32_t cmd_offset;
  std::memcpy(&cmd_offset, data + 2, 4);

  MemSlotsConfig cfg;
  cfg.num_groups = 1;
  cfg.num_slots = 2;
  cfg.id_bits = 1;
  cfg.generation_bits = 1;
  auto slots = MemSlots::create(cfg);
  if (!slots) __builtin_trap();
  MemSlot slot;
  slot.virt_start = reinterpret_cast<uintptr_t>(ram.data());
  slot.virt_end = slot.virt_start + ram.size();
  slot.addr_delta = slot.virt_start;
  if (!slots->add(slot)) __builtin_trap();

  // Small caps keep each run fast and within the fuzzer's memory limit.
  ParseLimits limits;
  limits.max_image_side = 512;
  limits.max_image_pixels = 1 << 18;
  limits.max_data_bytes = 1 << 22;
  limits.max_chunks = 1024;
  limits.max_glyph_pixels = 1 << 18;
  limits.max_path_points = 1 << 16;
  limits.max_cursor_side = 256;

  QXLCommandExt ext{};
  ext.cmd.type = data[0] % 7;  // 0..5 are the command types, 6 an unknown one
  ext.cmd.data = cmd_offset;
  ext.flags = data[1] & 3;
  ParsedCommand parsed = parse_command(*slots, ext, limits);
  if (parsed.release.info) {
    // The release info must lie inside the RAM.
    auto p = reinterpret_cast<uintptr_t>(parsed.release.info);
    if (p < slot.virt_start || p + sizeof(QXLReleaseInfo) > slot.virt_end) __builtin_trap();
  }
  if (parsed.ok()) {
    volatile uint64_t sink = consume(*parsed.command);
    (void)sink;
  } else if (parsed.command.error().message.empty()) {
    __builtin_trap();  // every rejection names its reason
  }
  return 0;
}
