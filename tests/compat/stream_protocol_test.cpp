// The streaming agent's device protocol parser (compat/src/stream_protocol.*): well-formed
// messages in any split, and hostile input - bad sizes per type, unknown and server-only
// types, bad versions, formats, cursor shapes and display info, truncation, and random
// mutations - each rejected with a reason, never a crash or a claimed size allocated.
#include <gtest/gtest.h>
#include <spice/enums.h>
#include <spice/stream-device.h>

#include <random>

#include "compat/src/stream_protocol.hpp"

namespace sd = spiceflow::compat::streamdev;

namespace {

void put16(std::vector<uint8_t>& v, uint16_t x) {
  v.push_back(uint8_t(x));
  v.push_back(uint8_t(x >> 8));
}
void put32(std::vector<uint8_t>& v, uint32_t x) {
  for (int i = 0; i < 4; ++i) v.push_back(uint8_t(x >> (8 * i)));
}

std::vector<uint8_t> msg(uint16_t type, const std::vector<uint8_t>& body,
                         uint8_t version = STREAM_DEVICE_PROTOCOL) {
  std::vector<uint8_t> m{version, 0};
  put16(m, type);
  put32(m, uint32_t(body.size()));
  m.insert(m.end(), body.begin(), body.end());
  return m;
}

std::vector<uint8_t> format(uint32_t w, uint32_t h, uint8_t codec) {
  std::vector<uint8_t> b;
  put32(b, w);
  put32(b, h);
  b.push_back(codec);
  b.insert(b.end(), 3, 0);
  return msg(STREAM_TYPE_FORMAT, b);
}

std::vector<uint8_t> cursor_set(uint16_t w, uint16_t h, uint8_t type, size_t data) {
  std::vector<uint8_t> b;
  put16(b, w);
  put16(b, h);
  put16(b, 1);
  put16(b, 2);
  b.push_back(type);
  b.insert(b.end(), 3, 0);
  b.insert(b.end(), data, 0xab);
  return msg(STREAM_TYPE_CURSOR_SET, b);
}

std::vector<uint8_t> cat(std::initializer_list<std::vector<uint8_t>> parts) {
  std::vector<uint8_t> all;
  for (const auto& p : parts) all.insert(all.end(), p.begin(), p.end());
  return all;
}

// Feeds `bytes` whole; returns the parser's verdict and what it produced.
bool parse(const std::vector<uint8_t>& bytes, std::vector<sd::Message>& out, std::string* why) {
  sd::Parser p;
  const bool ok = p.feed(bytes, out);
  if (why) *why = p.error();
  EXPECT_EQ(ok, !p.failed());
  return ok;
}

std::string rejects(const std::vector<uint8_t>& bytes) {
  std::vector<sd::Message> out;
  std::string why;
  EXPECT_FALSE(parse(bytes, out, &why));
  EXPECT_FALSE(why.empty());
  return why;
}

}  // namespace

TEST(StreamProtocol, ParsesASessionInEverySplit) {
  std::vector<uint8_t> frame(5000);
  for (size_t i = 0; i < frame.size(); ++i) frame[i] = uint8_t(i * 7);
  std::vector<uint8_t> move;
  put32(move, uint32_t(-5));
  put32(move, 77);
  std::vector<uint8_t> info;
  put32(info, 3);
  put32(info, 1);
  put32(info, 12);
  for (char c : std::string("pci/0000/02.0")) info.push_back(uint8_t(c));  // 13: longer than len
  const auto all = cat({msg(STREAM_TYPE_CAPABILITIES, {1}), format(640, 360, SPICE_VIDEO_CODEC_TYPE_H264),
                        msg(STREAM_TYPE_DATA, frame), cursor_set(2, 2, SPICE_CURSOR_TYPE_ALPHA, 16),
                        msg(STREAM_TYPE_CURSOR_MOVE, move), msg(STREAM_TYPE_DEVICE_DISPLAY_INFO, info),
                        msg(STREAM_TYPE_QUALITY_INDICATOR, {'o', 'k', 0, 'x'})});
  for (size_t step : {size_t(1), size_t(3), size_t(8), size_t(1000), all.size()}) {
    sd::Parser p;
    std::vector<sd::Message> out;
    for (size_t pos = 0; pos < all.size(); pos += step) {
      const size_t n = std::min(step, all.size() - pos);
      ASSERT_TRUE(p.feed({all.data() + pos, n}, out)) << p.error();
    }
    ASSERT_EQ(out.size(), 7u) << "step " << step;
    EXPECT_EQ(std::get<sd::Capabilities>(out[0]).caps, std::vector<uint8_t>{1});
    const auto& f = std::get<sd::Format>(out[1]);
    EXPECT_EQ(f.width, 640u);
    EXPECT_EQ(f.height, 360u);
    EXPECT_EQ(f.codec, SPICE_VIDEO_CODEC_TYPE_H264);
    EXPECT_EQ(std::get<sd::Data>(out[2]).frame, frame);
    const auto& c = std::get<sd::CursorSet>(out[3]);
    EXPECT_EQ(c.width, 2);
    EXPECT_EQ(c.hot_x, 1);
    EXPECT_EQ(c.hot_y, 2);
    EXPECT_EQ(c.data.size(), 16u);
    EXPECT_EQ(std::get<sd::CursorMove>(out[4]).x, -5);
    EXPECT_EQ(std::get<sd::CursorMove>(out[4]).y, 77);
    const auto& d = std::get<sd::DeviceDisplayInfo>(out[5]);
    EXPECT_EQ(d.stream_id, 3u);
    EXPECT_EQ(d.device_address, "pci/0000/02.");  // bounded by its length field
    EXPECT_EQ(std::get<sd::QualityIndicator>(out[6]).text, "ok");
    EXPECT_EQ(p.buffered(), 0u);
  }
}

