// FFmpeg video encoders (see video_ffmpeg.hpp). One FfmpegEncoder per stream: an
// AVCodecContext set up for real-time desktop video (no B-frames, no look-ahead, one packet
// out per frame in), fed 4:2:0 pictures in BT.709 limited range (core/yuv.hpp): YUV420P, or
// NV12 for VAAPI, converted by the raster backend (on the device where there is one) and
// only copied into the codec's frame here; an xRGB picture is converted once with the same
// formula (convert_to_yuv). Key frames on the first frame and on request.
//
// What goes on the wire is what spice-gtk's GStreamer decoders expect after data_size:
// H.264/H.265 as an Annex-B byte stream (start codes; SPS/PPS repeated before every IDR
// because no global header is requested), VP8/VP9 as raw frames (no IVF container).
//
// Hardware backends open their device in the probe and again per encoder: NVENC through a
// CUDA device context (h264_nvenc/hevc_nvenc take our I420 frames directly), VAAPI
// through a VAAPI device with a pool of NV12 surfaces that each frame is uploaded into.
extern "C" {
#include <libavcodec/avcodec.h>
#include <libavutil/hwcontext.h>
#include <libavutil/log.h>
#include <libavutil/opt.h>
}

#include "video_ffmpeg.hpp"

#include <algorithm>
#include <cstdarg>
#include <cstring>
#include <memory>
#include <mutex>
#include <string>

#include "spiceflow/core/log.hpp"

