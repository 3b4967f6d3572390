// Video encoders: every backend that probes available here encodes a moving sequence that
// libavcodec's own decoders (h264, vp8, vp9, mjpeg) decode back frame by frame, above a
// stated PSNR; key frames come first and on request; H.264 is an Annex-B byte stream with
// its parameter sets; the hardware probes say why they fail, and make_video_encoder then
// falls back to the next backend (x264 for H.264). Also the --video-codecs syntax and the
// order rules (server list, client preference, client caps).
#include <gtest/gtest.h>

extern "C" {
#include <libavcodec/avcodec.h>
#include <libswscale/swscale.h>
}

#include <cmath>
#include <memory>
#include <string>
#include <variant>
#include <vector>

#include "spiceflow/encode/video_encoder.hpp"

namespace spiceflow::encode {
namespace {

// Frame `i` of a desktop-video-like sequence: a drifting colour gradient (wrapping, so with
// sharp hue edges that 4:2:0 chroma blurs: ~31 dB is near the ceiling here), a bright
// square moving across it and a static dark "window title" bar.
Image frame_at(int32_t w, int32_t h, int i) {
  Image img(w, h);
  for (int32_t y = 0; y < h; ++y) {
    uint32_t* row = img.row(y);
    for (int32_t x = 0; x < w; ++x) {
      const int r = (x * 255 / w + i * 3) & 0xff;
      const int g = (y * 255 / h + i * 2) & 0xff;
      const int b = ((x + y) / 4 + i) & 0xff;
      row[x] = rgb(uint8_t(r), uint8_t(g), uint8_t(b));
    }
  }
  for (int32_t y = 0; y < std::min(h, 24); ++y)
    for (int32_t x = 0; x < w; ++x) img.row(y)[x] = rgb(40, 44, 52);
  const int32_t side = h / 4, sx = (i * 7) % std::max(1, w - side), sy = h / 3;
  for (int32_t y = sy; y < sy + side && y < h; ++y)
    for (int32_t x = sx; x < sx + side; ++x) img.row(y)[x] = rgb(250, 240, 60);
  return img;
}

struct CtxFree {
  void operator()(AVCodecContext* c) const { avcodec_free_context(&c); }
};
struct FrameFree {
  void operator()(AVFrame* f) const { av_frame_free(&f); }
};
struct PktFree {
  void operator()(AVPacket* p) const { av_packet_free(&p); }
};

// libavcodec's decoder for `codec`, in low-delay mode: a picture out per packet in (what
// spice-gtk's GStreamer pipeline does with these streams).
class Decoder {
 public:
  explicit Decoder(VideoCodec codec) {
    const AVCodecID id = codec == VideoCodec::h264   ? AV_CODEC_ID_H264
                         : codec == VideoCodec::vp8  ? AV_CODEC_ID_VP8
                         : codec == VideoCodec::vp9  ? AV_CODEC_ID_VP9
                         : codec == VideoCodec::h265 ? AV_CODEC_ID_HEVC
                                                     : AV_CODEC_ID_MJPEG;
    const AVCodec* dec = avcodec_find_decoder(id);
    ctx_.reset(avcodec_alloc_context3(dec));
    ctx_->thread_count = 1;
    ctx_->flags |= AV_CODEC_FLAG_LOW_DELAY;
    ok_ = avcodec_open2(ctx_.get(), dec, nullptr) == 0;
    frame_.reset(av_frame_alloc());
    pkt_.reset(av_packet_alloc());
  }
  bool ok() const { return ok_; }

