// QUIC images from the guest (SPICE_IMAGE_TYPE_QUIC, the one compressed type the reference
// server accepts from a QXL device): streams made by our QUIC encoder, placed in guest RAM
// in chunk lists, come back through the parser as the exact pixels; truncated, garbage,
// mismatched and oversized payloads reject the command with a reason and its release info.
#include <gtest/gtest.h>

#include <fstream>
#include <iterator>
#include <variant>

#include "qxl_parser_fixture.hpp"
#include "spiceflow/encode/image_encoder.hpp"
#include "spiceflow/qxl/parser.hpp"

namespace spiceflow::qxl {
namespace {

using namespace testing;

class QxlQuicImage : public QxlParserTest {
 protected:
  // An opaque xRGB picture with flat areas (runs), edges and noise.
  static Image picture(int32_t w, int32_t h) {
    Image img(w, h);
    uint32_t seed = 12345;
    for (int32_t y = 0; y < h; ++y) {
      for (int32_t x = 0; x < w; ++x) {
        seed = seed * 1103515245u + 12345u;
        uint32_t c = (x / 8 + y / 5) % 3 == 0 ? 0x00f0e0d0u : uint32_t(x * 3) << 16 | uint32_t(y * 5) << 8;
        if ((x + y) % 11 == 0) c = seed >> 8;
        img.row(y)[x] = 0xff000000u | (c & 0xffffff);
      }
    }
    return img;
  }
  static std::vector<uint8_t> quic_of(const Image& img) {
    auto res = encode::make_image_encoder(encode::ImageCodec::quic)->encode(img.view());
    return std::get<encode::EncodedImage>(res).data;
  }
  QXLDrawable* copy_of(QXLImage* img, uint32_t w, uint32_t h) {
    auto* d = ram.drawable(QXL_DRAW_COPY, qrect(0, 0, w, h));
    d->u.copy.src_bitmap = ram.addr(img);
    d->u.copy.src_area = qrect(0, 0, w, h);
    d->u.copy.rop_descriptor = SPICE_ROPD_OP_PUT;
    return d;
  }
};

TEST_F(QxlQuicImage, RoundTripsThroughChunks) {
  const Image pic = picture(97, 41);
  const auto stream = quic_of(pic);
  for (const std::vector<size_t>& splits :
       {std::vector<size_t>{}, {100, 37, 5}, {1, 1, 1, 1}}) {
    auto c = parse_draw(copy_of(ram.quic_image(stream, 97, 41, splits), 97, 41));
    const auto& op = op_of<BlitOp>(c);
    ASSERT_TRUE(op.src);
    ASSERT_EQ(op.src->size(), pic.size());
    for (int32_t y = 0; y < pic.height(); ++y)
      for (int32_t x = 0; x < pic.width(); ++x)
        ASSERT_EQ(op.src->pixel(x, y), pic.pixel(x, y)) << x << "," << y;
  }
}

// Every op that takes an image goes through read_image: a QUIC pattern brush works too.
TEST_F(QxlQuicImage, AsPatternBrush) {
  const Image pic = picture(8, 8);
  auto* d = ram.drawable(QXL_DRAW_FILL, qrect(0, 0, 16, 16));
  d->u.fill.brush.type = SPICE_BRUSH_TYPE_PATTERN;
  d->u.fill.brush.u.pattern.pat = ram.addr(ram.quic_image(quic_of(pic), 8, 8));
  d->u.fill.rop_descriptor = SPICE_ROPD_OP_PUT;
  auto c = parse_draw(d);
  const auto& op = op_of<BrushFillOp>(c);
  ASSERT_TRUE(op.brush.pattern.image);
  EXPECT_FALSE(op.brush.pattern.has_alpha);
  EXPECT_EQ(op.brush.pattern.image->pixel(5, 6), pic.pixel(5, 6));
}

// An RGBA stream (spice-common's encoder, tests/encode/data) keeps its alpha and is flagged.
TEST_F(QxlQuicImage, RgbaStreamKeepsAlpha) {
  std::ifstream f(std::string(SPICEFLOW_ENCODE_TEST_DATA) + "/spice_common_rgba_48x44.quic",
                  std::ios::binary);
  const std::vector<uint8_t> stream{std::istreambuf_iterator<char>(f),
                                    std::istreambuf_iterator<char>()};
  ASSERT_FALSE(stream.empty());
  auto* d = ram.drawable(QXL_DRAW_ALPHA_BLEND, qrect(0, 0, 48, 44));
  d->u.alpha_blend.src_bitmap = ram.addr(ram.quic_image(stream, 48, 44, {1000}));
  d->u.alpha_blend.src_area = qrect(0, 0, 48, 44);
  d->u.alpha_blend.alpha = 255;
  auto c = parse_draw(d);
  const auto& op = op_of<AlphaBlendOp>(c);
  EXPECT_TRUE(op.src.has_alpha);
  ASSERT_TRUE(op.src.image);
  EXPECT_EQ(op.src.image->pixel(20, 0), 0x80a0b0c0u);  // data/README.md: (20/16 + 0) is odd
  EXPECT_EQ(op.src.image->pixel(0, 5), 0x3f102030u);
  EXPECT_EQ(op.src.image->pixel(1, 1), 0x05040504u);  // A=2+3, R=4, G=5, B=2*(1+1)
}

TEST_F(QxlQuicImage, TruncatedStreamIsRejected) {
  const auto stream = quic_of(picture(64, 32));
  const std::vector<uint8_t> cut(stream.begin(), stream.begin() + long(stream.size() / 2));
  EXPECT_REASON(parse_draw(copy_of(ram.quic_image(cut, 64, 32, {40}), 64, 32)), "QUIC");
  const std::vector<uint8_t> header_only(stream.begin(), stream.begin() + 12);
  EXPECT_REASON(parse_draw(copy_of(ram.quic_image(header_only, 64, 32), 64, 32)), "header");
}

TEST_F(QxlQuicImage, DataSizeMustMatchTheChunks) {
  const auto stream = quic_of(picture(16, 16));
  auto* img = ram.quic_image(stream, 16, 16, {50});
  img->quic.data_size += 4;
  EXPECT_REASON(parse_draw(copy_of(img, 16, 16)), "data_size");
}

TEST_F(QxlQuicImage, GarbageIsRejected) {
  std::vector<uint8_t> garbage(400);
  for (size_t i = 0; i < garbage.size(); ++i) garbage[i] = uint8_t(i * 37 + 11);
  EXPECT_REASON(parse_draw(copy_of(ram.quic_image(garbage, 16, 16), 16, 16)), "bad magic");
  // A valid header over garbage: the pixels decode to something or the data runs out,
  // but the stream claims 16x16 and the parser never reads past the chunk.
  auto stream = quic_of(picture(16, 16));
  for (size_t i = 20; i < stream.size(); ++i) stream[i] = uint8_t(0xff - i);
  auto c = parse_draw(copy_of(ram.quic_image(stream, 16, 16), 16, 16));
  if (!c.ok()) {
    EXPECT_NE(c.command.error().message.find("QUIC"), std::string::npos);
    EXPECT_NE(c.release.info, nullptr);
  }
}

TEST_F(QxlQuicImage, SizeMustMatchTheDescriptor) {
  const auto stream = quic_of(picture(20, 10));
  EXPECT_REASON(parse_draw(copy_of(ram.quic_image(stream, 10, 20), 10, 20)), "descriptor");
}

TEST_F(QxlQuicImage, OversizedStreamIsRejectedByTheLimits) {
  const Image pic = picture(300, 4);
  const auto stream = quic_of(pic);
  limits.max_image_side = 256;
  EXPECT_REASON(parse_draw(copy_of(ram.quic_image(stream, 300, 4), 300, 4)), "limits");
  limits = {};
  limits.max_image_pixels = 1000;
  EXPECT_REASON(parse_draw(copy_of(ram.quic_image(stream, 300, 4), 300, 4)), "limits");
}

TEST_F(QxlQuicImage, OtherCompressedTypesAreNotAccepted) {
  auto* img = ram.quic_image(quic_of(picture(4, 4)), 4, 4);
  img->descriptor.type = SPICE_IMAGE_TYPE_LZ_RGB;
  EXPECT_REASON(parse_draw(copy_of(img, 4, 4)), "LZ_RGB");
}

}  // namespace
}  // namespace spiceflow::qxl
