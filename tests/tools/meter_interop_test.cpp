// spiceflow-meter against a real `spiceflow serve`: frames, bytes, pixel-code latency,
// stream codec, and its PNG against the server's own --dump-frame.
#include <gtest/gtest.h>
#include <png.h>

#include "harness.hpp"

namespace spiceflow::interop {
namespace {

std::string meter_bin() { return SPICEFLOW_METER_BIN; }

struct MeterRun {
  RunResult result;
  std::string json;  // the last line of stdout
};

MeterRun run_meter(const Server& server, const TempDir& dir, double seconds,
                   const std::vector<std::string>& extra = {}) {
  std::vector<std::string> argv = {meter_bin(), "--host", "127.0.0.1", "--port",
                                   std::to_string(server.port()), "--seconds",
                                   std::to_string(seconds)};
  argv.insert(argv.end(), extra.begin(), extra.end());
  MeterRun m;
  m.result = run_with_timeout(argv, std::chrono::milliseconds(int64_t(seconds * 1000) + 20000),
                              dir.path(), "meter");
  m.json = last_line(m.result.out);
  return m;
}

bool has(const std::string& json, const std::string& fragment) {
  return json.find(fragment) != std::string::npos;
}

// An 8-bit RGB PNG as a harness Image (libpng's simplified API).
std::optional<Image> read_png(const fs::path& path) {
  png_image img{};
  img.version = PNG_IMAGE_VERSION;
  if (!png_image_begin_read_from_file(&img, path.c_str())) return std::nullopt;
  img.format = PNG_FORMAT_RGB;
  Image out;
  out.width = int(img.width);
  out.height = int(img.height);
  out.rgb.resize(PNG_IMAGE_SIZE(img));
  if (!png_image_finish_read(&img, nullptr, out.rgb.data(), 0, nullptr)) return std::nullopt;
  return out;
}

TEST(Meter, PixelCodeGivesFramesBytesAndLatency) {
  TempDir dir;
  Server server(dir);
  ServerOptions o;
  o.synthetic = "office";
  o.frozen = false;
  o.extra = {"--pixel-code"};
  SPICEFLOW_START_SERVER(server, o);
  const auto m = run_meter(server, dir, 3);
  ASSERT_EQ(m.result.exit_code, 0) << m.result.describe();
  SCOPED_TRACE(m.json);
  EXPECT_GT(json_number(m.json, "fps").value_or(0), 0);
  EXPECT_GT(json_number(m.json, "frames").value_or(0), 0);
  EXPECT_GT(json_number(m.json, "display").value_or(0), 0);
  EXPECT_GT(json_number(m.json, "main").value_or(0), 0);
  ASSERT_FALSE(has(m.json, "\"latency_ms\": null"));
  const auto p50 = json_number(m.json, "p50");
  ASSERT_TRUE(p50);
  EXPECT_GE(*p50, 0);
  EXPECT_LT(*p50, 1000);
  // Some frames are read whole. (Not all: at this size the office's video region, a tile
  // grid from y = 0, takes in the right part of the code, so that part arrives in the MJPEG
  // stream a frame later than the drawn left part and the CRC rejects the mix.)
  EXPECT_GE(json_number(m.json, "samples").value_or(0), 3);
  EXPECT_LE(json_number(m.json, "p50").value_or(0), json_number(m.json, "p95").value_or(-1));
  EXPECT_LE(json_number(m.json, "p95").value_or(0), json_number(m.json, "p99").value_or(-1));
}

TEST(Meter, WithoutStreamsEveryFramesCodeIsRead) {
  TempDir dir;
  Server server(dir);
  ServerOptions o;
  o.synthetic = "office";
  o.frozen = false;
  o.extra = {"--pixel-code", "--streaming-video", "off"};
  SPICEFLOW_START_SERVER(server, o);
  const auto m = run_meter(server, dir, 3);
  ASSERT_EQ(m.result.exit_code, 0) << m.result.describe();
  SCOPED_TRACE(m.json);
  EXPECT_TRUE(has(m.json, "\"stream_codec\": null"));
  // 30 fps for 3 s: ~90 frames produced; all but a slow start's few are read.
  EXPECT_GT(json_number(m.json, "samples").value_or(0), 45);
  EXPECT_LT(json_number(m.json, "p50").value_or(1e9), 1000);
}

TEST(Meter, DirectConnectionWithoutRelay) {
  TempDir dir;
  Server server(dir);
  ServerOptions o;
  o.synthetic = "office";
  o.frozen = false;
  o.extra = {"--pixel-code", "--streaming-video", "off"};
  SPICEFLOW_START_SERVER(server, o);
  const auto m = run_meter(server, dir, 2, {"--direct"});
  ASSERT_EQ(m.result.exit_code, 0) << m.result.describe();
  SCOPED_TRACE(m.json);
  EXPECT_TRUE(has(m.json, "\"streams\": null"));
  EXPECT_TRUE(has(m.json, "--direct"));
  EXPECT_GT(json_number(m.json, "display").value_or(0), 0);
  EXPECT_GT(json_number(m.json, "samples").value_or(0), 20);
}

TEST(Meter, FrozenDesktopWithoutPixelCodeHasNoLatency) {
  TempDir dir;
  Server server(dir);
  ServerOptions o;
  o.synthetic = "office";
  SPICEFLOW_START_SERVER(server, o);
  const auto m = run_meter(server, dir, 1);
  ASSERT_EQ(m.result.exit_code, 0) << m.result.describe();
  SCOPED_TRACE(m.json);
  EXPECT_TRUE(has(m.json, "\"latency_ms\": null"));
  EXPECT_TRUE(has(m.json, "\"stream_codec\": null"));
  EXPECT_GT(json_number(m.json, "frames").value_or(0), 0);  // the first paint
  EXPECT_GT(json_number(m.json, "display").value_or(0), 0);
}

TEST(Meter, PixelCodeHasNoEffectWhenFrozen) {
  TempDir dir;
  Server server(dir);
  ServerOptions o;
  o.synthetic = "office";
  o.extra = {"--pixel-code"};
  SPICEFLOW_START_SERVER(server, o);
  const auto m = run_meter(server, dir, 1);
  ASSERT_EQ(m.result.exit_code, 0) << m.result.describe();
  EXPECT_TRUE(has(m.json, "\"latency_ms\": null")) << m.json;
}

TEST(Meter, PngOfFrozenDesktopEqualsDumpFrame) {
  for (const std::string synthetic : {"office", "scroll-text"}) {
    SCOPED_TRACE(synthetic);
    TempDir dir;
    Server server(dir);
    ServerOptions o;
    o.synthetic = synthetic;
    o.dump_frame = true;
    SPICEFLOW_START_SERVER(server, o);
    const fs::path png = dir / "client.png";
    const auto m = run_meter(server, dir, 1, {"--png", png.string(), "--reference",
                                              server.dump_path().string()});
    ASSERT_EQ(m.result.exit_code, 0) << m.result.describe();
    const auto client = read_png(png);
    ASSERT_TRUE(client) << "no readable PNG at " << png;
    const ImageDiff diff = compare_images(client.value(), server.dump());
    EXPECT_TRUE(diff.same()) << diff.describe();
    // The meter's own comparison agrees.
    EXPECT_TRUE(has(m.json, "\"psnr_db\": null")) << m.json;
    EXPECT_EQ(json_number(m.json, "differing_pixels").value_or(-1), 0) << m.json;
  }
}

TEST(Meter, VideoStreamCodecIsReported) {
  TempDir dir;
  Server server(dir);
  ServerOptions o;
  o.synthetic = "video";
  o.frozen = false;
  // MJPEG forced: by default a client with GStreamer's H.264 decoder gets x264's H.264.
  o.extra = {"--pixel-code", "--video-codecs", "spice:mjpeg"};
  SPICEFLOW_START_SERVER(server, o);
  const auto m = run_meter(server, dir, 3);
  ASSERT_EQ(m.result.exit_code, 0) << m.result.describe();
  SCOPED_TRACE(m.json);
  EXPECT_TRUE(has(m.json, "\"stream_codec\": \"mjpeg\""));
  EXPECT_GT(json_number(m.json, "created").value_or(0), 0);
  // The stream's frames reach the client's surface: over 3 s at 30 fps, well above a few.
  EXPECT_GT(json_number(m.json, "frames").value_or(0), 30);
  EXPECT_FALSE(has(m.json, "\"latency_ms\": null"));
}

TEST(Meter, PasswordAndRefusal) {
  TempDir dir;
  Server server(dir);
  ServerOptions o;
  o.synthetic = "office";
  o.password = "s3cret";
  SPICEFLOW_START_SERVER(server, o);
  const auto ok = run_meter(server, dir, 1, {"--password", "s3cret"});
  EXPECT_EQ(ok.result.exit_code, 0) << ok.result.describe();
  EXPECT_TRUE(has(ok.json, "\"primary\": {")) << ok.json;
  const auto bad = run_meter(server, dir, 1, {"--password", "wrong"});
  EXPECT_EQ(bad.result.exit_code, 1) << bad.result.describe();
  EXPECT_TRUE(has(bad.json, "\"primary\": null")) << bad.json;
  EXPECT_TRUE(has(bad.json, "auth error") || has(bad.json, "link error")) << bad.json;
}

// TLS: the meter trusts the test CA, measures a TLS-only server, and its picture is the
// server's; a meter that trusts another CA is refused and says so.
TEST(Meter, TlsOnlyServerWithTrustedCa) {
  TempDir dir;
  std::string why;
  if (!make_certificates(dir.path(), &why)) GTEST_SKIP() << why;
  const uint16_t tls_port = free_port();
  Server server(dir);
  ServerOptions o;
  o.synthetic = "office";
  o.dump_frame = true;
  o.extra = {"--tls-port", std::to_string(tls_port), "--x509-dir", dir.path().string()};
  SPICEFLOW_START_SERVER(server, o);
  auto tls_meter = [&](const std::string& ca, const std::string& name) {
    const fs::path png = dir / (name + ".png");
    RunResult r = run_with_timeout(
        {meter_bin(), "--host", "127.0.0.1", "--tls-port", std::to_string(tls_port), "--ca-file",
         (dir / ca).string(), "--seconds", "1", "--png", png.string()},
        30s, dir.path(), name);
    return std::make_pair(r, png);
  };
  const auto [ok, png] = tls_meter("ca-cert.pem", "trusted");
  const std::string json = last_line(ok.out);
  ASSERT_EQ(ok.exit_code, 0) << ok.describe() << "\nserver log:\n" << server.log_tail();
  EXPECT_GT(json_number(json, "display").value_or(0), 0) << json;
  EXPECT_GT(json_number(json, "frames").value_or(0), 0) << json;
  const auto client = read_png(png);
  ASSERT_TRUE(client) << "no readable PNG at " << png;
  const ImageDiff diff = compare_images(client.value(), server.dump());
  EXPECT_TRUE(diff.same()) << diff.describe();

  const auto [refused, unused] = tls_meter("other-ca.pem", "untrusted");
  EXPECT_EQ(refused.exit_code, 1) << refused.describe();
  EXPECT_TRUE(has(last_line(refused.out), "\"primary\": null")) << refused.out;
  EXPECT_TRUE(has(last_line(refused.out), "tls")) << refused.out;
}

TEST(Meter, UsageErrors) {
  TempDir dir;
  auto r = run_with_timeout({meter_bin(), "--host", "127.0.0.1", "--seconds", "1"}, 10s,
                            dir.path(), "no-port");
  EXPECT_EQ(r.exit_code, 2) << r.describe();
  r = run_with_timeout({meter_bin(), "--host", "127.0.0.1", "--port", "1"}, 10s, dir.path(),
                       "no-seconds");
  EXPECT_EQ(r.exit_code, 2) << r.describe();
  // Nothing listens there: a JSON report with the error, exit 1.
  r = run_with_timeout({meter_bin(), "--host", "127.0.0.1", "--port", std::to_string(free_port()),
                        "--seconds", "1"},
                       10s, dir.path(), "refused");
  EXPECT_EQ(r.exit_code, 1) << r.describe();
  EXPECT_TRUE(has(last_line(r.out), "\"errors\": [")) << r.out;
}

}  // namespace
}  // namespace spiceflow::interop
