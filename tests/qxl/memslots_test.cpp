// MemSlots: address decoding (slot id, generation), bounds and overflow checks.
#include "spiceflow/qxl/memslots.hpp"

#include <gtest/gtest.h>

#include <vector>

namespace spiceflow::qxl {
namespace {

MemSlotsConfig qemu_config() {
  MemSlotsConfig c;
  c.num_groups = 2;
  c.num_slots = 8;
  c.generation_bits = 8;
  c.id_bits = 8;
  return c;
}

struct Fixture {
  std::vector<uint8_t> ram = std::vector<uint8_t>(4096);
  MemSlots slots = *MemSlots::create(qemu_config());
  uintptr_t start() const { return reinterpret_cast<uintptr_t>(ram.data()); }

  Fixture() {
    MemSlot s;
    s.group_id = 1;
    s.slot_id = 2;
    s.generation = 5;
    s.virt_start = start();
    s.virt_end = start() + ram.size();
    s.addr_delta = start() - 0x8000;  // guest offset 0x8000 is the first byte
    EXPECT_TRUE(slots.add(s).ok());
  }
  GuestAddress at(uint64_t off, uint32_t slot = 2, uint32_t gen = 5) const {
    return slots.make_address(slot, gen, 0x8000 + off);
  }
};

TEST(MemSlots, RejectsBadConfig) {
  EXPECT_FALSE(MemSlots::create({0, 1}).ok());
  EXPECT_FALSE(MemSlots::create({1, 0}).ok());
  MemSlotsConfig c = qemu_config();
  c.id_bits = 40;
  c.generation_bits = 40;
  EXPECT_FALSE(MemSlots::create(c).ok());
  c = qemu_config();
  c.id_bits = 2;  // 8 slots need 3 bits
  EXPECT_FALSE(MemSlots::create(c).ok());
  c.num_groups = 1 << 16;
  c.num_slots = 1 << 16;
  c.id_bits = 16;
  EXPECT_FALSE(MemSlots::create(c).ok());
}

TEST(MemSlots, EncodesAndDecodesAddresses) {
  Fixture f;
  const GuestAddress a = f.at(0x10);
  EXPECT_EQ(f.slots.slot_id_of(a), 2u);
  EXPECT_EQ(f.slots.generation_of(a), 5u);
  EXPECT_EQ(a, (uint64_t{2} << 56) | (uint64_t{5} << 48) | 0x8010);
}

TEST(MemSlots, TranslatesInsideTheSlot) {
  Fixture f;
  auto p = f.slots.translate(1, f.at(0x10), 16);
  ASSERT_TRUE(p.ok()) << p.error().message;
  EXPECT_EQ(*p, f.ram.data() + 0x10);
  // The whole slot, and an empty range at its very end.
  EXPECT_TRUE(f.slots.translate(1, f.at(0), f.ram.size()).ok());
  EXPECT_TRUE(f.slots.translate(1, f.at(f.ram.size()), 0).ok());
  auto left = f.slots.bytes_to_slot_end(1, f.at(0x100));
  ASSERT_TRUE(left.ok());
  EXPECT_EQ(*left, f.ram.size() - 0x100);
}

TEST(MemSlots, RejectsOutOfRange) {
  Fixture f;
  auto r = f.slots.translate(1, f.at(f.ram.size() - 8), 16);  // runs past the end
  ASSERT_FALSE(r.ok());
  EXPECT_NE(r.error().message.find("outside slot"), std::string::npos) << r.error().message;
  // Before the start: guest offset below the slot's first byte.
  EXPECT_FALSE(f.slots.translate(1, f.slots.make_address(2, 5, 0x7ff0), 4).ok());
  EXPECT_FALSE(f.slots.bytes_to_slot_end(1, f.slots.make_address(2, 5, 0x7ff0)).ok());
}

TEST(MemSlots, RejectsWrongGenerationUnknownSlotAndGroup) {
  Fixture f;
  auto gen = f.slots.translate(1, f.at(0, 2, 6), 4);
  ASSERT_FALSE(gen.ok());
  EXPECT_NE(gen.error().message.find("generation"), std::string::npos) << gen.error().message;
  auto absent = f.slots.translate(1, f.at(0, 3, 5), 4);  // slot 3 never added
  ASSERT_FALSE(absent.ok());
  EXPECT_NE(absent.error().message.find("not present"), std::string::npos);
  auto range = f.slots.translate(1, f.at(0, 200, 5), 4);  // id beyond num_slots
  ASSERT_FALSE(range.ok());
  EXPECT_NE(range.error().message.find("out of range"), std::string::npos);
  EXPECT_FALSE(f.slots.translate(0, f.at(0), 4).ok());  // right slot, other group
  EXPECT_FALSE(f.slots.translate(7, f.at(0), 4).ok());  // no such group
}

TEST(MemSlots, RejectsOverflow) {
  Fixture f;
  EXPECT_FALSE(f.slots.translate(1, f.at(0x10), ~uint64_t{0}).ok());
  EXPECT_FALSE(f.slots.translate(1, f.at(0x10), UINT64_MAX - 4).ok());
  // A delta that wraps the host address space.
  MemSlot s;
  s.group_id = 0;
  s.slot_id = 1;
  s.virt_start = 0;
  s.virt_end = UINTPTR_MAX;
  s.addr_delta = UINT64_MAX - 0x10;
  ASSERT_TRUE(f.slots.add(s).ok());
  EXPECT_FALSE(f.slots.translate(0, f.slots.make_address(1, 0, 0x100), 1).ok());
}

TEST(MemSlots, RemoveAndReset) {
  Fixture f;
  ASSERT_TRUE(f.slots.remove(1, 2).ok());
  EXPECT_FALSE(f.slots.translate(1, f.at(0), 4).ok());
  EXPECT_FALSE(f.slots.remove(9, 0).ok());
  Fixture g;
  g.slots.reset();
  EXPECT_FALSE(g.slots.translate(1, g.at(0), 4).ok());
}

TEST(MemSlots, AddValidates) {
  Fixture f;
  MemSlot s;
  s.group_id = 2;  // only 0 and 1
  EXPECT_FALSE(f.slots.add(s).ok());
  s.group_id = 0;
  s.slot_id = 8;
  EXPECT_FALSE(f.slots.add(s).ok());
  s.slot_id = 0;
  s.virt_start = 100;
  s.virt_end = 50;
  EXPECT_FALSE(f.slots.add(s).ok());
}

TEST(MemSlots, NoIdOrGenerationBits) {
  // A flat mapping (what replay uses): slot 0 covers all, addresses are host addresses.
  auto m = MemSlots::create({1, 1, 0, 0});
  ASSERT_TRUE(m.ok());
  MemSlot s;
  s.virt_start = 0;
  s.virt_end = UINTPTR_MAX;
  ASSERT_TRUE(m->add(s).ok());
  int x = 7;
  auto p = m->translate(0, reinterpret_cast<uintptr_t>(&x), sizeof(x));
  ASSERT_TRUE(p.ok());
  EXPECT_EQ(reinterpret_cast<int*>(*p), &x);
}

}  // namespace
}  // namespace spiceflow::qxl
