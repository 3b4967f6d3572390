// Per-tile codec choice against the real client, on the animated `mixed` scene (its photo
// changes every second, a status line counts the seconds; text, gradients and palette
// swatches stay): under `auto` the photo's tiles go as QUIC and the text's in the client's
// dictionary codec (LZ4); under `lz` spice-gtk gets the few-colour tiles as LZ_PLT; with
// --jpeg-wan-compression always the photo goes as JPEG. The watching spice-client-glib
// must end on a fresh client's picture: exactly for the lossless cases, within a PSNR
// bound for JPEG.
#include <cmath>
#include <regex>
#include <string>

#include "harness.hpp"

namespace spiceflow::interop {
namespace {

// JPEG q85 on the photo tiles only: well above the whole-frame bound of codec_test.
constexpr double kJpegTilesMinPsnr = 30.0;

double psnr(const Image& a, const Image& b) {
  double se = 0;
  for (size_t i = 0; i < a.rgb.size(); ++i) {
    const double d = double(a.rgb[i]) - double(b.rgb[i]);
    se += d * d;
  }
  const double mse = se / double(a.rgb.size());
  return mse == 0 ? 99.0 : 10.0 * std::log10(255.0 * 255.0 / mse);
}

// The largest value of the first group of `re` in the log (the watcher's closing line).
long most(const std::string& log, const std::regex& re, int group = 1) {
  long m = -1;
  for (std::sregex_iterator it(log.begin(), log.end(), re), end; it != end; ++it) {
    m = std::max(m, std::stol((*it)[group].str()));
  }
  return m;
}

struct Watched {
  std::optional<Image> seen, fresh;
  std::string log;
};

// `mixed` animated for 2.5 s, watched for 4 s, then a fresh screenshot.
Watched watch_mixed(const std::string& compression, std::vector<std::string> extra) {
  Watched out;
  TempDir dir;
  Server server(dir);
  ServerOptions o;
  o.synthetic = "mixed";
  o.size = "1024x768";
  o.frozen = false;
  o.fps = 30;
  o.compression = compression;
  o.extra = {"--stop-after", "75", "--streaming-video", "off"};
  o.extra.insert(o.extra.end(), extra.begin(), extra.end());
  std::string message;
  if (server.start(o, &message) != StartStatus::kOk) {
    ADD_FAILURE() << message;
    return out;
  }
  const auto watched = dir / "watched.ppm";
  RunResult w = spice_client({"watch", "127.0.0.1", std::to_string(server.port()), "4", "--out",
                              watched.string()},
                             dir.path(), "watch");
  EXPECT_EQ(w.exit_code, 0) << w.describe() << "\nserver log:\n" << server.log_tail();
  const auto shot = dir / "fresh.ppm";
  RunResult r = spicy_screenshot(server.port(), shot, dir.path());
  EXPECT_EQ(r.exit_code, 0) << r.describe();
  out.seen = read_ppm(watched);
  out.fresh = read_ppm(shot);
  wait_until([&] { return server.log().find("bytes sent") != std::string::npos; }, 5s);
  EXPECT_TRUE(server.running()) << server.log_tail();
  out.log = server.log();
  return out;
}

TEST(AutoCodec, PhotoTilesAsQuicTextAsLz4) {
  const Watched w = watch_mixed("auto", {});
  ASSERT_TRUE(w.seen && w.fresh);
  const ImageDiff d = compare_images(*w.fresh, *w.seen);
  EXPECT_TRUE(d.same()) << d.describe();
  static const std::regex line(
      "auto: \\d+ flat, (\\d+) text tiles as lz4, (\\d+) photo tiles as quic");
  EXPECT_GE(most(w.log, line, 1), 1) << w.log;
  EXPECT_GE(most(w.log, line, 2), 4) << "the photo changed twice: its tiles as QUIC\n" << w.log;
}

TEST(AutoCodec, JpegWanAlwaysSendsPhotoTilesAsJpeg) {
  const Watched w = watch_mixed("auto", {"--jpeg-wan-compression", "always"});
  ASSERT_TRUE(w.seen && w.fresh);
  ASSERT_EQ(w.seen->width, w.fresh->width);
  const double p = psnr(*w.fresh, *w.seen);
  EXPECT_GE(p, kJpegTilesMinPsnr);
  EXPECT_LT(p, 99.0) << "JPEG tiles cannot be exact";
  ::testing::Test::RecordProperty("psnr_db", std::to_string(p));
  static const std::regex line(
      "auto: \\d+ flat, \\d+ text tiles as lz4, (\\d+) photo tiles as jpeg");
  EXPECT_GE(most(w.log, line), 4) << w.log;
}

TEST(AutoCodec, LzSendsFewColourTilesAsLzPlt) {
  const Watched w = watch_mixed("lz", {});
  ASSERT_TRUE(w.seen && w.fresh);
  const ImageDiff d = compare_images(*w.fresh, *w.seen);
  EXPECT_TRUE(d.same()) << d.describe();
  static const std::regex line("(\\d+) images as lz_plt, (\\d+) of them with a cached palette");
  EXPECT_GE(most(w.log, line, 1), 2) << "the status line's tiles have few colours\n" << w.log;
}

}  // namespace
}  // namespace spiceflow::interop
