#pragma once
/// Guest-like memory for the QXL player: one big anonymous mapping cut into two "PCI BARs"
/// (as QEMU's qxl device has a RAM BAR and a VRAM BAR), each registered with the library as
/// one memslot, a first-fit heap per BAR for the command structures and images a guest driver
/// would allocate there, and the QXL rings (command, cursor, release) with the producer /
/// consumer / notify protocol of spice/qxl_dev.h's SPICE_RING_* macros.
///
/// Threading: the heaps belong to the main thread (the "guest"). The rings are shared with
/// the library's QXL worker thread: their indices are atomics, items are published by the
/// index stores (seq_cst, which also gives the store-load ordering the notify protocol needs).
#include <atomic>
#include <cstddef>
#include <cstdint>
#include <map>
#include <optional>

namespace spiceflow::player {

/// First-fit allocator over [0, size) with coalescing on free. Offsets are 64-byte aligned.
class Heap {
 public:
  explicit Heap(uint64_t size = 0) { reset(size); }
  void reset(uint64_t size);
  std::optional<uint64_t> alloc(uint64_t bytes);
  void free(uint64_t offset);
  uint64_t size() const { return size_; }
  uint64_t used() const { return used_; }
  uint64_t peak() const { return peak_; }

 private:
  uint64_t size_ = 0;
  uint64_t used_ = 0;
  uint64_t peak_ = 0;
  std::map<uint64_t, uint64_t> free_;  // offset -> size
  std::map<uint64_t, uint64_t> live_;  // offset -> size
};

/// A ring of N items as spice/qxl_dev.h declares them (SPICE_RING_DECLARE), with atomic
/// indices. The consumer asks to be notified at a producer index (notify_on_prod), the
/// producer at a consumer index (notify_on_cons).
template <typename T, uint32_t N>
struct Ring {
  static_assert((N & (N - 1)) == 0, "ring size must be a power of two");
  std::atomic<uint32_t> prod{0};
  std::atomic<uint32_t> notify_on_prod{1};
  std::atomic<uint32_t> cons{0};
  std::atomic<uint32_t> notify_on_cons{0};
  T items[N]{};

  bool empty() const { return prod.load() == cons.load(); }
  bool full() const { return prod.load() - cons.load() == N; }
  T& at(uint32_t index) { return items[index & (N - 1)]; }

  /// SPICE_RING_CONS_WAIT: true when empty, after asking for a notification at the next push.
  bool cons_wait() {
    if (!empty()) return false;
    notify_on_prod.store(cons.load() + 1);
    return empty();
  }
  /// SPICE_RING_PROD_WAIT: true when full, after asking for a notification at the next pop.
  bool prod_wait() {
    if (!full()) return false;
    notify_on_cons.store(cons.load() + 1);
    return full();
  }
  /// SPICE_RING_PUSH after the item at prod was written; true: notify the consumer.
  bool push() {
    const uint32_t p = prod.load() + 1;
    prod.store(p);
    return notify_on_prod.load() == p;
  }
  /// SPICE_RING_POP after the item at cons was read; true: notify the producer.
  bool pop() {
    const uint32_t c = cons.load() + 1;
    cons.store(c);
    return notify_on_cons.load() == c;
  }
};

/// The device's ring page, as QXLRam holds them (sizes from spice/qxl_dev.h).
struct QxlCommandItem {
  uint64_t data;  // QXLPHYSICAL
  uint32_t type;
  uint32_t padding;
};
struct RingPage {
  Ring<QxlCommandItem, 32> cmd_ring;     // QXL_COMMAND_RING_SIZE
  Ring<QxlCommandItem, 32> cursor_ring;  // QXL_CURSOR_RING_SIZE
  Ring<uint64_t, 8> release_ring;        // QXL_RELEASE_RING_SIZE
};

/// One BAR: a window of the big mapping at a fake guest-physical base, one memslot.
struct Bar {
  uint8_t* host = nullptr;
  uint64_t size = 0;
  uint64_t guest_base = 0;  // guest-physical address of host[0]
  uint32_t slot_id = 0;
  uint32_t generation = 0;

  /// The QXLPHYSICAL a guest driver writes for host[offset]: slot id in the top 8 bits,
  /// generation in the next 8, the guest-physical address below (QEMU's layout:
  /// MEMSLOT_SLOT_BITS = MEMSLOT_GENERATION_BITS = 8).
  uint64_t phys(uint64_t offset) const {
    return (uint64_t(slot_id) << 56) | (uint64_t(generation) << 48) | (guest_base + offset);
  }
  uint64_t phys(const void* p) const { return phys(uint64_t(static_cast<const uint8_t*>(p) - host)); }
};

/// The big mapping: BAR0 (primary surface area, ring page, heap for command structures)
/// and BAR1 (heap for image data). Pages are touched only when used.
class GuestMemory {
 public:
  GuestMemory(uint64_t primary_bytes, uint64_t struct_heap_bytes, uint64_t image_heap_bytes);
  ~GuestMemory();
  GuestMemory(const GuestMemory&) = delete;
  GuestMemory& operator=(const GuestMemory&) = delete;

  Bar& bar0() { return bar0_; }
  Bar& bar1() { return bar1_; }
  uint8_t* primary() { return bar0_.host; }
  RingPage& rings() { return *rings_; }
  Heap& struct_heap() { return struct_heap_; }  // offsets relative to struct_base()
  Heap& image_heap() { return image_heap_; }    // offsets relative to bar1().host
  const Heap& image_heap() const { return image_heap_; }
  uint64_t struct_base() const { return struct_base_; }

 private:
  uint8_t* map_ = nullptr;
  uint64_t map_size_ = 0;
  Bar bar0_;
  Bar bar1_;
  RingPage* rings_ = nullptr;
  uint64_t struct_base_ = 0;  // offset of the struct heap inside BAR0
  Heap struct_heap_;
  Heap image_heap_;
};

}  // namespace spiceflow::player
