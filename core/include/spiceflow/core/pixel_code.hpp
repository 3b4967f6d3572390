#pragma once
/// Pixel code: a frame id and a send timestamp painted into the picture, so a client on the
/// same machine can measure end-to-end latency by reading them back from its own surface.
///
/// Layout: one row of 80 square cells, each kCell x kCell pixels (8x8, aligned to the
/// JPEG/MJPEG block grid so a lossy stream keeps them readable), black = 0, white = 1.
/// Bits, most significant first: 8-bit marker 0xA5, 32-bit frame id, 32-bit timestamp
/// (CLOCK_MONOTONIC microseconds, truncated to 32 bits: it wraps every ~71 minutes, so
/// latencies are computed modulo 2^32), 8-bit CRC-8 (poly 0x07) over the 8 payload bytes.
/// Header-only: the QXL player links nothing of spiceflow but libspice-server's public ABI.
#include <array>
#include <cstddef>
#include <cstdint>
#include <ctime>
#include <optional>

namespace spiceflow::pixel_code {

inline constexpr int kCell = 8;
inline constexpr int kBits = 80;
inline constexpr int kWidth = kBits * kCell;  // 640
inline constexpr int kHeight = kCell;         // 8
inline constexpr uint8_t kMarker = 0xA5;

struct Stamp {
  uint32_t frame_id = 0;
  uint32_t time_us = 0;
  bool operator==(const Stamp&) const = default;
};

/// CLOCK_MONOTONIC in microseconds, truncated to 32 bits.
inline uint32_t now_us() {
  timespec ts{};
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return uint32_t(uint64_t(ts.tv_sec) * 1000000u + uint64_t(ts.tv_nsec) / 1000u);
}

/// Microseconds from `stamp_us` to `now` (both from now_us()), modulo 2^32.
inline uint32_t elapsed_us(uint32_t stamp_us, uint32_t now) { return now - stamp_us; }

inline uint8_t crc8(const uint8_t* data, size_t n) {
  uint8_t crc = 0;
  for (size_t i = 0; i < n; ++i) {
    crc ^= data[i];
    for (int b = 0; b < 8; ++b) crc = uint8_t((crc & 0x80) ? (crc << 1) ^ 0x07 : crc << 1);
  }
  return crc;
}

/// The 80 bits of a stamp as 10 bytes (marker, id BE, time BE, crc).
inline std::array<uint8_t, kBits / 8> encode_bytes(const Stamp& s) {
  std::array<uint8_t, kBits / 8> b{};
  b[0] = kMarker;
  for (int i = 0; i < 4; ++i) b[1 + i] = uint8_t(s.frame_id >> (24 - 8 * i));
  for (int i = 0; i < 4; ++i) b[5 + i] = uint8_t(s.time_us >> (24 - 8 * i));
  b[9] = crc8(&b[1], 8);
  return b;
}

/// Paints the code into a 32-bit xRGB picture (B,G,R,X bytes) with its top-left cell at
/// (x, y). The caller makes sure the kWidth x kHeight block lies inside the picture.
inline void write(uint8_t* pixels, size_t stride, int x, int y, const Stamp& s) {
  const auto bytes = encode_bytes(s);
  for (int bit = 0; bit < kBits; ++bit) {
    const bool one = (bytes[size_t(bit / 8)] >> (7 - bit % 8)) & 1;
    const uint32_t colour = one ? 0xffffffffu : 0xff000000u;
    for (int row = 0; row < kCell; ++row) {
      auto* p = reinterpret_cast<uint32_t*>(pixels + size_t(y + row) * stride) + x + bit * kCell;
      for (int col = 0; col < kCell; ++col) p[col] = colour;
    }
  }
}

/// Reads a code whose top-left cell is at (x, y) of a 32-bit xRGB picture of the given size.
/// Each cell is sampled over its central 4x4 pixels (luma threshold 128), which survives
/// JPEG at usual qualities. Returns nothing when the block does not fit, the marker is
/// absent or the CRC does not match.
inline std::optional<Stamp> read(const uint8_t* pixels, size_t stride, int width, int height,
                                 int x = 0, int y = 0) {
  if (x < 0 || y < 0 || x + kWidth > width || y + kHeight > height) return std::nullopt;
  std::array<uint8_t, kBits / 8> b{};
  for (int bit = 0; bit < kBits; ++bit) {
    uint32_t luma_sum = 0;
    for (int row = 2; row < 6; ++row) {
      const uint8_t* p = pixels + size_t(y + row) * stride + size_t(x + bit * kCell + 2) * 4;
      for (int col = 0; col < 4; ++col, p += 4) {
        luma_sum += (uint32_t(p[2]) * 77 + uint32_t(p[1]) * 150 + uint32_t(p[0]) * 29) >> 8;
      }
    }
    if (luma_sum / 16 >= 128) b[size_t(bit / 8)] |= uint8_t(1u << (7 - bit % 8));
  }
  if (b[0] != kMarker || crc8(&b[1], 8) != b[9]) return std::nullopt;
  Stamp s;
  for (int i = 0; i < 4; ++i) s.frame_id = (s.frame_id << 8) | b[1 + i];
  for (int i = 0; i < 4; ++i) s.time_us = (s.time_us << 8) | b[5 + i];
  return s;
}

}  // namespace spiceflow::pixel_code
