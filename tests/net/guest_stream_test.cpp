// net::GuestStream, the hand-off between the streaming agent's port (host side) and the
// stream's display channel (loop side): items in order per reader, nothing kept without
// readers, the host told to stop reading while the slowest reader is kMaxQueuedFrames
// behind and to read again once it caught up, the codecs every client decodes, the cursor.
#include <spice/enums.h>
#include <gtest/gtest.h>

#include "spiceflow/net/guest_stream.hpp"

using spiceflow::net::GuestStream;

namespace {

std::vector<uint8_t> frame(uint8_t tag) { return std::vector<uint8_t>(3, tag); }

struct Recorder {
  std::vector<std::vector<uint8_t>> clients;
  int rooms = 0;
  int notifies = 0;
  void attach(GuestStream& s) {
    GuestStream::Hooks h;
    h.clients = [this](std::vector<uint8_t> c) { clients.push_back(std::move(c)); };
    h.room = [this] { ++rooms; };
    s.set_hooks(std::move(h));
    s.set_notifier([this] { ++notifies; });
  }
};

}  // namespace

TEST(GuestStream, ReadersGetTheFormatAndEveryLaterItemInOrder) {
  GuestStream s(1);
  Recorder rec;
  rec.attach(s);
  EXPECT_TRUE(s.push_frame(frame(9)));  // no format, no reader: dropped
  s.set_format({SPICE_VIDEO_CODEC_TYPE_MJPEG, 64, 32});
  std::optional<GuestStream::Format> current;
  const uint64_t a = s.join({SPICE_VIDEO_CODEC_TYPE_MJPEG}, &current);
  ASSERT_TRUE(current.has_value());
  EXPECT_EQ(current->width, 64u);
  EXPECT_TRUE(s.push_frame(frame(1)));
  const uint64_t b = s.join({SPICE_VIDEO_CODEC_TYPE_MJPEG}, nullptr);
  EXPECT_TRUE(s.push_frame(frame(2)));
  s.set_format({SPICE_VIDEO_CODEC_TYPE_VP8, 10, 10});
  s.stop();
  EXPECT_EQ(rec.notifies, 4);
  auto ia = s.take(a, 10);
  ASSERT_EQ(ia.size(), 4u);
  EXPECT_EQ(*ia[0].data, frame(1));
  EXPECT_EQ(*ia[1].data, frame(2));
  EXPECT_EQ(ia[2].kind, GuestStream::Item::format);
  EXPECT_EQ(ia[2].fmt.codec, SPICE_VIDEO_CODEC_TYPE_VP8);
  EXPECT_EQ(ia[3].kind, GuestStream::Item::stop);
  EXPECT_FALSE(s.pending(a));
  auto ib = s.take(b, 1);  // b joined after frame 1; one at a time
  ASSERT_EQ(ib.size(), 1u);
  EXPECT_EQ(*ib[0].data, frame(2));
  EXPECT_TRUE(s.pending(b));
  EXPECT_EQ(s.take(b, 10).size(), 2u);
  // After a stop a joining client has no current stream.
  std::optional<GuestStream::Format> none;
  s.join({}, &none);
  EXPECT_FALSE(none.has_value());
}

TEST(GuestStream, TheSlowestReaderHoldsTheHostBack) {
  GuestStream s(1);
  Recorder rec;
  rec.attach(s);
  s.set_format({SPICE_VIDEO_CODEC_TYPE_H264, 8, 8});
  const uint64_t fast = s.join({}, nullptr);
  const uint64_t slow = s.join({}, nullptr);
  for (size_t i = 0; i + 1 < GuestStream::kMaxQueuedFrames; ++i) {
    EXPECT_TRUE(s.push_frame(frame(uint8_t(i))));
  }
  EXPECT_FALSE(s.push_frame(frame(99)));  // the 8th unread frame: stop reading
  EXPECT_FALSE(s.has_room());
  s.take(fast, 100);
  EXPECT_FALSE(s.has_room());  // the slow one still has all of them
  EXPECT_EQ(rec.rooms, 0);
  s.take(slow, 1);
  EXPECT_TRUE(s.has_room());
  EXPECT_EQ(rec.rooms, 1);  // told once
  s.take(slow, 100);
  EXPECT_EQ(rec.rooms, 1);
  // A full queue also clears when its reader leaves.
  for (size_t i = 0; i < GuestStream::kMaxQueuedFrames; ++i) s.push_frame(frame(1));
  EXPECT_FALSE(s.has_room());
  s.take(fast, 100);
  s.leave(slow);
  EXPECT_TRUE(s.has_room());
  EXPECT_EQ(rec.rooms, 2);
}

