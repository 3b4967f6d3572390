// The server's model of a client's pixmap cache: content keys tell equal pictures apart
// from different ones (X bytes and stride padding aside), and the cache replays exactly
// the client's state: a simulated client that applies every CACHE_ME and INVAL_LIST the
// cache asks for must hold what the cache says, within the client's size.
#include <gtest/gtest.h>

#include <map>
#include <random>
#include <set>

#include "spiceflow/encode/pixmap_cache.hpp"
#include "test_images.hpp"

namespace spiceflow::encode {
namespace {

using namespace spiceflow::encode::testing;

TEST(ContentKey, EqualPixelsEqualKeysWhateverTheStrideOrX) {
  const Image a = text(37, 21, 5);
  // The same pixels with a padded stride and different X bytes.
  std::vector<uint8_t> padded(size_t(37 * 4 + 12) * 21, 0xee);
  for (int y = 0; y < 21; ++y) {
    for (int x = 0; x < 37; ++x) {
      const uint32_t v = (a.pixel(x, y) & 0x00ffffffu) | (uint32_t(x * 7 + y) << 24);
      std::memcpy(&padded[size_t(y) * (37 * 4 + 12) + size_t(x) * 4], &v, 4);
    }
  }
  const ImageView pv{padded.data(), 37, 21, 37 * 4 + 12};
  EXPECT_EQ(content_key(a.view()), content_key(pv));
}

TEST(ContentKey, AnyPixelChangeOrSizeChangesTheKey) {
  const Image base = gradient(33, 17);
  const ContentKey k = content_key(base.view());
  std::set<std::pair<uint64_t, uint64_t>> seen{{k.h0, k.h1}};
  for (int y = 0; y < 17; ++y) {
    for (int x = 0; x < 33; ++x) {
      for (uint32_t bit : {1u, 1u << 8, 1u << 23}) {
        Image m = Image::copy_of(base.view(), Rect{0, 0, 33, 17});
        m.row(y)[x] ^= bit;
        const ContentKey mk = content_key(m.view());
        EXPECT_TRUE(seen.insert({mk.h0, mk.h1}).second) << x << "," << y << " bit " << bit;
      }
    }
  }
  // The same bytes seen as another shape.
  const Image flat = solid(4, 4, rgb(1, 2, 3));
  const Image flat2 = solid(2, 8, rgb(1, 2, 3));
  const Image flat3 = solid(16, 1, rgb(1, 2, 3));
  EXPECT_NE(content_key(flat.view()), content_key(flat2.view()));
  EXPECT_NE(content_key(flat.view()), content_key(flat3.view()));
  const Image one = solid(1, 1, rgb(9, 9, 9));
  EXPECT_EQ(content_key(one.view()), content_key(solid(1, 1, rgb(9, 9, 9)).view()));
  EXPECT_NE(content_key(one.view()), content_key(solid(1, 1, rgb(9, 9, 8)).view()));
}

TEST(PixmapCache, HitsMissesAndIds) {
  PixmapCache cache(1000, 500);
  const ContentKey a = content_key(solid(10, 10, rgb(1, 1, 1)).view());
  const ContentKey b = content_key(solid(10, 10, rgb(2, 2, 2)).view());
  EXPECT_FALSE(cache.find(a));
  auto added = cache.add(a, false);
  ASSERT_TRUE(added);
  EXPECT_EQ(added->id, 500u);
  EXPECT_TRUE(added->evicted.empty());
  auto hit = cache.find(a);
  ASSERT_TRUE(hit);
  EXPECT_EQ(hit->id, 500u);
  EXPECT_FALSE(hit->lossy);
  EXPECT_FALSE(cache.find(b));
  EXPECT_EQ(cache.add(b, true)->id, 501u);
  EXPECT_TRUE(cache.find(b)->lossy);
  EXPECT_EQ(cache.used_pixels(), 200);
  EXPECT_EQ(cache.stats().hits, 2u);
  EXPECT_EQ(cache.stats().hit_pixels, 200u);
}

TEST(PixmapCache, ImageLargerThanTheCacheIsNotCached) {
  PixmapCache cache(99, 0);
  EXPECT_FALSE(cache.add(content_key(solid(10, 10, 0).view()), false));
  EXPECT_EQ(cache.stats().too_large, 1u);
  EXPECT_TRUE(cache.add(content_key(solid(9, 11, 0).view()), false));
  PixmapCache none(0, 0);  // a client without a cache
  EXPECT_FALSE(none.add(content_key(solid(1, 1, 0).view()), false));
}

TEST(PixmapCache, ReplacingAnEntryEvictsTheOldId) {
  PixmapCache cache(1000, 7);
  const ContentKey a = content_key(solid(10, 10, rgb(1, 1, 1)).view());
  cache.add(a, true);  // sent lossy
  auto again = cache.add(a, false);  // now lossless: a new id, the old one dropped
  ASSERT_TRUE(again);
  EXPECT_EQ(again->id, 8u);
  EXPECT_EQ(again->evicted, std::vector<uint64_t>{7});
  EXPECT_EQ(cache.size(), 1u);
  EXPECT_EQ(cache.used_pixels(), 100);
}

// A client model applies what the server sends; after every step it must hold exactly
// the cache's entries and never more pixels than its size, and every hit must name an
// id it holds.
TEST(PixmapCache, ClientModelNeverDiverges) {
  constexpr int64_t kCapacity = 64 * 64 * 10;
  PixmapCache cache(kCapacity, 1ull << 40);
  std::map<uint64_t, int64_t> client;  // id -> pixels
  std::mt19937 rng(3);
  std::vector<Image> pictures;
  for (int i = 0; i < 40; ++i) {
    const int w = 1 + int(rng() % 96), h = 1 + int(rng() % 96);
    pictures.push_back(noise(w, h, uint32_t(i)));
  }
  uint64_t hits = 0;
  for (int step = 0; step < 3000; ++step) {
    // Mostly a small working set, sometimes anything: LRU order matters.
    const size_t pick = rng() % 4 ? rng() % 8 : rng() % pictures.size();
    const ContentKey k = content_key(pictures[pick].view());
    if (auto e = cache.find(k)) {
      ASSERT_TRUE(client.count(e->id)) << "FROM_CACHE of an id the client lacks";
      ++hits;
    } else if (auto a = cache.add(k, rng() % 5 == 0)) {
      for (uint64_t id : a->evicted) ASSERT_EQ(client.erase(id), 1u) << "INVAL of unknown id";
      ASSERT_FALSE(client.count(a->id)) << "id reused";
      client[a->id] = int64_t(k.width) * k.height;
    }
    int64_t held = 0;
    for (const auto& [id, px] : client) held += px;
    ASSERT_LE(held, kCapacity);
    ASSERT_EQ(held, cache.used_pixels());
    ASSERT_EQ(client.size(), cache.size());
  }
  EXPECT_GT(hits, 1000u);
  EXPECT_GT(cache.stats().evicted, 50u);
}

TEST(PixmapCache, EntryLimitEvictsToo) {
  PixmapCache cache(1 << 20, 0, 3);
  std::vector<uint64_t> evicted;
  for (uint8_t i = 0; i < 5; ++i) {
    auto a = cache.add(content_key(solid(2, 2, rgb(i, 0, 0)).view()), false);
    ASSERT_TRUE(a);
    evicted.insert(evicted.end(), a->evicted.begin(), a->evicted.end());
  }
  EXPECT_EQ(cache.size(), 3u);
  EXPECT_EQ(evicted, (std::vector<uint64_t>{0, 1}));
}

TEST(PixmapCache, ClearForgetsButIdsGoOn) {
  PixmapCache cache(1000, 0);
  const ContentKey a = content_key(solid(10, 10, rgb(1, 1, 1)).view());
  cache.add(a, false);
  cache.clear();
  EXPECT_FALSE(cache.find(a));
  EXPECT_EQ(cache.used_pixels(), 0);
  EXPECT_EQ(cache.add(a, false)->id, 1u);
}

}  // namespace
}  // namespace spiceflow::encode
