#pragma once
/// Little-endian byte marshalling: ByteWriter appends to a growing buffer (with patching of
/// earlier fields, for SPICE's offset pointers); ByteReader reads with bounds checks and
/// never reads past its span (a short read sets a sticky failure flag).
#include <bit>
#include <cstdint>
#include <cstring>
#include <span>
#include <string_view>
#include <vector>

namespace spiceflow {

class ByteWriter {
 public:
  explicit ByteWriter(std::vector<uint8_t>& out) : out_(out) {}
  size_t size() const { return out_.size(); }
  void u8(uint8_t v) { out_.push_back(v); }
  void u16(uint16_t v) { put(&v, 2); }
  void u32(uint32_t v) { put(&v, 4); }
  void u64(uint64_t v) { put(&v, 8); }
  void i32(int32_t v) { put(&v, 4); }
  void bytes(std::span<const uint8_t> b) { out_.insert(out_.end(), b.begin(), b.end()); }
  void bytes(const void* p, size_t n) {
    const auto* b = static_cast<const uint8_t*>(p);
    out_.insert(out_.end(), b, b + n);
  }
  void zeros(size_t n) { out_.resize(out_.size() + n, 0); }
  /// Overwrites 4 bytes at `offset` (which must already be written).
  void patch_u32(size_t offset, uint32_t v) { std::memcpy(out_.data() + offset, &v, 4); }

 private:
  void put(const void* p, size_t n) {
    // x86-64 and aarch64 are little-endian, like the wire.
    static_assert(std::endian::native == std::endian::little);
    bytes(p, n);
  }
  std::vector<uint8_t>& out_;
};

class ByteReader {
 public:
  explicit ByteReader(std::span<const uint8_t> in) : in_(in) {}
  bool ok() const { return ok_; }
  size_t offset() const { return pos_; }
  size_t remaining() const { return in_.size() - pos_; }
  uint8_t u8() { uint8_t v = 0; get(&v, 1); return v; }
  uint16_t u16() { uint16_t v = 0; get(&v, 2); return v; }
  uint32_t u32() { uint32_t v = 0; get(&v, 4); return v; }
  uint64_t u64() { uint64_t v = 0; get(&v, 8); return v; }
  int32_t i32() { int32_t v = 0; get(&v, 4); return v; }
  /// Returns a view of the next `n` bytes (empty and failed when fewer remain).
  std::span<const uint8_t> bytes(size_t n) {
    if (!ok_ || n > remaining()) { ok_ = false; return {}; }
    auto s = in_.subspan(pos_, n);
    pos_ += n;
    return s;
  }
  void skip(size_t n) { (void)bytes(n); }

 private:
  void get(void* p, size_t n) {
    if (!ok_ || n > remaining()) { ok_ = false; return; }
    std::memcpy(p, in_.data() + pos_, n);
    pos_ += n;
  }
  std::span<const uint8_t> in_;
  size_t pos_ = 0;
  bool ok_ = true;
};

}  // namespace spiceflow
