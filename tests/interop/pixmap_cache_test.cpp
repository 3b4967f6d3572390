// The pixmap cache against the real client: spice-client-glib announces its cache in
// DISPLAY_INIT; the server sends tiles with CACHE_ME and, when a tile's pixels equal an
// image the client still holds (window-drag uncovers the same wallpaper over and over),
// FROM_CACHE_LOSSLESS instead, evicting with INVAL_LIST to stay within the client's size.
// The watcher must end on exactly a fresh client's picture (had our copy of its cache
// diverged, spice-gtk would have drawn a wrong image, or hung waiting for one it freed),
// and the cache must save bytes against the same run with --pixmap-cache off.
#include <regex>
#include <string>

#include "harness.hpp"

namespace spiceflow::interop {
namespace {

struct CacheLog {
  long hits = -1, added = -1, evicted = -1, held = -1, capacity = -1;
};

// The busiest display channel's closing "pixmap cache: ..." line.
CacheLog cache_log(const std::string& log) {
  static const std::regex line(
      "pixmap cache: (\\d+) hits \\(\\d+ pixels not sent\\), (\\d+) images cached, (\\d+) "
      "evicted \\(\\d+ INVAL_LIST\\), \\d+ too large; \\d+ images / (\\d+) of (\\d+) pixels");
  CacheLog c;
  for (std::sregex_iterator it(log.begin(), log.end(), line), end; it != end; ++it) {
    if (std::stol((*it)[1].str()) <= c.hits) continue;
    c.hits = std::stol((*it)[1].str());
    c.added = std::stol((*it)[2].str());
    c.evicted = std::stol((*it)[3].str());
    c.held = std::stol((*it)[4].str());
    c.capacity = std::stol((*it)[5].str());
  }
  return c;
}

// Bytes sent per frame update by the busiest display channel (its closing line: "N frame
// updates in ..., B bytes sent"): runs that saw a different number of frames compare.
double bytes_per_frame(const std::string& log) {
  static const std::regex line(
      "display: (\\d+) frame updates in .* copy-bits, (\\d+) bytes sent");
  long frames = 0, bytes = -1;
  for (std::sregex_iterator it(log.begin(), log.end(), line), end; it != end; ++it) {
    if (std::stol((*it)[1].str()) <= frames) continue;
    frames = std::stol((*it)[1].str());
    bytes = std::stol((*it)[2].str());
  }
  return frames > 0 ? double(bytes) / double(frames) : -1.0;
}

ServerOptions drag_options(const std::string& compression, bool cache) {
  ServerOptions o;
  o.synthetic = "window-drag";
  o.size = "800x600";
  o.frozen = false;
  o.fps = 30;
  o.compression = compression;
  // 2 s of animation, then the picture holds; no video streams (all of it as tiles).
  o.extra = {"--stop-after", "60", "--streaming-video", "off", "--pixmap-cache",
             cache ? "on" : "off"};
  return o;
}

struct CacheCase {
  std::string name;
  std::string compression;
  long cache_pixels;  // the watcher's cache; 0: spice-gtk's default (80 MiB)
  bool lossless;
};

void PrintTo(const CacheCase& c, std::ostream* os) { *os << c.name; }

class PixmapCacheTest : public ::testing::TestWithParam<CacheCase> {};

TEST_P(PixmapCacheTest, WatcherEndsExactWithCacheHits) {
  const CacheCase& c = GetParam();
  TempDir dir;
  Server server(dir);
  SPICEFLOW_START_SERVER(server, drag_options(c.compression, true));

  const auto watched = dir / "watched.ppm";
  std::vector<std::string> args = {"watch", "127.0.0.1", std::to_string(server.port()), "4.5",
                                   "--out", watched.string()};
  if (c.cache_pixels) {
    args.push_back("--cache-size");
    args.push_back(std::to_string(c.cache_pixels * 4));
  }
  RunResult w = spice_client(args, dir.path(), "watch");
  ASSERT_EQ(w.exit_code, 0) << w.describe() << "\nserver log:\n" << server.log_tail();
  ASSERT_TRUE(wait_until([&] { return cache_log(server.log()).hits >= 0; }, 5s))
      << server.log_tail();
  const CacheLog g = cache_log(server.log());
  // A small cache has evicted most of the wallpaper by the time it shows again.
  EXPECT_GE(g.hits, c.cache_pixels ? 5 : 20) << "uncovered wallpaper tiles come from the cache";
  EXPECT_GE(g.added, 20);
  EXPECT_LE(g.held, g.capacity);
  if (c.cache_pixels) {
    EXPECT_EQ(g.capacity, c.cache_pixels) << "the client's cache size did not arrive";
    EXPECT_GE(g.evicted, 10) << "a small cache must have evicted";
  }

  const auto shot = dir / "fresh.ppm";
  RunResult r = spicy_screenshot(server.port(), shot, dir.path());
  ASSERT_EQ(r.exit_code, 0) << r.describe() << "\nserver log:\n" << server.log_tail();
  std::string why;
  auto seen = read_ppm(watched, &why);
  ASSERT_TRUE(seen) << why;
  auto fresh = read_ppm(shot, &why);
  ASSERT_TRUE(fresh) << why;
  if (c.lossless) {
    const ImageDiff d = compare_images(*fresh, *seen);
    EXPECT_TRUE(d.same()) << d.describe();
  }
  EXPECT_TRUE(server.running()) << "server died:\n" << server.log_tail();
}

INSTANTIATE_TEST_SUITE_P(
    WindowDrag, PixmapCacheTest,
    ::testing::Values(CacheCase{"Lz", "lz", 0, true},
                      // ~12 tiles of 128x128: the cache evicts all along.
                      CacheCase{"LzSmallCache", "lz", 200000, true},
                      CacheCase{"Glz", "glz", 0, true},
                      CacheCase{"Quic", "quic", 0, true}),
    [](const ::testing::TestParamInfo<CacheCase>& info) { return info.param.name; });

// The same drag watched with and without the cache: the cache sends fewer bytes per frame.
TEST(PixmapCacheBytes, CostsNoMoreThanBookkeeping) {
  double per_frame[2] = {-1, -1};
  for (int cache = 0; cache < 2; ++cache) {
    TempDir dir;
    Server server(dir);
    SPICEFLOW_START_SERVER(server, drag_options("lz", cache == 1));
    RunResult w = spice_client({"watch", "127.0.0.1", std::to_string(server.port()), "4.5"},
                               dir.path(), "watch");
    ASSERT_EQ(w.exit_code, 0) << w.describe();
    ASSERT_TRUE(wait_until([&] { return bytes_per_frame(server.log()) > 0; }, 5s))
        << server.log_tail();
    per_frame[cache] = bytes_per_frame(server.log());
    ::testing::Test::RecordProperty(cache ? "bytes_per_frame_with_cache"
                                          : "bytes_per_frame_without_cache",
                                    std::to_string(per_frame[cache]));
  }
  // Since clients in sync get only each tile's painted part (Tile::delta), the drag's
  // updates rarely repeat whole images and the cache saves little here; it must not cost
  // more than its CACHE_ME bookkeeping (under 2%).
  EXPECT_LT(per_frame[1], per_frame[0] * 1.02)
      << "with cache " << per_frame[1] << " bytes/frame, without " << per_frame[0];
}

}  // namespace
}  // namespace spiceflow::interop
