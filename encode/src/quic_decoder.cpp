// QUIC decoder, the mirror of quic_encoder.cpp (which explains the format): the same
// model tables (quic_format.hpp), the same sampling and run decisions, read back.
//
// Layout of the stream after the header: row by row, the RGB channels of the row (one
// shared sampling/run state for the three), then for RGBA the alpha channel of the same
// row (its own sampling/run state). A "plane" below is such a group of channels. RGB16
// codes 5-bit channels with the 5-bit tables; they are widened to 8 bits as spice-common's
// canvas does (v << 3 | v >> 2), and predictions use the 5-bit values.
//
// Hostile input: the bit reader returns zero bits past the end and remembers it; every
// loop is bounded by the row width (a run longer than what is left of its segment is an
// error, as is a 5-bit code value above 31), and decoding stops at the first row that read
// past the end or went wrong.
#include "spiceflow/encode/quic_decoder.hpp"

#include <array>
#include <bit>
#include <fmt/format.h>
#include <optional>
#include <vector>

#include "quic_format.hpp"

namespace spiceflow::encode {
namespace {

using quic::kBpc;

// Bits in, most significant first, from little-endian 32-bit words: `word_` holds the next
// 32 bits of the stream, `next_` the word after them (spice-common's look-ahead reader).
class BitReader {
 public:
  explicit BitReader(std::span<const uint8_t> data) : words_(data.size() / 4), data_(data) {
    word_ = next_ = load(0);
    pos_ = 1;
  }
  uint32_t peek() const { return word_; }
  // 1 <= len <= 31
  void eat(unsigned len) {
    word_ <<= len;
    if (avail_ >= len) {
      avail_ -= len;
      word_ |= next_ >> avail_;
      return;
    }
    const unsigned d = len - avail_;
    word_ |= next_ << d;
    next_ = load(pos_++);
    avail_ = 32 - d;
    word_ |= next_ >> avail_;
  }
  uint32_t read32() {
    const uint32_t w = word_;
    eat(16);
    eat(16);
    return w;
  }
  bool overrun() const { return overrun_; }

 private:
  uint32_t load(size_t i) {
    if (i >= words_) {
      overrun_ = true;
      return 0;
    }
    const uint8_t* p = data_.data() + i * 4;
    return uint32_t(p[0]) | uint32_t(p[1]) << 8 | uint32_t(p[2]) << 16 | uint32_t(p[3]) << 24;
  }

  const size_t words_;
  std::span<const uint8_t> data_;
  uint32_t word_ = 0, next_ = 0;
  size_t pos_ = 0;
  unsigned avail_ = 0;
  bool overrun_ = false;
};

struct Bucket {
  std::array<uint32_t, kBpc> cost{};
  uint8_t best = 0;
};

struct Channel {
  unsigned shift = 0;  // the channel's bit offset in a 0xAARRGGBB pixel
  std::array<Bucket, quic::kBuckets> buckets;
  std::vector<uint8_t> folded;  // as in the encoder: index 0 is the slot before pixel 0
};

// The sampling and run-length state one plane shares (the encoder's SharedState).
struct PlaneState {
  unsigned wait = 0;
  unsigned seed = 0xff;
  unsigned wm_index = 0;
  unsigned wm_left = quic::kWaitMaskStep;
  unsigned halve_above = quic::kHalveAbove[0];
  unsigned melc_state = 0;
  unsigned melc_len = quic::kMelcLen[0];
  unsigned next_random() { return quic::kChaos[++seed & 0xff]; }
};

// Decodes the N channels of Bpc bits at `shifts` of each row's pixels; other bits are left
// alone.
template <size_t N, unsigned Bpc>
class PlaneDecoder {
 public:
  PlaneDecoder(BitReader& in, int32_t width, const std::array<unsigned, N>& shifts)
      : in_(in), width_(width) {
    for (size_t c = 0; c < N; ++c) {
      ch_[c].shift = shifts[c];
      ch_[c].folded.assign(size_t(width) + 1, 0);
      for (auto& b : ch_[c].buckets) b.best = uint8_t(Bpc - 1);
      mask_ |= 0xffu << shifts[c];
    }
  }

  // Returns an error message, or nullptr.
  const char* row(const uint32_t* prev, uint32_t* cur) {
    for (auto& c : ch_) c.folded[0] = prev ? c.folded[1] : 0;
    unsigned pos = 0;
    unsigned left = unsigned(width_);
    while (st_.wm_index < quic::kWaitMaskMax && st_.wm_left <= left) {
      if (st_.wm_left) {
        if (!segment(prev, cur, int(pos), int(pos + st_.wm_left))) return error_;
        left -= st_.wm_left;
        pos += st_.wm_left;
      }
      ++st_.wm_index;
      st_.halve_above = quic::kHalveAbove[std::min(st_.wm_index, 10u)];
      st_.wm_left = quic::kWaitMaskStep;
    }
    if (left) {
      if (!segment(prev, cur, int(pos), int(pos + left))) return error_;
      if (st_.wm_index < quic::kWaitMaskMax) st_.wm_left -= left;
    }
    return bad_value_ ? "a code value is out of range" : nullptr;
  }

