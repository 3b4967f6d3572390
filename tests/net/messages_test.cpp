// SPICE message bodies, checked byte for byte against layouts worked out by hand from
// spice-common's spice.proto (protocol 2.2). Each expected byte run carries the field it is.
#include "spiceflow/net/messages.hpp"

#include <gtest/gtest.h>
#include <spice/enums.h>

#include <initializer_list>
#include <vector>

#include "expected_bytes.hpp"

namespace spiceflow::net::msg {
namespace {

using testing::b;
using testing::cat;

// ---- common server messages ----

TEST(MsgBuild, SetAck) {
  Bytes out;
  set_ack(out, 1, 20);
  EXPECT_EQ(out, cat({
                     b({0x01, 0x00, 0x00, 0x00}),  // generation u32
                     b({0x14, 0x00, 0x00, 0x00}),  // window u32
                 }));
}

TEST(MsgBuild, Ping) {
  Bytes out;
  ping(out, 7, 0x0102030405060708ull, 3);
  EXPECT_EQ(out, cat({
                     b({0x07, 0x00, 0x00, 0x00}),                          // id u32
                     b({0x08, 0x07, 0x06, 0x05, 0x04, 0x03, 0x02, 0x01}),  // timestamp u64
                     b({0x00, 0x00, 0x00}),                                // padding
                 }));
  Bytes plain;
  ping(plain, 7, 0x0102030405060708ull);
  EXPECT_EQ(plain.size(), 12u);
}

TEST(MsgBuild, Notify) {
  Bytes out;
  notify(out, 1, SPICE_NOTIFY_SEVERITY_WARN, SPICE_NOTIFY_VISIBILITY_HIGH, 0, "hi");
  EXPECT_EQ(out, cat({
                     b({0x01, 0, 0, 0, 0, 0, 0, 0}),  // time_stamp u64
                     b({0x01, 0x00, 0x00, 0x00}),     // severity WARN u32
                     b({0x02, 0x00, 0x00, 0x00}),     // visibility HIGH u32
                     b({0x00, 0x00, 0x00, 0x00}),     // what u32
                     b({0x02, 0x00, 0x00, 0x00}),     // message_len 2 (NUL not counted)
                     b({'h', 'i'}),                   // message
                     b({0x00}),                       // trailing NUL
                 }));
}

TEST(MsgBuild, Disconnecting) {
  Bytes out;
  disconnecting(out, 2, 3);
  EXPECT_EQ(out, cat({
                     b({0x02, 0, 0, 0, 0, 0, 0, 0}),  // time_stamp u64
                     b({0x03, 0x00, 0x00, 0x00}),     // reason u32
                 }));
}

// ---- main ----

TEST(MsgBuild, MainInit) {
  Bytes out;
  MainInit init{1, 2, 3, 4, 5, 6, 7, 8};
  main_init(out, init);
  EXPECT_EQ(out, cat({
                     b({1, 0, 0, 0}),  // session_id
                     b({2, 0, 0, 0}),  // display_channels_hint
                     b({3, 0, 0, 0}),  // supported_mouse_modes
                     b({4, 0, 0, 0}),  // current_mouse_mode
                     b({5, 0, 0, 0}),  // agent_connected
                     b({6, 0, 0, 0}),  // agent_tokens
                     b({7, 0, 0, 0}),  // multi_media_time
                     b({8, 0, 0, 0}),  // ram_hint
                 }));
}

TEST(MsgBuild, ChannelsList) {
  Bytes out;
  ChannelId ids[] = {{SPICE_CHANNEL_MAIN, 0}, {SPICE_CHANNEL_DISPLAY, 0},
                     {SPICE_CHANNEL_INPUTS, 0}, {SPICE_CHANNEL_CURSOR, 1}};
  main_channels_list(out, ids);
  EXPECT_EQ(out, cat({
                     b({0x04, 0x00, 0x00, 0x00}),  // num_of_channels u32
                     b({1, 0}),                    // main 0 (type u8, id u8)
                     b({2, 0}),                    // display 0
                     b({3, 0}),                    // inputs 0
                     b({4, 1}),                    // cursor 1
                 }));
}

TEST(MsgBuild, MouseMode) {
  Bytes out;
  main_mouse_mode(out, SPICE_MOUSE_MODE_SERVER | SPICE_MOUSE_MODE_CLIENT, SPICE_MOUSE_MODE_CLIENT);
  EXPECT_EQ(out, cat({
                     b({0x03, 0x00}),  // supported_modes u16
                     b({0x02, 0x00}),  // current_mode u16
                 }));
}

TEST(MsgBuild, MultiMediaTime) {
  Bytes out;
  main_multi_media_time(out, 0x01020304);
  EXPECT_EQ(out, b({0x04, 0x03, 0x02, 0x01}));  // time u32
}

TEST(MsgBuild, Name) {
  Bytes out;
  main_name(out, "vm");
  EXPECT_EQ(out, cat({
                     b({0x03, 0x00, 0x00, 0x00}),  // name_len 3 (NUL counted)
                     b({'v', 'm', 0x00}),          // name with its NUL
                 }));
}

TEST(MsgBuild, Uuid) {
  Bytes out;
  std::array<uint8_t, 16> uuid{};
  for (int i = 0; i < 16; ++i) uuid[i] = static_cast<uint8_t>(0xa0 + i);
  main_uuid(out, uuid);
  EXPECT_EQ(out, b({0xa0, 0xa1, 0xa2, 0xa3, 0xa4, 0xa5, 0xa6, 0xa7, 0xa8, 0xa9, 0xaa, 0xab, 0xac,
                    0xad, 0xae, 0xaf}));  // uuid u8[16], no length
}

// ---- display ----

TEST(MsgBuild, SurfaceCreate) {
  Bytes out;
  display_surface_create(out, 0, 1024, 768, SPICE_SURFACE_FMT_32_xRGB, SPICE_SURFACE_FLAGS_PRIMARY);
  EXPECT_EQ(out, cat({
                     b({0x00, 0x00, 0x00, 0x00}),  // surface_id
                     b({0x00, 0x04, 0x00, 0x00}),  // width 1024
                     b({0x00, 0x03, 0x00, 0x00}),  // height 768
                     b({0x20, 0x00, 0x00, 0x00}),  // format 32_xRGB (32)
                     b({0x01, 0x00, 0x00, 0x00}),  // flags PRIMARY
                 }));
}

TEST(MsgBuild, SurfaceDestroy) {
  Bytes out;
  display_surface_destroy(out, 10);
  EXPECT_EQ(out, b({0x0a, 0x00, 0x00, 0x00}));  // surface_id u32
}

TEST(MsgBuild, MonitorsConfig) {
  Bytes out;
  MonitorHead heads[] = {{0, 0, 1024, 768, 0, 0, 0}, {1, 0, 800, 600, 1024, 0, 0}};
  display_monitors_config(out, heads, 4);
  EXPECT_EQ(out, cat({
                     b({0x02, 0x00}),              // count u16
                     b({0x04, 0x00}),              // max_allowed u16
                     b({0x00, 0x00, 0x00, 0x00}),  // head 0: monitor id
                     b({0x00, 0x00, 0x00, 0x00}),  //   surface_id
                     b({0x00, 0x04, 0x00, 0x00}),  //   width 1024
                     b({0x00, 0x03, 0x00, 0x00}),  //   height 768
                     b({0x00, 0x00, 0x00, 0x00}),  //   x
                     b({0x00, 0x00, 0x00, 0x00}),  //   y
                     b({0x00, 0x00, 0x00, 0x00}),  //   flags
                     b({0x01, 0x00, 0x00, 0x00}),  // head 1: monitor id
                     b({0x00, 0x00, 0x00, 0x00}),  //   surface_id
                     b({0x20, 0x03, 0x00, 0x00}),  //   width 800
                     b({0x58, 0x02, 0x00, 0x00}),  //   height 600
                     b({0x00, 0x04, 0x00, 0x00}),  //   x 1024
                     b({0x00, 0x00, 0x00, 0x00}),  //   y
                     b({0x00, 0x00, 0x00, 0x00}),  //   flags
                 }));
}

// The 57-byte fixed part of DRAW_COPY for box (x 10, y 20, 2x1) on surface 0 and a 2x1
// source image; src_bitmap points just past it.
Bytes draw_copy_fixed_part() {
  return cat({
      b({0x00, 0x00, 0x00, 0x00}),  // base.surface_id u32
      b({0x14, 0x00, 0x00, 0x00}),  // base.box.top 20
      b({0x0a, 0x00, 0x00, 0x00}),  // base.box.left 10
      b({0x15, 0x00, 0x00, 0x00}),  // base.box.bottom 21
      b({0x0c, 0x00, 0x00, 0x00}),  // base.box.right 12
      b({0x00}),                    // base.clip.type NONE
      b({0x39, 0x00, 0x00, 0x00}),  // src_bitmap -> offset 57
      b({0x00, 0x00, 0x00, 0x00}),  // src_area.top 0
      b({0x00, 0x00, 0x00, 0x00}),  // src_area.left 0
      b({0x01, 0x00, 0x00, 0x00}),  // src_area.bottom 1
      b({0x02, 0x00, 0x00, 0x00}),  // src_area.right 2
      b({0x08, 0x00}),              // rop_descriptor OP_PUT u16
      b({0x01}),                    // scale_mode NEAREST u8
      b({0x00}),                    // mask.flags u8
      b({0x00, 0x00, 0x00, 0x00}),  // mask.pos.x i32
      b({0x00, 0x00, 0x00, 0x00}),  // mask.pos.y i32
      b({0x00, 0x00, 0x00, 0x00}),  // mask.bitmap null
  });
}

TEST(MsgBuild, DrawCopyRawBitmap) {
  encode::EncodedImage img;
  img.codec = encode::ImageCodec::raw;
  img.width = 2;
  img.height = 1;
  img.data = b({1, 2, 3, 4, 5, 6, 7, 8});
  Bytes out;
  display_draw_copy(out, 0, Rect{10, 20, 2, 1}, 0x1122334455667788ull, img);
  Bytes expected = cat({
      draw_copy_fixed_part(),
      b({0x88, 0x77, 0x66, 0x55, 0x44, 0x33, 0x22, 0x11}),  // descriptor.id u64
      b({0x00}),                                            // descriptor.type BITMAP
      b({0x00}),                                            // descriptor.flags (not cached)
      b({0x02, 0x00, 0x00, 0x00}),                          // descriptor.width u32
      b({0x01, 0x00, 0x00, 0x00}),                          // descriptor.height u32
      b({0x08}),                                            // bitmap.format 32BIT
      b({0x04}),                                            // bitmap.flags TOP_DOWN
      b({0x02, 0x00, 0x00, 0x00}),                          // bitmap.x u32
      b({0x01, 0x00, 0x00, 0x00}),                          // bitmap.y u32
      b({0x08, 0x00, 0x00, 0x00}),                          // bitmap.stride u32
      b({0x00, 0x00, 0x00, 0x00}),                          // bitmap.palette null
      b({1, 2, 3, 4, 5, 6, 7, 8}),                          // pixels, inline
  });
  EXPECT_EQ(out, expected);
  EXPECT_EQ(out.size(), 57u + 18u + 18u + 8u);
}

TEST(MsgBuild, DrawCopyLz4) {
  encode::EncodedImage img;
  img.codec = encode::ImageCodec::lz4;
  img.width = 2;
  img.height = 1;
  img.data = b({0x01, 0x08, 0xaa, 0xbb, 0xcc});  // (top_down, format, block...) opaque here
  Bytes out;
  display_draw_copy(out, 0, Rect{10, 20, 2, 1}, 5, img);
  Bytes expected = cat({
      draw_copy_fixed_part(),
      b({0x05, 0, 0, 0, 0, 0, 0, 0}),  // descriptor.id u64
      b({0x6d}),                       // descriptor.type LZ4 (109)
      b({0x00}),                       // descriptor.flags
      b({0x02, 0x00, 0x00, 0x00}),     // descriptor.width
      b({0x01, 0x00, 0x00, 0x00}),     // descriptor.height
      b({0x05, 0x00, 0x00, 0x00}),     // lz4.data_size u32
      b({0x01, 0x08, 0xaa, 0xbb, 0xcc}),
  });
  EXPECT_EQ(out, expected);
}

TEST(MsgBuild, DrawCopyCacheMeAndFromCache) {
  encode::EncodedImage img;
  img.codec = encode::ImageCodec::lz4;
  img.width = 2;
  img.height = 1;
  img.data = b({0x01, 0x08});
  Bytes out;
  display_draw_copy(out, 0, Rect{10, 20, 2, 1}, 7, img, /*cache_me=*/true);
  EXPECT_EQ(out[57 + 9], 0x01);  // descriptor.flags CACHE_ME
  out.clear();
  display_draw_copy_from_cache(out, 0, Rect{10, 20, 2, 1}, 0x0102030405060708ull, 2, 1, true);
  Bytes expected = cat({
      draw_copy_fixed_part(),
      b({0x08, 0x07, 0x06, 0x05, 0x04, 0x03, 0x02, 0x01}),  // descriptor.id u64
      b({0x6a}),                    // descriptor.type FROM_CACHE_LOSSLESS (106)
      b({0x00}),                    // descriptor.flags
      b({0x02, 0x00, 0x00, 0x00}),  // descriptor.width
      b({0x01, 0x00, 0x00, 0x00}),  // descriptor.height: nothing follows
  });
  EXPECT_EQ(out, expected);
  out.clear();
  display_draw_copy_from_cache(out, 0, Rect{10, 20, 2, 1}, 1, 2, 1, false);
  EXPECT_EQ(out[57 + 8], 0x67);  // FROM_CACHE (103)
}

TEST(MsgBuild, InvalList) {
  Bytes out;
  const uint64_t ids[] = {0x1122334455667788ull, 2};
  display_inval_list(out, ids);
  EXPECT_EQ(out, cat({b({0x02, 0x00}),                                      // count u16
                      b({0x01}), b({0x88, 0x77, 0x66, 0x55, 0x44, 0x33, 0x22, 0x11}),  // PIXMAP
                      b({0x01}), b({0x02, 0, 0, 0, 0, 0, 0, 0})}));
}

TEST(MsgBuild, DrawCopyLzPlt) {
  encode::EncodedImage img;
  img.codec = encode::ImageCodec::lz_plt;
  img.width = 2;
  img.height = 1;
  img.data = b({0xaa, 0xbb, 0xcc});
  img.palette = {0x00112233, 0x00445566};
  img.palette_id = 0x99;
  Bytes out;
  display_draw_copy(out, 0, Rect{10, 20, 2, 1}, 5, img, false, PaletteSend::cache_me);
  const size_t plt = 57 + 18;
  Bytes expected = cat({
      draw_copy_fixed_part(),
      b({0x05, 0, 0, 0, 0, 0, 0, 0}),  // descriptor.id u64
      b({0x64}),                       // descriptor.type LZ_PLT (100)
      b({0x00}),                       // descriptor.flags
      b({0x02, 0x00, 0x00, 0x00}),     // descriptor.width
      b({0x01, 0x00, 0x00, 0x00}),     // descriptor.height
      b({0x05}),                       // lz_plt.flags TOP_DOWN | PAL_CACHE_ME
      b({0x03, 0x00, 0x00, 0x00}),     // lz_plt.data_size u32
      b({uint8_t(plt + 12), 0x00, 0x00, 0x00}),  // palette -> after the data
      b({0xaa, 0xbb, 0xcc}),                     // data
      b({0x99, 0, 0, 0, 0, 0, 0, 0}),            // palette.unique u64
      b({0x02, 0x00}),                           // palette.num_ents u16
      b({0x33, 0x22, 0x11, 0x00, 0x66, 0x55, 0x44, 0x00}),
  });
  EXPECT_EQ(out, expected);
  out.clear();
  display_draw_copy(out, 0, Rect{10, 20, 2, 1}, 5, img, false, PaletteSend::from_cache);
  expected = cat({
      Bytes(expected.begin(), expected.begin() + long(plt)),
      b({0x06}),                                 // TOP_DOWN | PAL_FROM_CACHE
      b({0x03, 0x00, 0x00, 0x00}),               // data_size
      b({0x99, 0, 0, 0, 0, 0, 0, 0}),            // palette_id u64
      b({0xaa, 0xbb, 0xcc}),
  });
  EXPECT_EQ(out, expected);
}

TEST(MsgBuild, DrawCopyJpegAlpha) {
  encode::EncodedImage img;
  img.codec = encode::ImageCodec::jpeg_alpha;
  img.width = 2;
  img.height = 1;
  img.data = b({0xff, 0xd8, 0xff, 0xd9, 0x20});
  img.jpeg_size = 4;
  Bytes out;
  display_draw_copy(out, 0, Rect{10, 20, 2, 1}, 5, img);
  EXPECT_EQ(Bytes(out.begin() + 57 + 8, out.end()),
            cat({b({0x6c, 0x00}),                          // type JPEG_ALPHA (108), flags
                 b({0x02, 0, 0, 0}), b({0x01, 0, 0, 0}),   // width, height
                 b({0x01}),                                // TOP_DOWN
                 b({0x04, 0, 0, 0}), b({0x05, 0, 0, 0}),   // jpeg_size, data_size
                 b({0xff, 0xd8, 0xff, 0xd9, 0x20})}));
}

TEST(MsgBuild, DrawCopyPointerIsRelativeToBodyStart) {
  encode::EncodedImage img;
  img.width = 2;
  img.height = 1;
  img.data = Bytes(8, 0);
  Bytes out = b({0xee, 0xee, 0xee});  // something already in the buffer
  display_draw_copy(out, 0, Rect{10, 20, 2, 1}, 0, img);
  ASSERT_GT(out.size(), 3u + 25u);
  EXPECT_EQ(Bytes(out.begin() + 3 + 21, out.begin() + 3 + 25), b({0x39, 0x00, 0x00, 0x00}));
}

TEST(MsgBuild, CopyBits) {
  Bytes out;
  display_copy_bits(out, 1, Rect{0, 0, 4, 4}, Point{5, -1});
  EXPECT_EQ(out, cat({
                     b({0x01, 0x00, 0x00, 0x00}),  // base.surface_id
                     b({0x00, 0x00, 0x00, 0x00}),  // box.top 0
                     b({0x00, 0x00, 0x00, 0x00}),  // box.left 0
                     b({0x04, 0x00, 0x00, 0x00}),  // box.bottom 4
                     b({0x04, 0x00, 0x00, 0x00}),  // box.right 4
                     b({0x00}),                    // clip.type NONE
                     b({0x05, 0x00, 0x00, 0x00}),  // src_pos.x i32 5
                     b({0xff, 0xff, 0xff, 0xff}),  // src_pos.y i32 -1
                 }));
}

TEST(MsgBuild, Fill) {
  Bytes out;
  display_fill(out, 0, Rect{1, 2, 3, 4}, 0xff00ff00u);
  EXPECT_EQ(out, cat({
                     b({0x00, 0x00, 0x00, 0x00}),  // base.surface_id
                     b({0x02, 0x00, 0x00, 0x00}),  // box.top 2
                     b({0x01, 0x00, 0x00, 0x00}),  // box.left 1
                     b({0x06, 0x00, 0x00, 0x00}),  // box.bottom 6
                     b({0x04, 0x00, 0x00, 0x00}),  // box.right 4
                     b({0x00}),                    // clip.type NONE
                     b({0x01}),                    // brush.type SOLID
                     b({0x00, 0xff, 0x00, 0xff}),  // brush.color u32
                     b({0x08, 0x00}),              // rop_descriptor OP_PUT
                     b({0x00}),                    // mask.flags
                     b({0x00, 0x00, 0x00, 0x00}),  // mask.pos.x
                     b({0x00, 0x00, 0x00, 0x00}),  // mask.pos.y
                     b({0x00, 0x00, 0x00, 0x00}),  // mask.bitmap null
                 }));
}

// ---- cursor ----

CursorShape small_cursor() {
  CursorShape s;
  s.unique = 0x0102030405060708ull;
  s.width = 1;
  s.height = 2;
  s.hot_x = 0;
  s.hot_y = 1;
  s.pixels = b({0x10, 0x11, 0x12, 0x13, 0x20, 0x21, 0x22, 0x23});
  return s;
}

// SpiceCursor with flags 0, the 17-byte header and the pixels for small_cursor().
Bytes small_cursor_bytes() {
  return cat({
      b({0x00, 0x00}),                                      // flags u16 (none set)
      b({0x08, 0x07, 0x06, 0x05, 0x04, 0x03, 0x02, 0x01}),  // header.unique u64
      b({0x00}),                                            // header.type ALPHA
      b({0x01, 0x00}),                                      // header.width u16
      b({0x02, 0x00}),                                      // header.height u16
      b({0x00, 0x00}),                                      // header.hot_spot_x u16
      b({0x01, 0x00}),                                      // header.hot_spot_y u16
      b({0x10, 0x11, 0x12, 0x13, 0x20, 0x21, 0x22, 0x23}),  // data: to the end
  });
}

TEST(MsgBuild, CursorInitWithoutShape) {
  Bytes out;
  cursor_init(out, Point{-1, 300}, 0, 0, true, nullptr);
  EXPECT_EQ(out, cat({
                     b({0xff, 0xff}),  // position.x i16 -1
                     b({0x2c, 0x01}),  // position.y i16 300
                     b({0x00, 0x00}),  // trail_length u16
                     b({0x00, 0x00}),  // trail_frequency u16
                     b({0x01}),        // visible u8
                     b({0x01, 0x00}),  // cursor.flags NONE: no header, no data
                 }));
}

TEST(MsgBuild, CursorInitWithShape) {
  Bytes out;
  auto shape = small_cursor();
  cursor_init(out, Point{3, 4}, 5, 6, false, &shape);
  EXPECT_EQ(out, cat({
                     b({0x03, 0x00}),  // position.x i16
                     b({0x04, 0x00}),  // position.y i16
                     b({0x05, 0x00}),  // trail_length u16
                     b({0x06, 0x00}),  // trail_frequency u16
                     b({0x00}),        // visible u8
                     small_cursor_bytes(),
                 }));
}

TEST(MsgBuild, CursorSet) {
  Bytes out;
  cursor_set(out, Point{10, 20}, true, small_cursor());
  EXPECT_EQ(out, cat({
                     b({0x0a, 0x00}),  // position.x i16
                     b({0x14, 0x00}),  // position.y i16
                     b({0x01}),        // visible u8
                     small_cursor_bytes(),
                 }));
}

TEST(MsgBuild, CursorMoveClampsToInt16) {
  Bytes out;
  cursor_move(out, Point{7, 8});
  EXPECT_EQ(out, b({0x07, 0x00, 0x08, 0x00}));  // position Point16
  out.clear();
  cursor_move(out, Point{40000, -40000});
  EXPECT_EQ(out, b({0xff, 0x7f, 0x00, 0x80}));  // 32767, -32768
}

// ---- inputs ----

TEST(MsgBuild, InputsInitAndModifiers) {
  Bytes out;
  inputs_init(out, SPICE_KEYBOARD_MODIFIER_FLAGS_CAPS_LOCK);
  EXPECT_EQ(out, b({0x04, 0x00}));  // keyboard_modifiers u16
  out.clear();
  inputs_key_modifiers(out, 0x0003);
  EXPECT_EQ(out, b({0x03, 0x00}));  // modifiers u16
}

// ---- client message parsers: exact, short and long bodies ----

// Checks that every strict prefix of `exact` fails, and that a trailing byte is ignored.
template <class Parse>
void expect_short_fails_and_long_ok(Parse parse, const Bytes& exact) {
  for (size_t n = 0; n < exact.size(); ++n) {
    EXPECT_FALSE(parse(std::span<const uint8_t>(exact).first(n)).has_value()) << "prefix " << n;
  }
  Bytes longer = exact;
  longer.push_back(0xcc);
  longer.push_back(0xdd);
  EXPECT_TRUE(parse(longer).has_value());
}

TEST(MsgParse, AckSync) {
  Bytes body = b({0x2a, 0x00, 0x00, 0x80});  // generation u32
  auto m = parse_ack_sync(body);
  ASSERT_TRUE(m);
  EXPECT_EQ(m->generation, 0x8000002au);
  expect_short_fails_and_long_ok(parse_ack_sync, body);
}

TEST(MsgParse, Pong) {
  Bytes body = cat({b({0x07, 0x00, 0x00, 0x00}),                            // id u32
                    b({0x08, 0x07, 0x06, 0x05, 0x04, 0x03, 0x02, 0x01})});  // timestamp u64
  auto m = parse_pong(body);
  ASSERT_TRUE(m);
  EXPECT_EQ(m->id, 7u);
  EXPECT_EQ(m->timestamp, 0x0102030405060708ull);
  expect_short_fails_and_long_ok(parse_pong, body);
}

TEST(MsgParse, Disconnecting) {
  Bytes body = cat({b({0x01, 0, 0, 0, 0, 0, 0, 0x10}),  // time_stamp u64
                    b({0x07, 0x00, 0x00, 0x00})});       // reason u32
  auto m = parse_disconnecting(body);
  ASSERT_TRUE(m);
  EXPECT_EQ(m->time_stamp, 0x1000000000000001ull);
  EXPECT_EQ(m->reason, 7u);
  expect_short_fails_and_long_ok(parse_disconnecting, body);
}

TEST(MsgParse, DisplayInit) {
  Bytes body = cat({b({0x01}),                                          // pixmap_cache_id u8
                    b({0x00, 0x00, 0x40, 0x00, 0x00, 0x00, 0x00, 0x00}),  // pixmap_cache_size i64
                    b({0x02}),                                          // glz_dictionary_id u8
                    b({0x00, 0x00, 0x80, 0x00})});  // glz_dictionary_window_size i32
  ASSERT_EQ(body.size(), 14u);
  auto m = parse_display_init(body);
  ASSERT_TRUE(m);
  EXPECT_EQ(m->pixmap_cache_id, 1);
  EXPECT_EQ(m->pixmap_cache_size, 0x400000);
  EXPECT_EQ(m->glz_dictionary_id, 2);
  EXPECT_EQ(m->glz_dictionary_window_size, 0x800000);
  expect_short_fails_and_long_ok(parse_display_init, body);

  Bytes negative = cat({b({0x00}), Bytes(8, 0xff), b({0x00}), Bytes(4, 0xff)});
  auto n = parse_display_init(negative);
  ASSERT_TRUE(n);
  EXPECT_EQ(n->pixmap_cache_size, -1);
  EXPECT_EQ(n->glz_dictionary_window_size, -1);
}

TEST(MsgParse, MouseModeRequest) {
  Bytes body = b({0x02, 0x00});  // mode u16 CLIENT
  auto m = parse_mouse_mode_request(body);
  ASSERT_TRUE(m);
  EXPECT_EQ(m->mode, SPICE_MOUSE_MODE_CLIENT);
  expect_short_fails_and_long_ok(parse_mouse_mode_request, body);
}

TEST(MsgParse, KeyCode) {
  Bytes body = b({0x1c, 0xe0, 0x00, 0x00});  // code u32 (extended scancode)
  auto m = parse_key_code(body);
  ASSERT_TRUE(m);
  EXPECT_EQ(m->code, 0xe01cu);
  expect_short_fails_and_long_ok(parse_key_code, body);
}

TEST(MsgParse, KeyModifiers) {
  Bytes body = b({0x05, 0x00});  // modifiers u16
  auto m = parse_key_modifiers(body);
  ASSERT_TRUE(m);
  EXPECT_EQ(m->modifiers, 5);
  expect_short_fails_and_long_ok(parse_key_modifiers, body);
}

TEST(MsgParse, MouseMotion) {
  Bytes body = cat({b({0xfb, 0xff, 0xff, 0xff}),  // dx i32 -5
                    b({0x07, 0x00, 0x00, 0x00}),  // dy i32 7
                    b({0x01, 0x00})});            // buttons_state u16
  auto m = parse_mouse_motion(body);
  ASSERT_TRUE(m);
  EXPECT_EQ(m->dx, -5);
  EXPECT_EQ(m->dy, 7);
  EXPECT_EQ(m->buttons, 1);
  expect_short_fails_and_long_ok(parse_mouse_motion, body);
}

TEST(MsgParse, MousePosition) {
  Bytes body = cat({b({0x64, 0x00, 0x00, 0x00}),  // x u32 100
                    b({0xc8, 0x00, 0x00, 0x00}),  // y u32 200
                    b({0x04, 0x00}),              // buttons_state u16 RIGHT
                    b({0x01})});                  // display_id u8
  auto m = parse_mouse_position(body);
  ASSERT_TRUE(m);
  EXPECT_EQ(m->x, 100u);
  EXPECT_EQ(m->y, 200u);
  EXPECT_EQ(m->buttons, SPICE_MOUSE_BUTTON_MASK_RIGHT);
  EXPECT_EQ(m->display_id, 1);
  expect_short_fails_and_long_ok(parse_mouse_position, body);
}

TEST(MsgParse, MouseButton) {
  Bytes body = cat({b({0x03}),         // button u8 RIGHT
                    b({0x04, 0x00})});  // buttons_state u16
  auto m = parse_mouse_button(body);
  ASSERT_TRUE(m);
  EXPECT_EQ(m->button, SPICE_MOUSE_BUTTON_RIGHT);
  EXPECT_EQ(m->buttons, 4);
  expect_short_fails_and_long_ok(parse_mouse_button, body);
}

TEST(MsgParse, PreferredCompression) {
  Bytes body = b({0x07});  // image_compression u8 LZ4
  auto m = parse_preferred_compression(body);
  ASSERT_TRUE(m);
  EXPECT_EQ(m->image_compression, SPICE_IMAGE_COMPRESSION_LZ4);
  expect_short_fails_and_long_ok(parse_preferred_compression, body);
}

}  // namespace
}  // namespace spiceflow::net::msg
