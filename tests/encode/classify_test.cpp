// The content classifier behind `--image-compression auto`, on the test corpus cut into
// 128x128 tiles (the engine's tile size): flat fills are flat, text and UI are text,
// photographs, gradients and noise are photo. And the point of it: on every tile, the
// codec its class picks (LZ4 for text, QUIC for photo) really is the smaller of the two.
#include <gtest/gtest.h>

#include <functional>
#include <variant>

#include "spiceflow/encode/classify.hpp"
#include "spiceflow/encode/image_encoder.hpp"
#include "test_images.hpp"

namespace spiceflow::encode {
namespace {

using namespace spiceflow::encode::testing;

constexpr int32_t kTile = 128;

// Calls f on every full tile of img.
void for_tiles(const Image& img, const std::function<void(const ImageView&)>& f) {
  for (int32_t y = 0; y + kTile <= img.height(); y += kTile)
    for (int32_t x = 0; x + kTile <= img.width(); x += kTile)
      f(img.view().sub({x, y, kTile, kTile}));
}

// A window-like UI: title bar gradient (many colours), flat body, a few lines of text.
Image ui(int32_t w, int32_t h) {
  Image img = text(w, h, 9);
  for (int32_t y = 0; y < 20 && y < h; ++y)
    for (int32_t x = 0; x < w; ++x)
      img.row(y)[x] = rgb(uint8_t(x), uint8_t(x >> 1), uint8_t(y * 12));
  return img;
}

size_t encoded_size(ImageCodec c, const ImageView& v) {
  return std::get<EncodedImage>(make_image_encoder(c)->encode(v)).data.size();
}

TEST(Classify, CorpusTilesGetTheirClass) {
  struct Case {
    const char* name;
    Image img;
    TileClass want;
  };
  const Case cases[] = {
      {"solid", solid(512, 256, rgb(30, 90, 200)), TileClass::flat},
      {"text", text(512, 384, 1), TileClass::text},
      {"ui", ui(512, 256), TileClass::text},
      {"gradient", gradient(512, 256), TileClass::photo},
      {"photo", photo(512, 384, 2), TileClass::photo},
      {"noise", noise(256, 256, 3), TileClass::photo},
  };
  for (const Case& c : cases) {
    SCOPED_TRACE(c.name);
    int tiles = 0;
    for_tiles(c.img, [&](const ImageView& v) {
      ++tiles;
      const TileStats s = tile_stats(v);
      EXPECT_EQ(classify(s), c.want) << "colours " << s.colours << ", equal " << s.equal_pairs
                                     << " of " << s.pairs;
    });
    EXPECT_GT(tiles, 0);
  }
}

TEST(Classify, TheChosenCodecIsTheSmaller) {
  const Image corpus[] = {text(512, 384, 4), ui(512, 256), gradient(512, 256),
                          photo(512, 384, 5), noise(256, 256, 6)};
  for (const Image& img : corpus) {
    for_tiles(img, [&](const ImageView& v) {
      const size_t lz4 = encoded_size(ImageCodec::lz4, v);
      const size_t quic = encoded_size(ImageCodec::quic, v);
      const TileClass c = classify_tile(v);
      if (c == TileClass::photo) {
        EXPECT_LT(quic, lz4) << "photo tile, yet LZ4 is smaller";
      } else {
        EXPECT_LE(lz4, quic) << to_string(c) << " tile, yet QUIC is smaller";
      }
    });
  }
}

TEST(Classify, EdgeCases) {
  EXPECT_EQ(classify_tile(solid(1, 1, rgb(1, 2, 3)).view()), TileClass::flat);
  const Image img(4, 4);
  ImageView empty = img.view();
  empty.width = 0;
  EXPECT_EQ(classify_tile(empty), TileClass::flat);
  // Colours equal but for X are one colour.
  EXPECT_EQ(tile_stats(x_varies(64, 8).view()).colours, 2u);
  // A strided sub-view sees only its own pixels.
  Image two = solid(64, 64, rgb(0, 0, 0));
  for (int32_t y = 0; y < 64; ++y) two.row(y)[63] = rgb(255, 0, 0);
  EXPECT_EQ(classify_tile(two.view().sub({0, 0, 63, 64})), TileClass::flat);
  EXPECT_EQ(tile_stats(two.view()).colours, 2u);
  // Counting stops at 257.
  EXPECT_EQ(tile_stats(noise(64, 64, 1).view()).colours, 257u);
  EXPECT_EQ(to_string(TileClass::photo), "photo");
}

}  // namespace
}  // namespace spiceflow::encode
