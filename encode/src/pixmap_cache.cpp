#include "spiceflow/encode/pixmap_cache.hpp"

#include <algorithm>
#include <bit>
#include <cassert>
#include <cstring>

namespace spiceflow::encode {

namespace {

// Odd 64-bit constants (from the golden ratio and splitmix64): multipliers that spread
// every input bit over the word.
constexpr uint64_t kMulA = 0x9e3779b97f4a7c15ull;
constexpr uint64_t kMulB = 0xbf58476d1ce4e5b9ull;
constexpr uint64_t kMulC = 0x94d049bb133111ebull;
// The X byte of each of two xRGB pixels in a little-endian word: not part of the picture.
constexpr uint64_t kPixelPairMask = 0x00ffffff00ffffffull;

// splitmix64's finaliser: a bijection that avalanches every bit.
uint64_t fmix(uint64_t x) {
  x = (x ^ (x >> 30)) * kMulB;
  x = (x ^ (x >> 27)) * kMulC;
  return x ^ (x >> 31);
}

}  // namespace

// Two independent lanes over the pixel pairs (a multiply-xor chain and an add-rotate-
// multiply chain), each finalised: a 128-bit key for which an accidental collision (a
// wrong picture on the client) is out of reach in practice.
ContentKey content_key(const ImageView& img) {
  uint64_t a = kMulA ^ (uint64_t(uint32_t(img.width)) << 32 | uint32_t(img.height));
  uint64_t b = kMulC;
  for (int32_t y = 0; y < img.height; ++y) {
    const uint8_t* p = img.data + size_t(y) * size_t(img.stride);
    int32_t x = 0;
    for (; x + 2 <= img.width; x += 2, p += 8) {
      uint64_t w;
      std::memcpy(&w, p, 8);
      w &= kPixelPairMask;
      a = (a ^ w) * kMulA;
      a ^= a >> 29;
      b = std::rotl(b + w, 23) * kMulB;
    }
    if (x < img.width) {  // odd width: the row's last pixel alone
      uint32_t v;
      std::memcpy(&v, p, 4);
      const uint64_t w = (v & 0x00ffffffu) | (uint64_t(y) << 32) | (1ull << 63);
      a = (a ^ w) * kMulA;
      a ^= a >> 29;
      b = std::rotl(b + w, 23) * kMulB;
    }
  }
  return ContentKey{fmix(a), fmix(b ^ a), img.width, img.height};
}

PixmapCache::PixmapCache(int64_t capacity_pixels, uint64_t id_base, size_t max_entries)
    : capacity_(capacity_pixels > 0 ? capacity_pixels : 0),
      max_entries_(std::max<size_t>(max_entries, 1)),
      next_id_(id_base) {}

std::optional<PixmapCache::Entry> PixmapCache::find(const ContentKey& key) {
  auto it = index_.find(key);
  if (it == index_.end()) return std::nullopt;
  lru_.splice(lru_.end(), lru_, it->second);
  ++stats_.hits;
  stats_.hit_pixels += uint64_t(key.width) * uint64_t(key.height);
  return Entry{it->second->id, it->second->lossy};
}

void PixmapCache::erase(std::list<Item>::iterator it) {
  used_ -= int64_t(it->key.width) * it->key.height;
  index_.erase(it->key);
  lru_.erase(it);
}

void PixmapCache::evict_front(std::vector<uint64_t>* out) {
  assert(!lru_.empty());
  out->push_back(lru_.front().id);
  erase(lru_.begin());
  ++stats_.evicted;
}

std::optional<PixmapCache::Added> PixmapCache::add(const ContentKey& key, bool lossy) {
  const int64_t pixels = int64_t(key.width) * key.height;
  if (pixels <= 0 || pixels > capacity_) {
    ++stats_.too_large;
    return std::nullopt;
  }
  Added added;
  if (auto it = index_.find(key); it != index_.end()) {
    added.evicted.push_back(it->second->id);
    erase(it->second);
    ++stats_.evicted;
  }
  while (used_ + pixels > capacity_ || lru_.size() >= max_entries_) evict_front(&added.evicted);
  added.id = next_id_++;
  lru_.push_back(Item{key, added.id, lossy});
  index_.emplace(key, std::prev(lru_.end()));
  used_ += pixels;
  ++stats_.added;
  return added;
}

void PixmapCache::clear() {
  lru_.clear();
  index_.clear();
  used_ = 0;
}

}  // namespace spiceflow::encode
