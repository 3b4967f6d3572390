// The QXL player's guest memory: the first-fit heap and the rings' notify protocol
// (tools/qxl-player/guest_memory.*), without a library.
#include "guest_memory.hpp"

#include <gtest/gtest.h>

#include <vector>

namespace spiceflow::player {
namespace {

TEST(PlayerHeap, FirstFitAlignsAndReusesFreedSpace) {
  Heap h(1024);
  auto a = h.alloc(10);
  auto b = h.alloc(64);
  ASSERT_TRUE(a && b);
  EXPECT_EQ(*a, 0u);
  EXPECT_EQ(*b, 64u);  // 10 rounds up to one 64-byte unit
  h.free(*a);
  auto c = h.alloc(64);
  ASSERT_TRUE(c);
  EXPECT_EQ(*c, 0u);  // the first hole that fits
  EXPECT_EQ(h.used(), 128u);
}

TEST(PlayerHeap, FreeCoalescesBothNeighbours) {
  Heap h(4 * 64);
  std::vector<uint64_t> blocks;
  for (int i = 0; i < 4; ++i) blocks.push_back(*h.alloc(64));
  EXPECT_FALSE(h.alloc(64));  // full
  h.free(blocks[0]);
  h.free(blocks[2]);
  EXPECT_FALSE(h.alloc(128));  // two separate holes
  h.free(blocks[1]);           // joins the hole before and the hole after
  auto big = h.alloc(192);
  ASSERT_TRUE(big);
  EXPECT_EQ(*big, 0u);
  h.free(*big);
  h.free(blocks[3]);
  EXPECT_EQ(h.used(), 0u);
  EXPECT_TRUE(h.alloc(256));  // back to one block
  EXPECT_EQ(h.peak(), 256u);
}

TEST(PlayerRing, ConsumerIsNotifiedAtTheFirstPushAfterItWaits) {
  Ring<uint64_t, 8> r;
  EXPECT_TRUE(r.cons_wait());  // empty: notify at the next push
  r.at(r.prod) = 7;
  EXPECT_TRUE(r.push());
  r.at(r.prod) = 8;
  EXPECT_FALSE(r.push());  // the consumer did not ask again
  EXPECT_FALSE(r.cons_wait());  // not empty: nothing to wait for
  EXPECT_EQ(r.at(r.cons), 7u);
  r.pop();
  r.pop();
  EXPECT_TRUE(r.empty());
}

TEST(PlayerRing, ProducerIsNotifiedWhenAFullRingGetsRoom) {
  Ring<uint64_t, 4> r;
  for (int i = 0; i < 4; ++i) r.push();
  EXPECT_TRUE(r.full());
  EXPECT_TRUE(r.prod_wait());  // full: notify at the next pop
  EXPECT_TRUE(r.pop());
  EXPECT_FALSE(r.pop());
  EXPECT_FALSE(r.prod_wait());
}

TEST(PlayerGuestMemory, PhysicalAddressesCarrySlotAndGeneration) {
  GuestMemory m(4096, 1 << 16, 1 << 16);
  const Bar& b1 = m.bar1();
  const uint64_t p = b1.phys(uint64_t{128});
  EXPECT_EQ(p >> 56, b1.slot_id);
  EXPECT_EQ((p >> 48) & 0xff, b1.generation);
  EXPECT_EQ(p & ((1ull << 48) - 1), b1.guest_base + 128);
  EXPECT_EQ(m.bar0().phys(m.primary()) & ((1ull << 48) - 1), m.bar0().guest_base);
  // BAR0: the primary area, the ring page, then the structure heap.
  EXPECT_GE(m.struct_base(), 4096u + sizeof(RingPage));
}

}  // namespace
}  // namespace spiceflow::player
