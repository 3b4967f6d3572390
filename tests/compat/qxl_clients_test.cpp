// What a QXL device hears about the display clients and what they hear about its monitors,
// through the libspice-server C ABI (a fake host runs the main loop on this test's thread,
// fake_qxl.hpp's device, raw SPICE clients):
// - QXLInterface::set_client_capabilities: the common capabilities of the display clients
//   connected now, called while the device runs, when clients come and go and at every
//   start (the reference's guest_set_client_capabilities), limited to what spiceflow
//   renders;
// - spice_qxl_monitors_config_async: the driver's heads reach display clients as
//   DISPLAY_MONITORS_CONFIG (bounded by spice_qxl_set_max_monitors, malformed ones ignored);
//   without one, one head covers the primary surface;
// - spice_qxl_update_area on an off-screen surface writes its pixels into guest memory.
#include <spice/enums.h>
#include <spice/protocol.h>
#include <gtest/gtest.h>

#include <algorithm>
#include <cstdlib>
#include <cstring>
#include <vector>

#include "fake_host.hpp"
#include "fake_qxl.hpp"
#include "raw_client.hpp"

namespace {

using fake_host::run_until;
using raw_client::Bytes;
using raw_client::get32;
using raw_client::RawClient;

constexpr uint32_t cap_bit(uint32_t cap) { return 1u << cap; }

struct Head {
  uint32_t id, surface_id, width, height, x, y, flags;
};
struct Monitors {
  uint16_t count = 0, max_allowed = 0;
  std::vector<Head> heads;
};
Monitors parse_monitors(const Bytes& b) {
  Monitors m;
  if (b.size() < 4) return m;
  m.count = uint16_t(b[0] | (b[1] << 8));
  m.max_allowed = uint16_t(b[2] | (b[3] << 8));
  for (size_t off = 4; off + sizeof(Head) <= b.size(); off += sizeof(Head)) {
    Head h;
    std::memcpy(&h, b.data() + off, sizeof h);
    m.heads.push_back(h);
  }
  return m;
}

// A QXLMonitorsConfig in host memory (the device's memslot maps all of it).
struct GuestConfig {
  std::vector<uint8_t> bytes;
  GuestConfig(uint16_t count, uint16_t max_allowed, const std::vector<QXLHead>& heads)
      : bytes(sizeof(QXLMonitorsConfig) + sizeof(QXLHead) * heads.size()) {
    QXLMonitorsConfig h;
    h.count = count;
    h.max_allowed = max_allowed;
    std::memcpy(bytes.data(), &h, sizeof h);
    std::memcpy(bytes.data() + sizeof h, heads.data(), sizeof(QXLHead) * heads.size());
  }
  QXLPHYSICAL address() const { return reinterpret_cast<uintptr_t>(bytes.data()); }
};

class CompatQxlClients : public fake_host::ServerTest {
 protected:
  void add_device() {
    dev_.qxl.base.sif = &qif_.base;
    ASSERT_EQ(spice_server_add_interface(s_, &dev_.qxl.base), 0);
  }
  void create_primary() {
    QXLDevMemSlot slot{};
    slot.virt_end = ~uintptr_t(0);
    spice_qxl_add_memslot(&dev_.qxl, &slot);
    QXLDevSurfaceCreate surface{};
    surface.format = SPICE_SURFACE_FMT_32_xRGB;
    surface.width = kW;
    surface.height = kH;
    surface.stride = kW * 4;
    surface.mem = reinterpret_cast<uintptr_t>(dev_.primary.data());
    spice_qxl_create_primary_surface(&dev_.qxl, 0, &surface);
  }
  size_t caps_calls() {
    std::lock_guard lock(dev_.mu);
    return dev_.client_caps.size();
  }
  // Runs the host loop until the device was told something after call `after`; the last.
  std::optional<ClientCaps> caps_after(size_t after) {
    if (!run_until([&] { return caps_calls() > after; })) return std::nullopt;
    fake_host::run_until([] { return false; }, 50);  // and whatever follows at once
    std::lock_guard lock(dev_.mu);
    return dev_.client_caps.back();
  }
  // A session (main channel) with a display channel announcing `caps`.
  void connect(RawClient& main, RawClient& display, uint32_t caps, bool init = false) {
    ASSERT_TRUE(main.link(port_, SPICE_CHANNEL_MAIN, 0));
    auto m = main.wait_for(SPICE_MSG_MAIN_INIT);
    ASSERT_TRUE(m.has_value());
    ASSERT_TRUE(display.link(port_, SPICE_CHANNEL_DISPLAY, get32(m->body, 0), 0, caps));
    if (init) {
      Bytes body(14, 0);  // DISPLAY_INIT: no pixmap cache, GLZ dictionary 0 with no window
      ASSERT_TRUE(display.send(SPICE_MSGC_DISPLAY_INIT, body));
    }
  }