 private:
  unsigned wait_mask() const { return (1u << st_.wm_index) - 1; }
  bool same(const uint32_t* row, int a, int b) const { return ((row[a] ^ row[b]) & mask_) == 0; }
  // A channel's coded value in a decoded pixel (5-bit channels are stored widened).
  static unsigned at(const Channel& ch, uint32_t px) {
    return ((px >> ch.shift) & 0xff) >> (8 - Bpc);
  }
  static uint32_t widen(unsigned v) {
    if constexpr (Bpc == 8) {
      return v;
    } else {
      return (v << (8 - Bpc)) | (v >> (2 * Bpc - 8));
    }
  }

  // One Golomb-Rice (or escape) codeword with parameter l. An escape can name values past
  // the channel's range: 8-bit channels keep the low byte (spice-common stores a byte), a
  // 5-bit value above 31 marks the stream corrupt (reported after the row).
  unsigned golomb(unsigned l) {
    const uint32_t w = in_.peek();
    unsigned len, v;
    if (w > (0xffffffffu >> t_.prefix[l])) {  // a one within the prefix: Golomb-Rice
      const unsigned zeros = unsigned(std::countl_zero(w));
      len = zeros + 1 + l;
      v = (zeros << l) | ((w >> (32 - len)) & ((1u << l) - 1));
    } else {
      len = t_.prefix[l] + t_.escape_bits[l];
      v = t_.gr_values[l] + ((w >> (32 - len)) & ((1u << t_.escape_bits[l]) - 1));
    }
    in_.eat(len);
    v &= 0xff;
    if (v > value_mask_) {
      bad_value_ = true;
      v = 0;
    }
    return v;
  }

  void decode_pixel(const uint32_t* prev, uint32_t* cur, int i) {
    uint32_t out = 0;
    for (auto& ch : ch_) {
      const unsigned v = golomb(ch.buckets[t_.bucket[ch.folded[size_t(i)]]].best);
      ch.folded[size_t(i) + 1] = uint8_t(v);
      const unsigned delta = (v & 1) ? value_mask_ - (v >> 1) : v >> 1;  // unfold
      unsigned predicted;
      if (!prev) {
        predicted = i ? at(ch, cur[i - 1]) : 0;
      } else if (i == 0) {
        predicted = at(ch, prev[0]);
      } else {
        predicted = (at(ch, cur[i - 1]) + at(ch, prev[i])) >> 1;
      }
      out |= widen((delta + predicted) & value_mask_) << ch.shift;
    }
    cur[i] = (cur[i] & ~mask_) | out;
  }

  void learn(int i) {
    for (auto& ch : ch_) {
      Bucket& b = ch.buckets[t_.bucket[ch.folded[size_t(i)]]];
      const uint8_t v = ch.folded[size_t(i) + 1];
      unsigned best = Bpc - 1;
      unsigned best_cost = (b.cost[best] += t_.len[best][v]);
      for (int l = int(Bpc) - 2; l >= 0; --l) {
        const unsigned cost = (b.cost[size_t(l)] += t_.len[size_t(l)][v]);
        if (cost < best_cost) {
          best = unsigned(l);
          best_cost = cost;
        }
      }
      b.best = uint8_t(best);
      if (best_cost > st_.halve_above) {
        for (unsigned l = 0; l < Bpc; ++l) b.cost[l] >>= 1;
      }
    }
  }

  // A run's length (the encoder's code_run read back); false when it is longer than
  // `room` pixels (corrupt data: the encoder never runs past its segment).
  bool decode_run(unsigned room, unsigned& length) {
    uint64_t run = 0;
    for (;;) {
      const unsigned ones = unsigned(std::countl_one(uint8_t(in_.peek() >> 24)));
      for (unsigned h = 0; h < ones; ++h) {
        run += uint64_t{1} << st_.melc_len;
        if (st_.melc_state < quic::kMelcLen.size() - 1) {
          st_.melc_len = quic::kMelcLen[++st_.melc_state];
        }
      }
      if (run > room) return false;
      if (ones != 8) {
        in_.eat(ones + 1);
        break;
      }
      in_.eat(8);
    }
    if (st_.melc_len) {
      run += in_.peek() >> (32 - st_.melc_len);
      in_.eat(st_.melc_len);
    }
    if (st_.melc_state) st_.melc_len = quic::kMelcLen[--st_.melc_state];
    if (run > room) return false;
    length = unsigned(run);
    return true;
  }

