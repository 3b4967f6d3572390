// JPEG (SPICE_IMAGE_TYPE_JPEG) through libjpeg-turbo: a plain baseline JFIF stream, which
// spice-gtk's canvas decodes with its own libjpeg into an x8r8g8b8 surface. Lossy: the
// caller chooses it only where approximate pixels are acceptable.
#include <algorithm>
#include <csetjmp>
#include <cstddef>
#include <cstdio>
#include <cstdlib>

// jpeglib.h needs size_t and FILE declared before it.
// clang-format off
#include <jpeglib.h>
// clang-format on

#include "encoders.hpp"

namespace spiceflow::encode {
namespace {

// libjpeg reports errors through error_exit, which by default exits the process; ours
// jumps back to the encode call instead.
struct ErrorManager {
  jpeg_error_mgr pub;
  std::jmp_buf jump;
  char message[JMSG_LENGTH_MAX];
};

void on_error(j_common_ptr cinfo) {
  auto* err = reinterpret_cast<ErrorManager*>(cinfo->err);
  (*cinfo->err->format_message)(cinfo, err->message);
  std::longjmp(err->jump, 1);
}

// Only trivially destructible locals live here: longjmp skips destructors. Returns false
// with `message` set on failure; on success *out / *out_size are a malloc'ed buffer.
bool compress(const ImageView& img, int quality, unsigned char** out, unsigned long* out_size,
              char* message) {
  jpeg_compress_struct cinfo;
  ErrorManager err;
  cinfo.err = jpeg_std_error(&err.pub);
  err.pub.error_exit = on_error;
  err.message[0] = '\0';
  *out = nullptr;
  *out_size = 0;
  if (setjmp(err.jump)) {
    jpeg_destroy_compress(&cinfo);
    std::free(*out);
    *out = nullptr;
    std::snprintf(message, JMSG_LENGTH_MAX, "%s", err.message);
    return false;
  }
  jpeg_create_compress(&cinfo);
  jpeg_mem_dest(&cinfo, out, out_size);
  cinfo.image_width = JDIMENSION(img.width);
  cinfo.image_height = JDIMENSION(img.height);
  // libjpeg-turbo reads our B,G,R,X memory order directly (no conversion pass).
  cinfo.input_components = 4;
  cinfo.in_color_space = JCS_EXT_BGRX;
  jpeg_set_defaults(&cinfo);
  jpeg_set_quality(&cinfo, quality, TRUE);
  cinfo.dct_method = JDCT_ISLOW;
  jpeg_start_compress(&cinfo, TRUE);
  while (cinfo.next_scanline < cinfo.image_height) {
    JSAMPROW row =
        const_cast<JSAMPROW>(img.data + size_t(cinfo.next_scanline) * size_t(img.stride));
    jpeg_write_scanlines(&cinfo, &row, 1);
  }
  jpeg_finish_compress(&cinfo);
  jpeg_destroy_compress(&cinfo);
  return true;
}

class JpegEncoder final : public ImageEncoder {
 public:
  explicit JpegEncoder(int quality) : quality_(quality) {}
  ImageCodec codec() const override { return ImageCodec::jpeg; }

  EncodeResult encode(const ImageView& img) const override {
    if (img.width <= 0 || img.height <= 0) return Unsupported{"empty image"};
    if (img.width > JPEG_MAX_DIMENSION || img.height > JPEG_MAX_DIMENSION) {
      return Unsupported{"image too large for JPEG"};
    }
    unsigned char* buf = nullptr;
    unsigned long size = 0;
    char message[JMSG_LENGTH_MAX];
    if (!compress(img, quality_, &buf, &size, message)) {
      return Unsupported{std::string("libjpeg: ") + message};
    }
    EncodedImage out{ImageCodec::jpeg, img.width, img.height, {buf, buf + size}};
    std::free(buf);
    return out;
  }

 private:
  const int quality_;
};

}  // namespace

std::unique_ptr<ImageEncoder> make_jpeg_encoder(int quality) {
  return std::make_unique<JpegEncoder>(std::clamp(quality, 1, 100));
}

}  // namespace spiceflow::encode
