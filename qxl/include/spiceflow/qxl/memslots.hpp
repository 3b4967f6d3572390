#pragma once
/// Guest memory slots: the only way spiceflow turns a guest address (QXLPHYSICAL) into a
/// host pointer. A QXL device (QEMU) registers slots of guest RAM it has mapped into this
/// process; a guest address carries the slot id in its top `id_bits` bits and the slot's
/// generation in the `generation_bits` below them, the rest is an offset that the slot's
/// `addr_delta` turns into a host address. Every translation is bounds-checked against the
/// slot's [virt_start, virt_end) range, so a hostile guest can name only memory that the
/// device itself handed us.
///
/// Threading: not synchronised. The QXL worker thread that parses commands owns the
/// MemSlots; add/remove/reset come from the same thread (the device calls are serialised
/// onto it) or must be externally ordered with parsing.
#include <cstddef>
#include <cstdint>
#include <vector>

#include "spiceflow/core/result.hpp"

namespace spiceflow::qxl {

/// A guest physical address as the QXL device writes it (QXLPHYSICAL).
using GuestAddress = uint64_t;

/// The memslot geometry a device announces (the memslot fields of QXLDevInitInfo).
struct MemSlotsConfig {
  uint32_t num_groups = 1;        ///< num_memslots_groups
  uint32_t num_slots = 1;         ///< num_memslots (per group)
  uint8_t generation_bits = 0;    ///< memslot_gen_bits
  uint8_t id_bits = 0;            ///< memslot_id_bits
  uint8_t internal_group_id = 0;  ///< internal_groupslot_id (the device's own group)
  uint32_t qxl_ram_size = 0;      ///< informational
};

/// One slot as the device registers it (QXLDevMemSlot).
struct MemSlot {
  uint32_t group_id = 0;
  uint32_t slot_id = 0;
  uint32_t generation = 0;
  /// Host range [virt_start, virt_end) this slot may reach.
  uintptr_t virt_start = 0;
  uintptr_t virt_end = 0;
  /// Added to the address bits of a guest address to form the host address.
  uint64_t addr_delta = 0;
  uint32_t qxl_ram_size = 0;  ///< informational
};

/// The table of memslots of one QXL device. Copyable plain data.
class MemSlots {
 public:
  /// Largest accepted num_groups * num_slots (QEMU uses 1 x 8; the reference a few more).
  static constexpr uint64_t kMaxSlotsTotal = 1u << 16;

  /// Validates `config` (at least one group and slot, id_bits + generation_bits <= 64, every
  /// slot id representable in id_bits) and returns an empty table.
  static Result<MemSlots> create(const MemSlotsConfig& config);

  /// Registers (or replaces) a slot. Errors: group or slot id out of range, virt_end <
  /// virt_start.
  Status add(const MemSlot& slot);
  /// Forgets one slot; later translations through it fail. Errors: ids out of range.
  Status remove(uint32_t group_id, uint32_t slot_id);
  /// Forgets every slot (QXL reset_memslots).
  void reset();

  /// The host pointer for `size` bytes at `addr` in group `group_id`, or an Error naming
  /// the reason: unknown group, slot id out of range, slot not present, wrong generation,
  /// address arithmetic overflow, or [addr, addr + size) not inside the slot. The pointer
  /// stays valid while the device keeps the slot mapped (until remove/reset).
  Result<uint8_t*> translate(uint32_t group_id, GuestAddress addr, uint64_t size) const;

  /// How many bytes from `addr` to the end of its slot (0 past the end), or the reason
  /// the address is invalid. Used for data whose length the guest does not state
  /// (QXLMessage).
  Result<uint64_t> bytes_to_slot_end(uint32_t group_id, GuestAddress addr) const;

  /// The slot id / generation encoded in an address.
  uint32_t slot_id_of(GuestAddress addr) const;
  uint32_t generation_of(GuestAddress addr) const;
  /// An address for `offset` inside slot `slot_id` with `generation`: what a guest driver
  /// would write (tests and replay build addresses with it).
  GuestAddress make_address(uint32_t slot_id, uint32_t generation, uint64_t offset) const;

  const MemSlotsConfig& config() const { return config_; }

 private:
  struct Slot {
    bool present = false;
    uint32_t generation = 0;
    uintptr_t virt_start = 0;
    uintptr_t virt_end = 0;
    uint64_t addr_delta = 0;
  };
  /// The slot an address names, with the host address it maps to.
  Result<uintptr_t> host_address(uint32_t group_id, GuestAddress addr, const Slot** slot) const;

  MemSlotsConfig config_;
  std::vector<Slot> slots_;  // num_groups * num_slots, group-major
  uint64_t offset_mask_ = 0;
};

}  // namespace spiceflow::qxl
