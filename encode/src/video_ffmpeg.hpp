#pragma once
/// FFmpeg (libavcodec) video encoder backends, private to encode/: NVENC and VAAPI (H.264,
/// H.265), libx264 (H.264) and libvpx (VP8, VP9). FFmpeg types stay in video_ffmpeg.cpp;
/// the registry sees only VideoEncoderBackend values.
#include <vector>

#include "spiceflow/encode/video_encoder.hpp"

namespace spiceflow::encode {

/// The FFmpeg backends in registry order: hardware (nvenc, vaapi) first, then the CPU ones
/// (x264, vpx). Each probe opens a small encoder (and, for hardware, its device) once per
/// process and keeps the answer; the first probe of each backend logs the outcome.
std::vector<VideoEncoderBackend> ffmpeg_backends();

}  // namespace spiceflow::encode
