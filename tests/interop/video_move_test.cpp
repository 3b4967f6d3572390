// A video window that moves, under text that covers part of it, against a real client: the
// "video-move" synthetic desktop drags its player right after 2 s (a window manager's copy
// plus the uncovered wallpaper) while a sticky note of text sits on top of the picture. The
// server keeps one region and one stream for it: the stream follows the window (its frames
// go to the new place, no new stream, no fall back to lossless tiles), and once the note
// has held still it is clipped out of the stream (STREAM_CLIP) and sent exact. A
// spice-client-glib watcher decodes the MJPEG stream; its last stream frame is close to
// the exact picture inside the region, pixel-exact on the note and outside the region, and
// after the stream ends its picture equals a fresh client's.
#include <algorithm>
#include <cstdio>
#include <cstring>
#include <regex>
#include <string>

#include "harness.hpp"

namespace spiceflow::interop {
namespace {

// The MJPEG picture (quality 70) measured 30-33 dB against the exact still picture; a
// misplaced stream (frames at the old place) or a broken decode gives < 15 dB.
constexpr double kMinStreamPsnr = 27.0;

// The note's paper (qxl/src/video.cpp kNotePaper): the note is the bounding box of it.
PixelBox find_note(const Image& img) {
  long x0 = img.width, y0 = img.height, x1 = -1, y1 = -1;
  for (int y = 0; y < img.height; ++y) {
    for (int x = 0; x < img.width; ++x) {
      const uint8_t* p = img.at(x, y);
      if (p[0] == 250 && p[1] == 236 && p[2] == 140) {
        x0 = std::min<long>(x0, x);
        y0 = std::min<long>(y0, y);
        x1 = std::max<long>(x1, x);
        y1 = std::max<long>(y1, y);
      }
    }
  }
  if (x1 < 0) return {};
  return PixelBox{x0, y0, x1 - x0 + 1, y1 - y0 + 1};
}

// The last "video region 1 <what>: WxH at X,Y" the server logged.
bool logged_region(const std::string& log, PixelBox* out) {
  static const std::regex re(R"(video region 1 (started|moved): (\d+)x(\d+) at (\d+),(\d+))");
  bool found = false;
  for (std::sregex_iterator it(log.begin(), log.end(), re), end; it != end; ++it) {
    *out = PixelBox{std::stol((*it)[4].str()), std::stol((*it)[5].str()),
                    std::stol((*it)[2].str()), std::stol((*it)[3].str())};
    found = true;
  }
  return found;
}

size_t count(const std::string& text, const std::string& what) {
  size_t n = 0;
  for (size_t at = text.find(what); at != std::string::npos; at = text.find(what, at + 1)) ++n;
  return n;
}

TEST(VideoMove, StreamFollowsTheWindowAndIsClippedAroundTheNote) {
  TempDir dir;
  Server server(dir);
  ServerOptions o;
  o.synthetic = "video-move";
  o.size = "1280x720";
  o.frozen = false;
  o.fps = 30;
  // Rest 2 s, drag right for 0.4 s, rest; the picture holds from frame 120 (at rest after
  // the drag), then the region goes still and its stream ends.
  o.extra = {"--stop-after", "120", "--video-codecs", "spice:mjpeg"};
  SPICEFLOW_START_SERVER(server, o);

  const auto watched = dir / "watched.ppm";
  const auto streamed = dir / "stream.ppm";
  RunResult w = spice_client({"watch", "127.0.0.1", std::to_string(server.port()), "8", "--out",
                              watched.string(), "--stream-out", streamed.string()},
                             dir.path(), "watch");
  ASSERT_EQ(w.exit_code, 0) << w.describe() << "\nserver log:\n" << server.log_tail();
  ASSERT_TRUE(wait_until([&] { return number_before(server.log(), " stream frames") >= 0; }, 5s))
      << server.log_tail();
  const std::string log = server.log();

  // One region, moved with the window; one stream, moved with it.
  EXPECT_NE(log.find("video region 1 moved"), std::string::npos) << log;
  EXPECT_EQ(log.find("video region 2 started"), std::string::npos) << log;
  EXPECT_EQ(count(log, " for region "), 1u) << "the stream was re-created:\n" << log;
  EXPECT_NE(log.find("(region 1) moved to"), std::string::npos) << log;
  EXPECT_NE(log.find("video region 1 ended"), std::string::npos) << log;
  // Clipped around the note (before and after the drag).
  EXPECT_GE(count(log, " covered rects sent exact"), 2u) << log;
  EXPECT_GT(number_before(log, " stream frames"), 45) << server.log_tail();

  const auto fresh_path = dir / "fresh.ppm";
  RunResult r = spicy_screenshot(server.port(), fresh_path, dir.path());
  ASSERT_EQ(r.exit_code, 0) << r.describe() << "\nserver log:\n" << server.log_tail();
  std::string why;
  auto fresh = read_ppm(fresh_path, &why);
  ASSERT_TRUE(fresh) << why;
  auto shot = read_ppm(streamed, &why);
  ASSERT_TRUE(shot) << why << "\n" << w.out;
  ASSERT_EQ(shot->width, fresh->width);
  ASSERT_EQ(shot->height, fresh->height);

  PixelBox region;
  ASSERT_TRUE(logged_region(log, &region)) << log;
  const PixelBox note = find_note(*fresh);
  ASSERT_GT(note.w * note.h, 64L * 48L) << "no sticky note in the picture";

  // The last stream frame: the picture through MJPEG at the window's new place...
  const double p = psnr_in(*fresh, *shot, region.x, region.y, region.w, region.h, note);
  EXPECT_GE(p, kMinStreamPsnr) << "stream frame vs the exact picture in the moved region";
  EXPECT_LT(p, 99.0) << "the region is exact: was it streamed at all?";
  // ...the note over it exact (clipped out of the stream), and everything outside the
  // region exact.
  size_t note_differs = 0, outside_differs = 0;
  for (int y = 0; y < fresh->height; ++y) {
    for (int x = 0; x < fresh->width; ++x) {
      if (std::memcmp(fresh->at(x, y), shot->at(x, y), 3) == 0) continue;
      if (note.has(x, y)) ++note_differs;
      if (!region.has(x, y)) ++outside_differs;
    }
  }
  EXPECT_EQ(note_differs, 0u) << "note " << note.w << "x" << note.h << " at " << note.x << ","
                              << note.y;
  EXPECT_EQ(outside_differs, 0u) << "region " << region.w << "x" << region.h << " at "
                                 << region.x << "," << region.y;
  std::printf("video-move: last stream frame %.1f dB over the region %ldx%ld at %ld,%ld\n", p,
              region.w, region.h, region.x, region.y);
  ::testing::Test::RecordProperty("stream_psnr_db", std::to_string(p));

  // After the stream ended the picture is exact again.
  auto seen = read_ppm(watched, &why);
  ASSERT_TRUE(seen) << why;
  const ImageDiff d = compare_images(*fresh, *seen);
  EXPECT_TRUE(d.same()) << d.describe();
  EXPECT_TRUE(server.running()) << "server died:\n" << server.log_tail();
}

}  // namespace
}  // namespace spiceflow::interop