  const QXLInterface qif_ = make_qxl_interface();
  FakeQxl dev_;
};

TEST_F(CompatQxlClients, DeviceHearsTheDisplayClientsCommonCapabilities) {
  add_device();  // the VM runs: it hears at once that no client is there
  auto c = caps_after(0);
  ASSERT_TRUE(c.has_value());
  EXPECT_FALSE(c->present);
  EXPECT_EQ(c->caps, ClientCaps{}.caps);

  RawClient main1, display1;
  const uint32_t all = cap_bit(SPICE_DISPLAY_CAP_SIZED_STREAM) |
                       cap_bit(SPICE_DISPLAY_CAP_MONITORS_CONFIG) |
                       cap_bit(SPICE_DISPLAY_CAP_COMPOSITE) | cap_bit(SPICE_DISPLAY_CAP_A8_SURFACE);
  size_t n = caps_calls();
  connect(main1, display1, all);
  c = caps_after(n);
  ASSERT_TRUE(c.has_value());
  EXPECT_TRUE(c->present);
  EXPECT_TRUE(c->has(SPICE_DISPLAY_CAP_SIZED_STREAM));
  EXPECT_TRUE(c->has(SPICE_DISPLAY_CAP_MONITORS_CONFIG));
  // The server renders every command itself and its raster has no composite / A8 yet.
  EXPECT_FALSE(c->has(SPICE_DISPLAY_CAP_COMPOSITE));
  EXPECT_FALSE(c->has(SPICE_DISPLAY_CAP_A8_SURFACE));

  // A second client without SIZED_STREAM: the least common denominator.
  RawClient main2, display2;
  n = caps_calls();
  connect(main2, display2, cap_bit(SPICE_DISPLAY_CAP_MONITORS_CONFIG));
  c = caps_after(n);
  ASSERT_TRUE(c.has_value());
  EXPECT_TRUE(c->present);
  EXPECT_FALSE(c->has(SPICE_DISPLAY_CAP_SIZED_STREAM));
  EXPECT_TRUE(c->has(SPICE_DISPLAY_CAP_MONITORS_CONFIG));

  n = caps_calls();
  display2.close();
  main2.close();
  c = caps_after(n);
  ASSERT_TRUE(c.has_value());
  EXPECT_TRUE(c->present);
  EXPECT_TRUE(c->has(SPICE_DISPLAY_CAP_SIZED_STREAM));

  // Stopped, the device is not told; it is at its next start.
  spice_server_vm_stop(s_);
  n = caps_calls();
  display1.close();
  main1.close();
  fake_host::run_until([] { return false; }, 300);
  EXPECT_EQ(caps_calls(), n);
  spice_server_vm_start(s_);
  c = caps_after(n);
  ASSERT_TRUE(c.has_value());
  EXPECT_FALSE(c->present);
  EXPECT_EQ(spice_server_remove_interface(&dev_.qxl.base), 0);
}

TEST_F(CompatQxlClients, GuestMonitorsReachDisplayClients) {
  add_device();
  create_primary();
  RawClient main, display;
  connect(main, display, cap_bit(SPICE_DISPLAY_CAP_MONITORS_CONFIG), true);
  // Before the driver sends a configuration: one head covering the primary.
  auto m = display.wait_for(SPICE_MSG_DISPLAY_MONITORS_CONFIG);
  ASSERT_TRUE(m.has_value());
  Monitors got = parse_monitors(m->body);
  EXPECT_EQ(got.count, 1);
  EXPECT_EQ(got.max_allowed, 1);
  ASSERT_EQ(got.heads.size(), 1u);
  EXPECT_EQ(got.heads[0].width, uint32_t(kW));
  EXPECT_EQ(got.heads[0].height, uint32_t(kH));

  auto completed = [&](uint64_t cookie) {
    return run_until([&] {
      std::lock_guard lock(dev_.mu);
      return dev_.completed.count(cookie) == 1;
    });
  };
  // Two heads side by side on the primary.
  GuestConfig two(2, 4, {{0, 0, 32, 48, 0, 0, 0}, {1, 0, 32, 48, 32, 0, 0}});
  spice_qxl_monitors_config_async(&dev_.qxl, two.address(), 0, 7);
  EXPECT_TRUE(completed(7));
  m = display.wait_for(SPICE_MSG_DISPLAY_MONITORS_CONFIG);
  ASSERT_TRUE(m.has_value());
  got = parse_monitors(m->body);
  EXPECT_EQ(got.count, 2);
  EXPECT_EQ(got.max_allowed, 4);
  ASSERT_EQ(got.heads.size(), 2u);
  EXPECT_EQ(got.heads[1].id, 1u);
  EXPECT_EQ(got.heads[1].x, 32u);
  EXPECT_EQ(got.heads[1].width, 32u);

  // The device allows one monitor: the clients get the first head only.
  spice_qxl_set_max_monitors(&dev_.qxl, 1);
  spice_qxl_monitors_config_async(&dev_.qxl, two.address(), 0, 8);
  EXPECT_TRUE(completed(8));
  m = display.wait_for(SPICE_MSG_DISPLAY_MONITORS_CONFIG);
  ASSERT_TRUE(m.has_value());
  got = parse_monitors(m->body);
  EXPECT_EQ(got.count, 1);
  EXPECT_EQ(got.max_allowed, 1);

  // Malformed (more heads than allowed, none at all, outside guest memory): completed and
  // ignored; the next message the client sees is the valid one that follows.
  spice_qxl_set_max_monitors(&dev_.qxl, 16);
  GuestConfig too_many(3, 2,
                       {{0, 0, 8, 8, 0, 0, 0}, {1, 0, 8, 8, 8, 0, 0}, {2, 0, 8, 8, 16, 0, 0}});
  GuestConfig none(0, 2, {{0, 0, 8, 8, 0, 0, 0}});
  spice_qxl_monitors_config_async(&dev_.qxl, too_many.address(), 0, 9);
  spice_qxl_monitors_config_async(&dev_.qxl, none.address(), 0, 10);
  spice_qxl_monitors_config_async(&dev_.qxl, none.address(), 1, 11);  // group 1: no slot
  GuestConfig one(1, 2, {{5, 0, 40, 30, 3, 2, 0}});
  spice_qxl_monitors_config_async(&dev_.qxl, one.address(), 0, 12);
  for (uint64_t cookie : {9, 10, 11, 12}) EXPECT_TRUE(completed(cookie)) << cookie;
  m = display.wait_for(SPICE_MSG_DISPLAY_MONITORS_CONFIG);
  ASSERT_TRUE(m.has_value());
  got = parse_monitors(m->body);
  EXPECT_EQ(got.count, 1);
  EXPECT_EQ(got.max_allowed, 2);
  ASSERT_EQ(got.heads.size(), 1u);
  EXPECT_EQ(got.heads[0].id, 5u);
  EXPECT_EQ(got.heads[0].x, 3u);
  EXPECT_EQ(got.heads[0].height, 30u);

  // The driver unloads and a new primary comes: one head covers it again.
  spice_qxl_driver_unload(&dev_.qxl);
  spice_qxl_destroy_primary_surface(&dev_.qxl, 0);
  create_primary();
  bool single = run_until([&] {
    while (auto msg = display.poll()) {
      if (msg->type != SPICE_MSG_DISPLAY_MONITORS_CONFIG) continue;
      const Monitors mc = parse_monitors(msg->body);
      if (mc.count == 1 && mc.heads.size() == 1 && mc.heads[0].width == uint32_t(kW)) return true;
    }
    return false;
  });
  EXPECT_TRUE(single);
  EXPECT_EQ(spice_server_remove_interface(&dev_.qxl.base), 0);
}

// update_area on an off-screen surface renders it into the guest's memory for it (the
// reference draws off-screen surfaces straight into that memory).
TEST_F(CompatQxlClients, UpdateAreaWritesAnOffscreenSurfaceBack) {
  add_device();
  create_primary();
  constexpr int kSw = 32, kSh = 16;
  std::vector<uint32_t> memory(size_t(kSw) * kSh, 0xdeadbeef);
  QXLSurfaceCmd create{};
  create.release_info.id = 500;
  create.surface_id = 1;
  create.type = QXL_SURFACE_CMD_CREATE;
  create.u.surface_create.format = SPICE_SURFACE_FMT_32_xRGB;
  create.u.surface_create.width = kSw;
  create.u.surface_create.height = kSh;
  create.u.surface_create.stride = kSw * 4;
  create.u.surface_create.data = reinterpret_cast<uintptr_t>(memory.data());
  QXLDrawable fill{};
  fill.release_info.id = 501;
  fill.surface_id = 1;
  fill.effect = QXL_EFFECT_OPAQUE;
  fill.type = QXL_DRAW_FILL;
  fill.bbox = QXLRect{2, 4, 10, 20};  // top, left, bottom, right
  fill.clip.type = SPICE_CLIP_TYPE_NONE;
  fill.surfaces_dest[0] = fill.surfaces_dest[1] = fill.surfaces_dest[2] = -1;
  fill.u.fill.brush.type = SPICE_BRUSH_TYPE_SOLID;
  fill.u.fill.brush.u.color = 0x00336699;
  fill.u.fill.rop_descriptor = SPICE_ROPD_OP_PUT;
  {
    std::lock_guard lock(dev_.mu);
    QXLCommandExt ext{};
    ext.cmd.type = QXL_CMD_SURFACE;
    ext.cmd.data = reinterpret_cast<uintptr_t>(&create);
    dev_.commands.push_back(ext);
    ext.cmd.type = QXL_CMD_DRAW;
    ext.cmd.data = reinterpret_cast<uintptr_t>(&fill);
    dev_.commands.push_back(ext);
  }
  spice_qxl_wakeup(&dev_.qxl);
  QXLRect area{0, 0, kSh, kSw};
  spice_qxl_update_area(&dev_.qxl, 1, &area, nullptr, 0, 0);
  auto pixel = [&](int x, int y) { return memory[size_t(y) * kSw + x] & 0xffffff; };
  EXPECT_EQ(pixel(4, 2), 0x336699u);
  EXPECT_EQ(pixel(19, 9), 0x336699u);
  EXPECT_EQ(pixel(3, 2), 0u);  // the new surface is black around the fill
  EXPECT_EQ(pixel(20, 9), 0u);
  EXPECT_EQ(pixel(4, 10), 0u);
  // Only the area asked for is written.
  std::fill(memory.begin(), memory.end(), 0xdeadbeef);
  QXLRect part{0, 0, 4, 8};
  spice_qxl_update_area(&dev_.qxl, 1, &part, nullptr, 0, 0);
  EXPECT_EQ(pixel(4, 2), 0x336699u);
  EXPECT_EQ(pixel(7, 3), 0x336699u);
  EXPECT_EQ(memory[size_t(2) * kSw + 8], 0xdeadbeefu);
  EXPECT_EQ(memory[size_t(4) * kSw + 4], 0xdeadbeefu);
  EXPECT_EQ(spice_server_remove_interface(&dev_.qxl.base), 0);
}

// spice_server_set_exit_on_disconnect: the process exits (status 0) when a client's main
// channel closes, as the reference's reds_client_disconnect.
TEST(CompatExitOnDisconnect, TheProcessExitsWhenAClientLeaves) {
  GTEST_FLAG_SET(death_test_style, "threadsafe");
  EXPECT_EXIT(
      {
        static SpiceCoreInterface core = fake_host::core();
        SpiceServer* s = spice_server_new();
        const int port = spiceflow::testing::free_loopback_port();
        spice_server_set_port(s, port);
        spice_server_set_addr(s, "127.0.0.1", 0);
        spice_server_set_noauth(s);
        spice_server_set_exit_on_disconnect(s, 1);
        if (spice_server_init(s, &core) != 0) std::_Exit(3);
        RawClient main;
        if (!main.link(port, SPICE_CHANNEL_MAIN, 0)) std::_Exit(4);
        if (!main.wait_for(SPICE_MSG_MAIN_INIT)) std::_Exit(5);
        main.close();
        fake_host::run_until([] { return false; }, 5000);
        std::_Exit(6);  // still running: the flag did nothing
      },
      ::testing::ExitedWithCode(0), "");
}

}  // namespace
