// Video streams against a real client: the "video" synthetic desktop's player window is
// detected as a video region and streamed as MJPEG to a spice-client-glib watcher (which
// decodes it with its built-in decoder and invalidates the stream's rectangle per frame);
// after --stop-after the region goes still, the stream ends and the region's exact pixels
// arrive as lossless tiles, so the watcher's picture equals a fresh client's pixel for
// pixel. With --streaming-video off no stream is created. With --pixel-code (a 640x8 strip
// at (0,0) repainted every frame) no stream takes in the code: it stays lossless beside the
// office's player and the dragged window, and the final picture is exact.
#include <regex>
#include <string>
#include <vector>

#include "harness.hpp"

namespace spiceflow::interop {
namespace {

ServerOptions video_options() {
  ServerOptions o;
  o.synthetic = "video";
  o.size = "1280x720";
  o.frozen = false;
  o.fps = 30;
  return o;
}

TEST(Video, StreamsThenEndsOnTheExactPicture) {
  TempDir dir;
  Server server(dir);
  ServerOptions o = video_options();
  // ~4 s of video, then the picture holds: the region goes still and its stream ends.
  // MJPEG (spice-gtk's built-in decoder); the FFmpeg codecs: video_codecs_test.cpp.
  o.extra = {"--stop-after", "120", "--video-codecs", "spice:mjpeg"};
  SPICEFLOW_START_SERVER(server, o);

  const auto watched = dir / "watched.ppm";
  RunResult w = spice_client({"watch", "127.0.0.1", std::to_string(server.port()), "6.5", "--out",
                              watched.string(), "--top-rects", "5"},
                             dir.path(), "watch");
  ASSERT_EQ(w.exit_code, 0) << w.describe() << "\nserver log:\n" << server.log_tail();

  // The server counted the STREAM_DATA it sent when the watcher left.
  ASSERT_TRUE(wait_until([&] { return number_before(server.log(), " stream frames") >= 0; }, 5s))
      << server.log_tail();
  const long stream_frames = number_before(server.log(), " stream frames");
  EXPECT_GT(stream_frames, 45) << "expected ~3 s of 30 fps stream frames:\n" << server.log_tail();
  EXPECT_NE(server.log().find("video region 1 ended"), std::string::npos) << server.log_tail();

  // The client showed them: among its most frequent invalidates is the stream's large
  // rectangle (tiles are 128x128; the overlay's tile is repainted every frame too).
  long top[5] = {};
  ASSERT_TRUE(largest_top_rect(last_line(w.out), top)) << w.out;
  EXPECT_GE(top[2] * top[3], 640L * 360L) << w.out;
  EXPECT_GT(top[4], 45) << w.out;

  // After the stream ended the picture is exact again.
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

TEST(Video, StreamingOffCreatesNoStream) {
  TempDir dir;
  Server server(dir);
  ServerOptions o = video_options();
  o.extra = {"--streaming-video", "off"};
  SPICEFLOW_START_SERVER(server, o);
  RunResult w = spice_client({"watch", "127.0.0.1", std::to_string(server.port()), "2.5"},
                             dir.path(), "watch");
  ASSERT_EQ(w.exit_code, 0) << w.describe();
  const auto frames = json_number(last_line(w.out), "frames");
  ASSERT_TRUE(frames);
  EXPECT_GE(*frames, 20) << "the video did not play as tiles: " << w.out;
  ASSERT_TRUE(wait_until([&] { return number_before(server.log(), " stream frames") >= 0; }, 5s))
      << server.log_tail();
  EXPECT_EQ(number_before(server.log(), " stream frames"), 0) << server.log_tail();
  EXPECT_EQ(server.log().find("video region"), std::string::npos) << server.log_tail();
}

TEST(Video, FrozenDesktopNeverStreams) {
  TempDir dir;
  Server server(dir);
  ServerOptions o = video_options();
  o.frozen = true;
  SPICEFLOW_START_SERVER(server, o);
  RunResult w = spice_client({"watch", "127.0.0.1", std::to_string(server.port()), "1.5"},
                             dir.path(), "watch");
  ASSERT_EQ(w.exit_code, 0) << w.describe();
  ASSERT_TRUE(wait_until([&] { return number_before(server.log(), " stream frames") >= 0; }, 5s))
      << server.log_tail();
  EXPECT_EQ(number_before(server.log(), " stream frames"), 0) << server.log_tail();
  EXPECT_EQ(server.log().find("video region"), std::string::npos) << server.log_tail();
}

struct Box {
  long x, y, w, h;
  bool meets(const Box& o) const {
    return x < o.x + o.w && o.x < x + w && y < o.y + o.h && o.y < y + h;
  }
};

// Every "stream N for region R (WxH at X,Y)" the server logged.
std::vector<Box> logged_streams(const std::string& log) {
  static const std::regex re(R"(stream \d+ for region \d+ \((\d+)x(\d+) at (\d+),(\d+)\))");
  std::vector<Box> out;
  for (std::sregex_iterator it(log.begin(), log.end(), re), end; it != end; ++it) {
    out.push_back(Box{std::stol((*it)[3].str()), std::stol((*it)[4].str()),
                      std::stol((*it)[1].str()), std::stol((*it)[2].str())});
  }
  return out;
}

// `synthetic` at 800x600 with --pixel-code: ~4 s of animation, then the picture holds.
void pixel_code_stays_out_of_streams(const std::string& synthetic) {
  TempDir dir;
  Server server(dir);
  ServerOptions o;
  o.synthetic = synthetic;
  o.size = "800x600";
  o.frozen = false;
  o.fps = 30;
  o.extra = {"--pixel-code", "--stop-after", "120", "--video-codecs", "spice:mjpeg"};
  SPICEFLOW_START_SERVER(server, o);

  const auto watched = dir / "watched.ppm";
  RunResult w = spice_client({"watch", "127.0.0.1", std::to_string(server.port()), "6.5", "--out",
                              watched.string()},
                             dir.path(), "watch");
  ASSERT_EQ(w.exit_code, 0) << w.describe() << "\nserver log:\n" << server.log_tail();
  ASSERT_TRUE(wait_until([&] { return number_before(server.log(), " stream frames") >= 0; }, 5s))
      << server.log_tail();

  // The pixel code's rectangle (core/include/spiceflow/core/pixel_code.hpp).
  const Box code{0, 0, 640, 8};
  const auto streams = logged_streams(server.log());
  EXPECT_FALSE(streams.empty()) << "no stream: the test shows nothing\n" << server.log_tail();
  for (const Box& s : streams) {
    EXPECT_FALSE(s.meets(code))
        << "stream " << s.w << "x" << s.h << " at " << s.x << "," << s.y
        << " takes in the pixel code\n" << server.log_tail();
  }

  // After the desktop stopped, the streams ended and the picture is exact.
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

TEST(Video, PixelCodeStaysOutOfOfficeStreams) { pixel_code_stays_out_of_streams("office"); }

TEST(Video, PixelCodeStaysOutOfWindowDragStreams) {
  pixel_code_stays_out_of_streams("window-drag");
}

}  // namespace
}  // namespace spiceflow::interop