  // Decodes one encoded frame to packed B,G,R,X (BT.709 limited range back to full range,
  // or full-range JPEG YUV for MJPEG); false when no picture comes out.
  bool decode(const std::vector<uint8_t>& data, int w, int h, std::vector<uint8_t>& out) {
    av_new_packet(pkt_.get(), int(data.size()));
    std::copy(data.begin(), data.end(), pkt_->data);
    const int sent = avcodec_send_packet(ctx_.get(), pkt_.get());
    av_packet_unref(pkt_.get());
    if (sent < 0) return false;
    if (avcodec_receive_frame(ctx_.get(), frame_.get()) < 0) return false;
    if (frame_->width != w || frame_->height != h) return false;
    const auto fmt = AVPixelFormat(frame_->format);
    SwsContext* sws = sws_getContext(w, h, fmt, w, h, AV_PIX_FMT_BGR0, SWS_POINT | SWS_ACCURATE_RND,
                                     nullptr, nullptr, nullptr);
    if (!sws) return false;
    const bool jpeg = fmt == AV_PIX_FMT_YUVJ420P || fmt == AV_PIX_FMT_YUVJ422P ||
                      fmt == AV_PIX_FMT_YUVJ444P;
    const int* coeffs = sws_getCoefficients(jpeg ? SWS_CS_ITU601 : SWS_CS_ITU709);
    sws_setColorspaceDetails(sws, coeffs, jpeg ? 1 : 0, coeffs, 1, 0, 1 << 16, 1 << 16);
    out.assign(size_t(w) * size_t(h) * 4, 0);
    uint8_t* dst[1] = {out.data()};
    const int dst_stride[1] = {w * 4};
    sws_scale(sws, frame_->data, frame_->linesize, 0, h, dst, dst_stride);
    sws_freeContext(sws);
    av_frame_unref(frame_.get());
    return true;
  }

