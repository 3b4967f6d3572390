// Animated desktops against a real client: a spice-client-glib watcher follows the
// animation (tile updates, COPY_BITS replays of scrolls and drags, skipped frames when it
// lags), the desktop then stops (--stop-after), and the watcher's surface must equal a
// fresh client's first picture of the final state, pixel for pixel.
#include <regex>
#include <string>
#include <thread>

#include "harness.hpp"

namespace spiceflow::interop {
namespace {

struct AnimationCase {
  std::string name;
  std::string synthetic;
  std::string compression;
  bool expect_copy_bits;
};

void PrintTo(const AnimationCase& c, std::ostream* os) { *os << c.name; }

class AnimationTest : public ::testing::TestWithParam<AnimationCase> {};

// The number before " copy-bits" in the display channel's closing log line.
long copy_bits_in_log(const std::string& log) {
  static const std::regex re("(\\d+) copy-bits");
  long best = -1;
  for (std::sregex_iterator it(log.begin(), log.end(), re), end; it != end; ++it) {
    best = std::max(best, std::stol((*it)[1].str()));
  }
  return best;
}

TEST_P(AnimationTest, WatcherEndsOnTheFinalPicture) {
  const AnimationCase& c = GetParam();
  TempDir dir;
  Server server(dir);
  ServerOptions o;
  o.synthetic = c.synthetic;
  o.size = "800x600";
  o.frozen = false;
  o.fps = 30;
  o.compression = c.compression;
  o.extra = {"--stop-after", "60"};  // 2 s of animation, then the picture holds
  SPICEFLOW_START_SERVER(server, o);

  const auto watched = dir / "watched.ppm";
  RunResult w = spice_client({"watch", "127.0.0.1", std::to_string(server.port()), "4.5", "--out",
                              watched.string()},
                             dir.path(), "watch");
  ASSERT_EQ(w.exit_code, 0) << w.describe();
  const auto frames = json_number(last_line(w.out), "frames");
  ASSERT_TRUE(frames);
  EXPECT_GE(*frames, 10) << "the watcher saw no animation: " << w.out;

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

  if (c.expect_copy_bits) {
    EXPECT_TRUE(wait_until([&] { return copy_bits_in_log(server.log()) > 0; }, 5s))
        << "no COPY_BITS sent for a scrolling desktop:\n"
        << server.log_tail();
  }
  EXPECT_TRUE(server.running()) << "server died:\n" << server.log_tail();
}

INSTANTIATE_TEST_SUITE_P(
    Synthetic, AnimationTest,
    ::testing::Values(AnimationCase{"ScrollTextLz4", "scroll-text", "lz4", true},
                      AnimationCase{"ScrollTextRaw", "scroll-text", "off", true},
                      AnimationCase{"Office", "office", "auto", false},
                      AnimationCase{"WindowDrag", "window-drag", "lz4", false},
                      AnimationCase{"Game", "game", "quic", false},
                      AnimationCase{"Video", "video", "lz", false}),
    [](const auto& info) { return info.param.name; });

}  // namespace
}  // namespace spiceflow::interop
