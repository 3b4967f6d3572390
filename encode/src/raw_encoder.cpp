#include <cassert>
#include <cstring>

#include "encoders.hpp"

namespace spiceflow::encode {

void pack_rows(const ImageView& img, std::vector<uint8_t>& out) {
  const size_t row_bytes = size_t(img.width) * 4;
  out.resize(row_bytes * size_t(img.height));
  if (size_t(img.stride) == row_bytes) {
    // Already packed: one copy instead of one per row.
    std::memcpy(out.data(), img.data, out.size());
    return;
  }
  for (int32_t y = 0; y < img.height; ++y) {
    std::memcpy(out.data() + size_t(y) * row_bytes, img.row(y), row_bytes);
  }
}

namespace {

// The SpiceBitmap pixel rows, uncompressed: the fallback every client can show.
class RawEncoder final : public ImageEncoder {
 public:
  ImageCodec codec() const override { return ImageCodec::raw; }

  EncodeResult encode(const ImageView& img) const override {
    if (img.width <= 0 || img.height <= 0) return Unsupported{"empty image"};
    assert(img.data != nullptr && img.stride >= img.width * 4);
    EncodedImage out{ImageCodec::raw, img.width, img.height, {}};
    pack_rows(img, out.data);
    return out;
  }
};

}  // namespace

std::unique_ptr<ImageEncoder> make_raw_encoder() { return std::make_unique<RawEncoder>(); }

}  // namespace spiceflow::encode
