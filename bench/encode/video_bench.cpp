// Video encoders on this CPU: encode time per frame, bytes per frame and PSNR (decoded back
// with libavcodec, BT.709 limited range back to RGB) for each CPU backend at 1080p and 4K,
// 30 and 60 fps, over 60 frames of moving video-like content (a drifting plasma, a moving
// box, a still title bar and a text-like strip; the content moves per second, so 60 fps
// frames differ half as much). Hardware backends run when their probe passes.
// "Time" is the encode wall time per frame (painting and the PSNR decode are paused out);
// ms_p50/ms_p99 are its percentiles over the frames; cpu_ms/frame is the process CPU time
// spent in encode() (all threads: the number to trust on a shared, loaded machine, where
// wall time includes waiting for a core). delivered: frames that came out of the encoder
// (not dropped by its rate control); in_time: the fraction encoded within the frame
// interval (1/fps), i.e. what one encoder thread delivers live.
//
//   build-<x>/bench/video_bench --benchmark_counters_tabular=true
// SPICEFLOW_VIDEO_BENCH_FRAMES=<n> encodes n frames per case instead of kFrames (a quicker
// table on a busy machine; p99 of 20 frames is their maximum).
#include <benchmark/benchmark.h>

extern "C" {
#include <libavcodec/avcodec.h>
#include <libswscale/swscale.h>
}

#include <time.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdlib>
#include <string>
#include <variant>
#include <vector>

#include "spiceflow/encode/video_encoder.hpp"

