#pragma once
// A heap buffer standing in for guest RAM in the QXL parser tests: one memslot covers it
// (QEMU's geometry: 2 groups x 8 slots, 8 id bits, 8 generation bits), structs are bump-
// allocated inside it and addressed with the guest addresses a driver would write.
#include <cstdint>
#include <cstring>
#include <span>
#include <vector>

#include <gtest/gtest.h>

#include "spiceflow/qxl/memslots.hpp"
#include "spiceflow/qxl/parser.hpp"

namespace spiceflow::qxl::testing {

class GuestRam {
 public:
  static constexpr uint32_t kGroup = 0;
  static constexpr uint32_t kSlot = 1;
  static constexpr uint32_t kGeneration = 3;
  static constexpr uint64_t kGuestBase = 0x100000;  // the slot's guest start

  explicit GuestRam(size_t size = 1 << 20) : ram_(size + 64) {
    // Align the host start so packed structs land where a driver would put them.
    base_ = reinterpret_cast<uint8_t*>((reinterpret_cast<uintptr_t>(ram_.data()) + 63) & ~63);
    size_ = size;
    MemSlotsConfig cfg;
    cfg.num_groups = 2;
    cfg.num_slots = 8;
    cfg.generation_bits = 8;
    cfg.id_bits = 8;
    auto s = MemSlots::create(cfg);
    EXPECT_TRUE(s.ok());
    slots_ = std::move(*s);
    MemSlot slot;
    slot.group_id = kGroup;
    slot.slot_id = kSlot;
    slot.generation = kGeneration;
    slot.virt_start = reinterpret_cast<uintptr_t>(base_);
    slot.virt_end = slot.virt_start + size_;
    slot.addr_delta = slot.virt_start - kGuestBase;
    EXPECT_TRUE(slots_.add(slot).ok());
  }

  MemSlots& slots() { return slots_; }
  uint8_t* base() { return base_; }
  size_t size() const { return size_; }

  /// The guest address of a host pointer inside the buffer.
  GuestAddress addr(const void* p) const {
    const uint64_t off = static_cast<const uint8_t*>(p) - base_;
    return slots_.make_address(kSlot, kGeneration, kGuestBase + off);
  }

  /// Zeroed bytes inside the buffer, 8-aligned.
  uint8_t* alloc_bytes(size_t n) {
    used_ = (used_ + 7) & ~size_t{7};
    EXPECT_LE(used_ + n, size_) << "guest RAM exhausted";
    uint8_t* p = base_ + used_;
    used_ += n;
    std::memset(p, 0, n);
    return p;
  }
  template <class T>
  T* alloc(size_t extra = 0) {
    return reinterpret_cast<T*>(alloc_bytes(sizeof(T) + extra));
  }
  /// Places `n` bytes at the very end of the slot (for truncation tests).
  uint8_t* at_end(size_t n) { return base_ + size_ - n; }

  /// A chain of standalone QXLDataChunks holding `data`, split at `splits` (chunk sizes;
  /// the rest goes into a last chunk). Returns the first chunk.
  QXLDataChunk* chunks(std::span<const uint8_t> data, std::vector<size_t> splits = {}) {
    size_t off = 0;
    QXLDataChunk* first = nullptr;
    QXLDataChunk* prev = nullptr;
    splits.push_back(data.size());
    for (size_t s : splits) {
      const size_t n = std::min(s, data.size() - off);
      auto* c = alloc<QXLDataChunk>(n);
      c->data_size = uint32_t(n);
      if (n) std::memcpy(c->data, data.data() + off, n);
      off += n;
      if (prev) {
        prev->next_chunk = addr(c);
        c->prev_chunk = addr(prev);
      } else {
        first = c;
      }
      prev = c;
      if (off == data.size()) break;
    }
    return first;
  }

  /// Fills the embedded first chunk `head` (allocated with room for `data`) with data.
  void fill_chunk(QXLDataChunk* head, std::span<const uint8_t> data) {
    head->data_size = uint32_t(data.size());
    if (!data.empty()) std::memcpy(head->data, data.data(), data.size());
  }

