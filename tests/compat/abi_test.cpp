// The libspice-server C ABI of build/compat/libspice-server.so.1, driven the way QEMU drives
// it: a fake host (fake_host.hpp; its watches and timers never run here), a keyboard, and a
// QXL device in VGA style (host-memory commands in memslot group 0) whose DRAW_COPY must end
// up in the primary surface's memory after spice_qxl_update_area. Only the exported C API is
// used (the library's internals are hidden).
#define SPICE_SERVER_INTERNAL 1
#include <spice.h>
#include <spice/enums.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <fcntl.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <cstring>
#include <deque>
#include <mutex>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "fake_host.hpp"
#include "fake_qxl.hpp"
#include "support/loopback.hpp"

namespace {

int free_port() { return spiceflow::testing::free_loopback_port(); }

bool port_open(int port) {
  int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  a.sin_port = htons(uint16_t(port));
  const bool ok = ::connect(fd, reinterpret_cast<sockaddr*>(&a), sizeof a) == 0;
  ::close(fd);
  return ok;
}

// ---- keyboard
std::vector<uint8_t> g_scancodes;
void kbd_push(SpiceKbdInstance*, uint8_t frag) { g_scancodes.push_back(frag); }
uint8_t kbd_leds(SpiceKbdInstance*) { return 0; }

TEST(CompatAbi, ConfigurationCallsReturnTheDocumentedValues) {
  SpiceServer* s = spice_server_new();
  ASSERT_NE(s, nullptr);
  EXPECT_EQ(spice_get_current_compat_version(), SPICE_COMPAT_VERSION_CURRENT);
  EXPECT_EQ(spice_server_set_compat_version(s, SPICE_COMPAT_VERSION_0_6), 0);
  EXPECT_EQ(spice_server_set_port(s, -1), -1);
  EXPECT_EQ(spice_server_set_port(s, 70000), -1);
  EXPECT_EQ(spice_server_set_port(s, 5999), 0);
  EXPECT_EQ(spice_server_set_image_compression(s, SPICE_IMAGE_COMPRESSION_INVALID), -1);
  EXPECT_EQ(spice_server_set_image_compression(s, SPICE_IMAGE_COMPRESSION_LZ4), 0);
  EXPECT_EQ(spice_server_get_image_compression(s), SPICE_IMAGE_COMPRESSION_LZ4);
  EXPECT_EQ(spice_server_set_streaming_video(s, 42), -1);
  EXPECT_EQ(spice_server_set_streaming_video(s, SPICE_STREAM_VIDEO_OFF), 0);
  EXPECT_EQ(spice_server_set_jpeg_compression(s, SPICE_WAN_COMPRESSION_INVALID), -1);
  EXPECT_EQ(spice_server_set_zlib_glz_compression(s, SPICE_WAN_COMPRESSION_NEVER), 0);
  EXPECT_EQ(spice_server_set_video_codecs(s, "foo:bar;spice:vp8"), -1);  // none valid
  EXPECT_EQ(spice_server_set_video_codecs(s, "spice:mjpeg"), 0);
  const char* codecs = spice_server_get_video_codecs(s);
  EXPECT_STREQ(codecs, "spice:mjpeg");
  spice_server_free_video_codecs(s, codecs);
  EXPECT_EQ(spice_server_add_renderer(s, "sw"), 0);
  EXPECT_EQ(spice_server_add_renderer(s, "oglpbuf"), -1);
  EXPECT_EQ(spice_server_set_channel_security(s, "nonsense", SPICE_CHANNEL_SECURITY_NONE), -1);
  EXPECT_EQ(spice_server_set_channel_security(s, "main", SPICE_CHANNEL_SECURITY_NONE), 0);
  EXPECT_EQ(spice_server_set_sasl(s, 1), -1);  // unsupported: the documented failure
  EXPECT_EQ(spice_server_set_sasl(s, 0), 0);
  EXPECT_EQ(spice_server_set_ticket(s, "secret", 60, 0, 0), 0);
  EXPECT_EQ(spice_server_set_noauth(s), 0);
  EXPECT_EQ(spice_server_set_agent_mouse(s, 1), 0);
  EXPECT_EQ(spice_server_set_playback_compression(s, 1), 0);
  EXPECT_EQ(spice_server_add_client(s, -1, 0), -1);
  EXPECT_EQ(spice_server_migrate_info(s, "host", 1, 2, nullptr), -1);
  spice_server_set_name(s, "test vm");
  const uint8_t uuid[16] = {1, 2, 3};
  spice_server_set_uuid(s, uuid);
  bool has_vdagent = false;
  for (const char** t = spice_server_char_device_recognized_subtypes(); *t; ++t) {
    has_vdagent |= std::strcmp(*t, "vdagent") == 0;
  }
  EXPECT_TRUE(has_vdagent);
  EXPECT_EQ(spice_replay_new(nullptr, 0), nullptr);
  spice_server_destroy(s);  // never initialised: must not crash
}

TEST(CompatAbi, QxlDrawCopyReachesGuestMemory) {
  static SpiceCoreInterface core = fake_host::core();
  SpiceServer* s = spice_server_new();
  const int port = free_port();
  ASSERT_EQ(spice_server_set_port(s, port), 0);
  spice_server_set_addr(s, "127.0.0.1", 0);
  ASSERT_EQ(spice_server_set_noauth(s), 0);
  ASSERT_EQ(spice_server_init(s, &core), 0);
  EXPECT_TRUE(port_open(port));

  static const SpiceKbdInterface kbd_if = [] {
    SpiceKbdInterface k{};
    k.base.type = SPICE_INTERFACE_KEYBOARD;
    k.base.description = "kbd";
    k.base.major_version = SPICE_INTERFACE_KEYBOARD_MAJOR;
    k.base.minor_version = SPICE_INTERFACE_KEYBOARD_MINOR;
    k.push_scan_freg = kbd_push;
    k.get_leds = kbd_leds;
    return k;
  }();
  SpiceKbdInstance kbd{};
  kbd.base.sif = &kbd_if.base;
  ASSERT_EQ(spice_server_add_interface(s, &kbd.base), 0);
  EXPECT_NE(kbd.st, nullptr);
  EXPECT_EQ(spice_server_add_interface(s, &kbd.base), -1);  // one keyboard only
  EXPECT_EQ(spice_server_is_server_mouse(s), 1);             // no tablet

  static const QXLInterface qif = make_qxl_interface();
  auto dev = std::make_unique<FakeQxl>();
  dev->qxl.base.sif = &qif.base;
  ASSERT_EQ(spice_server_add_interface(s, &dev->qxl.base), 0);
  EXPECT_TRUE(dev->attached.load());
  ASSERT_NE(dev->qxl.st, nullptr);

  // As QEMU in VGA mode: the host memslot, then a bottom-up primary in host memory.
  QXLDevMemSlot slot{};
  slot.slot_group_id = 0;
  slot.virt_end = ~uintptr_t(0);
  spice_qxl_add_memslot(&dev->qxl, &slot);
  QXLDevSurfaceCreate surface{};
  surface.format = SPICE_SURFACE_FMT_32_xRGB;
  surface.width = kW;
  surface.height = kH;
  surface.stride = -kW * 4;
  surface.mouse_mode = 1;
  surface.mem = reinterpret_cast<uintptr_t>(dev->primary.data());
  surface.group_id = 0;
  spice_qxl_create_primary_surface(&dev->qxl, 0, &surface);

  // An async call completes with its cookie.
  spice_qxl_add_memslot_async(&dev->qxl, &slot, 0xc00c1e);
  EXPECT_TRUE(wait_for([&] {
    std::lock_guard lock(dev->mu);
    return dev->completed.count(0xc00c1e) == 1;
  }));

  // One DRAW_COPY of a 16x8 red bitmap at (8, 4), as QEMU's spice-display builds it.
  auto up = std::make_unique<Update>();
  up->bitmap.assign(16 * 8, 0x00ff0000);
  QXLDrawable& d = up->drawable;
  d.release_info.id = 77;
  d.surface_id = 0;
  d.effect = QXL_EFFECT_OPAQUE;
  d.type = QXL_DRAW_COPY;
  d.bbox = QXLRect{4, 8, 12, 24};  // top, left, bottom, right
  d.clip.type = SPICE_CLIP_TYPE_NONE;
  d.surfaces_dest[0] = d.surfaces_dest[1] = d.surfaces_dest[2] = -1;
  d.u.copy.rop_descriptor = SPICE_ROPD_OP_PUT;
  d.u.copy.src_bitmap = reinterpret_cast<uintptr_t>(&up->image);
  d.u.copy.src_area = QXLRect{0, 0, 8, 16};
  up->image.descriptor.type = SPICE_IMAGE_TYPE_BITMAP;
  up->image.descriptor.width = 16;
  up->image.descriptor.height = 8;
  up->image.bitmap.format = SPICE_BITMAP_FMT_32BIT;
  up->image.bitmap.flags = QXL_BITMAP_DIRECT | QXL_BITMAP_TOP_DOWN;
  up->image.bitmap.x = 16;
  up->image.bitmap.y = 8;
  up->image.bitmap.stride = 16 * 4;
  up->image.bitmap.data = reinterpret_cast<uintptr_t>(up->bitmap.data());
  QXLCommandExt ext{};
  ext.cmd.type = QXL_CMD_DRAW;
  ext.cmd.data = reinterpret_cast<uintptr_t>(&d);
  ext.group_id = 0;
  {
    std::lock_guard lock(dev->mu);
    dev->commands.push_back(ext);
  }
  spice_server_vm_start(s);
  spice_qxl_wakeup(&dev->qxl);
  ASSERT_TRUE(wait_for([&] {
    std::lock_guard lock(dev->mu);
    return dev->released.count(77) == 1;
  })) << "the drawable was never released";

  QXLRect all{0, 0, kH, kW};
  spice_qxl_update_area(&dev->qxl, 0, &all, nullptr, 0, 0);
  // Bottom-up surface: row y lives at primary[(kH - 1 - y) * kW].
  auto pixel = [&](int x, int y) { return dev->primary[size_t(kH - 1 - y) * kW + x] & 0xffffff; };
  EXPECT_EQ(pixel(8, 4), 0xff0000u);
  EXPECT_EQ(pixel(23, 11), 0xff0000u);
  EXPECT_EQ(pixel(7, 4), 0u);    // the rest of the surface is black, not the old content
  EXPECT_EQ(pixel(24, 11), 0u);
  EXPECT_EQ(pixel(8, 12), 0u);

  spice_server_vm_stop(s);
  EXPECT_EQ(spice_server_remove_interface(&kbd.base), 0);
  EXPECT_EQ(kbd.st, nullptr);
  spice_server_destroy(s);
  EXPECT_TRUE(fake_host::watches().empty()) << "the input watch must be removed on destroy";
}

TEST(CompatAbi, InterfacesRegisterAndMouseModeFollowsTheTablet) {
  static SpiceCoreInterface core = fake_host::core();
  SpiceServer* s = spice_server_new();
  ASSERT_EQ(spice_server_set_port(s, free_port()), 0);
  spice_server_set_addr(s, "127.0.0.1", 0);
  ASSERT_EQ(spice_server_set_noauth(s), 0);
  ASSERT_EQ(spice_server_init(s, &core), 0);

  static const SpiceTabletInterface tablet_if = [] {
    SpiceTabletInterface t{};
    t.base.type = SPICE_INTERFACE_TABLET;
    t.base.description = "tablet";
    t.base.major_version = SPICE_INTERFACE_TABLET_MAJOR;
    t.base.minor_version = SPICE_INTERFACE_TABLET_MINOR;
    t.set_logical_size = [](SpiceTabletInstance*, int, int) {};
    t.position = [](SpiceTabletInstance*, int, int, uint32_t) {};
    t.wheel = [](SpiceTabletInstance*, int, uint32_t) {};
    t.buttons = [](SpiceTabletInstance*, uint32_t) {};
    return t;
  }();
  SpiceTabletInstance tablet{};
  tablet.base.sif = &tablet_if.base;
  EXPECT_EQ(spice_server_is_server_mouse(s), 1);
  ASSERT_EQ(spice_server_add_interface(s, &tablet.base), 0);
  EXPECT_EQ(spice_server_is_server_mouse(s), 0);  // client mouse mode with a tablet
  EXPECT_EQ(spice_server_remove_interface(&tablet.base), 0);
  EXPECT_EQ(spice_server_is_server_mouse(s), 1);

  // A newer minor version than the headers' is refused, as by the reference.
  SpiceTabletInterface future = tablet_if;
  future.base.minor_version = SPICE_INTERFACE_TABLET_MINOR + 1;
  SpiceTabletInstance tablet2{};
  tablet2.base.sif = &future.base;
  EXPECT_EQ(spice_server_add_interface(s, &tablet2.base), -1);

  // The vdagent port opens on add and closes on remove (tests/compat/agent_port_test.cpp
  // drives its data); with agent mouse on (the default) it offers client mouse mode.
  static std::vector<int> vdagent_states;
  static const SpiceCharDeviceInterface char_if = [] {
    SpiceCharDeviceInterface c{};
    c.base.type = SPICE_INTERFACE_CHAR_DEVICE;
    c.base.description = "vdagent";
    c.base.major_version = SPICE_INTERFACE_CHAR_DEVICE_MAJOR;
    c.base.minor_version = SPICE_INTERFACE_CHAR_DEVICE_MINOR;
    c.state = [](SpiceCharDeviceInstance*, int on) { vdagent_states.push_back(on); };
    c.write = [](SpiceCharDeviceInstance*, const uint8_t*, int) { return 0; };
    c.read = [](SpiceCharDeviceInstance*, uint8_t*, int) { return 0; };
    return c;
  }();
  SpiceCharDeviceInstance vdagent{};
  vdagent.base.sif = &char_if.base;
  vdagent.subtype = "vdagent";
  ASSERT_EQ(spice_server_add_interface(s, &vdagent.base), 0);
  EXPECT_EQ(vdagent_states, std::vector<int>{1});
  EXPECT_EQ(spice_server_is_server_mouse(s), 0);
  spice_server_char_device_wakeup(&vdagent);
  EXPECT_EQ(spice_server_remove_interface(&vdagent.base), 0);
  EXPECT_EQ(vdagent_states, (std::vector<int>{1, 0}));
  EXPECT_EQ(spice_server_is_server_mouse(s), 1);

  static const SpicePlaybackInterface pb_if = [] {
    SpicePlaybackInterface p{};
    p.base.type = SPICE_INTERFACE_PLAYBACK;
    p.base.description = "playback";
    p.base.major_version = SPICE_INTERFACE_PLAYBACK_MAJOR;
    p.base.minor_version = SPICE_INTERFACE_PLAYBACK_MINOR;
    return p;
  }();
  SpicePlaybackInstance pb{};
  pb.base.sif = &pb_if.base;
  ASSERT_EQ(spice_server_add_interface(s, &pb.base), 0);
  EXPECT_EQ(spice_server_get_best_playback_rate(&pb), 48000u);
  spice_server_set_playback_rate(&pb, 48000);
  spice_server_playback_start(&pb);
  uint32_t* samples = nullptr;
  uint32_t n = 0;
  spice_server_playback_get_buffer(&pb, &samples, &n);
  // No client listens, so nothing is lent and the host drops its audio (the reference's
  // semantics; tests/net/audio_server_test.cpp and compat_interop's audio_interop_test.py
  // cover a connected client).
  EXPECT_EQ(samples, nullptr);
  EXPECT_EQ(n, 0u);
  spice_server_playback_stop(&pb);
  EXPECT_EQ(spice_server_remove_interface(&pb.base), 0);

  // Unknown interface types are refused.
  SpiceBaseInterface bogus{"no-such-interface", "?", 1, 0};
  SpiceBaseInstance bogus_instance{&bogus};
  EXPECT_EQ(spice_server_add_interface(s, &bogus_instance), -1);

  // Async QXL calls complete with their cookies even when there is nothing to do.
  static const QXLInterface qif = make_qxl_interface();
  auto dev = std::make_unique<FakeQxl>();
  dev->qxl.base.sif = &qif.base;
  ASSERT_EQ(spice_server_add_interface(s, &dev->qxl.base), 0);
  QXLRect area{0, 0, 10, 10};
  spice_qxl_update_area_async(&dev->qxl, 0, &area, 0, 1);
  spice_qxl_destroy_surfaces_async(&dev->qxl, 2);
  spice_qxl_flush_surfaces_async(&dev->qxl, 3);
  spice_qxl_monitors_config_async(&dev->qxl, 0, 0, 4);
  spice_qxl_destroy_primary_surface_async(&dev->qxl, 0, 5);
  EXPECT_TRUE(wait_for([&] {
    std::lock_guard lock(dev->mu);
    return dev->completed.size() == 5;
  }));
  spice_qxl_set_device_info(&dev->qxl, "pci/0000/02.0", 0, 1);
  spice_qxl_driver_unload(&dev->qxl);
  spice_qxl_reset_cursor(&dev->qxl);
  spice_qxl_reset_image_cache(&dev->qxl);
  spice_qxl_reset_memslots(&dev->qxl);
  EXPECT_EQ(spice_server_remove_interface(&dev->qxl.base), 0);
  EXPECT_EQ(dev->qxl.st, nullptr);
  spice_server_kbd_leds(nullptr, 0);  // tolerated
  spice_server_destroy(s);
}

// Every call spiceflow does not support returns the documented failure value (-1 for the
// int ones; the void ones keep the caller's contract: gl_scanout closes the dma-buf fd it
// owns, gl_draw_async completes its cookie) and logs once per server, however often it is
// called. compat/README.md lists them.
size_t occurrences(const std::string& text, const std::string& what) {
  size_t n = 0;
  for (size_t pos = text.find(what); pos != std::string::npos; pos = text.find(what, pos + 1)) {
    ++n;
  }
  return n;
}

TEST(CompatAbi, UnsupportedCallsFailAsDocumentedAndLogOnce) {
  static SpiceCoreInterface core = fake_host::core();
  SpiceServer* s = spice_server_new();
  ASSERT_EQ(spice_server_set_port(s, free_port()), 0);
  spice_server_set_addr(s, "127.0.0.1", 0);
  ASSERT_EQ(spice_server_set_noauth(s), 0);
  ASSERT_EQ(spice_server_init(s, &core), 0);
  static const QXLInterface qif = make_qxl_interface();
  auto dev = std::make_unique<FakeQxl>();
  dev->qxl.base.sif = &qif.base;
  ASSERT_EQ(spice_server_add_interface(s, &dev->qxl.base), 0);

  ::testing::internal::CaptureStderr();
  for (int round = 0; round < 3; ++round) {
    EXPECT_EQ(spice_server_set_sasl(s, 1), -1);
    EXPECT_EQ(spice_server_set_listen_socket_fd(s, 0), -1);
    EXPECT_EQ(spice_server_add_client(s, -1, 0), -1);
    EXPECT_EQ(spice_server_add_ssl_client(s, -1, 0), -1);
    EXPECT_EQ(spice_server_migrate_info(s, "host", 5900, -1, nullptr), -1);
    EXPECT_EQ(spice_server_migrate_switch(s), -1);
    sockaddr_storage sa{};
    socklen_t len = sizeof sa;
    EXPECT_EQ(spice_server_get_sock_info(s, reinterpret_cast<sockaddr*>(&sa), &len), -1);
    EXPECT_EQ(spice_server_get_peer_info(s, reinterpret_cast<sockaddr*>(&sa), &len), -1);
    int fds[2];
    ASSERT_EQ(::pipe(fds), 0);
    ::close(fds[1]);
    spice_qxl_gl_scanout(&dev->qxl, fds[0], 64, 48, 256, 0, 0);
    EXPECT_EQ(::fcntl(fds[0], F_GETFD), -1) << "the dma-buf fd must be closed";
    spice_qxl_gl_draw_async(&dev->qxl, 0, 0, 64, 48, 100 + round);
  }
  EXPECT_TRUE(wait_for([&] {
    std::lock_guard lock(dev->mu);
    return dev->completed.size() == 3;
  })) << "gl_draw_async must complete its cookie";
  const std::string err = ::testing::internal::GetCapturedStderr();
  for (const char* call :
       {"spice_server_set_sasl", "spice_server_set_listen_socket_fd", "spice_server_add_client",
        "spice_server_add_ssl_client", "spice_server_migrate_info", "spice_server_migrate_switch",
        "spice_server_get_sock_info", "spice_server_get_peer_info", "spice_qxl_gl_scanout",
        "spice_qxl_gl_draw_async"}) {
    EXPECT_EQ(occurrences(err, std::string(call) + ":"), 1u) << call << " in:\n" << err;
  }
  EXPECT_EQ(spice_server_remove_interface(&dev->qxl.base), 0);
  spice_server_destroy(s);

  // A UNIX-socket-only listener is refused at init.
  SpiceServer* unix_only = spice_server_new();
  ASSERT_EQ(spice_server_set_port(unix_only, free_port()), 0);
  spice_server_set_addr(unix_only, "/tmp/spiceflow-no-such.sock", SPICE_ADDR_FLAG_UNIX_ONLY);
  EXPECT_EQ(spice_server_init(unix_only, &core), -1);
  spice_server_destroy(unix_only);
}

}  // namespace