namespace {

using namespace spiceflow;
using namespace spiceflow::encode;

constexpr int kFrames = 60;

int frames_per_case() {
  const char* env = std::getenv("SPICEFLOW_VIDEO_BENCH_FRAMES");
  const int n = env ? std::atoi(env) : 0;
  return n > 0 ? n : kFrames;
}

void paint(Image& img, int i, int fps) {
  const int32_t w = img.width(), h = img.height();
  const double t = double(i) / fps;
  for (int32_t y = 0; y < h; ++y) {
    uint32_t* row = img.row(y);
    const double fy = double(y) / h;
    for (int32_t x = 0; x < w; ++x) {
      const double fx = double(x) / w;
      const double v = std::sin(fx * 9 + t * 2) + std::sin(fy * 7 - t * 1.3) +
                       std::sin((fx + fy) * 5 + t);
      const auto c = [&](double phase) { return uint8_t(127.5 + 127.5 * std::sin(v * 1.7 + phase)); };
      row[x] = rgb(c(0), c(2.1), c(4.2));
    }
  }
  for (int32_t y = 0; y < h / 30; ++y)
    for (int32_t x = 0; x < w; ++x) img.row(y)[x] = rgb(40, 44, 52);
  // A strip of "subtitles": fine dark-on-light detail that blurs first.
  for (int32_t y = h * 5 / 6; y < h * 5 / 6 + h / 40; ++y)
    for (int32_t x = w / 4; x < w * 3 / 4; ++x)
      img.row(y)[x] = ((x / 3 + y / 2) % 5 == 0) ? rgb(10, 10, 10) : rgb(235, 235, 235);
  const int32_t side = h / 5, bx = int32_t(int64_t(i) * w / 3 / fps) % (w - side), by = h / 3;
  for (int32_t y = by; y < by + side; ++y)
    for (int32_t x = bx; x < bx + side; ++x) img.row(y)[x] = rgb(250, 240, 60);
}

struct Decoder {
  AVCodecContext* ctx = nullptr;
  AVFrame* frame = av_frame_alloc();
  AVPacket* pkt = av_packet_alloc();
  SwsContext* sws = nullptr;
  explicit Decoder(VideoCodec c) {
    const AVCodecID id = c == VideoCodec::h264   ? AV_CODEC_ID_H264
                         : c == VideoCodec::vp8  ? AV_CODEC_ID_VP8
                         : c == VideoCodec::vp9  ? AV_CODEC_ID_VP9
                         : c == VideoCodec::h265 ? AV_CODEC_ID_HEVC
                                                 : AV_CODEC_ID_MJPEG;
    const AVCodec* dec = avcodec_find_decoder(id);
    ctx = avcodec_alloc_context3(dec);
    ctx->flags |= AV_CODEC_FLAG_LOW_DELAY;
    avcodec_open2(ctx, dec, nullptr);
  }
  ~Decoder() {
    sws_freeContext(sws);
    av_packet_free(&pkt);
    av_frame_free(&frame);
    avcodec_free_context(&ctx);
  }
  // PSNR of the decoded picture against `src`; -1 when nothing decodes.
  double psnr(const std::vector<uint8_t>& data, const Image& src) {
    av_new_packet(pkt, int(data.size()));
    std::copy(data.begin(), data.end(), pkt->data);
    const int sent = avcodec_send_packet(ctx, pkt);
    av_packet_unref(pkt);
    if (sent < 0 || avcodec_receive_frame(ctx, frame) < 0) return -1;
    const int w = frame->width, h = frame->height;
    const auto fmt = AVPixelFormat(frame->format);
    const bool jpeg = fmt == AV_PIX_FMT_YUVJ420P || fmt == AV_PIX_FMT_YUVJ422P;
    if (!sws) {
      sws = sws_getContext(w, h, fmt, w, h, AV_PIX_FMT_BGR0, SWS_POINT, nullptr, nullptr, nullptr);
      const int* co = sws_getCoefficients(jpeg ? SWS_CS_ITU601 : SWS_CS_ITU709);
      sws_setColorspaceDetails(sws, co, jpeg ? 1 : 0, co, 1, 0, 1 << 16, 1 << 16);
    }
    std::vector<uint8_t> out(size_t(w) * size_t(h) * 4);
    uint8_t* dst[1] = {out.data()};
    const int dst_stride[1] = {w * 4};
    sws_scale(sws, frame->data, frame->linesize, 0, h, dst, dst_stride);
    av_frame_unref(frame);
    double se = 0;
    for (int32_t y = 0; y < h; ++y) {
      const uint8_t* a = src.data() + size_t(y) * size_t(src.stride());
      const uint8_t* b = out.data() + size_t(y) * size_t(w) * 4;
      for (int32_t x = 0; x < w * 4; ++x) {
        if ((x & 3) == 3) continue;
        const double d = double(a[x]) - double(b[x]);
        se += d * d;
      }
    }
    const double mse = se / (double(w) * h * 3);
    return mse == 0 ? 99 : 10 * std::log10(255.0 * 255.0 / mse);
  }
};

void BM_Encode(benchmark::State& state, std::string_view name, VideoCodec codec, int w, int h,
               int fps) {
  const VideoEncoderBackend* b = nullptr;
  for (const auto& x : video_encoder_registry())
    if (x.name == name && x.codec == codec) b = &x;
  if (!b) return state.SkipWithError("no such backend");
  if (auto st = b->probe(); !st) return state.SkipWithError(st.error().message.c_str());
  VideoEncoderConfig cfg;
  cfg.size = {w, h};
  cfg.fps = fps;
  auto enc = b->create(cfg);
  if (!enc) return state.SkipWithError("could not be created");
  Decoder dec(codec);
  Image img(w, h);
  int i = 0;
  size_t bytes = 0;
  double psnr_sum = 0, psnr_min = 99;
  int decoded = 0;
  double cpu_s = 0;  // process CPU time in encode(), all threads (x264/VPX use several)
  std::vector<double> wall_ms;  // per frame
  int delivered = 0;
  const auto process_cpu = [] {
    timespec ts{};
    clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
    return double(ts.tv_sec) + double(ts.tv_nsec) * 1e-9;
  };
  for (auto _ : state) {
    state.PauseTiming();
    paint(img, i++, fps);
    const double c0 = process_cpu();
    const auto t0 = std::chrono::steady_clock::now();
    state.ResumeTiming();
    auto res = enc->encode(img.view());
    state.PauseTiming();
    wall_ms.push_back(
        std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - t0).count());
    cpu_s += process_cpu() - c0;
    if (auto* f = std::get_if<EncodedFrame>(&res)) {
      ++delivered;
      bytes += f->data.size();
      const double p = dec.psnr(f->data, img);
      if (p >= 0) {
        psnr_sum += p;
        psnr_min = std::min(psnr_min, p);
        ++decoded;
      }
    }
    state.ResumeTiming();
  }
  state.counters["cpu_ms/frame"] = cpu_s * 1000 / double(std::max<int64_t>(1, state.iterations()));
  state.counters["KB/frame"] = double(bytes) / 1024.0 / double(std::max<int64_t>(1, state.iterations()));
  state.counters["Mbit/s"] = double(bytes) * 8 * fps / 1e6 / double(std::max<int64_t>(1, state.iterations()));
  std::sort(wall_ms.begin(), wall_ms.end());
  const auto pct = [&](double q) {
    return wall_ms.empty() ? 0.0 : wall_ms[std::min(wall_ms.size() - 1, size_t(q * double(wall_ms.size())))];
  };
  state.counters["ms_p50"] = pct(0.50);
  state.counters["ms_p99"] = pct(0.99);
  state.counters["delivered"] = delivered;
  state.counters["in_time"] =
      wall_ms.empty() ? 0.0
                      : double(std::count_if(wall_ms.begin(), wall_ms.end(),
                                             [&](double ms) { return ms <= 1000.0 / fps; })) /
                            double(wall_ms.size());
  state.counters["PSNR_avg"] = decoded ? psnr_sum / decoded : 0;
  state.counters["PSNR_min"] = decoded ? psnr_min : 0;
  state.counters["decoded"] = decoded;
}

void register_all() {
  const struct {
    const char* name;
    VideoCodec codec;
  } kBackends[] = {{"nvenc", VideoCodec::h264}, {"vaapi", VideoCodec::h264},
                   {"x264", VideoCodec::h264},  {"vpx", VideoCodec::vp8},
                   {"vpx", VideoCodec::vp9},    {"mjpeg", VideoCodec::mjpeg}};
  const struct {
    const char* label;
    int w, h;
  } kSizes[] = {{"1080p", 1920, 1080}, {"4k", 3840, 2160}};
  for (const int fps : {30, 60}) {
    for (const auto& s : kSizes) {
      for (const auto& b : kBackends) {
        const std::string label = std::string("video/") + b.name + ":" +
                                  std::string(to_string(b.codec)) + "/" + s.label + "/" +
                                  std::to_string(fps) + "fps";
        benchmark::RegisterBenchmark(label.c_str(), [b, s, fps](benchmark::State& st) {
          BM_Encode(st, b.name, b.codec, s.w, s.h, fps);
        })->Iterations(frames_per_case())->Unit(benchmark::kMillisecond)->UseRealTime();
      }
    }
  }
}

const int kRegistered = (register_all(), 0);

}  // namespace
