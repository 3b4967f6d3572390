// GLZ against the real client: spice-gtk decodes our GLZ_RGB (and ZLIB_GLZ_RGB) images,
// whose copies reach into earlier images of its session-wide GLZ window. The first picture
// must equal the server's own rendering pixel for pixel; a client that watches an animated
// desktop through a small window (hundreds of images, most copying from earlier ones, the
// window sliding all along) must end on exactly what a fresh client sees. Had the server's
// dictionary and the client's window diverged, the client would have decoded garbage or
// waited forever for an image it freed.
#include <algorithm>
#include <regex>
#include <string>
#include <thread>

#include "harness.hpp"

namespace spiceflow::interop {
namespace {

// The display channel's closing GLZ line: "glz: N images in the dictionary (R copy from
// earlier images, P pixels so), E evicted, window ...; Z sent as zlib_glz, L as lz".
struct GlzLog {
  long images = -1, referencing = -1, evicted = -1, zlib = -1, as_lz = -1;
  long window = -1;  // "window of W pixels" from the set-up line
};

GlzLog glz_log(const std::string& log) {
  static const std::regex line(
      "glz: (\\d+) images in the dictionary \\((\\d+) copy from earlier images, \\d+ pixels "
      "so\\), (\\d+) evicted, .*; (\\d+) sent as zlib_glz, (\\d+) as lz");
  static const std::regex setup("GLZ dictionary \\d+: window of (\\d+) pixels");
  GlzLog g;
  // The busiest client's line (a test's fresh screenshot client closes later).
  for (std::sregex_iterator it(log.begin(), log.end(), line), end; it != end; ++it) {
    if (std::stol((*it)[1].str()) <= g.images) continue;
    g.images = std::stol((*it)[1].str());
    g.referencing = std::stol((*it)[2].str());
    g.evicted = std::stol((*it)[3].str());
    g.zlib = std::stol((*it)[4].str());
    g.as_lz = std::stol((*it)[5].str());
  }
  std::smatch m;
  if (std::regex_search(log, m, setup)) g.window = std::stol(m[1].str());
  return g;
}

struct FrozenCase {
  std::string name;
  std::string compression;
  std::string synthetic;
  std::string size;
  std::vector<std::string> extra;
};

void PrintTo(const FrozenCase& c, std::ostream* os) { *os << c.name; }

class GlzFrozenTest : public ::testing::TestWithParam<FrozenCase> {};

// spicy-screenshot's first picture (one GLZ image of the whole screen) equals --dump-frame.
TEST_P(GlzFrozenTest, ClientMatchesServerRendering) {
  const FrozenCase& c = GetParam();
  TempDir dir;
  Server server(dir);
  ServerOptions o;
  o.synthetic = c.synthetic;
  o.size = c.size;
  o.compression = c.compression;
  o.dump_frame = true;
  o.extra = c.extra;
  SPICEFLOW_START_SERVER(server, o);

  const auto shot = dir / "shot.ppm";
  RunResult r = spicy_screenshot(server.port(), shot, dir.path());
  ASSERT_EQ(r.exit_code, 0) << r.describe() << "\nserver log:\n" << server.log_tail();
  std::string why;
  auto img = read_ppm(shot, &why);
  ASSERT_TRUE(img) << why;
  const ImageDiff d = compare_images(server.dump(), *img);
  EXPECT_TRUE(d.same()) << d.describe();
  const std::string used = "draws (glz, 0 sent raw instead)";
  EXPECT_TRUE(wait_until([&] { return server.log().find(used) != std::string::npos; }, 5s))
      << "no \"" << used << "\" in the log:\n"
      << server.log_tail();
  const GlzLog g = glz_log(server.log());
  EXPECT_GE(g.images, 1) << server.log_tail();
  EXPECT_EQ(g.as_lz, 0) << "the picture fits spice-gtk's default window";
  if (std::find(c.extra.begin(), c.extra.end(), "always") != c.extra.end()) {
    EXPECT_GE(g.zlib, 1) << "ZLIB_GLZ never paid off:\n" << server.log_tail();
  } else {
    EXPECT_EQ(g.zlib, 0) << "auto is never on a LAN (loopback) link";
  }
  EXPECT_TRUE(server.running()) << "server died:\n" << server.log_tail();
}

INSTANTIATE_TEST_SUITE_P(
    Frozen, GlzFrozenTest,
    ::testing::Values(FrozenCase{"Office", "glz", "office", "800x600", {}},
                      FrozenCase{"AutoGlz", "auto_glz", "window-drag", "800x600", {}},
                      FrozenCase{"GameOddSize", "glz", "game", "641x479", {}},
                      FrozenCase{"VideoOddSize", "glz", "video", "333x257", {}},
                      // Rows past 4096 pixels: in-image copies need the long offset forms.
                      FrozenCase{"Wide", "glz", "office", "4100x300", {}},
                      FrozenCase{"Small", "glz", "office", "65x67", {}},
                      FrozenCase{"ZlibAlways", "glz", "office", "800x600",
                                 {"--zlib-glz-wan-compression", "always"}},
                      FrozenCase{"ZlibAuto", "glz", "office", "800x600",
                                 {"--zlib-glz-wan-compression", "auto"}}),
    [](const ::testing::TestParamInfo<FrozenCase>& info) { return info.param.name; });

struct AnimationCase {
  std::string name;
  std::string synthetic;
  long window_pixels;  // the watcher's GLZ window
  std::vector<std::string> extra;
  bool first_as_lz;  // the 800x600 picture does not fit the window
};

void PrintTo(const AnimationCase& c, std::ostream* os) { *os << c.name; }

class GlzAnimationTest : public ::testing::TestWithParam<AnimationCase> {};

// A watcher with a small window follows 2 s of animation: many GLZ tiles copying from
// earlier images, the window sliding past hundreds of them. Its final picture must equal
// a fresh client's.
TEST_P(GlzAnimationTest, WatcherThroughASmallWindowEndsExact) {
  const AnimationCase& c = GetParam();
  TempDir dir;
  Server server(dir);
  ServerOptions o;
  o.synthetic = c.synthetic;
  o.size = "800x600";
  o.frozen = false;
  o.fps = 30;
  o.compression = "glz";
  // 2 s of animation, then the picture holds; no video streams (all of it as GLZ tiles).
  o.extra = {"--stop-after", "60", "--streaming-video", "off"};
  o.extra.insert(o.extra.end(), c.extra.begin(), c.extra.end());
  SPICEFLOW_START_SERVER(server, o);

  const auto watched = dir / "watched.ppm";
  RunResult w = spice_client({"watch", "127.0.0.1", std::to_string(server.port()), "4.5", "--out",
                              watched.string(), "--glz-window",
                              std::to_string(c.window_pixels * 4)},
                             dir.path(), "watch");
  ASSERT_EQ(w.exit_code, 0) << w.describe() << "\nserver log:\n" << server.log_tail();
  const auto frames = json_number(last_line(w.out), "frames");
  ASSERT_TRUE(frames);
  EXPECT_GE(*frames, 10) << "the watcher saw no animation: " << w.out;

  // The watcher's GLZ line is logged when its display channel closes.
  ASSERT_TRUE(wait_until([&] { return glz_log(server.log()).images > 0; }, 5s))
      << server.log_tail();
  const GlzLog g = glz_log(server.log());
  EXPECT_EQ(g.window, c.window_pixels) << "the client's window size did not arrive";
  EXPECT_GE(g.images, 100) << server.log_tail();
  EXPECT_GE(g.referencing, 20) << "few images copied from earlier ones";
  EXPECT_GE(g.evicted, 20) << "the window never slid";
  EXPECT_EQ(g.as_lz, c.first_as_lz ? 1 : 0);
  EXPECT_NE(server.log().find("draws (glz, 0 sent raw instead)"), std::string::npos)
      << server.log_tail();

  const auto shot = dir / "fresh.ppm";
  RunResult r = spicy_screenshot(server.port(), shot, dir.path());
  ASSERT_EQ(r.exit_code, 0) << r.describe() << "\nserver log:\n" << server.log_tail();
  std::string why;
  auto seen = read_ppm(watched, &why);
  ASSERT_TRUE(seen) << why;
  auto fresh = read_ppm(shot, &why);
  ASSERT_TRUE(fresh) << why;
  const ImageDiff d = compare_images(*fresh, *seen);
  EXPECT_TRUE(d.same()) << d.describe();
  EXPECT_TRUE(server.running()) << "server died:\n" << server.log_tail();
}

INSTANTIATE_TEST_SUITE_P(
    Synthetic, GlzAnimationTest,
    ::testing::Values(
        // The first picture (480000 pixels) fits; ~8 tiles later it leaves the window.
        AnimationCase{"ScrollText", "scroll-text", 600000, {}, false},
        AnimationCase{"WindowDrag", "window-drag", 600000, {}, false},
        AnimationCase{"Office", "office", 600000, {}, false},
        AnimationCase{"GameZlib", "game", 600000, {"--zlib-glz-wan-compression", "always"},
                      false},
        // Smaller than the picture: the first one goes as LZ, the tiles as GLZ.
        AnimationCase{"WindowDragTinyWindow", "window-drag", 100000, {}, true}),
    [](const auto& info) { return info.param.name; });

// DISPLAY_PREFERRED_COMPRESSION GLZ (5) and AUTO_GLZ (2) from a client of an lz4 server:
// the client's display channel switches to GLZ (its window from DISPLAY_INIT).
TEST(GlzPreference, ClientAsksForGlz) {
  TempDir dir;
  Server server(dir);
  ServerOptions o;
  o.synthetic = "scroll-text";
  o.size = "320x240";
  o.frozen = false;
  o.compression = "lz4";
  o.extra = {"--streaming-video", "off"};
  SPICEFLOW_START_SERVER(server, o);
  for (const std::string pref : {"5", "2"}) {
    RunResult w = spice_client({"watch", "127.0.0.1", std::to_string(server.port()), "1.5",
                                "--preferred-compression", pref},
                               dir.path(), "watch-" + pref);
    ASSERT_EQ(w.exit_code, 0) << w.describe();
  }
  auto count = [](const std::string& log, const std::string& what) {
    size_t n = 0;
    for (size_t at = log.find(what); at != std::string::npos; at = log.find(what, at + 1)) ++n;
    return n;
  };
  ASSERT_TRUE(wait_until(
      [&] { return count(server.log(), "draws (glz, 0 sent raw instead)") == 2; }, 5s))
      << server.log_tail();
  EXPECT_EQ(count(server.log(), "GLZ dictionary 1: window of"), 2u) << server.log_tail();
  EXPECT_GE(glz_log(server.log()).images, 10) << server.log_tail();
  EXPECT_TRUE(server.running()) << server.log_tail();
}

TEST(GlzCli, BadZlibValueIsAUsageError) {
  TempDir dir;
  RunResult r = run_with_timeout({server_bin(), "serve", "--port", std::to_string(free_port()),
                                  "--image-compression", "glz", "--zlib-glz-wan-compression",
                                  "sometimes"},
                                 10s, dir.path(), "bad-zlib");
  EXPECT_EQ(r.exit_code, 2) << r.describe();
}

}  // namespace
}  // namespace spiceflow::interop
