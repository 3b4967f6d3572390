#include "spiceflow/encode/classify.hpp"

#include <array>

namespace spiceflow::encode {

namespace {

// Past 256 colours no palette fits; counting stops there.
constexpr uint32_t kColourLimit = 257;
// Text and UI: at least half of the neighbours are equal (flat paper, fills, runs).
constexpr double kTextEqualShare = 0.5;

// Up to kColourLimit colours in 1024 open-addressed slots (0xffffffff never occurs: X is
// cleared).
class ColourSet {
 public:
  ColourSet() { slots_.fill(kEmpty); }
  // Returns false once the limit is reached.
  bool add(uint32_t c) {
    size_t h = (c * 2654435761u) >> 22;
    while (slots_[h] != kEmpty) {
      if (slots_[h] == c) return true;
      h = (h + 1) & 1023;
    }
    slots_[h] = c;
    return ++count_ < kColourLimit;
  }
  uint32_t count() const { return count_; }

 private:
  static constexpr uint32_t kEmpty = 0xffffffffu;
  std::array<uint32_t, 1024> slots_;
  uint32_t count_ = 0;
};

}  // namespace

std::string_view to_string(TileClass c) {
  switch (c) {
    case TileClass::flat:
      return "flat";
    case TileClass::text:
      return "text";
    case TileClass::photo:
      return "photo";
  }
  return "unknown";
}

TileStats tile_stats(const ImageView& img) {
  TileStats s;
  if (img.width <= 0 || img.height <= 0) return s;
  ColourSet colours;
  bool counting = true;
  for (int32_t y = 0; y < img.height; ++y) {
    const uint32_t* row = img.row(y);
    uint32_t prev = row[0] & 0x00ffffffu;
    if (counting) counting = colours.add(prev);
    for (int32_t x = 1; x < img.width; ++x) {
      const uint32_t c = row[x] & 0x00ffffffu;
      ++s.pairs;
      if (c == prev) {
        ++s.equal_pairs;
        continue;
      }
      if (counting) counting = colours.add(c);
      prev = c;
    }
  }
  s.colours = colours.count();
  return s;
}

TileClass classify(const TileStats& s) {
  if (s.colours <= 1) return TileClass::flat;
  if (s.colours < kColourLimit) return TileClass::text;
  if (s.pairs && double(s.equal_pairs) >= kTextEqualShare * double(s.pairs)) return TileClass::text;
  return TileClass::photo;
}

}  // namespace spiceflow::encode