 private:
  std::unique_ptr<AVCodecContext, CtxFree> ctx_;
  std::unique_ptr<AVFrame, FrameFree> frame_;
  std::unique_ptr<AVPacket, PktFree> pkt_;
  bool ok_ = false;
};

double psnr(const Image& img, const std::vector<uint8_t>& dec) {
  double se = 0;
  for (int32_t y = 0; y < img.height(); ++y)
    for (int32_t x = 0; x < img.width(); ++x)
      for (int c = 0; c < 3; ++c) {
        const double d = double(img.data()[size_t(y) * size_t(img.stride()) + size_t(x) * 4 + size_t(c)]) -
                         double(dec[(size_t(y) * size_t(img.width()) + size_t(x)) * 4 + size_t(c)]);
        se += d * d;
      }
  const double mse = se / (double(img.width()) * img.height() * 3);
  return mse == 0 ? 99.0 : 10 * std::log10(255.0 * 255.0 / mse);
}

const VideoEncoderBackend* backend(std::string_view name, VideoCodec codec) {
  for (const auto& b : video_encoder_registry()) {
    if (b.name == name && b.codec == codec) return &b;
  }
  return nullptr;
}

struct Case {
  const char* name;
  VideoCodec codec;
  double min_psnr;  // every decoded frame of the sequence at 640x360
};

void PrintTo(const Case& c, std::ostream* os) { *os << c.name << ":" << to_string(c.codec); }

class EveryBackend : public ::testing::TestWithParam<Case> {};

TEST_P(EveryBackend, EncodesASequenceThatDecodesBack) {
  const Case c = GetParam();
  const VideoEncoderBackend* b = backend(c.name, c.codec);
  ASSERT_NE(b, nullptr);
  if (auto st = b->probe(); !st) {
    // The CPU encoders are always there (install-deps.sh): only hardware may be missing.
    ASSERT_TRUE(c.name == std::string_view("nvenc") || c.name == std::string_view("vaapi"))
        << c.name << ": " << st.error().message;
    GTEST_SKIP() << c.name << " unavailable here: " << st.error().message;
  }
  constexpr int32_t kW = 640, kH = 360;
  constexpr int kFrames = 30;
  VideoEncoderConfig cfg;
  cfg.size = {kW, kH};
  cfg.fps = 30;
  auto enc = b->create(cfg);
  ASSERT_NE(enc, nullptr);
  EXPECT_EQ(enc->codec(), c.codec);
  EXPECT_EQ(enc->name(), c.name);
  Decoder dec(c.codec);
  ASSERT_TRUE(dec.ok());
  double worst = 99;
  size_t bytes = 0;
  for (int i = 0; i < kFrames; ++i) {
    const Image src = frame_at(kW, kH, i);
    auto res = enc->encode(src.view());
    ASSERT_TRUE(std::holds_alternative<EncodedFrame>(res)) << "frame " << i;
    const auto& f = std::get<EncodedFrame>(res);
    EXPECT_EQ(f.codec, c.codec);
    EXPECT_EQ(f.width, kW);
    EXPECT_EQ(f.height, kH);
    if (i == 0 || c.codec == VideoCodec::mjpeg) {
      EXPECT_TRUE(f.keyframe) << "frame " << i;
    } else {
      EXPECT_FALSE(f.keyframe) << "frame " << i << ": only the first frame is a key frame";
    }
    bytes += f.data.size();
    std::vector<uint8_t> px;
    ASSERT_TRUE(dec.decode(f.data, kW, kH, px)) << "frame " << i << " did not decode at once";
    worst = std::min(worst, psnr(src, px));
  }
  EXPECT_GE(worst, c.min_psnr);
  RecordProperty("worst_psnr_db", std::to_string(worst));
  RecordProperty("bytes_per_frame", std::to_string(bytes / kFrames));
  std::printf("%s:%s worst PSNR %.1f dB, %zu bytes/frame\n", c.name,
              std::string(to_string(c.codec)).c_str(), worst, bytes / kFrames);
}

INSTANTIATE_TEST_SUITE_P(
    Video, EveryBackend,
    ::testing::Values(Case{"nvenc", VideoCodec::h264, 30}, Case{"nvenc", VideoCodec::h265, 30},
                      Case{"vaapi", VideoCodec::h264, 30}, Case{"vaapi", VideoCodec::h265, 30},
                      Case{"x264", VideoCodec::h264, 30}, Case{"vpx", VideoCodec::vp8, 28},
                      Case{"vpx", VideoCodec::vp9, 30}, Case{"mjpeg", VideoCodec::mjpeg, 30}),
    [](const auto& info) {
      return std::string(info.param.name) + "_" + std::string(to_string(info.param.codec));
    });

// A key frame on request decodes on its own: a decoder that joins there shows it.
TEST(VideoEncoders, KeyFrameOnRequestStartsANewDecoder) {
  for (auto [name, codec] : {std::pair{"x264", VideoCodec::h264}, std::pair{"vpx", VideoCodec::vp8},
                             std::pair{"vpx", VideoCodec::vp9}}) {
    SCOPED_TRACE(name + std::string(":") + std::string(to_string(codec)));
    VideoEncoderConfig cfg;
    cfg.size = {320, 192};
    auto enc = backend(name, codec)->create(cfg);
    ASSERT_NE(enc, nullptr);
    for (int i = 0; i < 5; ++i) (void)enc->encode(frame_at(320, 192, i).view());
    enc->request_keyframe();
    const Image src = frame_at(320, 192, 5);
    auto res = enc->encode(src.view());
    ASSERT_TRUE(std::holds_alternative<EncodedFrame>(res));
    EXPECT_TRUE(std::get<EncodedFrame>(res).keyframe);
    Decoder late(codec);
    std::vector<uint8_t> px;
    ASSERT_TRUE(late.decode(std::get<EncodedFrame>(res).data, 320, 192, px));
    EXPECT_GE(psnr(src, px), 28);
    auto next = enc->encode(frame_at(320, 192, 6).view());
    ASSERT_TRUE(std::holds_alternative<EncodedFrame>(next));
    EXPECT_FALSE(std::get<EncodedFrame>(next).keyframe);
  }
}

// spice-gtk's H.264 decoder reads an Annex-B byte stream: start codes, and the SPS (7) and
// PPS (8) in front of the IDR slice (5) of a key frame.
TEST(VideoEncoders, H264IsAnAnnexBByteStreamWithParameterSets) {
  VideoEncoderConfig cfg;
  cfg.size = {256, 128};
  auto enc = backend("x264", VideoCodec::h264)->create(cfg);
  ASSERT_NE(enc, nullptr);
  auto res = enc->encode(frame_at(256, 128, 0).view());
  ASSERT_TRUE(std::holds_alternative<EncodedFrame>(res));
  const auto& d = std::get<EncodedFrame>(res).data;
  ASSERT_GT(d.size(), 8u);
  EXPECT_TRUE((d[0] == 0 && d[1] == 0 && d[2] == 0 && d[3] == 1) ||
              (d[0] == 0 && d[1] == 0 && d[2] == 1));
  std::vector<int> nal_types;
  for (size_t i = 0; i + 3 < d.size(); ++i) {
    if (d[i] == 0 && d[i + 1] == 0 && d[i + 2] == 1) nal_types.push_back(d[i + 3] & 0x1f);
  }
  auto has = [&](int t) { return std::find(nal_types.begin(), nal_types.end(), t) != nal_types.end(); };
  EXPECT_TRUE(has(7) && has(8) && has(5));
}

// No NVIDIA or VAAPI device on a CI machine: the probes say so, and H.264 comes from x264.
// Where a device opens, the hardware encoder is chosen instead.
TEST(VideoEncoders, HardwareProbesExplainAndH264FallsBackToX264) {
  const auto nvenc = backend("nvenc", VideoCodec::h264)->probe();
  const auto vaapi = backend("vaapi", VideoCodec::h264)->probe();
  if (!nvenc) {
    EXPECT_FALSE(nvenc.error().message.empty());
  }
  if (!vaapi) {
    EXPECT_FALSE(vaapi.error().message.empty());
  }
  const VideoCodec accepted[] = {VideoCodec::h264, VideoCodec::mjpeg};
  VideoEncoderConfig cfg;
  cfg.size = {640, 360};
  std::string log;
  auto enc = make_video_encoder(accepted, cfg, &log);
  ASSERT_TRUE(enc) << log;
  const std::string expected = nvenc ? "nvenc" : vaapi ? "vaapi" : "x264";
  EXPECT_EQ((*enc)->name(), expected) << log;
  EXPECT_EQ((*enc)->codec(), VideoCodec::h264);
  if (!nvenc) {
    EXPECT_NE(log.find("nvenc:h264: " + nvenc.error().message), std::string::npos) << log;
  }
  if (!vaapi && !nvenc) {
    EXPECT_NE(log.find("vaapi:h264: " + vaapi.error().message), std::string::npos) << log;
  }
  EXPECT_NE(log.find("chose " + expected + ":h264"), std::string::npos) << log;
  std::printf("nvenc: %s\nvaapi: %s\nchoice: %s\n",
              nvenc ? "available" : nvenc.error().message.c_str(),
              vaapi ? "available" : vaapi.error().message.c_str(), log.c_str());
}

TEST(VideoEncoders, RegistryOrderIsHardwareThenCpuThenMjpeg) {
  std::vector<std::string> names;
  for (const auto& b : video_encoder_registry())
    names.push_back(std::string(b.name) + ":" + std::string(to_string(b.codec)));
  const std::vector<std::string> expected = {"nvenc:h264", "nvenc:h265", "vaapi:h264",
                                             "vaapi:h265", "x264:h264",  "vpx:vp8",
                                             "vpx:vp9",    "mjpeg:mjpeg"};
  EXPECT_EQ(names, expected);
}

// H.264 needs even sizes: an odd-sized region goes to the next backend that takes it.
TEST(VideoEncoders, OddSizeSkipsX264) {
  const VideoCodec accepted[] = {VideoCodec::h264, VideoCodec::vp8};
  VideoEncoderConfig cfg;
  cfg.size = {641, 361};
  std::string log;
  auto enc = make_video_encoder(accepted, cfg, &log);
  ASSERT_TRUE(enc) << log;
  EXPECT_EQ((*enc)->codec(), VideoCodec::vp8) << log;
  EXPECT_NE(log.find("x264:h264: could not be created at 641x361"), std::string::npos) << log;
  auto res = (*enc)->encode(frame_at(641, 361, 0).view());
  ASSERT_TRUE(std::holds_alternative<EncodedFrame>(res));
  Decoder dec(VideoCodec::vp8);
  std::vector<uint8_t> px;
  EXPECT_TRUE(dec.decode(std::get<EncodedFrame>(res).data, 641, 361, px));
}

TEST(VideoCodecList, ParsesTheReferenceSyntaxAndOurNames) {
  std::string warn;
  auto ref = parse_video_codecs("spice:mjpeg;gstreamer:h264;gstreamer:vp8;gstreamer:vp9", &warn);
  ASSERT_TRUE(ref) << ref.error().message;
  EXPECT_EQ(warn, "");
  EXPECT_EQ(to_string(*ref), "mjpeg:mjpeg;any:h264;any:vp8;any:vp9");
  auto ours = parse_video_codecs("x264:h264; vpx:vp8 ;VPX:VP9;nvenc:hevc", &warn);
  ASSERT_TRUE(ours);
  EXPECT_EQ(to_string(*ours), "x264:h264;vpx:vp8;vpx:vp9;nvenc:h265");
  auto fork = parse_video_codecs("gstreamer:h264nvenc;gstreamer:h265vaapi", &warn);
  ASSERT_TRUE(fork);
  EXPECT_EQ(to_string(*fork), "nvenc:h264;vaapi:h265");
  auto empty = parse_video_codecs("auto");
  ASSERT_TRUE(empty);
  EXPECT_TRUE(empty->empty());
  EXPECT_EQ(to_string(*empty), "auto");
}

TEST(VideoCodecList, SkipsInvalidEntriesAndRefusesAllInvalid) {
  std::string warn;
  auto some = parse_video_codecs("foo:h264;spice:vp8;vpx:h264;x264;gstreamer:av2;vpx:vp8", &warn);
  ASSERT_TRUE(some);
  EXPECT_EQ(to_string(*some), "vpx:vp8");
  EXPECT_NE(warn.find("unknown video encoder foo"), std::string::npos) << warn;
  EXPECT_NE(warn.find("the spice encoder does mjpeg only"), std::string::npos) << warn;
  EXPECT_NE(warn.find("no vpx encoder for h264"), std::string::npos) << warn;
  EXPECT_NE(warn.find("not encoder:codec"), std::string::npos) << warn;
  EXPECT_NE(warn.find("unknown video codec av2"), std::string::npos) << warn;
  auto none = parse_video_codecs("foo:bar;;");
  EXPECT_FALSE(none);
}

TEST(VideoCodecList, ServerOrderThenClientPreferenceWithinClientCaps) {
  auto list = parse_video_codecs("vpx:vp8;x264:h264;spice:mjpeg");
  ASSERT_TRUE(list);
  VideoEncoderConfig cfg;
  cfg.size = {320, 192};
  const VideoCodec all[] = {VideoCodec::mjpeg, VideoCodec::vp8, VideoCodec::h264};
  std::string log;
  auto a = make_video_encoder(*list, {}, all, cfg, &log);
  ASSERT_TRUE(a) << log;
  EXPECT_EQ((*a)->codec(), VideoCodec::vp8) << log;
  // The client prefers H.264 (PREFERRED_VIDEO_CODEC_TYPE): it goes first.
  const VideoCodec prefers_h264[] = {VideoCodec::h264};
  auto b = make_video_encoder(*list, prefers_h264, all, cfg, &log);
  ASSERT_TRUE(b) << log;
  EXPECT_EQ((*b)->name(), "x264") << log;
  // A client that decodes MJPEG only gets MJPEG.
  const VideoCodec mjpeg_only[] = {VideoCodec::mjpeg};
  auto c = make_video_encoder(*list, prefers_h264, mjpeg_only, cfg, &log);
  ASSERT_TRUE(c) << log;
  EXPECT_EQ((*c)->codec(), VideoCodec::mjpeg) << log;
  // A codec the server did not list is never used, even when the client decodes it.
  auto vp9_list = parse_video_codecs("vpx:vp9");
  ASSERT_TRUE(vp9_list);
  auto d = make_video_encoder(*vp9_list, {}, all, cfg, &log);
  EXPECT_FALSE(d) << log;
}

}  // namespace
}  // namespace spiceflow::encode