namespace spiceflow::encode {
namespace {

enum class Device { none, cuda, vaapi };

struct Spec {
  std::string_view name;  // registry name
  VideoCodec codec;
  const char* av_name;    // the libavcodec encoder
  Device device;
};

std::string av_error(int err) {
  char buf[AV_ERROR_MAX_STRING_SIZE] = {};
  av_strerror(err, buf, sizeof buf);
  return buf;
}

struct CodecContextFree {
  void operator()(AVCodecContext* c) const { avcodec_free_context(&c); }
};
struct FrameFree {
  void operator()(AVFrame* f) const { av_frame_free(&f); }
};
struct PacketFree {
  void operator()(AVPacket* p) const { av_packet_free(&p); }
};
struct BufferUnref {
  void operator()(AVBufferRef* b) const { av_buffer_unref(&b); }
};
using CodecContextPtr = std::unique_ptr<AVCodecContext, CodecContextFree>;
using FramePtr = std::unique_ptr<AVFrame, FrameFree>;
using PacketPtr = std::unique_ptr<AVPacket, PacketFree>;
using BufferPtr = std::unique_ptr<AVBufferRef, BufferUnref>;

// Copies `rows` rows of `bytes` bytes between planes of different strides.
void copy_plane(const uint8_t* src, int32_t src_stride, uint8_t* dst, int dst_stride, int32_t bytes, int32_t rows) {
  for (int32_t y = 0; y < rows; ++y) {
    std::memcpy(dst + ptrdiff_t(y) * dst_stride, src + ptrdiff_t(y) * src_stride, size_t(bytes));
  }
}

// libav's own messages (e.g. "Cannot load libcuda.so.1" while probing NVENC) go to our
// log at debug level: the probe reports the outcome once, in one line.
void route_av_log() {
  static std::once_flag once;
  std::call_once(once, [] {
    av_log_set_callback([](void* avcl, int level, const char* fmt, va_list vl) {
      if (level > AV_LOG_WARNING) return;
      char line[1024];
      int prefix = 1;
      va_list copy;
      va_copy(copy, vl);
      av_log_format_line(avcl, level, fmt, copy, line, sizeof line, &prefix);
      va_end(copy);
      std::string_view s(line);
      while (!s.empty() && (s.back() == '\n' || s.back() == '\r')) s.remove_suffix(1);
      log::debug("libav: {}", s);
    });
  });
}

// The target bit rate of the rate-controlled encoders (VPX, NVENC, VAAPI): ~0.12 bit per
// pixel per frame (1080p30: 7.5 Mbit/s), enough for desktop video to stay above 30 dB.
int64_t target_bitrate(const VideoEncoderConfig& cfg) {
  if (cfg.bitrate > 0) return cfg.bitrate;
  const double bpp = 0.12;
  return int64_t(double(cfg.size.width) * cfg.size.height * std::max(cfg.fps, 1) * bpp);
}

class FfmpegEncoder final : public VideoEncoder {
 public:
  // Opens the device (hardware backends), the encoder and the converter; nullptr and the
  // reason when any of them fails.
  static std::unique_ptr<FfmpegEncoder> open(const Spec& spec, const VideoEncoderConfig& cfg,
                                             std::string* why) {
    route_av_log();
    auto fail = [&](std::string reason) -> std::unique_ptr<FfmpegEncoder> {
      if (why) *why = std::move(reason);
      return nullptr;
    };
    if (cfg.size.width <= 0 || cfg.size.height <= 0) return fail("empty picture");
    const AVCodec* codec = avcodec_find_encoder_by_name(spec.av_name);
    if (!codec) return fail(std::string("libavcodec has no ") + spec.av_name + " encoder");

    std::unique_ptr<FfmpegEncoder> e(new FfmpegEncoder(spec, cfg.size));
    e->ctx_.reset(avcodec_alloc_context3(codec));
    e->pkt_.reset(av_packet_alloc());
    e->yuv_.reset(av_frame_alloc());
    if (!e->ctx_ || !e->pkt_ || !e->yuv_) return fail("out of memory");
    AVCodecContext* c = e->ctx_.get();
    const int fps = std::max(cfg.fps, 1);
    c->width = cfg.size.width;
    c->height = cfg.size.height;
    c->time_base = AVRational{1, fps};
    c->framerate = AVRational{fps, 1};
    c->gop_size = fps * 10;  // a periodic key frame every 10 s; more on request
    c->max_b_frames = 0;
    c->color_range = AVCOL_RANGE_MPEG;
    c->colorspace = AVCOL_SPC_BT709;
    c->color_primaries = AVCOL_PRI_BT709;
    c->color_trc = AVCOL_TRC_BT709;
    c->pix_fmt = AV_PIX_FMT_YUV420P;
    AVPixelFormat sw_format = AV_PIX_FMT_YUV420P;

    AVDictionary* opts = nullptr;
    const auto set = [&](const char* k, const char* v) { av_dict_set(&opts, k, v, 0); };
    const bool big = int64_t(cfg.size.width) * cfg.size.height * fps > 1280LL * 720 * 30;
    switch (spec.device) {
      case Device::cuda: {
        AVBufferRef* dev = nullptr;
        if (int err = av_hwdevice_ctx_create(&dev, AV_HWDEVICE_TYPE_CUDA, nullptr, nullptr, 0);
            err < 0) {
          return fail("no CUDA device (" + av_error(err) + ")");
        }
        e->device_.reset(dev);
        c->hw_device_ctx = av_buffer_ref(dev);
        c->bit_rate = target_bitrate(cfg);
        set("preset", "p1");
        set("tune", "ull");
        set("zerolatency", "1");
        set("delay", "0");
        set("forced-idr", "1");
        break;
      }
      case Device::vaapi: {
        AVBufferRef* dev = nullptr;
        if (int err = av_hwdevice_ctx_create(&dev, AV_HWDEVICE_TYPE_VAAPI, nullptr, nullptr, 0);
            err < 0) {
          return fail("no VAAPI device (" + av_error(err) + ")");
        }
        e->device_.reset(dev);
        BufferPtr frames(av_hwframe_ctx_alloc(dev));
        if (!frames) return fail("out of memory");
        auto* fc = reinterpret_cast<AVHWFramesContext*>(frames->data);
        fc->format = AV_PIX_FMT_VAAPI;
        fc->sw_format = AV_PIX_FMT_NV12;
        fc->width = cfg.size.width;
        fc->height = cfg.size.height;
        fc->initial_pool_size = 4;
        if (int err = av_hwframe_ctx_init(frames.get()); err < 0) {
          return fail("VAAPI surfaces: " + av_error(err));
        }
        c->hw_frames_ctx = av_buffer_ref(frames.get());
        c->pix_fmt = AV_PIX_FMT_VAAPI;
        sw_format = AV_PIX_FMT_NV12;
        c->bit_rate = target_bitrate(cfg);
        set("async_depth", "1");
        break;
      }
      case Device::none:
        if (spec.codec == VideoCodec::h264) {
          // x264: zero-latency tuning (no look-ahead, no frame threading: one packet per
          // frame), ultrafast beyond 720p30 to keep up on one core, constant quality.
          set("preset", big ? "ultrafast" : "veryfast");
          set("tune", "zerolatency");
          set("crf", cfg.quality > 0 ? std::to_string(cfg.quality).c_str() : "23");
          set("forced-idr", "1");
        } else {
          // libvpx: real-time deadline, fastest useful speed, no alt-ref frames and no
          // lag, so every frame in gives its frame out (raw VP8/VP9, no IVF).
          c->bit_rate = target_bitrate(cfg);
          c->qmin = 4;
          c->qmax = 56;
          set("deadline", "realtime");
          set("cpu-used", spec.codec == VideoCodec::vp8 ? "12" : "8");
          set("lag-in-frames", "0");
          set("auto-alt-ref", "0");
          if (spec.codec == VideoCodec::vp9) {
            set("row-mt", "1");
            set("tile-columns", big ? "2" : "1");
          }
        }
        break;
    }
    const int err = avcodec_open2(c, codec, &opts);
    av_dict_free(&opts);
    if (err < 0) {
      return fail(std::string(spec.av_name) + " does not open at " +
                  std::to_string(cfg.size.width) + "x" + std::to_string(cfg.size.height) + " (" +
                  av_error(err) + ")");
    }

    AVFrame* f = e->yuv_.get();
    f->format = sw_format;
    f->width = cfg.size.width;
    f->height = cfg.size.height;
    f->color_range = AVCOL_RANGE_MPEG;
    f->colorspace = AVCOL_SPC_BT709;
    if (av_frame_get_buffer(f, 0) < 0) return fail("out of memory");
    e->input_ = sw_format == AV_PIX_FMT_NV12 ? YuvFormat::nv12 : YuvFormat::i420;
    return e;
  }

