// GLZ_RGB and ZLIB_GLZ_RGB: every image goes through the test-side decoder and window
// (glz_decoder.hpp), which holds exactly what spice-gtk's window would and fails on a copy
// from an image the client no longer holds. Covers the picture edge cases (1x1, odd widths,
// padded strides, flat, noise), copies across images and across the window edge, eviction
// (the client's window always equals the dictionary's), every offset and distance form,
// zlib, determinism and concurrent encoders on one dictionary.
#include <gtest/gtest.h>

#include <algorithm>
#include <cstring>
#include <optional>
#include <thread>
#include <variant>

#include "glz_decoder.hpp"
#include "spiceflow/encode/glz_encoder.hpp"
#include "test_images.hpp"

namespace spiceflow::encode {
namespace {

using namespace spiceflow::encode::testing;

// One client: a dictionary, an encoder over it and the client's window.
struct Session {
  explicit Session(int64_t window, bool zlib = false)
      : dict(std::make_shared<GlzDictionary>(window)), enc(make_glz_encoder(dict, zlib)) {}

  // Encodes `img`, decodes it on the client side and checks the pixels; returns what the
  // decoder saw (and the encoded size in `bytes`).
  GlzDecoded send(const ImageView& img, size_t* bytes = nullptr,
                  std::optional<GlzHint> hint = std::nullopt) {
    GlzDecoded dec;
    uint64_t id = ~uint64_t(0);
    auto res = enc->encode(img, hint, &id);
    if (!std::holds_alternative<EncodedImage>(res)) {
      ADD_FAILURE() << "not encoded: "
                    << (std::holds_alternative<Unsupported>(res) ? std::get<Unsupported>(res).why
                                                                 : "dropped");
      return dec;
    }
    const auto& e = std::get<EncodedImage>(res);
    if (bytes) *bytes = e.data.size();
    EXPECT_EQ(e.width, img.width);
    EXPECT_EQ(e.height, img.height);
    std::optional<std::string> err;
    if (e.codec == ImageCodec::zlib_glz) {
      err = client.decode_zlib(e.data, e.glz_size, dec);
    } else {
      EXPECT_EQ(e.codec, ImageCodec::glz);
      EXPECT_EQ(e.glz_size, 0u);
      err = client.decode(e.data, dec);
    }
    EXPECT_FALSE(err) << *err;
    if (err) return dec;
    EXPECT_EQ(dec.hdr.id, id);
    EXPECT_EQ(dec.hdr.width, uint32_t(img.width));
    EXPECT_EQ(dec.hdr.height, uint32_t(img.height));
    EXPECT_EQ(dec.hdr.stride, uint32_t(img.width) * 4);
    EXPECT_TRUE(dec.hdr.top_down);
    for (int32_t y = 0; y < img.height; ++y)
      for (int32_t x = 0; x < img.width; ++x)
        if (dec.pixels[size_t(y) * size_t(img.width) + size_t(x)] != rgb_of(img, x, y)) {
          ADD_FAILURE() << "pixel " << x << "," << y << " differs";
          return dec;
        }
    expect_windows_agree();
    return dec;
  }

  // The client holds exactly the dictionary's window.
  void expect_windows_agree() {
    const auto s = dict->stats();
    const auto held = client.held();
    ASSERT_EQ(held.size(), s.window_images);
    if (!held.empty()) {
      EXPECT_EQ(held.back(), s.last_id);
    }
  }

