#include <gtest/gtest.h>
#include <lz4.h>

#include <cstring>
#include <random>
#include <variant>

#include "spiceflow/core/result.hpp"
#include "spiceflow/encode/image_encoder.hpp"

namespace spiceflow::encode {
namespace {

// SpiceBitmapFmt on the wire (spice-protocol enums.h: INVALID, 1BIT_LE, 1BIT_BE, 4BIT_LE,
// 4BIT_BE, 8BIT, 16BIT, 24BIT, 32BIT, ...). Spelled out rather than included so the test
// checks the wire value independently of the encoder's header.
constexpr uint8_t kSpiceBitmapFmt32Bit = 8;

struct Decoded {
  int32_t top_down = 0;
  int32_t blocks = 0;
  std::vector<uint8_t> pixels;  // width * 4 bytes per row, top-down
};

// An independent decoder written after spice-gtk's canvas_get_lz4(): two header bytes,
// then [big-endian u32 size][block] until the data ends, each block decoded with
// LZ4_decompress_safe_continue into the bytes right after the previous block's output.
// Unlike the client it also rejects truncated framing and short output.
Result<Decoded> spice_gtk_style_decode(const std::vector<uint8_t>& payload, int32_t width,
                                       int32_t height) {
  if (payload.size() < 2) return make_error("no header");
  const uint8_t* data = payload.data();
  const uint8_t* end = data + payload.size();
  Decoded out;
  out.top_down = *data++;
  const uint8_t format = *data++;
  if (format != kSpiceBitmapFmt32Bit) return make_error("format " + std::to_string(format));
  const size_t stride_encoded = size_t(width) * 4;
  out.pixels.assign(stride_encoded * size_t(height), 0xcd);
  LZ4_streamDecode_t* stream = LZ4_createStreamDecode();
  uint8_t* dest = out.pixels.data();
  int available = int(out.pixels.size());
  do {
    if (end - data < 4) {
      LZ4_freeStreamDecode(stream);
      return make_error("truncated block header");
    }
    const int enc_size = int(uint32_t(data[0]) << 24 | uint32_t(data[1]) << 16 |
                             uint32_t(data[2]) << 8 | uint32_t(data[3]));
    data += 4;
    if (enc_size <= 0 || enc_size > end - data) {
      LZ4_freeStreamDecode(stream);
      return make_error("bad block size");
    }
    const int dec_size =
        LZ4_decompress_safe_continue(stream, reinterpret_cast<const char*>(data),
                                     reinterpret_cast<char*>(dest), enc_size, available);
    if (dec_size <= 0) {
      LZ4_freeStreamDecode(stream);
      return make_error("LZ4 block error");
    }
    dest += dec_size;
    available -= dec_size;
    data += enc_size;
    ++out.blocks;
  } while (data < end);
  LZ4_freeStreamDecode(stream);
  if (available != 0) return make_error("short output: " + std::to_string(available) + " left");
  return out;
}

void expect_round_trip(const ImageView& img, int32_t* blocks = nullptr) {
  auto res = make_image_encoder(ImageCodec::lz4)->encode(img);
  ASSERT_TRUE(std::holds_alternative<EncodedImage>(res));
  const auto& e = std::get<EncodedImage>(res);
  EXPECT_EQ(e.codec, ImageCodec::lz4);
  EXPECT_EQ(e.width, img.width);
  EXPECT_EQ(e.height, img.height);
  auto dec = spice_gtk_style_decode(e.data, img.width, img.height);
  ASSERT_TRUE(dec.ok()) << dec.error().message;
  EXPECT_EQ(dec->top_down, 1);
  if (blocks) *blocks = dec->blocks;
  const size_t row_bytes = size_t(img.width) * 4;
  for (int32_t y = 0; y < img.height; ++y) {
    ASSERT_EQ(0, std::memcmp(dec->pixels.data() + size_t(y) * row_bytes, img.row(y), row_bytes))
        << "row " << y;
  }
}

Image noise(int32_t w, int32_t h, uint32_t seed) {
  Image img(w, h);
  std::mt19937 rng(seed);
  for (int32_t y = 0; y < h; ++y)
    for (int32_t x = 0; x < w; ++x) img.row(y)[x] = rng();  // X byte random too: kept as-is
  return img;
}

Image gradient(int32_t w, int32_t h) {
  Image img(w, h);
  for (int32_t y = 0; y < h; ++y)
    for (int32_t x = 0; x < w; ++x)
      img.row(y)[x] = rgb(uint8_t(x * 255 / std::max(1, w - 1)),
                          uint8_t(y * 255 / std::max(1, h - 1)), uint8_t((x + y) & 0xff));
  return img;
}

Image solid(int32_t w, int32_t h, uint32_t c) {
  Image img(w, h);
  for (int32_t y = 0; y < h; ++y) std::fill(img.row(y), img.row(y) + w, c);
  return img;
}

TEST(Lz4Encoder, HeaderBytes) {
  const Image img = solid(8, 8, rgb(1, 2, 3));
  auto res = make_image_encoder(ImageCodec::lz4)->encode(img.view());
  ASSERT_TRUE(std::holds_alternative<EncodedImage>(res));
  const auto& d = std::get<EncodedImage>(res).data;
  ASSERT_GE(d.size(), 6u);
  EXPECT_EQ(d[0], 1);  // top-down
  EXPECT_EQ(d[1], kSpiceBitmapFmt32Bit);
  // One block, big-endian length covering the rest of the payload.
  const uint32_t len = uint32_t(d[2]) << 24 | uint32_t(d[3]) << 16 | uint32_t(d[4]) << 8 | d[5];
  EXPECT_EQ(len, d.size() - 6);
}

TEST(Lz4Encoder, Noise) { expect_round_trip(noise(257, 129, 1).view()); }
TEST(Lz4Encoder, Gradient) { expect_round_trip(gradient(300, 200).view()); }
TEST(Lz4Encoder, Solid) {
  const Image img = solid(640, 480, rgb(0x20, 0x40, 0x60));
  expect_round_trip(img.view());
  auto res = make_image_encoder(ImageCodec::lz4)->encode(img.view());
  EXPECT_LT(std::get<EncodedImage>(res).data.size(), img.byte_size() / 100);
}
TEST(Lz4Encoder, OnePixel) { expect_round_trip(noise(1, 1, 2).view()); }
TEST(Lz4Encoder, OddWidths) {
  for (int32_t w : {1, 3, 7, 31, 33, 333, 1023}) {
    SCOPED_TRACE(w);
    expect_round_trip(noise(w, 5, uint32_t(w)).view());
    expect_round_trip(gradient(w, 17).view());
  }
}
TEST(Lz4Encoder, SingleRowAndColumn) {
  expect_round_trip(gradient(4000, 1).view());
  expect_round_trip(gradient(1, 4000).view());
}
TEST(Lz4Encoder, FullHdUsesSeveralChainedBlocks) {
  int32_t blocks = 0;
  expect_round_trip(gradient(1920, 1080).view(), &blocks);
  EXPECT_GT(blocks, 1);
  expect_round_trip(noise(1920, 1080, 3).view());
}
TEST(Lz4Encoder, RepeatedContentAcrossBlocksStillDecodes) {
  // Rows that repeat from one block into the next make LZ4 reference the previous block;
  // the client only gets them right if the blocks are chained the way it decodes them.
  Image img(1920, 1080);
  const Image tile = noise(1920, 16, 9);
  for (int32_t y = 0; y < 1080; ++y) std::memcpy(img.row(y), tile.row(y % 16), 1920 * 4);
  int32_t blocks = 0;
  expect_round_trip(img.view(), &blocks);
  EXPECT_GT(blocks, 1);
}
TEST(Lz4Encoder, StridedSubView) {
  const Image big = noise(400, 300, 4);
  expect_round_trip(big.view().sub({13, 7, 101, 77}));
  // Long rows so that the packed sub-view spans several blocks.
  const Image wide = gradient(3000, 100);
  expect_round_trip(wide.view().sub({1, 1, 2999, 99}));
}
TEST(Lz4Encoder, EmptyImageIsUnsupported) {
  const Image img(4, 4);
  ImageView v = img.view();
  v.width = 0;
  EXPECT_TRUE(std::holds_alternative<Unsupported>(make_image_encoder(ImageCodec::lz4)->encode(v)));
}

}  // namespace
}  // namespace spiceflow::encode
