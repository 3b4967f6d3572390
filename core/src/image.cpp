#include "spiceflow/core/image.hpp"

#include <cstdio>
#include <fstream>
#include <memory>

namespace spiceflow {

Image::Image(int32_t width, int32_t height)
    : width_(width), height_(height), stride_(width * 4),
      pixels_(size_t(width) * size_t(height) * 4, 0) {}

Image::Image(int32_t width, int32_t height, Uninitialized)
    : width_(width), height_(height), stride_(width * 4),
      pixels_(size_t(width) * size_t(height) * 4) {}

Image Image::copy_of(const ImageView& src, const Rect& r) {
  Image out(r.width, r.height, Uninitialized{});
  for (int32_t y = 0; y < r.height; ++y) {
    std::memcpy(out.row(y), src.row(r.y + y) + r.x, size_t(r.width) * 4);
  }
  return out;
}

Status write_ppm(const std::string& path, const ImageView& img) {
  std::ofstream f(path, std::ios::binary | std::ios::trunc);
  if (!f) return make_error("cannot open " + path + " for writing");
  f << "P6\n" << img.width << ' ' << img.height << "\n255\n";
  std::vector<uint8_t> line(size_t(img.width) * 3);
  for (int32_t y = 0; y < img.height; ++y) {
    const uint32_t* row = img.row(y);
    for (int32_t x = 0; x < img.width; ++x) {
      line[size_t(x) * 3 + 0] = uint8_t(row[x] >> 16);
      line[size_t(x) * 3 + 1] = uint8_t(row[x] >> 8);
      line[size_t(x) * 3 + 2] = uint8_t(row[x]);
    }
    f.write(reinterpret_cast<const char*>(line.data()), std::streamsize(line.size()));
  }
  f.close();
  if (!f) return make_error("write to " + path + " failed");
  return Status::success();
}

namespace {
// Reads the next whitespace-separated decimal token of a PPM header, skipping comments.
bool read_header_int(std::istream& in, int& out) {
  int c = in.get();
  while (c != EOF) {
    if (c == '#') {
      while (c != EOF && c != '\n') c = in.get();
    } else if (!std::isspace(c)) {
      break;
    }
    c = in.get();
  }
  if (c == EOF || !std::isdigit(c)) return false;
  long v = 0;
  while (c != EOF && std::isdigit(c)) {
    v = v * 10 + (c - '0');
    if (v > (1 << 20)) return false;
    c = in.get();
  }
  out = int(v);
  return true;  // the single whitespace after maxval has been consumed
}
}  // namespace

Result<Image> read_ppm(const std::string& path) {
  std::ifstream f(path, std::ios::binary);
  if (!f) return make_error("cannot open " + path);
  char magic[2] = {};
  f.read(magic, 2);
  if (magic[0] != 'P' || magic[1] != '6') return make_error(path + ": not a binary PPM (P6)");
  int w = 0, h = 0, maxval = 0;
  if (!read_header_int(f, w) || !read_header_int(f, h) || !read_header_int(f, maxval) ||
      maxval != 255 || w <= 0 || h <= 0 || int64_t(w) * h > (int64_t(1) << 28)) {
    return make_error(path + ": bad PPM header");
  }
  Image img(w, h);
  std::vector<uint8_t> line(size_t(w) * 3);
  for (int y = 0; y < h; ++y) {
    if (!f.read(reinterpret_cast<char*>(line.data()), std::streamsize(line.size()))) {
      return make_error(path + ": truncated PPM");
    }
    uint32_t* row = img.row(y);
    for (int x = 0; x < w; ++x) {
      row[x] = rgb(line[size_t(x) * 3], line[size_t(x) * 3 + 1], line[size_t(x) * 3 + 2]);
    }
  }
  return img;
}

}  // namespace spiceflow