  std::shared_ptr<GlzDictionary> dict;
  std::unique_ptr<GlzEncoder> enc;
  GlzWindow client;
};

constexpr int64_t kBigWindow = kGlzMaxWindowPixels;

TEST(GlzEncoder, OnePixel) {
  Session s(kBigWindow);
  s.send(noise(1, 1, 1).view());
  s.send(solid(1, 1, rgb(9, 8, 7)).view());
  s.send(noise(1, 1, 1).view());  // a 1-pixel image: too short to reference
}

TEST(GlzEncoder, OddWidths) {
  Session s(kBigWindow);
  for (int32_t w : {1, 2, 3, 5, 7, 31, 33, 333, 1023}) {
    SCOPED_TRACE(w);
    s.send(noise(w, 5, uint32_t(w)).view());
    s.send(gradient(w, 17).view());
    s.send(text(w, 30, uint32_t(w)).view());
  }
}

TEST(GlzEncoder, PaddedStrides) {
  Session s(kBigWindow);
  const Image big = text(400, 300, 11);
  s.send(big.view().sub({13, 7, 101, 77}));
  s.send(big.view().sub({0, 0, 1, 300}));
  s.send(noise(64, 64, 3).view().sub({1, 1, 61, 9}));
}

TEST(GlzEncoder, AllEqualIsTiny) {
  Session s(kBigWindow);
  size_t bytes = 0;
  s.send(solid(640, 480, rgb(0x20, 0x40, 0x60)).view(), &bytes);
  EXPECT_LT(bytes, 2000u);
}

TEST(GlzEncoder, NoiseGradientTextPhoto) {
  Session s(kBigWindow);
  size_t bytes = 0;
  s.send(noise(257, 129, 7).view(), &bytes);
  EXPECT_LE(bytes, 33 + 257 * 129 * 3 + (257 * 129 + 31) / 32);  // literals at worst
  s.send(gradient(300, 200).view());
  s.send(text(500, 300, 3).view());
  s.send(photo(500, 300, 4).view());
  s.send(text(1920, 1080, 9).view());
}

TEST(GlzEncoder, XByteIgnored) {
  Session s(kBigWindow);
  const GlzDecoded d = s.send(x_varies(300, 40).view());
  EXPECT_GT(d.copies, 0u);
}

// The same picture again is one copy from the earlier image; a changed glyph costs little.
TEST(GlzEncoder, CopiesFromEarlierImages) {
  Session s(kBigWindow);
  const Image a = text(128, 128, 5);
  size_t first = 0, again = 0, edited = 0;
  const GlzDecoded d0 = s.send(a.view(), &first);
  EXPECT_EQ(d0.hdr.id, 0u);
  EXPECT_EQ(d0.cross_copies, 0u);
  s.send(noise(128, 128, 6).view());
  const GlzDecoded d2 = s.send(a.view(), &again, GlzHint{0, 0, 0});
  EXPECT_EQ(d2.hdr.id, 2u);
  // One copy: the header, ctrl, a length byte per 255 pixels, offset and image bytes.
  constexpr size_t kOneCopy = 33 + 1 + (128 * 128 - 7) / 255 + 1 + 2;
  EXPECT_EQ(d2.cross_copies, 1u);
  EXPECT_EQ(again, kOneCopy) << "first " << first;
  Image b = a;
  for (int y = 60; y < 69; ++y)
    for (int x = 40; x < 46; ++x) b.row(y)[x] = rgb(200, 0, 0);
  const GlzDecoded d3 = s.send(b.view(), &edited, GlzHint{2, 0, 0});
  EXPECT_GT(d3.cross_copies, 0u);
  EXPECT_LT(edited, 200u) << "first " << first << ", edited " << edited;
  // Without a hint the newest image of the same size is tried at the same offsets.
  const GlzDecoded d4 = s.send(b.view(), &again);
  EXPECT_EQ(d4.cross_copies, 1u);
  EXPECT_EQ(again, kOneCopy);
  const auto st = s.dict->stats();
  EXPECT_EQ(st.images, 5u);
  EXPECT_EQ(st.referencing, 3u);
  EXPECT_EQ(st.evicted, 0u);
}

// A hint with an offset: a tile of a bigger picture sent earlier (the whole screen).
TEST(GlzEncoder, HintIntoABiggerImage) {
  Session s(kBigWindow);
  const Image screen = text(640, 480, 7);
  const GlzDecoded full = s.send(screen.view());
  Image tile = text(64, 64, 1);
  for (int32_t y = 0; y < 64; ++y) {
    std::memcpy(tile.row(y), screen.view().sub({192, 128, 64, 64}).row(y), 64 * 4);
  }
  tile.row(10)[10] = rgb(1, 2, 3);
  size_t bytes = 0;
  const GlzDecoded d = s.send(tile.view(), &bytes, GlzHint{full.hdr.id, 192, 128});
  EXPECT_LT(bytes, 33u + 64 * 8) << "about one copy per row";
  EXPECT_GE(d.cross_copies, 32u);
  // Wrong hints cost bytes, never pixels: out of range, evicted, not yet encoded.
  for (GlzHint h : {GlzHint{full.hdr.id, 100000, -5}, GlzHint{full.hdr.id, -64, -64},
                    GlzHint{99, 0, 0}, GlzHint{d.hdr.id + 1, 0, 0}}) {
    s.send(tile.view(), nullptr, h);
  }
}

// A window of three 64x64 images: the fourth pushes the first out; the client frees it
// too (win_head_dist), and re-sending it cannot copy from it.
TEST(GlzEncoder, WindowEdgeAndEviction) {
  Session s(3 * 64 * 64);
  std::vector<Image> imgs;
  for (uint32_t k = 0; k < 6; ++k) imgs.push_back(noise(64, 64, 100 + k));
  for (int k = 0; k < 3; ++k) {
    const GlzDecoded d = s.send(imgs[size_t(k)].view());
    EXPECT_EQ(d.hdr.win_head_dist, uint32_t(k));  // nothing left yet
  }
  EXPECT_TRUE(s.client.holds(0));
  const GlzDecoded d3 = s.send(imgs[3].view());
  EXPECT_EQ(d3.hdr.win_head_dist, 2u);  // images 1..3 stay
  EXPECT_FALSE(s.client.holds(0));
  EXPECT_EQ(s.dict->stats().evicted, 1u);
  // Image 0 left the window: sent again it is all literals (and the decoder would have
  // failed on a copy from it).
  size_t bytes = 0;
  const GlzDecoded again = s.send(imgs[0].view(), &bytes);
  EXPECT_EQ(again.cross_copies, 0u);
  EXPECT_GT(bytes, size_t(64 * 64 * 3));
  // Image 3 is the oldest still held: copying from it is fine, right at the window edge.
  const GlzDecoded edge = s.send(imgs[3].view(), &bytes, GlzHint{3, 0, 0});
  EXPECT_EQ(edge.hdr.win_head_dist, 2u);  // images 3, 4 (= image 0 again), 5
  EXPECT_GT(edge.cross_copies, 0u);
  EXPECT_EQ(edge.max_image_dist, 2u);
  EXPECT_LT(bytes, 60u);
  EXPECT_EQ(s.client.held(), (std::vector<uint64_t>{3, 4, 5}));
}

// Many small images through a small window: the window slides on every image and what
// the client holds always equals the dictionary (checked by send()).
TEST(GlzEncoder, SlidingWindowManyImages) {
  Session s(10 * 32 * 32 + 17);
  const Image base = text(96, 96, 8);
  for (int k = 0; k < 200; ++k) {
    // Tiles of a slowly scrolling text: later tiles repeat earlier ones' rows.
    const int32_t x = (k * 7) % 64, y = (k * 3) % 64;
    s.send(base.view().sub({x, y, 32, 32}));
  }
  const auto st = s.dict->stats();
  EXPECT_EQ(st.images, 200u);
  EXPECT_GT(st.referencing, 100u);
  EXPECT_GE(st.evicted, 190u);
  EXPECT_LE(st.window_pixels, 10u * 32 * 32 + 17);
}

// Too big for the window: not encoded, and the dictionary is as it was.
TEST(GlzEncoder, LargerThanWindowIsUnsupported) {
  Session s(1000);
  s.send(noise(10, 10, 1).view());
  auto res = s.enc->encode(noise(40, 30, 2).view());
  EXPECT_TRUE(std::holds_alternative<Unsupported>(res));
  const GlzDecoded d = s.send(noise(10, 10, 3).view());
  EXPECT_EQ(d.hdr.id, 1u);
  EXPECT_TRUE(std::holds_alternative<Unsupported>(s.enc->encode(noise(1, 1, 1).view().sub({0, 0, 0, 1}))));
}

TEST(GlzEncoder, WindowSizeIsClamped) {
  EXPECT_EQ(GlzDictionary(-5).window_pixels(), 0u);
  EXPECT_EQ(GlzDictionary(int64_t(1) << 40).window_pixels(), kGlzMaxWindowPixels);
  Session s(0);
  EXPECT_TRUE(std::holds_alternative<Unsupported>(s.enc->encode(noise(1, 1, 1).view())));
}

// restart(): the next image tells the client to free everything and copies from nothing.
TEST(GlzEncoder, RestartForgetsTheWindow) {
  Session s(kBigWindow);
  const Image a = text(100, 50, 1);
  s.send(a.view());
  s.send(a.view());
  s.dict->restart();
  size_t bytes = 0;
  const GlzDecoded d = s.send(a.view(), &bytes);
  EXPECT_EQ(d.hdr.id, 2u);
  EXPECT_EQ(d.hdr.win_head_dist, 0u);
  EXPECT_EQ(d.cross_copies, 0u);
  EXPECT_EQ(s.client.held(), (std::vector<uint64_t>{2}));
}

// Wide images: in-image distances past 4096 (pixel_flag 1) and past 2^17 pixels (the extra
// offset byte); copies from far inside an earlier big image; image distances that need
// extra bytes in both offset forms.
TEST(GlzEncoder, LongOffsetsAndDistances) {
  Session s(kBigWindow);
  // Row 0 = R, row 2 = row 1 (5000 pixels back), row 35 = R (175000 pixels back).
  Image wide(5000, 40);
  const Image r = noise(5000, 1, 5);
  for (int32_t y = 0; y < 40; ++y) {
    const Image other = noise(5000, 1, uint32_t(100 + y));
    std::memcpy(wide.row(y), (y == 0 || y == 35 ? r : other).row(0), 5000 * 4);
  }
  std::memcpy(wide.row(2), wide.row(1), 5000 * 4);
  const GlzDecoded d0 = s.send(wide.view());
  EXPECT_GT(d0.long_offsets, 0u);
  EXPECT_GT(d0.very_long_offsets, 0u);
  // 300 other images, then rows 34..35: a copy from 301 images back, 170000 pixels into
  // image 0 (pixel_flag 1, extra offset byte, two distance bytes).
  for (uint32_t k = 0; k < 300; ++k) s.send(noise(4, 4, 1000 + k).view());
  const GlzDecoded d = s.send(wide.view().sub({0, 34, 5000, 2}));
  EXPECT_GT(d.cross_copies, 0u);
  EXPECT_GT(d.very_long_offsets, 0u);
  EXPECT_GT(d.long_far_images, 0u);
  EXPECT_EQ(d.max_image_dist, 301u);
  // A piece of row 0 near its start: the short offset form with a distance byte.
  const GlzDecoded d2 = s.send(wide.view().sub({200, 0, 100, 1}));
  EXPECT_GT(d2.short_far_images, 0u);
  EXPECT_EQ(d2.max_image_dist, 302u);
}

// Runs longer than the length field: extension bytes of 255.
TEST(GlzEncoder, LongRuns) {
  Session s(kBigWindow);
  Image img = solid(3000, 3, rgb(1, 2, 3));
  img.row(1)[1500] = rgb(9, 9, 9);
  s.send(img.view());
}

TEST(GlzEncoder, ZlibWhenItPaysOff) {
  Session s(kBigWindow, /*zlib=*/true);
  EXPECT_EQ(s.enc->codec(), ImageCodec::zlib_glz);
  auto res = s.enc->encode(text(300, 200, 3).view());
  ASSERT_TRUE(std::holds_alternative<EncodedImage>(res));
  const auto& e = std::get<EncodedImage>(res);
  EXPECT_EQ(e.codec, ImageCodec::zlib_glz);
  EXPECT_GT(e.glz_size, e.data.size());
  GlzDecoded dec;
  auto err = s.client.decode_zlib(e.data, e.glz_size, dec);
  ASSERT_FALSE(err) << *err;
  // Noise does not deflate: it goes out as plain GLZ (and still joins the window).
  auto noisy = s.enc->encode(noise(100, 100, 4).view());
  ASSERT_TRUE(std::holds_alternative<EncodedImage>(noisy));
  EXPECT_EQ(std::get<EncodedImage>(noisy).codec, ImageCodec::glz);
  err = s.client.decode(std::get<EncodedImage>(noisy).data, dec);
  ASSERT_FALSE(err) << *err;
  // And the dictionary spans both kinds.
  const GlzDecoded d = s.send(text(300, 200, 3).view());
  EXPECT_GT(d.cross_copies, 0u);
}

// Two dictionaries fed the same images produce the same bytes.
TEST(GlzEncoder, Deterministic) {
  auto run = [] {
    auto dict = std::make_shared<GlzDictionary>(5 * 64 * 64);
    auto enc = make_glz_encoder(dict, false);
    std::vector<std::vector<uint8_t>> out;
    const Image t = text(200, 200, 4);
    for (int k = 0; k < 30; ++k) {
      auto res = enc->encode(t.view().sub({k * 3, k * 2, 64, 64}));
      out.push_back(std::get<EncodedImage>(res).data);
    }
    return out;
  };
  EXPECT_EQ(run(), run());
}

// Encoders on several threads share one dictionary (as a client's display channels do):
// ids are unique and every image decodes in id order, copying only from what the client
// holds by then.
TEST(GlzEncoder, ConcurrentEncodersShareOneDictionary) {
  auto dict = std::make_shared<GlzDictionary>(40 * 48 * 48);
  constexpr int kThreads = 4, kPerThread = 60;
  std::vector<std::vector<EncodedImage>> got(kThreads);
  std::vector<std::vector<Image>> sent(kThreads);
  const Image t = text(300, 300, 12);
  std::vector<std::thread> threads;
  for (int k = 0; k < kThreads; ++k) {
    threads.emplace_back([&, k] {
      auto enc = make_glz_encoder(dict, k % 2 == 1);
      for (int j = 0; j < kPerThread; ++j) {
        const Rect r{(k * 37 + j * 11) % 250, (k * 13 + j * 7) % 250, 48, 48};
        Image img(48, 48);
        for (int32_t y = 0; y < 48; ++y)
          std::memcpy(img.row(y), t.view().sub(r).row(y), 48 * 4);
        got[size_t(k)].push_back(std::get<EncodedImage>(enc->encode(img.view())));
        sent[size_t(k)].push_back(std::move(img));
      }
    });
  }
  for (auto& th : threads) th.join();
  // Order by id (the header's bytes 17..24), as the client would once all arrived.
  struct Item {
    uint64_t id;
    const EncodedImage* e;
    const Image* img;
  };
  std::vector<Item> items;
  for (int k = 0; k < kThreads; ++k)
    for (int j = 0; j < kPerThread; ++j) {
      const EncodedImage& e = got[size_t(k)][size_t(j)];
      std::vector<uint8_t> glz = e.data;
      if (e.codec == ImageCodec::zlib_glz) {
        glz.resize(e.glz_size);
        uLongf size = e.glz_size;
        ASSERT_EQ(uncompress(glz.data(), &size, e.data.data(), uLong(e.data.size())), Z_OK);
      }
      uint64_t id = 0;
      for (int b = 0; b < 8; ++b) id = id << 8 | glz[size_t(21 + b)];
      items.push_back({id, &e, &sent[size_t(k)][size_t(j)]});
    }
  std::sort(items.begin(), items.end(), [](const Item& a, const Item& b) { return a.id < b.id; });
  GlzWindow client;
  for (size_t n = 0; n < items.size(); ++n) {
    ASSERT_EQ(items[n].id, n);
    GlzDecoded dec;
    auto err = items[n].e->codec == ImageCodec::zlib_glz
                   ? client.decode_zlib(items[n].e->data, items[n].e->glz_size, dec)
                   : client.decode(items[n].e->data, dec);
    ASSERT_FALSE(err) << "image " << n << ": " << *err;
    for (int32_t y = 0; y < 48; ++y)
      for (int32_t x = 0; x < 48; ++x)
        ASSERT_EQ(dec.pixels[size_t(y) * 48 + size_t(x)], rgb_of(items[n].img->view(), x, y));
  }
  EXPECT_GT(dict->stats().referencing, 100u);
}

TEST(GlzEncoder, StandaloneFromTheCodecFactory) {
  for (ImageCodec c : {ImageCodec::glz, ImageCodec::zlib_glz}) {
    auto enc = make_image_encoder(c);
    EXPECT_EQ(enc->codec(), c);
    EXPECT_TRUE(needs_dictionary(c));
    EXPECT_TRUE(is_lossless(c));
    GlzWindow client;
    GlzDecoded dec;
    auto res = enc->encode(text(200, 100, 1).view());
    const auto& e = std::get<EncodedImage>(res);
    auto err = e.codec == ImageCodec::zlib_glz ? client.decode_zlib(e.data, e.glz_size, dec)
                                               : client.decode(e.data, dec);
    EXPECT_FALSE(err) << *err;
  }
  EXPECT_EQ(to_string(ImageCodec::glz), "glz");
  EXPECT_EQ(to_string(ImageCodec::zlib_glz), "zlib_glz");
  EXPECT_FALSE(needs_dictionary(ImageCodec::lz));
}

}  // namespace
}  // namespace spiceflow::encode
