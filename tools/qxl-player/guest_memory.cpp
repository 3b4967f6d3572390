#include "guest_memory.hpp"

#include <sys/mman.h>

#include <cstdio>
#include <cstdlib>
#include <new>

namespace spiceflow::player {

namespace {

constexpr uint64_t kAlign = 64;
constexpr uint64_t kPage = 4096;

uint64_t round_up(uint64_t v, uint64_t a) { return (v + a - 1) / a * a; }

}  // namespace

void Heap::reset(uint64_t size) {
  size_ = size / kAlign * kAlign;
  used_ = 0;
  peak_ = 0;
  free_.clear();
  live_.clear();
  if (size_) free_.emplace(0, size_);
}

std::optional<uint64_t> Heap::alloc(uint64_t bytes) {
  bytes = round_up(bytes ? bytes : 1, kAlign);
  for (auto it = free_.begin(); it != free_.end(); ++it) {
    if (it->second < bytes) continue;
    const uint64_t off = it->first;
    const uint64_t left = it->second - bytes;
    free_.erase(it);
    if (left) free_.emplace(off + bytes, left);
    live_.emplace(off, bytes);
    used_ += bytes;
    if (used_ > peak_) peak_ = used_;
    return off;
  }
  return std::nullopt;
}

void Heap::free(uint64_t offset) {
  auto live = live_.find(offset);
  if (live == live_.end()) {
    std::fprintf(stderr, "spiceflow-qxl-player: heap free of unknown offset %llu\n",
                 static_cast<unsigned long long>(offset));
    std::abort();
  }
  uint64_t off = offset;
  uint64_t len = live->second;
  used_ -= len;
  live_.erase(live);
  auto next = free_.lower_bound(off);
  if (next != free_.end() && off + len == next->first) {
    len += next->second;
    next = free_.erase(next);
  }
  if (next != free_.begin()) {
    auto prev = std::prev(next);
    if (prev->first + prev->second == off) {
      prev->second += len;
      return;
    }
  }
  free_.emplace(off, len);
}

GuestMemory::GuestMemory(uint64_t primary_bytes, uint64_t struct_heap_bytes,
                         uint64_t image_heap_bytes) {
  // BAR0: [primary surface area][ring page][struct heap]; BAR1: [image heap].
  const uint64_t primary = round_up(primary_bytes, kPage);
  const uint64_t ring_page = round_up(sizeof(RingPage), kPage);
  const uint64_t bar0 = primary + ring_page + round_up(struct_heap_bytes, kPage);
  const uint64_t bar1 = round_up(image_heap_bytes, kPage);
  map_size_ = bar0 + bar1;
  void* m = mmap(nullptr, map_size_, PROT_READ | PROT_WRITE,
                 MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
  if (m == MAP_FAILED) {
    std::perror("spiceflow-qxl-player: mmap guest memory");
    std::exit(1);
  }
  map_ = static_cast<uint8_t*>(m);
  // Guest-physical bases as a PCI BIOS would place two 64-bit BARs; any values do, as long
  // as the memslots' addr_delta maps them back onto the mapping.
  bar0_ = Bar{map_, bar0, 0x100000000ull, 1, 0};
  bar1_ = Bar{map_ + bar0, bar1, 0x800000000ull, 2, 0};
  rings_ = new (map_ + primary) RingPage();
  struct_base_ = primary + ring_page;
  struct_heap_.reset(bar0 - struct_base_);
  image_heap_.reset(bar1);
}

GuestMemory::~GuestMemory() {
  rings_->~RingPage();
  munmap(map_, map_size_);
}

}  // namespace spiceflow::player
