// spiceflow-meter's JSON output.
#include <gtest/gtest.h>

#include "report.hpp"

namespace spiceflow::meter {
namespace {

TEST(MeterJson, Numbers) {
  EXPECT_EQ(json_number(0), "0");
  EXPECT_EQ(json_number(30), "30");
  EXPECT_EQ(json_number(29.5), "29.5");
  EXPECT_EQ(json_number(1.23456), "1.235");
  EXPECT_EQ(json_number(-0.0001), "0");
  EXPECT_EQ(json_number(1.0 / 0.0), "null");
  EXPECT_EQ(json_number(0.0 / 0.0), "null");
}

TEST(MeterJson, Strings) {
  EXPECT_EQ(json_string("mjpeg"), "\"mjpeg\"");
  EXPECT_EQ(json_string("a\"b\\c\n\x01"), "\"a\\\"b\\\\c\\n\\u0001\"");
}

TEST(MeterJson, FullReport) {
  Report r;
  r.host = "127.0.0.1";
  r.port = 5900;
  r.seconds = 3;
  r.frames = 90;
  r.updates = 400;
  r.add_bytes("main", 300);
  r.add_bytes("display", 1000);
  r.add_bytes("display", 24);  // a second display channel adds up
  r.add_bytes("cursor", 5);
  r.latency = LatencySummary{1.5, 4.25, 9, 12, 88};
  r.stream_codec = "mjpeg";
  r.streams = StreamCounts{1, 80, 0};
  r.primary = PrimaryInfo{800, 600, 32};
  EXPECT_DOUBLE_EQ(r.fps(), 30);
  EXPECT_EQ(to_json(r),
            "{\"host\": \"127.0.0.1\", \"port\": 5900, \"seconds\": 3, \"fps\": 30, "
            "\"code_fps\": 29.333, \"frames\": 90, \"updates\": 400, "
            "\"bytes\": {\"main\": 300, \"display\": 1024, \"cursor\": 5}, "
            "\"latency_ms\": {\"p50\": 1.5, \"p95\": 4.25, \"p99\": 9, \"max\": 12, "
            "\"samples\": 88}, \"latency_repeats\": 0, \"stream_codec\": \"mjpeg\", "
            "\"streams\": {\"created\": 1, \"frames\": 80, \"destroyed\": 0}, "
            "\"primary\": {\"width\": 800, \"height\": 600, \"format\": 32}}");
}

TEST(MeterJson, NullsWhenNothingWasSeen) {
  Report r;
  r.host = "h";
  r.port = 1;
  r.errors.push_back("no primary surface received");
  r.notes.push_back("a note");
  const std::string j = to_json(r);
  EXPECT_NE(j.find("\"fps\": 0,"), std::string::npos) << j;
  EXPECT_NE(j.find("\"bytes\": {}"), std::string::npos) << j;
  EXPECT_NE(j.find("\"latency_ms\": null"), std::string::npos) << j;
  EXPECT_NE(j.find("\"code_fps\": null"), std::string::npos) << j;
  EXPECT_NE(j.find("\"stream_codec\": null"), std::string::npos) << j;
  EXPECT_NE(j.find("\"streams\": null"), std::string::npos) << j;
  EXPECT_NE(j.find("\"primary\": null"), std::string::npos) << j;
  EXPECT_NE(j.find("\"errors\": [\"no primary surface received\"]"), std::string::npos) << j;
  EXPECT_NE(j.find("\"notes\": [\"a note\"]"), std::string::npos) << j;
  EXPECT_EQ(j.find("psnr_db"), std::string::npos) << j;
  EXPECT_EQ(j.find('\n'), std::string::npos);
}

TEST(MeterJson, ReferenceComparison) {
  Report r;
  r.reference = ReferenceComparison{"ref.ppm", 0.5, 51.1411, 7};
  std::string j = to_json(r);
  EXPECT_NE(j.find("\"psnr_db\": 51.141"), std::string::npos) << j;
  EXPECT_NE(j.find("\"reference\": {\"path\": \"ref.ppm\", \"mse\": 0.5, \"differing_pixels\": 7}"),
            std::string::npos)
      << j;
  r.reference = ReferenceComparison{"ref.ppm", 0, std::nullopt, 0};  // identical
  j = to_json(r);
  EXPECT_NE(j.find("\"psnr_db\": null"), std::string::npos) << j;
}

TEST(MeterJson, CodecNames) {
  EXPECT_EQ(video_codec_name(1), "mjpeg");
  EXPECT_EQ(video_codec_name(2), "vp8");
  EXPECT_EQ(video_codec_name(3), "h264");
  EXPECT_EQ(video_codec_name(4), "vp9");
  EXPECT_EQ(video_codec_name(5), "h265");
  EXPECT_EQ(video_codec_name(9), "codec-9");
}

}  // namespace
}  // namespace spiceflow::meter