TEST(StreamProtocol, RejectsBadHeaders) {
  EXPECT_NE(rejects(msg(STREAM_TYPE_DATA, {1}, 2)).find("version"), std::string::npos);
  EXPECT_NE(rejects(msg(STREAM_TYPE_INVALID, {})).find("type 0"), std::string::npos);
  EXPECT_NE(rejects(msg(STREAM_TYPE_START_STOP, {0})).find("not one the agent sends"),
            std::string::npos);
  rejects(msg(STREAM_TYPE_NOTIFY_ERROR, {0, 0, 0, 0}));
  rejects(msg(0x4242, {}));
  // Sizes that do not fit the type.
  rejects(msg(STREAM_TYPE_FORMAT, std::vector<uint8_t>(11)));
  rejects(msg(STREAM_TYPE_FORMAT, std::vector<uint8_t>(13)));
  rejects(msg(STREAM_TYPE_DATA, {}));
  rejects(msg(STREAM_TYPE_CURSOR_MOVE, std::vector<uint8_t>(7)));
  rejects(msg(STREAM_TYPE_CURSOR_SET, std::vector<uint8_t>(11)));
  rejects(msg(STREAM_TYPE_CAPABILITIES, std::vector<uint8_t>(sd::kMaxCapabilitiesSize + 1)));
  rejects(msg(STREAM_TYPE_DEVICE_DISPLAY_INFO, std::vector<uint8_t>(11)));
  rejects(msg(STREAM_TYPE_QUALITY_INDICATOR, std::vector<uint8_t>(sd::kMaxQualityIndicator + 1)));
}

TEST(StreamProtocol, RefusesHugeClaimsFromTheHeaderAlone) {
  // A DATA header claiming more than the limit is refused before any body arrives.
  std::vector<uint8_t> h{STREAM_DEVICE_PROTOCOL, 0};
  put16(h, STREAM_TYPE_DATA);
  put32(h, sd::kMaxDataSize + 1);
  sd::Parser p;
  std::vector<sd::Message> out;
  EXPECT_FALSE(p.feed(h, out));
  EXPECT_TRUE(p.failed());
  // A claim within the limit holds only what arrived.
  std::vector<uint8_t> ok{STREAM_DEVICE_PROTOCOL, 0};
  put16(ok, STREAM_TYPE_DATA);
  put32(ok, sd::kMaxDataSize);
  ok.insert(ok.end(), 100, 1);
  sd::Parser q;
  EXPECT_TRUE(q.feed(ok, out));
  EXPECT_TRUE(out.empty());
  EXPECT_EQ(q.buffered(), sd::kHeaderSize + 100);
}

TEST(StreamProtocol, RejectsBadBodies) {
  rejects(format(0, 360, SPICE_VIDEO_CODEC_TYPE_MJPEG));
  rejects(format(640, 0, SPICE_VIDEO_CODEC_TYPE_MJPEG));
  rejects(format(sd::kMaxStreamSide + 1, 360, SPICE_VIDEO_CODEC_TYPE_MJPEG));
  rejects(format(640, 360, 0));
  rejects(format(640, 360, SPICE_VIDEO_CODEC_TYPE_ENUM_END));
  // Cursor shapes: too large, a type the protocol does not allow, shorter than the shape.
  rejects(cursor_set(sd::kMaxCursorSide + 1, 1, SPICE_CURSOR_TYPE_ALPHA, 0));
  rejects(cursor_set(4, 4, SPICE_CURSOR_TYPE_MONO, 64));
  rejects(cursor_set(4, 4, SPICE_CURSOR_TYPE_ALPHA, 63));
  EXPECT_EQ(sd::cursor_data_size(SPICE_CURSOR_TYPE_COLOR32, 3, 3), size_t((9 * 33 + 7) / 8));
  {
    std::vector<sd::Message> out;
    EXPECT_TRUE(parse(cursor_set(3, 3, SPICE_CURSOR_TYPE_COLOR24, (9 * 25 + 7) / 8), out, nullptr));
  }
  // Display info whose address length runs past the message.
  std::vector<uint8_t> info;
  put32(info, 0);
  put32(info, 0);
  put32(info, 100);
  info.insert(info.end(), 10, 'a');
  rejects(msg(STREAM_TYPE_DEVICE_DISPLAY_INFO, info));
}

