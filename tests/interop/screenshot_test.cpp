// spicy-screenshot (spice-gtk) against a frozen desktop: the client's rendering of the
// first draw must equal the server's own rendering (--dump-frame) pixel for pixel, for
// each image compression, with and without a password, on several synthetic desktops.
#include <string>
#include <vector>

#include "harness.hpp"

namespace spiceflow::interop {
namespace {

struct ShotCase {
  std::string name;
  std::string synthetic;
  std::string size;
  std::string compression;
  std::string password;
};

void PrintTo(const ShotCase& c, std::ostream* os) { *os << c.name; }

class ScreenshotTest : public ::testing::TestWithParam<ShotCase> {};

TEST_P(ScreenshotTest, MatchesServerRendering) {
  const ShotCase& c = GetParam();
  TempDir dir;
  Server server(dir);
  ServerOptions o;
  o.synthetic = c.synthetic;
  o.size = c.size;
  o.compression = c.compression;
  o.password = c.password;
  o.dump_frame = true;
  SPICEFLOW_START_SERVER(server, o);

  const std::string want_size = c.size.empty() ? "1920x1080" : c.size;
  EXPECT_EQ(std::to_string(server.dump().width) + "x" + std::to_string(server.dump().height),
            want_size)
      << "--dump-frame size";

  const auto shot = dir / "shot.ppm";
  RunResult r = spicy_screenshot(server.port(), shot, dir.path(), c.password);
  ASSERT_EQ(r.exit_code, 0) << "spicy-screenshot: " << r.describe() << "\nserver log:\n"
                            << server.log_tail();
  std::string why;
  auto img = read_ppm(shot, &why);
  ASSERT_TRUE(img) << why;
  ImageDiff d = compare_images(server.dump(), *img);
  EXPECT_TRUE(d.same()) << "client screenshot vs --dump-frame: " << d.describe()
                        << "\n(kept in " << dir.path() << ")";
  EXPECT_TRUE(server.running()) << "server died:\n" << server.log_tail();
}

INSTANTIATE_TEST_SUITE_P(
    Frozen, ScreenshotTest,
    ::testing::Values(
        ShotCase{"OfficeDefault", "", "800x600", "", ""},
        ShotCase{"OfficePassword", "office", "800x600", "", "s3cret-pass"},
        ShotCase{"OfficeLz4", "office", "800x600", "lz4", ""},
        ShotCase{"OfficeRaw", "office", "800x600", "off", ""},
        ShotCase{"OfficeLz4Password", "office", "800x600", "lz4", "another-pass"},
        ShotCase{"ScrollTextAuto", "scroll-text", "800x600", "auto", ""},
        ShotCase{"WindowDragRaw", "window-drag", "800x600", "off", ""},
        ShotCase{"VideoLz4", "video", "800x600", "lz4", ""},
        ShotCase{"GameRawPassword", "game", "800x600", "off", "pw"},
        ShotCase{"OddSizeLz4", "office", "641x479", "lz4", ""},
        ShotCase{"OfficeFullHd", "office", "", "auto", ""}),
    [](const ::testing::TestParamInfo<ShotCase>& info) { return info.param.name; });

// A wrong password gets no picture: spicy-screenshot fails and writes nothing.
TEST(Screenshot, WrongPasswordGetsNoImage) {
  TempDir dir;
  Server server(dir);
  ServerOptions o;
  o.password = "right";
  SPICEFLOW_START_SERVER(server, o);
  const auto shot = dir / "shot.ppm";
  RunResult r = spicy_screenshot(server.port(), shot, dir.path(), "wrong");
  EXPECT_FALSE(r.timed_out) << r.describe();
  EXPECT_NE(r.exit_code, 0) << r.describe();
  EXPECT_FALSE(read_ppm(shot)) << "an image was written despite the wrong password";
  // And the right one still works on the same server.
  RunResult ok = spicy_screenshot(server.port(), dir / "ok.ppm", dir.path(), "right");
  EXPECT_EQ(ok.exit_code, 0) << ok.describe() << "\nserver log:\n" << server.log_tail();
}

// Two screenshots of a frozen desktop are identical (the frame is deterministic), also
// across server restarts.
TEST(Screenshot, FrozenFrameIsDeterministic) {
  TempDir dir;
  std::vector<Image> shots;
  for (int run = 0; run < 2; ++run) {
    Server server(dir);
    ServerOptions o;
    o.synthetic = "window-drag";
    SPICEFLOW_START_SERVER(server, o);
    for (int i = 0; i < 2; ++i) {
      const auto shot = dir / ("shot" + std::to_string(run) + std::to_string(i) + ".ppm");
      RunResult r = spicy_screenshot(server.port(), shot, dir.path());
      ASSERT_EQ(r.exit_code, 0) << r.describe() << "\nserver log:\n" << server.log_tail();
      auto img = read_ppm(shot);
      ASSERT_TRUE(img);
      shots.push_back(std::move(*img));
    }
  }
  for (size_t i = 1; i < shots.size(); ++i) {
    ImageDiff d = compare_images(shots[0], shots[i]);
    EXPECT_TRUE(d.same()) << "shot " << i << " vs shot 0: " << d.describe();
  }
}

// The synthetic desktops are really different pictures (else the cases above would not
// test much).
TEST(Screenshot, SyntheticDesktopsDiffer) {
  TempDir dir;
  std::vector<std::pair<std::string, Image>> shots;
  for (const std::string name : {"office", "scroll-text", "window-drag", "video", "game"}) {
    Server server(dir);
    ServerOptions o;
    o.synthetic = name;
    o.size = "320x240";
    SPICEFLOW_START_SERVER(server, o);
    const auto shot = dir / (name + ".ppm");
    RunResult r = spicy_screenshot(server.port(), shot, dir.path());
    ASSERT_EQ(r.exit_code, 0) << name << ": " << r.describe();
    auto img = read_ppm(shot);
    ASSERT_TRUE(img) << name;
    shots.emplace_back(name, std::move(*img));
  }
  for (size_t i = 0; i < shots.size(); ++i) {
    for (size_t j = i + 1; j < shots.size(); ++j) {
      EXPECT_FALSE(compare_images(shots[i].second, shots[j].second).same())
          << shots[i].first << " and " << shots[j].first << " look the same";
    }
  }
}

TEST(Cli, ListSynthetic) {
  TempDir dir;
  RunResult r = run_with_timeout({server_bin(), "--list-synthetic"}, 10s, dir.path(), "list");
  if (r.exit_code != 0) {  // the flag may belong to the serve subcommand
    r = run_with_timeout({server_bin(), "serve", "--list-synthetic"}, 10s, dir.path(), "list2");
  }
  ASSERT_EQ(r.exit_code, 0) << r.describe();
  for (const char* name : {"office", "scroll-text", "window-drag", "video", "game"}) {
    EXPECT_NE(r.out.find(name), std::string::npos) << name << " not listed:\n" << r.out;
  }
}

TEST(Cli, BadUsageExitsWith2) {
  TempDir dir;
  const std::string port = std::to_string(free_port());
  const std::vector<std::vector<std::string>> bad = {
      {server_bin(), "serve", "--no-such-flag"},
      {server_bin(), "serve", "--port", "70000"},
      {server_bin(), "serve", "--port", port, "--size", "banana"},
      {server_bin(), "serve", "--port", port, "--synthetic", "no-such-desktop"},
      {server_bin(), "serve", "--port", port, "--io", "carrier-pigeon"},
      {server_bin(), "serve", "--port", port, "--image-compression", "jpeg2000"},
  };
  int i = 0;
  for (const auto& argv : bad) {
    RunResult r = run_with_timeout(argv, 10s, dir.path(), "bad" + std::to_string(i++));
    std::string cmd;
    for (const auto& a : argv) cmd += a + " ";
    EXPECT_FALSE(r.timed_out) << cmd << "kept running";
    EXPECT_EQ(r.exit_code, 2) << cmd << "\n" << r.describe();
    EXPECT_FALSE(r.err.empty()) << cmd << "says nothing on stderr";
  }
}

}  // namespace
}  // namespace spiceflow::interop
