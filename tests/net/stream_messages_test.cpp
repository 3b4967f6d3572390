// Display stream messages, checked byte for byte against layouts worked out by hand from
// spice-common's spice.proto (protocol 2.2): stream_create = 122, stream_data,
// stream_destroy, stream_destroy_all (empty), stream_data_sized and stream_clip. Each expected run
// names its field.
#include <gtest/gtest.h>
#include <spice/enums.h>

#include <initializer_list>
#include <vector>

#include "expected_bytes.hpp"

#include "spiceflow/net/messages.hpp"

namespace spiceflow::net::msg {
namespace {

using testing::b;
using testing::cat;

TEST(StreamMsg, MessageNumbers) {
  // The numbers the channel sends them with (spice-protocol's enums.h).
  EXPECT_EQ(SPICE_MSG_DISPLAY_STREAM_CREATE, 122);
  EXPECT_EQ(SPICE_MSG_DISPLAY_STREAM_DATA, 123);
  EXPECT_EQ(SPICE_MSG_DISPLAY_STREAM_CLIP, 124);
  EXPECT_EQ(SPICE_MSG_DISPLAY_STREAM_DESTROY, 125);
  EXPECT_EQ(SPICE_MSG_DISPLAY_STREAM_DESTROY_ALL, 126);
  EXPECT_EQ(SPICE_MSG_DISPLAY_STREAM_DATA_SIZED, 316);
  EXPECT_EQ(SPICE_VIDEO_CODEC_TYPE_MJPEG, 1);
  EXPECT_EQ(SPICE_STREAM_FLAGS_TOP_DOWN, 1);
}

TEST(StreamMsg, Create) {
  Bytes out;
  StreamCreate m;
  m.surface_id = 0;
  m.id = 3;
  m.flags = SPICE_STREAM_FLAGS_TOP_DOWN;
  m.codec_type = SPICE_VIDEO_CODEC_TYPE_MJPEG;
  m.stamp = 0x0102030405060708ull;
  m.stream_width = 1280;
  m.stream_height = 720;
  m.src_width = 1280;
  m.src_height = 720;
  m.dest = Rect{256, 128, 1280, 720};
  display_stream_create(out, m);
  EXPECT_EQ(out, cat({
                     b({0x00, 0x00, 0x00, 0x00}),                          // surface_id u32
                     b({0x03, 0x00, 0x00, 0x00}),                          // id u32
                     b({0x01}),                                            // flags TOP_DOWN u8
                     b({0x01}),                                            // codec MJPEG u8
                     b({0x08, 0x07, 0x06, 0x05, 0x04, 0x03, 0x02, 0x01}),  // stamp u64
                     b({0x00, 0x05, 0x00, 0x00}),                          // stream_width 1280
                     b({0xd0, 0x02, 0x00, 0x00}),                          // stream_height 720
                     b({0x00, 0x05, 0x00, 0x00}),                          // src_width 1280
                     b({0xd0, 0x02, 0x00, 0x00}),                          // src_height 720
                     b({0x80, 0x00, 0x00, 0x00}),                          // dest.top 128
                     b({0x00, 0x01, 0x00, 0x00}),                          // dest.left 256
                     b({0x50, 0x03, 0x00, 0x00}),                          // dest.bottom 848
                     b({0x00, 0x06, 0x00, 0x00}),                          // dest.right 1536
                     b({0x00}),                                            // clip NONE u8
                 }));
  EXPECT_EQ(out.size(), 51u);
}

TEST(StreamMsg, Data) {
  Bytes out;
  const uint8_t jpeg[] = {0xff, 0xd8, 0xff, 0xd9};
  display_stream_data(out, 2, 0x11223344, jpeg);
  EXPECT_EQ(out, cat({
                     b({0x02, 0x00, 0x00, 0x00}),  // id u32
                     b({0x44, 0x33, 0x22, 0x11}),  // multi_media_time u32
                     b({0x04, 0x00, 0x00, 0x00}),  // data_size u32
                     b({0xff, 0xd8, 0xff, 0xd9}),  // data
                 }));
}

TEST(StreamMsg, DataSized) {
  Bytes out;
  const uint8_t jpeg[] = {0xaa, 0xbb};
  display_stream_data_sized(out, 1, 1000, 64, 32, Rect{10, 20, 64, 32}, jpeg);
  EXPECT_EQ(out, cat({
                     b({0x01, 0x00, 0x00, 0x00}),  // id u32
                     b({0xe8, 0x03, 0x00, 0x00}),  // multi_media_time 1000
                     b({0x40, 0x00, 0x00, 0x00}),  // width 64
                     b({0x20, 0x00, 0x00, 0x00}),  // height 32
                     b({0x14, 0x00, 0x00, 0x00}),  // dest.top 20
                     b({0x0a, 0x00, 0x00, 0x00}),  // dest.left 10
                     b({0x34, 0x00, 0x00, 0x00}),  // dest.bottom 52
                     b({0x4a, 0x00, 0x00, 0x00}),  // dest.right 74
                     b({0x02, 0x00, 0x00, 0x00}),  // data_size u32
                     b({0xaa, 0xbb}),              // data
                 }));
}

TEST(StreamMsg, Destroy) {
  Bytes out;
  display_stream_destroy(out, 7);
  EXPECT_EQ(out, b({0x07, 0x00, 0x00, 0x00}));  // id u32
}

TEST(StreamMsg, Clip) {
  Bytes out;
  const Rect shown[] = {Rect{10, 20, 64, 32}, Rect{0, 0, 8, 8}};
  display_stream_clip(out, 3, shown);
  EXPECT_EQ(out, cat({
                     b({0x03, 0x00, 0x00, 0x00}),  // id u32
                     b({0x01}),                    // clip.type RECTS
                     b({0x02, 0x00, 0x00, 0x00}),  // num_rects u32 (inline)
                     b({0x14, 0x00, 0x00, 0x00}),  // rects[0].top 20
                     b({0x0a, 0x00, 0x00, 0x00}),  // rects[0].left 10
                     b({0x34, 0x00, 0x00, 0x00}),  // rects[0].bottom 52
                     b({0x4a, 0x00, 0x00, 0x00}),  // rects[0].right 74
                     b({0x00, 0x00, 0x00, 0x00}),  // rects[1].top 0
                     b({0x00, 0x00, 0x00, 0x00}),  // rects[1].left 0
                     b({0x08, 0x00, 0x00, 0x00}),  // rects[1].bottom 8
                     b({0x08, 0x00, 0x00, 0x00}),  // rects[1].right 8
                 }));
  out.clear();
  display_stream_clip(out, 3, {});
  EXPECT_EQ(out, cat({
                     b({0x03, 0x00, 0x00, 0x00}),  // id u32
                     b({0x00}),                    // clip.type NONE
                 }));
}

}  // namespace
}  // namespace spiceflow::net::msg
