#pragma once
// Bounds-checked reads of guest memory for the parser: structs are copied out once (so a
// guest rewriting them while we look cannot change a value between its check and its use),
// chunk lists are walked with a cap on chunks and bytes. Private to qxl/.
#include <cstdint>
#include <cstring>
#include <span>
#include <string>
#include <type_traits>
#include <vector>

#include <fmt/format.h>

#include "spiceflow/core/geometry.hpp"
#include "spiceflow/qxl/memslots.hpp"
#include "spiceflow/qxl/parser.hpp"

namespace spiceflow::qxl::detail {

/// Propagates an Error out of the enclosing function returning Result<...> or Status.
#define SPICEFLOW_TRY(var, expr)            \
  auto var##_result = (expr);               \
  if (!var##_result) return var##_result.error(); \
  auto& var = *var##_result

/// The bytes of a chunk list: the spans in guest memory, in order. The spans stay valid
/// while the memslots do; their contents may change under us (only values, not sizes).
struct ChunkData {
  std::vector<std::span<const uint8_t>> spans;
  uint64_t size = 0;

  /// The first `n` bytes (n <= size) as one span: the guest span itself when the list has
  /// one chunk, otherwise a copy into `storage`.
  std::span<const uint8_t> contiguous(uint64_t n, std::vector<uint8_t>& storage) const;
};

/// The reading context of one command: memslots, the command's group, limits and flags.
class Guest {
 public:
  Guest(const MemSlots& slots, uint32_t group_id, const ParseLimits& limits, uint32_t flags)
      : slots_(slots), group_(group_id), limits_(limits), flags_(flags) {}

  const ParseLimits& limits() const { return limits_; }
  uint32_t group() const { return group_; }
  /// QXL_COMMAND_FLAG_COMPAT_16BPP: colours arrive as 16-bit 555.
  bool colors_16bpp() const { return (flags_ & QXL_COMMAND_FLAG_COMPAT_16BPP) != 0; }
  bool compat() const { return (flags_ & QXL_COMMAND_FLAG_COMPAT) != 0; }

  /// `size` bytes at `addr`; `what` names the structure in the error.
  Result<const uint8_t*> bytes(GuestAddress addr, uint64_t size, const char* what) const;

  /// A copy of the T at `addr`.
  template <class T>
  Result<T> read(GuestAddress addr, const char* what) const {
    static_assert(std::is_trivially_copyable_v<T>);
    auto p = bytes(addr, sizeof(T), what);
    if (!p) return p.error();
    T value;
    std::memcpy(&value, *p, sizeof(T));
    return value;
  }

  /// `addr + offset`, refusing a carry out of the address bits into the slot id or
  /// generation (which would silently name another slot).
  Result<GuestAddress> offset(GuestAddress addr, uint64_t offset, const char* what) const;

  /// Walks the chunk list whose first QXLDataChunk is at `first`: each chunk's data must lie
  /// inside the chunk's slot; at most limits().max_chunks chunks (this is what ends a cyclic
  /// list) and limits().max_data_bytes bytes in total.
  Result<ChunkData> chunks(GuestAddress first, const char* what) const;

  /// The host pointer of the QXLReleaseInfo at the start of every command struct.
  QXLReleaseInfo* release_info(GuestAddress addr) const;

 private:
  const MemSlots& slots_;
  uint32_t group_;
  const ParseLimits& limits_;
  uint32_t flags_;
};

/// QXLRect (top, left, bottom, right) to Rect; an error when inverted or wider than int32.
Result<Rect> to_rect(const QXLRect& r, const char* what);

/// 16-bit 555 colour to 0x00RRGGBB with the low bits replicated.
constexpr uint32_t color_555_to_32(uint32_t c) {
  const uint32_t r = (c >> 10) & 0x1f, g = (c >> 5) & 0x1f, b = c & 0x1f;
  return ((r << 3 | r >> 2) << 16) | ((g << 3 | g >> 2) << 8) | (b << 3 | b >> 2);
}

}  // namespace spiceflow::qxl::detail
