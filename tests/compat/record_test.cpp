// SPICE_WORKER_RECORD_FILENAME on our libspice-server.so.1, through the C ABI only: a fake
// QXL device (memslot 0 of group 0 over one host arena) feeds good commands and hostile ones
// (an image outside the slot, a cyclic chunk list); the record file must hold the primary
// surface and exactly the good commands, and replay (spice_replay_*) to the same structs.
#define SPICE_SERVER_INTERNAL 1
#include <spice.h>
#include <spice/enums.h>
#include <gtest/gtest.h>
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <deque>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "fake_host.hpp"
#include "support/loopback.hpp"

namespace {

// Guest memory: one arena; guest addresses are offsets into it (slot 0, generation 0).
constexpr size_t kArena = 1 << 20;
constexpr int kW = 16, kH = 8;

struct Device {
  QXLInstance qxl{};  // first member: the instance pointer is the Device pointer
  std::vector<uint8_t> arena = std::vector<uint8_t>(kArena, 0);
  size_t used = 0;
  std::mutex mu;
  std::deque<QXLCommandExt> commands;  // guarded by mu
  size_t released = 0;                 // guarded by mu

  template <class T>
  std::pair<T*, QXLPHYSICAL> alloc(size_t extra = 0) {
    const size_t at = (used + 15) & ~size_t(15);
    used = at + sizeof(T) + extra;
    return {reinterpret_cast<T*>(arena.data() + at), QXLPHYSICAL(at)};
  }
};

Device* dev(QXLInstance* q) { return reinterpret_cast<Device*>(q); }

void q_attached(QXLInstance* q) {
  QXLDevMemSlot slot{};
  slot.virt_start = uint64_t(uintptr_t(dev(q)->arena.data()));
  slot.virt_end = slot.virt_start + kArena;
  slot.addr_delta = slot.virt_start;
  spice_qxl_add_memslot(q, &slot);
}
void q_set_compression_level(QXLInstance*, int) {}
void q_get_init_info(QXLInstance*, QXLDevInitInfo* info) {
  std::memset(info, 0, sizeof *info);
  info->num_memslots_groups = 1;
  info->num_memslots = 1;
  info->memslot_id_bits = 1;
  info->memslot_gen_bits = 1;
  info->n_surfaces = 64;
}
int q_get_command(QXLInstance* q, QXLCommandExt* ext) {
  std::lock_guard lock(dev(q)->mu);
  if (dev(q)->commands.empty()) return 0;
  *ext = dev(q)->commands.front();
  dev(q)->commands.pop_front();
  return 1;
}
int q_req_cmd_notification(QXLInstance* q) {
  std::lock_guard lock(dev(q)->mu);
  return dev(q)->commands.empty() ? 1 : 0;
}
void q_release_resource(QXLInstance* q, QXLReleaseInfoExt) {
  std::lock_guard lock(dev(q)->mu);
  ++dev(q)->released;
}
int q_get_cursor_command(QXLInstance*, QXLCommandExt*) { return 0; }
int q_req_cursor_notification(QXLInstance*) { return 1; }
void q_notify_update(QXLInstance*, uint32_t) {}
int q_flush_resources(QXLInstance*) { return 0; }
void q_async_complete(QXLInstance*, uint64_t) {}

QXLInterface make_qxl_interface() {
  QXLInterface qif{};
  qif.base.type = SPICE_INTERFACE_QXL;
  qif.base.description = "record test qxl";
  qif.base.major_version = SPICE_INTERFACE_QXL_MAJOR;
  qif.base.minor_version = SPICE_INTERFACE_QXL_MINOR;
  qif.attached_worker = q_attached;
  qif.set_compression_level = q_set_compression_level;
  qif.get_init_info = q_get_init_info;
  qif.get_command = q_get_command;
  qif.req_cmd_notification = q_req_cmd_notification;
  qif.release_resource = q_release_resource;
  qif.get_cursor_command = q_get_cursor_command;
  qif.req_cursor_notification = q_req_cursor_notification;
  qif.notify_update = q_notify_update;
  qif.flush_resources = q_flush_resources;
  qif.async_complete = q_async_complete;
  return qif;
}

// A DRAW_COPY of a 4x2 bitmap (two chunks of one row each) at (x, 0).
QXLPHYSICAL draw_copy(Device& d, int x, uint32_t color, QXLPHYSICAL* chunk_out = nullptr) {
  auto [second, second_at] = d.alloc<QXLDataChunk>(16);
  second->data_size = 16;
  auto [first, first_at] = d.alloc<QXLDataChunk>(16);
  first->data_size = 16;
  first->next_chunk = second_at;
  second->prev_chunk = first_at;
  for (int i = 0; i < 4; ++i) {
    std::memcpy(first->data + 4 * i, &color, 4);
    std::memcpy(second->data + 4 * i, &color, 4);
  }
  auto [img, img_at] = d.alloc<QXLImage>();
  img->descriptor.type = SPICE_IMAGE_TYPE_BITMAP;
  img->descriptor.width = 4;
  img->descriptor.height = 2;
  img->descriptor.id = 1000 + uint64_t(x);
  img->bitmap.format = SPICE_BITMAP_FMT_32BIT;
  img->bitmap.flags = QXL_BITMAP_TOP_DOWN;
  img->bitmap.x = 4;
  img->bitmap.y = 2;
  img->bitmap.stride = 16;
  img->bitmap.data = first_at;
  auto [dr, dr_at] = d.alloc<QXLDrawable>();
  dr->release_info.id = dr_at;
  dr->surface_id = 0;
  dr->effect = QXL_EFFECT_OPAQUE;
  dr->type = QXL_DRAW_COPY;
  dr->bbox = QXLRect{0, x, 2, x + 4};
  dr->clip.type = SPICE_CLIP_TYPE_NONE;
  for (int i = 0; i < 3; ++i) dr->surfaces_dest[i] = -1;
  dr->u.copy.src_bitmap = img_at;
  dr->u.copy.src_area = QXLRect{0, 0, 2, 4};
  dr->u.copy.rop_descriptor = SPICE_ROPD_OP_PUT;
  if (chunk_out) *chunk_out = first_at;
  return dr_at;
}

template <class T>
T* host(QXLPHYSICAL p) {
  return reinterpret_cast<T*>(uintptr_t(p));
}

TEST(CompatRecord, WritesTheGoodCommandsAndLeavesOutTheUnreadableOnes) {
  char path[] = "/tmp/spiceflow-record-XXXXXX";
  const int fd = mkstemp(path);
  ASSERT_GE(fd, 0);
  close(fd);
  setenv("SPICE_WORKER_RECORD_FILENAME", path, 1);
  SpiceServer* s = spice_server_new();
  unsetenv("SPICE_WORKER_RECORD_FILENAME");
  ASSERT_NE(s, nullptr);
  spice_server_set_port(s, spiceflow::testing::free_loopback_port());
  spice_server_set_addr(s, "127.0.0.1", 0);
  spice_server_set_noauth(s);
  static SpiceCoreInterface core = fake_host::core();
  ASSERT_EQ(spice_server_init(s, &core), 0);
  static QXLInterface qif = make_qxl_interface();
  auto d = std::make_unique<Device>();
  d->qxl.base.sif = &qif.base;
  ASSERT_EQ(spice_server_add_interface(s, &d->qxl.base), 0);

  auto [pixels, pixels_at] = d->alloc<uint32_t>(size_t(kW) * kH * 4);
  for (int i = 0; i < kW * kH; ++i) pixels[i] = 0xff000000u | uint32_t(i);
  QXLDevSurfaceCreate primary{};
  primary.width = kW;
  primary.height = kH;
  primary.stride = kW * 4;
  primary.format = SPICE_SURFACE_FMT_32_xRGB;
  primary.mouse_mode = 1;
  primary.mem = pixels_at;
  spice_qxl_create_primary_surface(&d->qxl, 0, &primary);

  const QXLPHYSICAL good1 = draw_copy(*d, 0, 0xffff0000u);
  const QXLPHYSICAL outside = draw_copy(*d, 4, 0xff00ff00u);
  host<QXLDrawable>(uintptr_t(d->arena.data()) + outside)->u.copy.src_bitmap = 2 * kArena;
  QXLPHYSICAL chunk = 0;
  const QXLPHYSICAL cyclic = draw_copy(*d, 8, 0xff0000ffu, &chunk);
  auto* c = host<QXLDataChunk>(uintptr_t(d->arena.data()) + chunk);
  host<QXLDataChunk>(uintptr_t(d->arena.data()) + c->next_chunk)->next_chunk = chunk;  // a loop
  const QXLPHYSICAL good2 = draw_copy(*d, 12, 0xffffffffu);
  {
    std::lock_guard lock(d->mu);
    for (QXLPHYSICAL cmd : {good1, outside, cyclic, good2}) {
      QXLCommandExt ext{};
      ext.cmd.type = QXL_CMD_DRAW;
      ext.cmd.data = cmd;
      d->commands.push_back(ext);
    }
  }
  spice_server_vm_start(s);
  spice_qxl_wakeup(&d->qxl);
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(5);
  while (std::chrono::steady_clock::now() < deadline) {
    {
      std::lock_guard lock(d->mu);
      if (d->commands.empty() && d->released >= 4) break;
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
  }
  spice_server_vm_stop(s);
  spice_server_destroy(s);

  SpiceReplay* r = spice_replay_new(std::fopen(path, "rb"), 64);
  ASSERT_NE(r, nullptr);
  std::vector<QXLCommandExt*> cmds;
  QXLInstance unregistered{};
  while (QXLCommandExt* cmd = spice_replay_next_cmd(r, &unregistered)) cmds.push_back(cmd);
  ASSERT_EQ(cmds.size(), 2u) << "the image outside the slot and the cyclic list are left out";
  const int xs[2] = {0, 12};
  const uint32_t colors[2] = {0xffff0000u, 0xffffffffu};
  for (int i = 0; i < 2; ++i) {
    auto* dr = host<QXLDrawable>(cmds[size_t(i)]->cmd.data);
    EXPECT_EQ(dr->type, QXL_DRAW_COPY);
    EXPECT_EQ(dr->bbox.left, xs[i]);
    EXPECT_EQ(dr->surfaces_dest[2], -1);
    auto* img = host<QXLImage>(dr->u.copy.src_bitmap);
    EXPECT_EQ(img->descriptor.id, 1000u + uint64_t(xs[i]));
    auto* first = host<QXLDataChunk>(img->bitmap.data);
    ASSERT_EQ(first->data_size, 16u);
    uint32_t px;
    std::memcpy(&px, first->data + 12, 4);
    EXPECT_EQ(px, colors[i]);
    ASSERT_NE(first->next_chunk, 0u);
    EXPECT_EQ(host<QXLDataChunk>(first->next_chunk)->data_size, 16u);
    spice_replay_free_cmd(r, cmds[size_t(i)]);
  }
  spice_replay_free(r);

  // The primary surface's geometry and pixels are in the file as the reference writes them.
  FILE* f = std::fopen(path, "rb");
  std::string text(size_t(1) << 16, '\0');
  text.resize(std::fread(text.data(), 1, text.size(), f));
  std::fclose(f);
  EXPECT_EQ(text.rfind("SPICE_REPLAY 1\n", 0), 0u);
  EXPECT_NE(text.find(" 1 20 "), std::string::npos) << "a CREATE_PRIMARY_SURFACE event";
  EXPECT_NE(text.find("\n16 8 64 32\n0 1 0 0\nbinary 0 data 512:"), std::string::npos);
  std::remove(path);
}

}  // namespace