TEST(GuestStream, QueuedBytesAreBoundedToo) {
  GuestStream s(1);
  Recorder rec;
  rec.attach(s);
  s.set_format({SPICE_VIDEO_CODEC_TYPE_MJPEG, 8, 8});
  const uint64_t r = s.join({}, nullptr);
  const size_t big = GuestStream::kMaxQueuedBytes / 3 + 1;
  EXPECT_TRUE(s.push_frame(std::vector<uint8_t>(big, 1)));
  EXPECT_TRUE(s.push_frame(std::vector<uint8_t>(big, 2)));
  EXPECT_FALSE(s.push_frame(std::vector<uint8_t>(big, 3)));  // 3 frames, over the bytes
  EXPECT_EQ(s.take(r, 1).size(), 1u);
  EXPECT_TRUE(s.has_room());
  EXPECT_EQ(rec.rooms, 1);
}

TEST(GuestStream, ClientsHookCarriesTheCodecsEveryClientDecodes) {
  GuestStream s(1);
  Recorder rec;
  rec.attach(s);
  const uint64_t a = s.join({SPICE_VIDEO_CODEC_TYPE_MJPEG, SPICE_VIDEO_CODEC_TYPE_VP8,
                             SPICE_VIDEO_CODEC_TYPE_H264},
                            nullptr);
  const uint64_t b = s.join({SPICE_VIDEO_CODEC_TYPE_H264}, nullptr);  // MJPEG is implied
  s.leave(b);
  s.leave(a);
  s.leave(a);  // twice: ignored
  ASSERT_EQ(rec.clients.size(), 4u);
  EXPECT_EQ(rec.clients[0], (std::vector<uint8_t>{SPICE_VIDEO_CODEC_TYPE_MJPEG,
                                                  SPICE_VIDEO_CODEC_TYPE_VP8,
                                                  SPICE_VIDEO_CODEC_TYPE_H264}));
  EXPECT_EQ(rec.clients[1],
            (std::vector<uint8_t>{SPICE_VIDEO_CODEC_TYPE_MJPEG, SPICE_VIDEO_CODEC_TYPE_H264}));
  EXPECT_EQ(rec.clients[2], rec.clients[0]);
  EXPECT_TRUE(rec.clients[3].empty());  // nobody left: stop
  EXPECT_EQ(s.clients(), 0u);
  // Without hooks nothing is called.
  s.set_hooks({});
  s.join({}, nullptr);
  EXPECT_EQ(rec.clients.size(), 4u);
}

TEST(GuestStream, CursorVersions) {
  GuestStream s(1);
  const auto first = s.cursor();
  EXPECT_FALSE(first->visible);
  auto shape = std::make_shared<spiceflow::CursorShape>();
  shape->pixels = std::make_shared<spiceflow::Image>(2, 2);
  s.set_cursor_shape(shape);
  s.move_cursor({5, 6});
  const auto now = s.cursor();
  EXPECT_TRUE(now->visible);
  EXPECT_EQ(now->shape, shape);
  EXPECT_EQ(now->pos, (spiceflow::Point{5, 6}));
  EXPECT_EQ(now->version, first->version + 2);
  EXPECT_EQ(now->shape_version, first->shape_version + 1);
  s.set_cursor_shape(nullptr);
  EXPECT_FALSE(s.cursor()->visible);
}