TEST(StreamProtocol, FailureIsStickyUntilReset) {
  sd::Parser p;
  std::vector<sd::Message> out;
  EXPECT_FALSE(p.feed(msg(0x99, {}), out));
  const auto good = format(64, 64, SPICE_VIDEO_CODEC_TYPE_MJPEG);
  EXPECT_FALSE(p.feed(good, out));  // ignored while failed
  EXPECT_TRUE(out.empty());
  p.reset();
  EXPECT_TRUE(p.feed(good, out));
  EXPECT_EQ(out.size(), 1u);
}

TEST(StreamProtocol, MessagesBeforeAnErrorAreKept) {
  std::vector<sd::Message> out;
  EXPECT_FALSE(parse(cat({format(8, 8, SPICE_VIDEO_CODEC_TYPE_MJPEG), msg(STREAM_TYPE_DATA, {1, 2}),
                          msg(STREAM_TYPE_FORMAT, {1})}),
                     out, nullptr));
  EXPECT_EQ(out.size(), 2u);
}

TEST(StreamProtocol, SurvivesRandomMutationsAndTruncations) {
  const auto session = cat({format(320, 200, SPICE_VIDEO_CODEC_TYPE_VP8),
                            msg(STREAM_TYPE_DATA, std::vector<uint8_t>(300, 9)),
                            cursor_set(8, 8, SPICE_CURSOR_TYPE_ALPHA, 256),
                            msg(STREAM_TYPE_DATA, std::vector<uint8_t>(40, 3))});
  for (size_t cut = 0; cut < session.size(); ++cut) {
    sd::Parser p;
    std::vector<sd::Message> out;
    EXPECT_TRUE(p.feed({session.data(), cut}, out)) << "a prefix is never an error: " << cut;
    EXPECT_LE(p.buffered(), cut);
  }
  std::mt19937 rng(1234);
  for (int round = 0; round < 3000; ++round) {
    auto bytes = session;
    const int edits = 1 + int(rng() % 4);
    for (int e = 0; e < edits; ++e) bytes[rng() % bytes.size()] = uint8_t(rng());
    sd::Parser p;
    std::vector<sd::Message> out;
    p.feed(bytes, out);
    // Whatever it made is within the protocol's bounds.
    for (const auto& m : out) {
      if (const auto* f = std::get_if<sd::Format>(&m)) {
        EXPECT_GE(f->width, 1u);
        EXPECT_LE(f->width, sd::kMaxStreamSide);
        EXPECT_GE(f->codec, SPICE_VIDEO_CODEC_TYPE_MJPEG);
        EXPECT_LT(f->codec, SPICE_VIDEO_CODEC_TYPE_ENUM_END);
      } else if (const auto* c = std::get_if<sd::CursorSet>(&m)) {
        EXPECT_EQ(c->data.size(), sd::cursor_data_size(c->type, c->width, c->height));
      } else if (const auto* d = std::get_if<sd::Data>(&m)) {
        EXPECT_LE(d->frame.size(), sd::kMaxDataSize);
      }
    }
    EXPECT_LE(p.buffered(), bytes.size());
  }
}

TEST(StreamProtocol, ServerMessages) {
  const uint8_t codecs[] = {SPICE_VIDEO_CODEC_TYPE_MJPEG, SPICE_VIDEO_CODEC_TYPE_H264};
  EXPECT_EQ(sd::start_stop(codecs),
            (std::vector<uint8_t>{1, 0, STREAM_TYPE_START_STOP, 0, 3, 0, 0, 0, 2, 1, 3}));
  EXPECT_EQ(sd::start_stop({}), (std::vector<uint8_t>{1, 0, STREAM_TYPE_START_STOP, 0, 1, 0, 0, 0, 0}));
  const auto err = sd::notify_error("bad");
  EXPECT_EQ(err, (std::vector<uint8_t>{1, 0, STREAM_TYPE_NOTIFY_ERROR, 0, 8, 0, 0, 0, 0, 0, 0, 0,
                                       'b', 'a', 'd', 0}));
  const auto caps = sd::capabilities();
  EXPECT_EQ(caps[2], STREAM_TYPE_CAPABILITIES);
  EXPECT_EQ(caps.size(), sd::kHeaderSize + 1);
}