  /// A QXLImage holding a bitmap. `data` rows of `stride` bytes; chunked unless `direct`.
  QXLImage* bitmap(uint8_t format, uint32_t w, uint32_t h, uint32_t stride,
                   std::span<const uint8_t> data, std::span<const uint32_t> palette = {},
                   uint8_t flags = QXL_BITMAP_TOP_DOWN, bool direct = false) {
    auto* img = alloc<QXLImage>();
    img->descriptor.type = SPICE_IMAGE_TYPE_BITMAP;
    img->descriptor.width = w;
    img->descriptor.height = h;
    img->bitmap.format = format;
    img->bitmap.flags = flags | (direct ? QXL_BITMAP_DIRECT : 0);
    img->bitmap.x = w;
    img->bitmap.y = h;
    img->bitmap.stride = stride;
    if (!palette.empty()) {
      auto* pal = alloc<QXLPalette>(palette.size() * 4);
      pal->num_ents = uint16_t(palette.size());
      std::memcpy(pal->ents, palette.data(), palette.size() * 4);
      img->bitmap.palette = addr(pal);
    }
    if (direct) {
      uint8_t* p = alloc_bytes(data.size());
      std::memcpy(p, data.data(), data.size());
      img->bitmap.data = addr(p);
    } else {
      img->bitmap.data = addr(chunks(data));
    }
    return img;
  }

  /// A QXLImage holding a QUIC stream of a w x h image: data_size, then the stream's first
  /// chunk inline (as QXLQUICData has it), split into more chunks at `splits`.
  QXLImage* quic_image(std::span<const uint8_t> stream, uint32_t w, uint32_t h,
                       std::vector<size_t> splits = {}) {
    const size_t n0 = splits.empty() ? stream.size() : std::min(splits[0], stream.size());
    auto* img = alloc<QXLImage>(sizeof(QXLDataChunk) + n0);
    img->descriptor.type = SPICE_IMAGE_TYPE_QUIC;
    img->descriptor.width = w;
    img->descriptor.height = h;
    img->quic.data_size = uint32_t(stream.size());
    auto* head = reinterpret_cast<QXLDataChunk*>(img->quic.data);
    fill_chunk(head, stream.first(n0));
    if (n0 < stream.size()) {
      splits.erase(splits.begin());
      QXLDataChunk* rest = chunks(stream.subspan(n0), splits);
      head->next_chunk = addr(rest);
      rest->prev_chunk = addr(head);
    }
    return img;
  }

  QXLImage* surface_image(uint32_t surface_id) {
    auto* img = alloc<QXLImage>();
    img->descriptor.type = SPICE_IMAGE_TYPE_SURFACE;
    img->surface_image.surface_id = surface_id;
    return img;
  }

  QXLDrawable* drawable(uint8_t type, QXLRect bbox, uint32_t surface_id = 0) {
    auto* d = alloc<QXLDrawable>();
    d->release_info.id = 0xabcdef;
    d->surface_id = surface_id;
    d->type = type;
    d->effect = QXL_EFFECT_OPAQUE;
    d->bbox = bbox;
    d->clip.type = SPICE_CLIP_TYPE_NONE;
    for (int i = 0; i < 3; ++i) d->surfaces_dest[i] = -1;
    return d;
  }

  QXLCommandExt command(uint32_t type, const void* p, uint32_t flags = 0) const {
    QXLCommandExt ext{};
    ext.cmd.type = type;
    ext.cmd.data = p ? addr(p) : 0;
    ext.group_id = kGroup;
    ext.flags = flags;
    return ext;
  }

 private:
  std::vector<uint8_t> ram_;
  uint8_t* base_ = nullptr;
  size_t size_ = 0;
  size_t used_ = 0;
  MemSlots slots_ = *MemSlots::create({});
};

inline QXLRect qrect(int32_t left, int32_t top, int32_t right, int32_t bottom) {
  QXLRect r;
  r.left = left;
  r.top = top;
  r.right = right;
  r.bottom = bottom;
  return r;
}

}  // namespace spiceflow::qxl::testing
