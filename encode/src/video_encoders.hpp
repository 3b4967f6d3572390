#pragma once
/// The registered video encoder backends, one per file. Private to encode/: callers use
/// video_encoder_registry() / make_video_encoder().
#include "spiceflow/encode/video_encoder.hpp"
#include "video_ffmpeg.hpp"

namespace spiceflow::encode {

VideoEncoderBackend mjpeg_backend();  // video_mjpeg.cpp

}  // namespace spiceflow::encode
