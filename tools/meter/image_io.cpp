#include "image_io.hpp"

#include <png.h>
#include <spice/enums.h>

#include <cmath>
#include <cstdio>
#include <cstring>
#include <memory>
#include <vector>

namespace spiceflow::meter {

Result<Image> copy_surface(const uint8_t* data, int width, int height, int stride, int format) {
  if (format != SPICE_SURFACE_FMT_32_xRGB && format != SPICE_SURFACE_FMT_32_ARGB) {
    return make_error("surface format " + std::to_string(format) + " is not a 32-bit format");
  }
  if (!data || width <= 0 || height <= 0 || stride < width * 4) {
    return make_error("no usable primary surface");
  }
  Image img(width, height);
  for (int y = 0; y < height; ++y) {
    const auto* src = data + size_t(y) * size_t(stride);
    std::memcpy(img.row(y), src, size_t(width) * 4);
  }
  return img;
}

namespace {
struct FileCloser {
  void operator()(FILE* f) const { std::fclose(f); }
};
}  // namespace

Status write_png(const std::string& path, const ImageView& img) {
  std::unique_ptr<FILE, FileCloser> f(std::fopen(path.c_str(), "wb"));
  if (!f) return make_error("cannot open " + path + " for writing");
  png_structp png = png_create_write_struct(PNG_LIBPNG_VER_STRING, nullptr, nullptr, nullptr);
  if (!png) return make_error("png_create_write_struct failed");
  png_infop info = png_create_info_struct(png);
  if (!info) {
    png_destroy_write_struct(&png, nullptr);
    return make_error("png_create_info_struct failed");
  }
  std::vector<uint8_t> row(size_t(img.width) * 3);
  // libpng reports errors by longjmp; nothing with a destructor lives between here and
  // the calls that can jump (row and f were made before).
  if (setjmp(png_jmpbuf(png))) {
    png_destroy_write_struct(&png, &info);
    return make_error("libpng failed writing " + path);
  }
  png_init_io(png, f.get());
  png_set_IHDR(png, info, png_uint_32(img.width), png_uint_32(img.height), 8, PNG_COLOR_TYPE_RGB,
               PNG_INTERLACE_NONE, PNG_COMPRESSION_TYPE_DEFAULT, PNG_FILTER_TYPE_DEFAULT);
  png_write_info(png, info);
  for (int y = 0; y < img.height; ++y) {
    const uint32_t* src = img.row(y);
    for (int x = 0; x < img.width; ++x) {
      row[size_t(x) * 3 + 0] = uint8_t(src[x] >> 16);
      row[size_t(x) * 3 + 1] = uint8_t(src[x] >> 8);
      row[size_t(x) * 3 + 2] = uint8_t(src[x]);
    }
    png_write_row(png, row.data());
  }
  png_write_end(png, nullptr);
  png_destroy_write_struct(&png, &info);
  if (std::fflush(f.get()) != 0) return make_error("cannot write " + path);
  return Status::success();
}

Result<ReferenceComparison> compare(const ImageView& img, const ImageView& ref) {
  if (img.width != ref.width || img.height != ref.height) {
    return make_error("size differs from the reference: " + std::to_string(img.width) + "x" +
                      std::to_string(img.height) + " vs " + std::to_string(ref.width) + "x" +
                      std::to_string(ref.height));
  }
  ReferenceComparison c;
  double sum = 0;
  for (int y = 0; y < img.height; ++y) {
    const uint32_t* a = img.row(y);
    const uint32_t* b = ref.row(y);
    for (int x = 0; x < img.width; ++x) {
      bool differs = false;
      for (int shift = 0; shift <= 16; shift += 8) {
        const int d = int((a[x] >> shift) & 0xff) - int((b[x] >> shift) & 0xff);
        sum += double(d * d);
        differs = differs || d != 0;
      }
      c.differing_pixels += differs;
    }
  }
  const double samples = double(img.width) * double(img.height) * 3;
  c.mse = samples > 0 ? sum / samples : 0;
  if (c.mse > 0) c.psnr_db = 10 * std::log10(255.0 * 255.0 / c.mse);
  return c;
}

}  // namespace spiceflow::meter
