#pragma once
// A test-only decoder for SPICE's LZ over one-byte "pixels" (PLT1/4/8 indices, XXXA alpha,
// A8), written after spice-common's lz.c / lz_decompress_tmpl.c: the 7-word big-endian
// header, then literal runs (ctrl < 32: ctrl + 1 bytes) and copies (length in ctrl's top
// 3 bits biased by 2, 255-extensions from 7 on; distance in 2 or 4 bytes). Stricter than
// the client: copies from before the start or past the end, and leftover bytes, fail.
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

namespace spiceflow::encode::testing {

struct LzBytesHeader {
  uint32_t type = 0, width = 0, height = 0, stride = 0, top_down = 0;
};

// Reads the header at data[at..] and decodes exactly `n(header)` bytes into *out; `n`
// gets the header and returns how many bytes the stream must produce. Returns an error.
template <typename SizeOf>
std::optional<std::string> decode_lz_bytes(const std::vector<uint8_t>& d, size_t at,
                                           LzBytesHeader* hdr, SizeOf n_of,
                                           std::vector<uint8_t>* out, size_t* copies) {
  auto byte = [&]() -> std::optional<uint8_t> {
    if (at >= d.size()) return std::nullopt;
    return d[at++];
  };
  uint32_t h[7];
  for (auto& x : h) {
    x = 0;
    for (int i = 0; i < 4; ++i) {
      auto b = byte();
      if (!b) return "truncated header";
      x = x << 8 | *b;
    }
  }
  if (h[0] != 0x20205a4c) return "bad magic";
  if (h[1] != 0x00010001) return "bad version";
  *hdr = LzBytesHeader{h[2], h[3], h[4], h[5], h[6]};
  const size_t n = n_of(*hdr);
  out->assign(n, 0);
  std::vector<uint8_t>& bytes = *out;
  size_t op = 0;
  while (op < n) {
    auto ctrl = byte();
    if (!ctrl) return "truncated stream";
    if (*ctrl < 32) {
      const size_t count = size_t(*ctrl) + 1;
      if (op + count > n) return "literals past the end";
      for (size_t k = 0; k < count; ++k) {
        auto b = byte();
        if (!b) return "truncated literal";
        bytes[op++] = *b;
      }
      continue;
    }
    size_t len = (*ctrl >> 5) - 1;
    size_t ofs = size_t(*ctrl & 31) << 8;
    if (len == 6) {
      for (;;) {
        auto c = byte();
        if (!c) return "truncated length";
        len += *c;
        if (*c != 255) break;
      }
    }
    auto c = byte();
    if (!c) return "truncated offset";
    ofs += *c;
    if (*c == 255 && ofs - 255 == (31u << 8)) {
      auto hi = byte(), lo = byte();
      if (!lo) return "truncated far offset";
      ofs = (size_t(*hi) << 8 | *lo) + 8191;
    }
    len += 3;  // one-byte copies are biased by 2 + 1
    const size_t dist = ofs + 1;
    if (dist > op) return "copy from before the start";
    if (op + len > n) return "copy past the end";
    for (size_t k = 0; k < len; ++k, ++op) bytes[op] = bytes[op - dist];
    if (copies) ++*copies;
  }
  if (at != d.size()) return std::to_string(d.size() - at) + " bytes left over";
  return std::nullopt;
}

}  // namespace spiceflow::encode::testing