  VideoCodec codec() const override { return spec_.codec; }
  std::string_view name() const override { return spec_.name; }
  void request_keyframe() override { keyframe_ = true; }

  std::optional<YuvFormat> yuv_input() const override { return input_; }

  VideoEncodeResult encode(const ImageView& frame) override {
    if (frame.width != size_.width || frame.height != size_.height) {
      return Unsupported{"frame size differs from the stream's"};
    }
    return encode(convert_to_yuv(frame, input_));
  }

  VideoEncodeResult encode(const YuvImage& frame) override {
    if (frame.width != size_.width || frame.height != size_.height) {
      return Unsupported{"frame size differs from the stream's"};
    }
    if (frame.format != input_) return Unsupported{"picture format differs from the encoder's"};
    AVFrame* yuv = yuv_.get();
    // The encoder may still hold a reference to the previous picture's buffers.
    if (av_frame_make_writable(yuv) < 0) return Unsupported{"out of memory"};
    copy_plane(frame.y(), frame.y_stride(), yuv->data[0], yuv->linesize[0], frame.width, frame.height);
    if (input_ == YuvFormat::nv12) {
      copy_plane(frame.u(), frame.uv_stride(), yuv->data[1], yuv->linesize[1], 2 * frame.chroma_width(),
                 frame.chroma_height());
    } else {
      copy_plane(frame.u(), frame.uv_stride(), yuv->data[1], yuv->linesize[1], frame.chroma_width(),
                 frame.chroma_height());
      copy_plane(frame.v(), frame.uv_stride(), yuv->data[2], yuv->linesize[2], frame.chroma_width(),
                 frame.chroma_height());
    }

    AVFrame* in = yuv;
    FramePtr hw;
    if (ctx_->hw_frames_ctx) {
      hw.reset(av_frame_alloc());
      if (!hw || av_hwframe_get_buffer(ctx_->hw_frames_ctx, hw.get(), 0) < 0 ||
          av_hwframe_transfer_data(hw.get(), yuv, 0) < 0) {
        return Unsupported{"upload to the VAAPI surface failed"};
      }
      in = hw.get();
    }
    in->pts = pts_++;
    in->pict_type = keyframe_ ? AV_PICTURE_TYPE_I : AV_PICTURE_TYPE_NONE;
    if (int err = avcodec_send_frame(ctx_.get(), in); err < 0) {
      return Unsupported{std::string(spec_.av_name) + ": " + av_error(err)};
    }
    keyframe_ = false;

    EncodedFrame out{spec_.codec, size_.width, size_.height, false, {}};
    for (;;) {
      const int err = avcodec_receive_packet(ctx_.get(), pkt_.get());
      if (err == AVERROR(EAGAIN) || err == AVERROR_EOF) break;
      if (err < 0) return Unsupported{std::string(spec_.av_name) + ": " + av_error(err)};
      out.data.insert(out.data.end(), pkt_->data, pkt_->data + pkt_->size);
      out.keyframe = out.keyframe || (pkt_->flags & AV_PKT_FLAG_KEY) != 0;
      av_packet_unref(pkt_.get());
    }
    // Our settings give one packet per frame; an encoder that buffers anyway shows this
    // frame with a later one.
    if (out.data.empty()) return Dropped{};
    return out;
  }

