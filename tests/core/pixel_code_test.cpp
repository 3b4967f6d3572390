#include "spiceflow/core/pixel_code.hpp"

#include <gtest/gtest.h>

#include <algorithm>
#include <vector>

namespace pc = spiceflow::pixel_code;

namespace {

struct Picture {
  int width, height;
  std::vector<uint8_t> bytes;
  Picture(int w, int h, uint8_t fill) : width(w), height(h), bytes(size_t(w) * h * 4, fill) {}
  size_t stride() const { return size_t(width) * 4; }
};

}  // namespace

TEST(PixelCode, RoundTripsAtAnOffset) {
  Picture pic(700, 40, 0x80);
  const pc::Stamp stamp{0xdeadbeef, 0x01234567};
  pc::write(pic.bytes.data(), pic.stride(), 16, 24, stamp);
  EXPECT_EQ(pc::read(pic.bytes.data(), pic.stride(), pic.width, pic.height, 16, 24), stamp);
  // Read at the wrong place: no code.
  EXPECT_FALSE(pc::read(pic.bytes.data(), pic.stride(), pic.width, pic.height, 0, 0));
}

TEST(PixelCode, RejectsAPictureWithoutCodeOrTooSmall) {
  Picture grey(640, 8, 0x80);
  EXPECT_FALSE(pc::read(grey.bytes.data(), grey.stride(), grey.width, grey.height));
  Picture small(639, 8, 0x00);
  EXPECT_FALSE(pc::read(small.bytes.data(), small.stride(), small.width, small.height));
}

TEST(PixelCode, DetectsACorruptedBit) {
  Picture pic(640, 8, 0);
  pc::write(pic.bytes.data(), pic.stride(), 0, 0, {7, 9});
  // Invert cell 20 (a frame-id bit): the CRC no longer matches.
  for (int row = 0; row < pc::kCell; ++row) {
    for (int col = 0; col < pc::kCell; ++col) {
      uint8_t* p = pic.bytes.data() + size_t(row) * pic.stride() + size_t(20 * pc::kCell + col) * 4;
      for (int c = 0; c < 3; ++c) p[c] = uint8_t(~p[c]);
    }
  }
  EXPECT_FALSE(pc::read(pic.bytes.data(), pic.stride(), pic.width, pic.height));
}

TEST(PixelCode, SurvivesMildNoiseAndWrapsElapsedTime) {
  Picture pic(640, 8, 0);
  pc::write(pic.bytes.data(), pic.stride(), 0, 0, {42, 100});
  for (size_t i = 0; i < pic.bytes.size(); ++i) {
    const int noise = int(uint32_t(i * 2654435761u) >> 27) - 16;  // -16..15, like lossy ringing
    pic.bytes[i] = uint8_t(std::clamp(int(pic.bytes[i]) + noise, 0, 255));
  }
  EXPECT_EQ(pc::read(pic.bytes.data(), pic.stride(), pic.width, pic.height), (pc::Stamp{42, 100}));
  EXPECT_EQ(pc::elapsed_us(0xfffffff0u, 0x10u), 0x20u);
}
