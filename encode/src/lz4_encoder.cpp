#include <lz4.h>
#include <spice/enums.h>

#include <algorithm>
#include <cassert>
#include <cstring>

#include "encoders.hpp"

namespace spiceflow::encode {
namespace {

// Uncompressed bytes per LZ4 block, rounded down to whole rows (at least one row). Blocks
// are chained (each may refer back into the previous 64 KiB), so their size barely
// affects the ratio; it bounds each LZ4 call and the output growth step. Any size decodes:
// the client appends each block's output to the last.
constexpr size_t kBlockBytes = size_t(256) << 10;

// spice-gtk's canvas_get_lz4() reads, after LZ4Data.data_size:
//   u8 top_down, u8 SpiceBitmapFmt,
//   then until the end: [u32 big-endian compressed size][LZ4 block] ...
// decoding every block with LZ4_decompress_safe_continue straight into the surface, one
// block after the other, so the blocks form one LZ4 stream whose concatenated output is
// the pixel rows. For SPICE_BITMAP_FMT_32BIT those rows are width * 4 bytes: B, G, R, X
// per pixel, exactly our memory layout (the X byte is ignored: the client's surface is
// x8r8g8b8).
class Lz4Encoder final : public ImageEncoder {
 public:
  ImageCodec codec() const override { return ImageCodec::lz4; }

  EncodeResult encode(const ImageView& img) const override {
    // The client's decode loop runs at least once, so a payload must hold one block.
    if (img.width <= 0 || img.height <= 0) return Unsupported{"empty image"};
    assert(img.data != nullptr && img.stride >= img.width * 4);

    const size_t row_bytes = size_t(img.width) * 4;
    const size_t total = row_bytes * size_t(img.height);
    // Chained blocks must come from one contiguous, unchanging buffer (the stream's
    // dictionary points into earlier input), so a strided view is packed first.
    std::vector<uint8_t> packed;
    const uint8_t* in = img.data;
    if (size_t(img.stride) != row_bytes) {
      pack_rows(img, packed);
      in = packed.data();
    }
    const size_t rows_per_block = std::max<size_t>(1, kBlockBytes / row_bytes);
    const size_t block_bytes = rows_per_block * row_bytes;
    if (block_bytes > size_t(LZ4_MAX_INPUT_SIZE)) return Unsupported{"row too long for LZ4"};

    // Per call, on the stack: encode() runs concurrently and owns no state.
    LZ4_stream_t stream;
    LZ4_initStream(&stream, sizeof(stream));

    EncodedImage out{ImageCodec::lz4, img.width, img.height, {}};
    std::vector<uint8_t>& data = out.data;
    data.reserve(2 + total / 4);
    data.push_back(1);  // top_down: rows go first to last
    data.push_back(SPICE_BITMAP_FMT_32BIT);
    for (size_t offset = 0; offset < total; offset += block_bytes) {
      const int in_size = int(std::min(block_bytes, total - offset));
      const int bound = LZ4_compressBound(in_size);
      const size_t at = data.size();
      data.resize(at + 4 + size_t(bound));
      const int n = LZ4_compress_fast_continue(&stream, reinterpret_cast<const char*>(in + offset),
                                               reinterpret_cast<char*>(data.data() + at + 4),
                                               in_size, bound, 1);
      if (n <= 0) return Unsupported{"LZ4 compression failed"};
      const uint32_t be = uint32_t(n);
      data[at + 0] = uint8_t(be >> 24);
      data[at + 1] = uint8_t(be >> 16);
      data[at + 2] = uint8_t(be >> 8);
      data[at + 3] = uint8_t(be);
      data.resize(at + 4 + size_t(n));
    }
    return out;
  }
};

}  // namespace

std::unique_ptr<ImageEncoder> make_lz4_encoder() { return std::make_unique<Lz4Encoder>(); }

}  // namespace spiceflow::encode
