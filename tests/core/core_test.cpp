#include <gtest/gtest.h>

#include <cstdio>
#include <filesystem>

#include "spiceflow/core/bytes.hpp"
#include "spiceflow/core/geometry.hpp"
#include "spiceflow/core/image.hpp"
#include "spiceflow/core/log.hpp"

namespace spiceflow {
namespace {

TEST(Geometry, IntersectAndUnion) {
  const Rect a{0, 0, 10, 10};
  const Rect b{5, 5, 10, 10};
  EXPECT_EQ(intersect(a, b), (Rect{5, 5, 5, 5}));
  EXPECT_TRUE(intersect(a, Rect{10, 0, 5, 5}).empty());
  EXPECT_EQ(bounding_union(a, b), (Rect{0, 0, 15, 15}));
  EXPECT_EQ(bounding_union(Rect{}, b), b);
  EXPECT_TRUE(a.contains(Point{9, 9}));
  EXPECT_FALSE(a.contains(Point{10, 9}));
  EXPECT_TRUE(a.contains(Rect{2, 2, 8, 8}));
  EXPECT_FALSE(a.contains(Rect{2, 2, 9, 8}));
}

TEST(Image, PpmRoundTrip) {
  Image img(7, 3);
  for (int y = 0; y < 3; ++y)
    for (int x = 0; x < 7; ++x) img.row(y)[x] = rgb(uint8_t(x * 30), uint8_t(y * 80), 200);
  const auto path = (std::filesystem::temp_directory_path() / "spiceflow_core_test.ppm").string();
  ASSERT_TRUE(write_ppm(path, img.view()).ok());
  auto back = read_ppm(path);
  ASSERT_TRUE(back.ok()) << back.error().message;
  ASSERT_EQ(back->size(), img.size());
  for (int y = 0; y < 3; ++y)
    for (int x = 0; x < 7; ++x) EXPECT_EQ(back->pixel(x, y), img.pixel(x, y));
  std::remove(path.c_str());
}

TEST(Image, ReadPpmRejectsBadFiles) {
  const auto path = (std::filesystem::temp_directory_path() / "spiceflow_bad.ppm").string();
  {
    FILE* f = std::fopen(path.c_str(), "wb");
    std::fputs("P6\n4 4\n255\nabc", f);  // truncated pixel data
    std::fclose(f);
  }
  EXPECT_FALSE(read_ppm(path).ok());
  {
    FILE* f = std::fopen(path.c_str(), "wb");
    std::fputs("P3\n1 1\n255\n0 0 0\n", f);  // ASCII PPM is not accepted
    std::fclose(f);
  }
  EXPECT_FALSE(read_ppm(path).ok());
  std::remove(path.c_str());
  EXPECT_FALSE(read_ppm("/nonexistent/x.ppm").ok());
}

TEST(Image, CopyOfSubRect) {
  Image img(4, 4);
  for (int y = 0; y < 4; ++y)
    for (int x = 0; x < 4; ++x) img.row(y)[x] = uint32_t(y * 4 + x);
  Image sub = Image::copy_of(img.view(), Rect{1, 2, 2, 2});
  EXPECT_EQ(sub.pixel(0, 0), 9u);
  EXPECT_EQ(sub.pixel(1, 1), 14u);
}

TEST(Bytes, WriterIsLittleEndianAndPatches) {
  std::vector<uint8_t> out;
  ByteWriter w(out);
  w.u8(1);
  w.u16(0x0302);
  w.u32(0x07060504);
  w.u64(0x0f0e0d0c0b0a0908ull);
  w.patch_u32(1, 0xaabbccdd);
  EXPECT_EQ(out, (std::vector<uint8_t>{1, 0xdd, 0xcc, 0xbb, 0xaa, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15}));
}

TEST(Bytes, ReaderFailsOnShortInput) {
  const std::vector<uint8_t> in{1, 2, 3};
  ByteReader r(in);
  EXPECT_EQ(r.u16(), 0x0201);
  EXPECT_TRUE(r.ok());
  EXPECT_EQ(r.u32(), 0u);
  EXPECT_FALSE(r.ok());
  EXPECT_TRUE(r.bytes(1).empty());  // sticky failure
}

TEST(Log, LevelNames) {
  EXPECT_TRUE(log::set_level("warn").ok());
  EXPECT_FALSE(log::set_level("loud").ok());
}

}  // namespace
}  // namespace spiceflow
