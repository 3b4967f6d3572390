#pragma once
/// A cheap per-tile content classifier for `--image-compression auto`: one pass over the
/// pixels counting colours (up to 257) and equal horizontal neighbours.
///   flat:  one colour;
///   text:  at most 256 colours, or most neighbours equal (UI, text, antialiased text,
///          diagrams): dictionary codecs (LZ4, LZ_PLT, GLZ) win, by a lot;
///   photo: more than 256 colours and mostly changing from pixel to pixel (photographs,
///          gradients, video frames, noise): QUIC's prediction wins (JPEG where lossy is
///          allowed); LZ4 barely compresses them.
/// Deterministic and thread-safe (a pure function).
#include <cstdint>
#include <string_view>

#include "spiceflow/core/image.hpp"

namespace spiceflow::encode {

enum class TileClass { flat, text, photo };
std::string_view to_string(TileClass c);

struct TileStats {
  uint32_t colours = 0;       ///< distinct colours, counted up to 257 (257 = "more")
  uint64_t pairs = 0;         ///< horizontal neighbour pairs looked at
  uint64_t equal_pairs = 0;   ///< ... of equal colour
};
TileStats tile_stats(const ImageView& img);
TileClass classify(const TileStats& s);
inline TileClass classify_tile(const ImageView& img) { return classify(tile_stats(img)); }

}  // namespace spiceflow::encode
