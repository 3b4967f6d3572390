// LZ_PLT: decoded by a test-only decoder written after spice-common's lz.c and
// lz_decompress_tmpl.c (PLT1_BE / PLT4_BE / PLT8 to RGB32): LZ over bytes (copies of at
// least 3 bytes), each byte expanded MSB first into 8 / 2 / 1 pixels through the palette,
// every row expanded over its whole stride. Stricter than the client where it would read
// out of bounds: an index at or past the palette's size (PLT8 looks it up unchecked), a
// copy from before the start or past the end, leftover bytes.
#include <gtest/gtest.h>

#include <cstring>
#include <optional>
#include <set>
#include <string>
#include <variant>

#include "spiceflow/encode/image_encoder.hpp"
#include "lz_bytes_decoder.hpp"
#include "test_images.hpp"

namespace spiceflow::encode {
namespace {

using namespace spiceflow::encode::testing;

struct Decoded {
  int width = 0, height = 0, bpp = 0;
  size_t stride = 0;
  std::vector<uint32_t> pixels;  // width * height, 0x00RRGGBB
  size_t copies = 0;
};

std::optional<std::string> decode(const EncodedImage& e, Decoded& out) {
  if (e.palette.empty() || e.palette.size() > 256) return "bad palette size";
  LzBytesHeader h;
  std::vector<uint8_t> bytes;
  std::optional<std::string> type_error;
  auto err = decode_lz_bytes(
      e.data, 0, &h,
      [&](const LzBytesHeader& hd) -> size_t {
        switch (hd.type) {
          case 2: out.bpp = 1; break;  // PLT1_BE
          case 4: out.bpp = 4; break;  // PLT4_BE
          case 5: out.bpp = 8; break;  // PLT8
          default:
            type_error = "type " + std::to_string(hd.type) + " is not PLT1_BE/PLT4_BE/PLT8";
            return 0;
        }
        if (size_t(hd.stride) * size_t(8 / out.bpp) < hd.width) {
          type_error = "stride shorter than a row";
          return 0;
        }
        return size_t(hd.stride) * hd.height;
      },
      &bytes, &out.copies);
  if (type_error) return type_error;
  if (err) return err;
  if (h.top_down != 1) return "not top-down";
  out.width = int(h.width);
  out.height = int(h.height);
  out.stride = h.stride;
  const size_t per_byte = size_t(8 / out.bpp);
  if (out.bpp == 1 && e.palette.size() < 2) return "PLT1 needs two palette entries";
  out.pixels.assign(size_t(out.width) * size_t(out.height), 0);
  for (int y = 0; y < out.height; ++y) {
    // The client expands the whole row, padding included: every index must be valid.
    for (size_t px = 0; px < out.stride * per_byte; ++px) {
      const uint8_t b = bytes[size_t(y) * out.stride + px / per_byte];
      const unsigned shift = unsigned(8 - out.bpp * (px % per_byte + 1));
      const unsigned idx = (b >> shift) & ((1u << out.bpp) - 1);
      if (idx >= e.palette.size()) return "index " + std::to_string(idx) + " past the palette";
      if (px < size_t(out.width)) out.pixels[size_t(y) * size_t(out.width) + px] = e.palette[idx];
    }
  }
  return std::nullopt;
}

// An image of exactly `colours` colours (as far as the size allows), in a pattern with
// repeats and changes.
Image with_colours(int32_t w, int32_t h, int colours, uint32_t seed) {
  Image img(w, h);
  std::mt19937 rng(seed);
  std::vector<uint32_t> pal(static_cast<size_t>(colours));
  for (int i = 0; i < colours; ++i)
    pal[size_t(i)] = rgb(uint8_t(i * 37 + 1), uint8_t(i >> 8), uint8_t(255 - i));
  int k = 0;
  for (int32_t y = 0; y < h; ++y) {
    for (int32_t x = 0; x < w; ++x) {
      // Runs, repeats of the row above and fresh colours, cycling through all of them.
      if (x > 0 && rng() % 3 == 0) {
        img.row(y)[x] = img.row(y)[x - 1];
      } else if (y > 0 && rng() % 3 == 0) {
        img.row(y)[x] = img.row(y - 1)[x];
      } else {
        img.row(y)[x] = pal[size_t(k++ % colours)] ^ (rng() % 2 ? 0xff000000u : 0);  // X varies
      }
    }
  }
  return img;
}

Decoded expect_round_trip(const ImageView& img, int want_bpp) {
  Decoded dec;
  auto res = make_image_encoder(ImageCodec::lz_plt)->encode(img);
  EXPECT_TRUE(std::holds_alternative<EncodedImage>(res));
  if (!std::holds_alternative<EncodedImage>(res)) return dec;
  const auto& e = std::get<EncodedImage>(res);
  EXPECT_EQ(e.codec, ImageCodec::lz_plt);
  EXPECT_EQ(e.palette_id, palette_id(e.palette));
  auto err = decode(e, dec);
  EXPECT_FALSE(err) << *err;
  if (err) return dec;
  EXPECT_EQ(dec.bpp, want_bpp);
  EXPECT_EQ(dec.width, img.width);
  EXPECT_EQ(dec.height, img.height);
  EXPECT_EQ(dec.stride, (size_t(img.width) * size_t(want_bpp) + 7) / 8);
  for (int32_t y = 0; y < img.height; ++y)
    for (int32_t x = 0; x < img.width; ++x)
      if (dec.pixels[size_t(y) * size_t(img.width) + size_t(x)] !=
          (img.pixel(x, y) & 0x00ffffffu)) {
        ADD_FAILURE() << "pixel " << x << "," << y << " differs";
        return dec;
      }
  return dec;
}

TEST(LzPltEncoder, OnePixel) {
  expect_round_trip(solid(1, 1, rgb(9, 8, 7)).view(), 1);
}

// The bits per pixel for the colours `img` really has: 1 up to 2, 4 up to 16, else 8.
int expected_bpp(const Image& img) {
  std::set<uint32_t> colours;
  for (int32_t y = 0; y < img.height(); ++y)
    for (int32_t x = 0; x < img.width(); ++x) colours.insert(img.pixel(x, y) & 0x00ffffffu);
  return colours.size() <= 2 ? 1 : colours.size() <= 16 ? 4 : 8;
}

TEST(LzPltEncoder, PalettesOf2And16And256ColoursAtOddWidths) {
  for (int32_t w : {1, 2, 3, 5, 7, 8, 9, 15, 17, 31, 33, 129, 333}) {
    SCOPED_TRACE(w);
    for (int colours : {2, 16, 256}) {
      const Image img = with_colours(w, colours == 256 ? 31 : 9, colours, uint32_t(w));
      expect_round_trip(img.view(), expected_bpp(img));
    }
  }
  // Enough pixels to show every colour: exactly the palette's size class.
  EXPECT_EQ(expected_bpp(with_colours(64, 64, 2, 1)), 1);
  EXPECT_EQ(expected_bpp(with_colours(64, 64, 16, 1)), 4);
  EXPECT_EQ(expected_bpp(with_colours(64, 64, 256, 1)), 8);
  // 3 and 17 colours take the next size up.
  expect_round_trip(with_colours(64, 64, 3, 1).view(), 4);
  expect_round_trip(with_colours(64, 64, 17, 1).view(), 8);
}

TEST(LzPltEncoder, PaddedStride) {
  const Image src = with_colours(45, 23, 16, 4);
  std::vector<uint8_t> padded(size_t(45 * 4 + 20) * 23, 0xab);
  for (int y = 0; y < 23; ++y) std::memcpy(&padded[size_t(y) * (45 * 4 + 20)], src.row(y), 45 * 4);
  expect_round_trip(ImageView{padded.data(), 45, 23, 45 * 4 + 20}, 4);
}

TEST(LzPltEncoder, AllEqualIsTinyWithATwoEntryPalette) {
  const Image img = solid(640, 480, rgb(0x20, 0x40, 0x60));
  auto e = std::get<EncodedImage>(make_image_encoder(ImageCodec::lz_plt)->encode(img.view()));
  EXPECT_EQ(e.palette.size(), 2u);
  EXPECT_LT(e.data.size(), 200u);
  expect_round_trip(img.view(), 1);
}

TEST(LzPltEncoder, TextIsSmallerThanLzRgb) {
  const Image img = text(512, 384, 3);
  auto plt = std::get<EncodedImage>(make_image_encoder(ImageCodec::lz_plt)->encode(img.view()));
  auto rgb = std::get<EncodedImage>(make_image_encoder(ImageCodec::lz)->encode(img.view()));
  EXPECT_EQ(plt.codec, ImageCodec::lz_plt);
  EXPECT_LT(plt.data.size() * 3, rgb.data.size() * 2);  // 4 bpp: about half
  expect_round_trip(img.view(), 4);
}

TEST(LzPltEncoder, LongRunsAndFarCopies) {
  // Rows that repeat 9000+ bytes back (the 4-byte distance form) and long runs.
  Image img(4000, 40);
  const Image a = with_colours(4000, 1, 256, 1), b = with_colours(4000, 1, 256, 2);
  for (int y = 0; y < 40; ++y)
    std::memcpy(img.row(y), (y % 3 == 2 ? b : a).row(0), 4000 * 4);
  for (int x = 0; x < 4000; ++x) img.row(7)[x] = a.pixel(0, 0);
  const Decoded d = expect_round_trip(img.view(), 8);
  EXPECT_GT(d.copies, 30u);
}

TEST(LzPltEncoder, MoreThan256ColoursIsLzRgb) {
  const Image img = with_colours(64, 64, 257, 9);
  auto res = make_image_encoder(ImageCodec::lz_plt)->encode(img.view());
  ASSERT_TRUE(std::holds_alternative<EncodedImage>(res));
  EXPECT_EQ(std::get<EncodedImage>(res).codec, ImageCodec::lz);
  EXPECT_TRUE(std::get<EncodedImage>(res).palette.empty());
  auto photo = make_image_encoder(ImageCodec::lz_plt)->encode(noise(64, 64, 1).view());
  EXPECT_EQ(std::get<EncodedImage>(photo).codec, ImageCodec::lz);
}

TEST(LzPltEncoder, PaletteIdsFollowContents) {
  EXPECT_EQ(palette_id({1, 2, 3}), palette_id({1, 2, 3}));
  EXPECT_NE(palette_id({1, 2, 3}), palette_id({1, 3, 2}));
  EXPECT_NE(palette_id({1, 2}), palette_id({1, 2, 0}));
  EXPECT_EQ(to_string(ImageCodec::lz_plt), "lz_plt");
  EXPECT_TRUE(is_lossless(ImageCodec::lz_plt));
}

}  // namespace
}  // namespace spiceflow::encode
