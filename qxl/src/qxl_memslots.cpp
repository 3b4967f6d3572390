#include "spiceflow/qxl/memslots.hpp"

#include <fmt/format.h>

namespace spiceflow::qxl {

Result<MemSlots> MemSlots::create(const MemSlotsConfig& config) {
  if (config.num_groups == 0 || config.num_slots == 0) {
    return make_error("memslots: need at least one group and one slot");
  }
  if (uint64_t(config.num_groups) * config.num_slots > kMaxSlotsTotal) {
    return make_error(fmt::format("memslots: {} groups x {} slots is more than {}",
                                  config.num_groups, config.num_slots, kMaxSlotsTotal));
  }
  if (unsigned(config.id_bits) + config.generation_bits > 64) {
    return make_error(fmt::format("memslots: id bits {} + generation bits {} exceed 64",
                                  config.id_bits, config.generation_bits));
  }
  // Slots whose id cannot be encoded could never be addressed; a device announcing them is
  // misconfigured (the reference would index past its table for such ids instead).
  if (config.id_bits < 32 && config.num_slots - 1 > (uint64_t{1} << config.id_bits) - 1) {
    return make_error(fmt::format("memslots: {} slots do not fit in {} id bits",
                                  config.num_slots, config.id_bits));
  }
  MemSlots m;
  m.config_ = config;
  m.slots_.resize(size_t(config.num_groups) * config.num_slots);
  const unsigned high = unsigned(config.id_bits) + config.generation_bits;
  m.offset_mask_ = high >= 64 ? 0 : (~uint64_t{0} >> high);
  return m;
}

Status MemSlots::add(const MemSlot& slot) {
  if (slot.group_id >= config_.num_groups || slot.slot_id >= config_.num_slots) {
    return make_error(fmt::format("memslot add: group {} slot {} out of range ({} x {})",
                                  slot.group_id, slot.slot_id, config_.num_groups,
                                  config_.num_slots));
  }
  if (slot.virt_end < slot.virt_start) {
    return make_error(fmt::format("memslot add: group {} slot {} ends before it starts",
                                  slot.group_id, slot.slot_id));
  }
  Slot& s = slots_[size_t(slot.group_id) * config_.num_slots + slot.slot_id];
  s.present = true;
  s.generation = slot.generation;
  s.virt_start = slot.virt_start;
  s.virt_end = slot.virt_end;
  s.addr_delta = slot.addr_delta;
  return {};
}

Status MemSlots::remove(uint32_t group_id, uint32_t slot_id) {
  if (group_id >= config_.num_groups || slot_id >= config_.num_slots) {
    return make_error(fmt::format("memslot del: group {} slot {} out of range", group_id,
                                  slot_id));
  }
  slots_[size_t(group_id) * config_.num_slots + slot_id] = Slot{};
  return {};
}

void MemSlots::reset() {
  for (auto& s : slots_) s = Slot{};
}

uint32_t MemSlots::slot_id_of(GuestAddress addr) const {
  if (config_.id_bits == 0) return 0;
  return uint32_t(addr >> (64 - config_.id_bits));
}

uint32_t MemSlots::generation_of(GuestAddress addr) const {
  if (config_.generation_bits == 0) return 0;
  const unsigned shift = 64 - config_.id_bits - config_.generation_bits;
  const uint64_t mask = config_.generation_bits >= 64
                            ? ~uint64_t{0}
                            : (uint64_t{1} << config_.generation_bits) - 1;
  return uint32_t((addr >> shift) & mask);
}

GuestAddress MemSlots::make_address(uint32_t slot_id, uint32_t generation,
                                    uint64_t offset) const {
  GuestAddress a = offset & offset_mask_;
  if (config_.id_bits) a |= uint64_t(slot_id) << (64 - config_.id_bits);
  if (config_.generation_bits) {
    a |= uint64_t(generation) << (64 - config_.id_bits - config_.generation_bits);
  }
  return a;
}

Result<uintptr_t> MemSlots::host_address(uint32_t group_id, GuestAddress addr,
                                         const Slot** slot_out) const {
  if (group_id >= config_.num_groups) {
    return make_error(fmt::format("address {:#x}: group {} out of range ({} groups)", addr,
                                  group_id, config_.num_groups));
  }
  const uint32_t id = slot_id_of(addr);
  if (id >= config_.num_slots) {
    return make_error(fmt::format("address {:#x}: slot id {} out of range ({} slots)", addr,
                                  id, config_.num_slots));
  }
  const Slot& slot = slots_[size_t(group_id) * config_.num_slots + id];
  if (!slot.present) {
    return make_error(fmt::format("address {:#x}: slot {} of group {} is not present", addr,
                                  id, group_id));
  }
  const uint32_t gen = generation_of(addr);
  if (gen != slot.generation) {
    return make_error(fmt::format("address {:#x}: generation {} but slot {} is at {}", addr,
                                  gen, id, slot.generation));
  }
  const uint64_t offset = addr & offset_mask_;
  const uint64_t host = offset + slot.addr_delta;
  if (host < offset || host > UINTPTR_MAX) {
    return make_error(fmt::format("address {:#x}: host address overflows", addr));
  }
  *slot_out = &slot;
  return uintptr_t(host);
}

Result<uint8_t*> MemSlots::translate(uint32_t group_id, GuestAddress addr,
                                     uint64_t size) const {
  const Slot* slot = nullptr;
  auto host = host_address(group_id, addr, &slot);
  if (!host) return host.error();
  const uintptr_t begin = *host;
  if (size > UINTPTR_MAX - begin) {
    return make_error(fmt::format("address {:#x} + {} bytes overflows", addr, size));
  }
  const uintptr_t end = begin + uintptr_t(size);
  if (begin < slot->virt_start || end > slot->virt_end) {
    return make_error(fmt::format(
        "address {:#x} + {} bytes is outside slot {} (host {:#x}..{:#x}, slot {:#x}..{:#x})",
        addr, size, slot_id_of(addr), begin, end, slot->virt_start, slot->virt_end));
  }
  return reinterpret_cast<uint8_t*>(begin);
}

Result<uint64_t> MemSlots::bytes_to_slot_end(uint32_t group_id, GuestAddress addr) const {
  const Slot* slot = nullptr;
  auto host = host_address(group_id, addr, &slot);
  if (!host) return host.error();
  if (*host < slot->virt_start || *host > slot->virt_end) {
    return make_error(fmt::format("address {:#x} is outside slot {}", addr, slot_id_of(addr)));
  }
  return uint64_t(slot->virt_end - *host);
}

}  // namespace spiceflow::qxl