  // Pixels [i, end) of a row; false (error_ set) on corrupt data.
  bool segment(const uint32_t* prev, uint32_t* cur, int i, const int end) {
    const unsigned mask = wait_mask();
    int stop;
    if (i == 0) {
      decode_pixel(prev, cur, 0);
      if (st_.wait) {
        --st_.wait;
      } else {
        st_.wait = st_.next_random() & mask;
        learn(0);
      }
      stop = ++i + int(st_.wait);
    } else {
      stop = i + int(st_.wait);
    }
    int run_start = 0;
    auto run_here = [&](int k) {
      return prev != nullptr && same(prev, k - 1, k) && run_start != k && k > 2 &&
             same(cur, k - 1, k - 2);
    };
    for (;;) {
      bool run = false;
      while (!run && stop < end) {
        for (; i <= stop; ++i) {
          if (run_here(i)) {
            run = true;
            break;
          }
          decode_pixel(prev, cur, i);
        }
        if (run) break;
        learn(stop);
        stop = i + int(st_.next_random() & mask);
      }
      if (!run) {
        for (; i < end; ++i) {
          if (run_here(i)) {
            run = true;
            break;
          }
          decode_pixel(prev, cur, i);
        }
        if (!run) {
          st_.wait = unsigned(stop - end);
          return true;
        }
      }
      run_start = i;
      st_.wait = unsigned(stop - i);
      unsigned length = 0;
      if (!decode_run(unsigned(end - i), length)) {
        error_ = "a run is longer than its row";
        return false;
      }
      for (unsigned r = 0; r < length; ++r, ++i) cur[i] = (cur[i] & ~mask_) | (cur[i - 1] & mask_);
      if (i == end) return true;
      stop = i + int(st_.wait);
      if (in_.overrun()) return true;  // the caller reports it after the row
    }
  }

  static constexpr const quic::CodeTables& t_ = Bpc == 8 ? quic::kTables : quic::kTables5;
  static_assert(t_.bpc == Bpc);
  static constexpr unsigned value_mask_ = (1u << Bpc) - 1;

  BitReader& in_;
  const int32_t width_;
  std::array<Channel, N> ch_;
  uint32_t mask_ = 0;  // the plane's bits in a pixel
  PlaneState st_;
  const char* error_ = nullptr;
  bool bad_value_ = false;
};

constexpr uint32_t kOpaque = 0xff000000u;

}  // namespace

Result<QuicDecoded> decode_quic(std::span<const uint8_t> data, const QuicDecodeLimits& limits) {
  if (data.size() / 4 < quic::kHeaderWords) {
    return make_error(fmt::format("QUIC: {} bytes are too few for the header", data.size()));
  }
  BitReader in(data);
  std::array<uint32_t, quic::kHeaderWords> header{};
  for (auto& h : header) h = in.read32();
  const auto [magic, version, type, width, height] = header;
  if (magic != quic::kMagic) return make_error(fmt::format("QUIC: bad magic {:#x}", magic));
  if (version != quic::kVersion) return make_error(fmt::format("QUIC: bad version {}", version));
  if (type != quic::kTypeRgb32 && type != quic::kTypeRgb24 && type != quic::kTypeRgba &&
      type != quic::kTypeRgb16) {
    return make_error(fmt::format("QUIC: image type {} is not supported (RGB16, RGB24, RGB32 "
                                  "and RGBA are)", type));
  }
  if (width == 0 || height == 0 || width > uint32_t(limits.max_side) ||
      height > uint32_t(limits.max_side) ||
      uint64_t(width) * height > uint64_t(limits.max_pixels)) {
    return make_error(fmt::format("QUIC: size {}x{} is empty or over the limits ({} per side, "
                                  "{} pixels)", width, height, limits.max_side,
                                  limits.max_pixels));
  }
  QuicDecoded out;
  out.has_alpha = type == quic::kTypeRgba;
  out.image = Image(int32_t(width), int32_t(height));  // zeroed: planes fill their bits
  std::optional<PlaneDecoder<3, 8>> rgb;
  std::optional<PlaneDecoder<3, 5>> rgb16;
  std::optional<PlaneDecoder<1, 8>> alpha;
  constexpr std::array<unsigned, 3> kRgbShifts = {16, 8, 0};  // r, g, b in 0xAARRGGBB
  if (type == quic::kTypeRgb16) {
    rgb16.emplace(in, int32_t(width), kRgbShifts);
  } else {
    rgb.emplace(in, int32_t(width), kRgbShifts);
  }
  if (out.has_alpha) alpha.emplace(in, int32_t(width), std::array<unsigned, 1>{24});
  for (int32_t y = 0; y < int32_t(height); ++y) {
    const uint32_t* prev = y ? out.image.row(y - 1) : nullptr;
    uint32_t* cur = out.image.row(y);
    const char* err = rgb ? rgb->row(prev, cur) : rgb16->row(prev, cur);
    if (!err && alpha) err = alpha->row(prev, cur);
    if (err) return make_error(fmt::format("QUIC: row {}: {}", y, err));
    if (in.overrun()) {
      return make_error(fmt::format("QUIC: the data ends in row {} of {}", y, height));
    }
  }
  if (!out.has_alpha) {
    for (int32_t y = 0; y < int32_t(height); ++y) {
      uint32_t* row = out.image.row(y);
      for (uint32_t x = 0; x < width; ++x) row[x] |= kOpaque;
    }
  }
  return out;
}

}  // namespace spiceflow::encode
