#include "qxl_guest.hpp"

#include <limits>

namespace spiceflow::qxl::detail {

std::span<const uint8_t> ChunkData::contiguous(uint64_t n, std::vector<uint8_t>& storage) const {
  if (n == 0) return {};
  if (!spans.empty() && spans.front().size() >= n) return spans.front().first(n);
  storage.resize(n);
  uint64_t done = 0;
  for (const auto& s : spans) {
    if (done == n) break;
    const uint64_t take = std::min<uint64_t>(s.size(), n - done);
    std::memcpy(storage.data() + done, s.data(), take);
    done += take;
  }
  // Callers ask for at most `size`, which is the sum of the spans.
  storage.resize(done);
  return storage;
}

Result<const uint8_t*> Guest::bytes(GuestAddress addr, uint64_t size, const char* what) const {
  if (addr == 0) return make_error(fmt::format("{}: null address", what));
  auto p = slots_.translate(group_, addr, size);
  if (!p) return make_error(fmt::format("{}: {}", what, p.error().message));
  return static_cast<const uint8_t*>(*p);
}

Result<GuestAddress> Guest::offset(GuestAddress addr, uint64_t off, const char* what) const {
  const auto& c = slots_.config();
  const unsigned high = unsigned(c.id_bits) + c.generation_bits;
  const uint64_t mask = high >= 64 ? 0 : (~uint64_t{0} >> high);
  const uint64_t low = addr & mask;
  if (off > mask || low > mask - off) {
    return make_error(fmt::format("{}: address {:#x} + {} leaves its slot", what, addr, off));
  }
  return addr + off;
}

Result<ChunkData> Guest::chunks(GuestAddress first, const char* what) const {
  ChunkData out;
  GuestAddress at = first;
  uint32_t count = 0;
  while (at != 0) {
    if (++count > limits_.max_chunks) {
      return make_error(fmt::format("{}: chunk list longer than {} chunks (cyclic?)", what,
                                    limits_.max_chunks));
    }
    auto hdr = read<QXLDataChunk>(at, what);
    if (!hdr) return hdr.error();
    const uint32_t n = hdr->data_size;
    if (n > limits_.max_data_bytes - out.size) {
      return make_error(fmt::format("{}: chunks hold more than {} bytes", what,
                                    limits_.max_data_bytes));
    }
    if (n != 0) {
      auto data_addr = offset(at, sizeof(QXLDataChunk), what);
      if (!data_addr) return data_addr.error();
      // The data follows its header in the same slot (the reference checks the same).
      auto p = bytes(*data_addr, n, what);
      if (!p) return p.error();
      out.spans.emplace_back(*p, n);
      out.size += n;
    }
    at = hdr->next_chunk;
  }
  return out;
}

QXLReleaseInfo* Guest::release_info(GuestAddress addr) const {
  if (addr == 0) return nullptr;
  auto p = slots_.translate(group_, addr, sizeof(QXLReleaseInfo));
  return p ? reinterpret_cast<QXLReleaseInfo*>(*p) : nullptr;
}

Result<Rect> to_rect(const QXLRect& r, const char* what) {
  // Copies first: the fields are packed, and fmt would bind references to them.
  const int32_t left = r.left, top = r.top, right = r.right, bottom = r.bottom;
  const int64_t w = int64_t(right) - left;
  const int64_t h = int64_t(bottom) - top;
  if (w < 0 || h < 0) {
    return make_error(fmt::format("{}: inverted rectangle ({}, {}, {}, {})", what, left, top,
                                  right, bottom));
  }
  if (w > std::numeric_limits<int32_t>::max() || h > std::numeric_limits<int32_t>::max()) {
    return make_error(fmt::format("{}: rectangle too large", what));
  }
  return Rect{left, top, int32_t(w), int32_t(h)};
}

}  // namespace spiceflow::qxl::detail
