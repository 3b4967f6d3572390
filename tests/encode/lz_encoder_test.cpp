// LZ_RGB: decoded by a test-only decoder written after spice-common's lz.c and
// lz_decompress_tmpl.c (RGB32), with the checks spice-gtk makes: header fields, stride
// == width * 4, copies that stay inside the picture, the last operation ending exactly
// on the last pixel and every byte consumed.
#include <gtest/gtest.h>

#include <cstring>
#include <optional>
#include <string>
#include <variant>

#include "spiceflow/encode/image_encoder.hpp"
#include "test_images.hpp"

namespace spiceflow::encode {
namespace {

using namespace spiceflow::encode::testing;

struct Decoded {
  int width = 0, height = 0, top_down = 0;
  std::vector<uint32_t> pixels;
  size_t copies = 0, far_copies = 0;
};

std::optional<std::string> decode(const std::vector<uint8_t>& d, Decoded& out) {
  size_t at = 0;
  auto byte = [&]() -> std::optional<uint8_t> {
    if (at >= d.size()) return std::nullopt;
    return d[at++];
  };
  auto u32 = [&]() -> std::optional<uint32_t> {
    uint32_t v = 0;
    for (int i = 0; i < 4; ++i) {
      auto b = byte();
      if (!b) return std::nullopt;
      v = v << 8 | *b;
    }
    return v;
  };
  uint32_t h[7];
  for (auto& x : h) {
    auto v = u32();
    if (!v) return "truncated header";
    x = *v;
  }
  if (h[0] != 0x20205a4c) return "bad magic";
  if (h[1] != 0x00010001) return "bad version";
  if (h[2] != 8) return "type is not RGB32";
  out.width = int(h[3]);
  out.height = int(h[4]);
  if (h[5] != h[3] * 4) return "stride != width * 4";
  out.top_down = int(h[6]);
  const size_t n = size_t(out.width) * size_t(out.height);
  out.pixels.assign(n, 0xdeadbeef);
  size_t op = 0;
  while (op < n) {
    auto ctrl = byte();
    if (!ctrl) return "truncated stream";
    if (*ctrl < 32) {
      const size_t count = size_t(*ctrl) + 1;
      if (op + count > n) return "literals past the end";
      for (size_t k = 0; k < count; ++k) {
        auto b = byte(), g = byte(), r = byte();
        if (!r) return "truncated literal";
        out.pixels[op++] = uint32_t(*r) << 16 | uint32_t(*g) << 8 | *b;
      }
      continue;
    }
    size_t len = *ctrl >> 5;
    size_t ofs = size_t(*ctrl & 31) << 8;
    if (len == 7) {
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
      ++out.far_copies;
    }
    const size_t dist = ofs + 1;
    if (dist > op) return "copy from before the start";
    if (op + len > n) return "copy past the end";
    for (size_t k = 0; k < len; ++k, ++op) out.pixels[op] = out.pixels[op - dist];
    ++out.copies;
  }
  if (at != d.size()) return std::to_string(d.size() - at) + " bytes left over";
  return std::nullopt;
}

Decoded expect_round_trip(const ImageView& img) {
  Decoded dec;
  auto res = make_image_encoder(ImageCodec::lz)->encode(img);
  EXPECT_TRUE(std::holds_alternative<EncodedImage>(res));
  if (!std::holds_alternative<EncodedImage>(res)) return dec;
  const auto& e = std::get<EncodedImage>(res);
  EXPECT_EQ(e.codec, ImageCodec::lz);
  auto err = decode(e.data, dec);
  EXPECT_FALSE(err) << *err;
  if (err) return dec;
  EXPECT_EQ(dec.width, img.width);
  EXPECT_EQ(dec.height, img.height);
  EXPECT_EQ(dec.top_down, 1);
  for (int32_t y = 0; y < img.height; ++y)
    for (int32_t x = 0; x < img.width; ++x)
      if (dec.pixels[size_t(y) * size_t(img.width) + size_t(x)] != rgb_of(img, x, y)) {
        ADD_FAILURE() << "pixel " << x << "," << y << " differs";
        return dec;
      }
  return dec;
}

TEST(LzEncoder, OnePixel) {
  expect_round_trip(noise(1, 1, 1).view());
  expect_round_trip(solid(1, 1, rgb(9, 8, 7)).view());
}
TEST(LzEncoder, OddWidths) {
  for (int32_t w : {1, 2, 3, 5, 7, 31, 33, 333, 1023}) {
    SCOPED_TRACE(w);
    expect_round_trip(noise(w, 5, uint32_t(w)).view());
    expect_round_trip(gradient(w, 17).view());
    expect_round_trip(text(w, 30, uint32_t(w)).view());
  }
}
TEST(LzEncoder, AllEqualIsTiny) {
  const Image img = solid(640, 480, rgb(0x20, 0x40, 0x60));
  expect_round_trip(img.view());
  auto res = make_image_encoder(ImageCodec::lz)->encode(img.view());
  EXPECT_LT(std::get<EncodedImage>(res).data.size(), 2000u);
}
TEST(LzEncoder, NoiseGradientTextPhoto) {
  expect_round_trip(noise(257, 129, 7).view());
  expect_round_trip(gradient(300, 200).view());
  expect_round_trip(text(500, 300, 3).view());
  expect_round_trip(photo(500, 300, 4).view());
}
TEST(LzEncoder, XByteIgnored) {
  const Decoded d = expect_round_trip(x_varies(300, 40).view());
  EXPECT_GT(d.copies, 0u);
}
// Rows that repeat far apart need the 4-byte far-distance form (distance > 8191 pixels).
TEST(LzEncoder, FarCopies) {
  Image img(3000, 12);
  const Image row = noise(3000, 1, 5);
  for (int32_t y = 0; y < 12; ++y) {
    if (y % 4 == 0)
      std::memcpy(img.row(y), row.row(0), 3000 * 4);
    else
      std::memcpy(img.row(y), noise(3000, 1, uint32_t(100 + y)).row(0), 3000 * 4);
  }
  const Decoded d = expect_round_trip(img.view());
  EXPECT_GT(d.far_copies, 0u);
}
TEST(LzEncoder, FullHd) {
  expect_round_trip(text(1920, 1080, 9).view());
  expect_round_trip(noise(1920, 1080, 10).view());
}
TEST(LzEncoder, StridedSubView) {
  const Image big = text(400, 300, 11);
  expect_round_trip(big.view().sub({13, 7, 101, 77}));
}
TEST(LzEncoder, EmptyImageIsUnsupported) {
  const Image img(4, 4);
  ImageView v = img.view();
  v.width = 0;
  EXPECT_TRUE(std::holds_alternative<Unsupported>(make_image_encoder(ImageCodec::lz)->encode(v)));
}

}  // namespace
}  // namespace spiceflow::encode