 private:
  FfmpegEncoder(const Spec& spec, Size size) : spec_(spec), size_(size) {}

  const Spec spec_;
  const Size size_;
  BufferPtr device_;  // hardware backends: the device the context encodes on
  CodecContextPtr ctx_;
  FramePtr yuv_;      // the picture handed to the codec (YUV420P, or NV12 to upload for VAAPI)
  PacketPtr pkt_;
  YuvFormat input_ = YuvFormat::i420;  // yuv_'s layout
  int64_t pts_ = 0;
  bool keyframe_ = true;  // the first frame is one
};

// The outcome of a backend's probe, computed once (on first use) and then read-only.
struct ProbeOnce {
  std::once_flag once;
  Status status;
};

VideoEncoderBackend make_backend(const Spec& spec) {
  auto cache = std::make_shared<ProbeOnce>();
  auto probe = [spec, cache]() -> Status {
    std::call_once(cache->once, [&] {
      // A small encoder on the real device: "the encoder exists and the device opens".
      VideoEncoderConfig cfg;
      cfg.size = {256, 256};
      std::string why;
      if (FfmpegEncoder::open(spec, cfg, &why)) {
        log::info("video encoder {} ({}, {}): available", spec.name, to_string(spec.codec),
                  spec.av_name);
        cache->status = Status::success();
      } else {
        log::info("video encoder {} ({}, {}): unavailable: {}", spec.name,
                  to_string(spec.codec), spec.av_name, why);
        cache->status = make_error(why);
      }
    });
    return cache->status;
  };
  auto create = [spec](const VideoEncoderConfig& cfg) -> std::unique_ptr<VideoEncoder> {
    std::string why;
    auto e = FfmpegEncoder::open(spec, cfg, &why);
    if (!e) log::debug("video encoder {}: {}", spec.name, why);
    return e;
  };
  return {spec.name, spec.codec, std::move(probe), std::move(create)};
}

}  // namespace

std::vector<VideoEncoderBackend> ffmpeg_backends() {
  static constexpr Spec kSpecs[] = {
      {"nvenc", VideoCodec::h264, "h264_nvenc", Device::cuda},
      {"nvenc", VideoCodec::h265, "hevc_nvenc", Device::cuda},
      {"vaapi", VideoCodec::h264, "h264_vaapi", Device::vaapi},
      {"vaapi", VideoCodec::h265, "hevc_vaapi", Device::vaapi},
      {"x264", VideoCodec::h264, "libx264", Device::none},
      {"vpx", VideoCodec::vp8, "libvpx", Device::none},
      {"vpx", VideoCodec::vp9, "libvpx-vp9", Device::none},
  };
  std::vector<VideoEncoderBackend> out;
  for (const auto& s : kSpecs) out.push_back(make_backend(s));
  return out;
}

}  // namespace spiceflow::encode
