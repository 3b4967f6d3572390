// spice_replay_* of our libspice-server.so.1 on hand-written record files (the reference's
// text format, as compat/src/record.cpp and the reference's red-record-qxl write it), on two
// real recordings (QEMU 7.2 + SeaBIOS recorded on the reference library and on ours, see
// data/README.md), and on hostile files: truncated at every byte, bad counts, huge sizes,
// bad ids. A malformed file must give NULL (end of replay) with a logged reason, never a
// crash and never an allocation the file does not back.
#include <sys/resource.h>

#include <cstdio>
#include <cstring>
#include <string>
#include <vector>

#include <gtest/gtest.h>

#define SPICE_SERVER_INTERNAL 1
#include <spice.h>

namespace {

// Not registered with any server: the primary-surface calls a replay makes on it are
// logged and ignored by the library.
QXLInstance g_instance{};

FILE* file_of(const std::string& bytes) {
  FILE* f = std::tmpfile();
  std::fwrite(bytes.data(), 1, bytes.size(), f);
  std::rewind(f);
  return f;
}

std::string bin(const std::string& prefix, const std::string& data) {
  return "binary 0 " + prefix + " " + std::to_string(data.size()) + ":" + data + "\n";
}

std::string rect(const std::string& prefix, int t, int l, int b, int r) {
  return "rect " + prefix + " " + std::to_string(t) + " " + std::to_string(l) + " " +
         std::to_string(b) + " " + std::to_string(r) + "\n";
}

const std::string kHeader = "SPICE_REPLAY 1\n";

// A DRAW_COPY of a 2x2 32-bit bitmap in two chunks, clipped by one rectangle.
std::string draw_copy(int counter, const std::string& surface_id = "0") {
  std::string clip_rect(16, '\0');
  const int32_t r[4] = {0, 0, 2, 2};
  std::memcpy(clip_rect.data(), r, 16);
  std::string s = "event " + std::to_string(counter) + " 0 1 1000\n";  // QXL_CMD_DRAW
  s += "drawable\n" + rect("bbox", 0, 0, 2, 2) + "type 1\nnum_rects 1\ndata_chunks 0 16\n" +
       bin("clip_rects", clip_rect) + "effect 1\nmm_time 5\nself_bitmap 0\n" +
       rect("self_bitmap_area", 0, 0, 0, 0) + "surface_id " + surface_id + "\n";
  for (int i = 0; i < 3; ++i) s += "surfaces_dest -1\n" + rect("surfaces_rects", 0, 0, 0, 0);
  s += "type 3\nimage 1\ndescriptor.id 7\ndescriptor.type 0\ndescriptor.flags 0\n"
       "descriptor.width 2\ndescriptor.height 2\nbitmap.format 8\nbitmap.flags 4\n"
       "bitmap.x 2\nbitmap.y 2\nbitmap.stride 8\nhas_palette 0\ndata_chunks 1 16\n" +
       bin("bitmap.data", "ABCDEFGH") + bin("bitmap.data", "IJKLMNOP") +
       rect("src_area", 0, 0, 2, 2) + "rop_descriptor 8\nscale_mode 0\nflags 0\npoint 0 0\nimage 0\n";
  return s;
}

std::string surface_create(int counter, int id) {
  return "event " + std::to_string(counter) + " 0 5 1000\nsurface_cmd\nsurface_id " +
         std::to_string(id) + "\ntype 0\nflags 0\nu.surface_create.format 32\n"
         "u.surface_create.width 4\nu.surface_create.height 4\nu.surface_create.stride 16\n";
}

std::string surface_destroy(int counter, int id) {
  return "event " + std::to_string(counter) + " 0 5 1000\nsurface_cmd\nsurface_id " +
         std::to_string(id) + "\ntype 1\nflags 0\n";
}

template <class T>
T* ptr(QXLPHYSICAL p) {
  return reinterpret_cast<T*>(uintptr_t(p));
}

// Replays everything; returns the commands' types (freeing each).
std::vector<uint32_t> replay_all(const std::string& file, int nsurfaces = 16) {
  std::vector<uint32_t> types;
  SpiceReplay* r = spice_replay_new(file_of(file), nsurfaces);
  if (!r) return types;
  while (QXLCommandExt* c = spice_replay_next_cmd(r, &g_instance)) {
    types.push_back(c->cmd.type);
    spice_replay_free_cmd(r, c);
  }
  EXPECT_EQ(spice_replay_next_cmd(r, &g_instance), nullptr) << "the end of a replay is sticky";
  spice_replay_free(r);
  return types;
}

long max_rss_kib() {
  rusage ru{};
  getrusage(RUSAGE_SELF, &ru);
  return ru.ru_maxrss;
}

TEST(CompatReplay, RejectsWhatIsNotARecordFile) {
  EXPECT_EQ(spice_replay_new(file_of("hello world\n"), 16), nullptr);
  EXPECT_EQ(spice_replay_new(file_of("SPICE_REPLAY 2\n"), 16), nullptr);
  EXPECT_EQ(spice_replay_new(file_of(""), 16), nullptr);
  EXPECT_EQ(spice_replay_new(file_of(kHeader), 0), nullptr);
  EXPECT_EQ(spice_replay_new(nullptr, 16), nullptr);
  EXPECT_TRUE(replay_all(kHeader).empty());
}

TEST(CompatReplay, RebuildsADrawCopyInHostMemory) {
  SpiceReplay* r = spice_replay_new(file_of(kHeader + draw_copy(0)), 16);
  ASSERT_NE(r, nullptr);
  QXLCommandExt* c = spice_replay_next_cmd(r, &g_instance);
  ASSERT_NE(c, nullptr);
  EXPECT_EQ(c->cmd.type, uint32_t(QXL_CMD_DRAW));
  EXPECT_EQ(c->group_id, 0u);
  EXPECT_EQ(c->flags, 0u);
  auto* d = ptr<QXLDrawable>(c->cmd.data);
  EXPECT_EQ(d->release_info.id, uint64_t(uintptr_t(c))) << "release_resource finds the command";
  EXPECT_EQ(d->bbox.right, 2);
  EXPECT_EQ(d->surface_id, 0u);
  EXPECT_EQ(d->surfaces_dest[0], -1);
  EXPECT_EQ(d->type, QXL_DRAW_COPY);
  EXPECT_EQ(d->effect, 1);
  ASSERT_EQ(d->clip.type, uint32_t(SPICE_CLIP_TYPE_RECTS));
  auto* clip = ptr<QXLClipRects>(d->clip.data);
  EXPECT_EQ(clip->num_rects, 1u);
  EXPECT_EQ(clip->chunk.data_size, 16u);
  auto* img = ptr<QXLImage>(d->u.copy.src_bitmap);
  EXPECT_EQ(img->descriptor.id, 7u);
  EXPECT_EQ(img->bitmap.stride, 8u);
  auto* chunk = ptr<QXLDataChunk>(img->bitmap.data);
  ASSERT_EQ(chunk->data_size, 8u);
  EXPECT_EQ(std::string(reinterpret_cast<char*>(chunk->data), 8), "ABCDEFGH");
  auto* next = ptr<QXLDataChunk>(chunk->next_chunk);
  ASSERT_NE(next, nullptr);
  EXPECT_EQ(ptr<QXLDataChunk>(next->prev_chunk), chunk);
  EXPECT_EQ(std::string(reinterpret_cast<char*>(next->data), 8), "IJKLMNOP");
  EXPECT_EQ(next->next_chunk, 0u);
  EXPECT_EQ(d->u.copy.mask.bitmap, 0u);
  spice_replay_free_cmd(r, c);
  spice_replay_free_cmd(r, c);  // twice: logged and ignored
  QXLCommandExt foreign{};
  spice_replay_free_cmd(r, &foreign);  // not ours: logged and ignored
  EXPECT_EQ(spice_replay_next_cmd(r, &g_instance), nullptr);
  spice_replay_free(r);
}

TEST(CompatReplay, SurfaceIdsAreRemappedAndReusedAfterTheDestroyIsReleased) {
  const std::string file = kHeader + surface_create(0, 40) + draw_copy(1, "40") +
                           surface_destroy(2, 40) + surface_create(3, 41) + draw_copy(4, "77");
  SpiceReplay* r = spice_replay_new(file_of(file), 2);  // ids 0 (primary) and 1 only
  ASSERT_NE(r, nullptr);
  QXLCommandExt* create = spice_replay_next_cmd(r, &g_instance);
  ASSERT_NE(create, nullptr);
  auto* sc = ptr<QXLSurfaceCmd>(create->cmd.data);
  EXPECT_EQ(sc->surface_id, 1u);
  EXPECT_EQ(sc->u.surface_create.width, 4u);
  ASSERT_NE(sc->u.surface_create.data, 0u);
  ptr<uint8_t>(sc->u.surface_create.data)[63] = 1;  // 4 rows of 16 bytes are ours to touch
  QXLCommandExt* draw = spice_replay_next_cmd(r, &g_instance);
  ASSERT_NE(draw, nullptr);
  EXPECT_EQ(ptr<QXLDrawable>(draw->cmd.data)->surface_id, 1u);
  QXLCommandExt* destroy = spice_replay_next_cmd(r, &g_instance);
  ASSERT_NE(destroy, nullptr);
  EXPECT_EQ(ptr<QXLSurfaceCmd>(destroy->cmd.data)->surface_id, 1u);
  // As a server does: the create is released with the destroy.
  spice_replay_free_cmd(r, create);
  spice_replay_free_cmd(r, destroy);
  spice_replay_free_cmd(r, draw);
  QXLCommandExt* again = spice_replay_next_cmd(r, &g_instance);
  ASSERT_NE(again, nullptr);
  EXPECT_EQ(ptr<QXLSurfaceCmd>(again->cmd.data)->surface_id, 1u) << "id 1 is free again";
  // Surface 77 was never created: the drawable names no valid surface (a server rejects it).
  QXLCommandExt* orphan = spice_replay_next_cmd(r, &g_instance);
  ASSERT_NE(orphan, nullptr);
  EXPECT_EQ(ptr<QXLDrawable>(orphan->cmd.data)->surface_id, UINT32_MAX);
  spice_replay_free_cmd(r, orphan);
  spice_replay_free_cmd(r, again);
  spice_replay_free(r);
}

TEST(CompatReplay, PrimarySurfaceEventsAreSkippedOverAndShortPixelsPadded) {
  // A create-primary message whose pixels are missing (the reference writes 0 bytes when it
  // had no line 0), then a destroy, then a command.
  const std::string file = kHeader + "event 0 1 20 5\n640 480 -2560 32\n0 1 0 0\n" +
                           bin("data", "") + "event 1 1 21 6\n" + "event 2 1 2 7\n" + draw_copy(3);
  EXPECT_EQ(replay_all(file), std::vector<uint32_t>{QXL_CMD_DRAW});
}

TEST(CompatReplay, EveryTruncationEndsTheReplayCleanly) {
  const std::string full = kHeader + surface_create(0, 3) + draw_copy(1, "3") +
                           "event 2 1 20 5\n4 2 16 32\n0 1 0 0\n" + bin("data", std::string(32, 'x')) +
                           draw_copy(3) + surface_destroy(4, 3);
  ASSERT_EQ(replay_all(full).size(), 4u);
  for (size_t len = 0; len < full.size(); ++len) {
    const auto types = replay_all(full.substr(0, len));
    ASSERT_LE(types.size(), 4u) << "prefix of " << len << " bytes";
  }
}

TEST(CompatReplay, BadCountsAndSizesEndTheReplay) {
  auto with = [](const std::string& from, const std::string& to) {
    std::string s = kHeader + draw_copy(0);
    const size_t at = s.find(from);
    EXPECT_NE(at, std::string::npos) << from;
    return s.replace(at, from.size(), to);
  };
  // Chunk count larger than what follows, and absurd.
  EXPECT_TRUE(replay_all(with("data_chunks 1 16", "data_chunks 5 16")).empty());
  EXPECT_TRUE(replay_all(with("data_chunks 1 16", "data_chunks 4294967295 16")).empty());
  EXPECT_TRUE(replay_all(with("data_chunks 1 16", "data_chunks -1 16")).empty());
  // Bitmap bytes that do not match stride * height (the server would read past them).
  EXPECT_TRUE(replay_all(with("bitmap.stride 8", "bitmap.stride 4000")).empty());
  EXPECT_TRUE(replay_all(with("bitmap.y 2", "bitmap.y 4294967295")).empty());
  // A binary claiming more than the file holds, or more than any record may.
  const long before = max_rss_kib();
  EXPECT_TRUE(replay_all(with("binary 0 bitmap.data 8:", "binary 0 bitmap.data 200000000:")).empty());
  EXPECT_TRUE(replay_all(with("binary 0 bitmap.data 8:", "binary 0 bitmap.data 99999999999999:")).empty());
  EXPECT_TRUE(replay_all(with("binary 0 bitmap.data 8:", "binary 0 bitmap.data -8:")).empty());
  EXPECT_LT(max_rss_kib() - before, 64 * 1024) << "a claimed size must not be allocated up front";
  // zlib-compressed binaries, wrong prefixes, values out of range, unknown types.
  EXPECT_TRUE(replay_all(with("binary 0 bitmap.data 8:", "binary 1 bitmap.data 8:")).empty());
  EXPECT_TRUE(replay_all(with("binary 0 clip_rects", "binary 0 other")).empty());
  EXPECT_TRUE(replay_all(with("bitmap.format 8", "bitmap.format 300")).empty());
  EXPECT_TRUE(replay_all(with("type 3\nimage 1", "type 99\nimage 1")).empty());
  EXPECT_TRUE(replay_all(with("descriptor.type 0", "descriptor.type 101")).empty());
  EXPECT_TRUE(replay_all(with("event 0 0 1 1000", "event 0 0 9 1000")).empty());
  EXPECT_TRUE(replay_all(with("event 0 0 1 1000", "event 0 7 1 1000")).empty());
  EXPECT_TRUE(replay_all(with("mm_time 5", "mm_time 5x")).empty());
  EXPECT_TRUE(replay_all(with("mm_time 5", "mm_time " + std::string(600, '9'))).empty());
  EXPECT_TRUE(replay_all(with("has_palette 0", "has_palette 1\nqp.num_ents 70000")).empty());
  EXPECT_TRUE(replay_all(with("has_palette 0", "has_palette 1\nqp.num_ents 3\nunique 1\nents 1")).empty());
  // Surfaces: a size beyond any surface, an id beyond the map.
  std::string huge = kHeader + surface_create(0, 1);
  huge.replace(huge.find("height 4"), 8, "height 2000000000");
  EXPECT_TRUE(replay_all(huge).empty());
  EXPECT_TRUE(replay_all(kHeader + surface_create(0, 2000000000)).empty());
  // A primary surface too large.
  EXPECT_TRUE(replay_all(kHeader + "event 0 1 20 5\n100000 100000 400000 32\n0 1 0 0\n" +
                         bin("data", "") + draw_copy(1))
                  .empty());
}

TEST(CompatReplay, RandomlyCorruptedFilesNeverCrash) {
  const std::string full = kHeader + surface_create(0, 3) + draw_copy(1, "3") +
                           "event 2 1 20 5\n4 2 16 32\n0 1 0 0\n" + bin("data", std::string(32, 'x')) +
                           draw_copy(3) + surface_destroy(4, 3);
  uint64_t seed = 0x5eed;
  auto next = [&seed] {
    seed = seed * 6364136223846793005ull + 1442695040888963407ull;
    return uint32_t(seed >> 33);
  };
  const char kChars[] = "0123456789- \n:abx\xff";
  for (int i = 0; i < 3000; ++i) {
    std::string s = full;
    const int edits = 1 + int(next() % 3);
    for (int e = 0; e < edits; ++e) {
      const size_t at = kHeader.size() + next() % (s.size() - kHeader.size());
      switch (next() % 3) {
        case 0: s[at] = kChars[next() % (sizeof(kChars) - 1)]; break;  // replace
        case 1: s.erase(at, 1 + next() % 8); break;                     // delete
        case 2: s.insert(at, 1, kChars[next() % (sizeof(kChars) - 1)]); break;
      }
    }
    ASSERT_LE(replay_all(s).size(), 8u) << "mutation " << i;
  }
}

TEST(CompatReplay, AFullSurfaceTableEndsTheReplayInsteadOfHanging) {
  // nsurfaces 2: id 0 is the primary, 1 the only off-screen id; a second create while the
  // first surface lives cannot get an id (after a bounded wait for its destroy's release).
  SpiceReplay* r = spice_replay_new(file_of(kHeader + surface_create(0, 1) + surface_create(1, 2)), 2);
  ASSERT_NE(r, nullptr);
  QXLCommandExt* held = spice_replay_next_cmd(r, &g_instance);
  ASSERT_NE(held, nullptr);
  EXPECT_EQ(spice_replay_next_cmd(r, &g_instance), nullptr);
  spice_replay_free_cmd(r, held);
  spice_replay_free(r);
}

std::string gunzip(const std::string& path) {
  std::string out;
  FILE* p = popen(("gzip -dc '" + path + "'").c_str(), "r");
  if (!p) return out;
  char buf[65536];
  size_t n;
  while ((n = std::fread(buf, 1, sizeof(buf), p)) > 0) out.append(buf, n);
  pclose(p);
  return out;
}

// Real recordings of QEMU 7.2 (SeaBIOS, qxl-vga): 3 primary surfaces, then DRAW_COPYs.
TEST(CompatReplay, ReplaysRealRecordingsOfBothLibraries) {
  for (const char* name : {"seabios-reference.rec.gz", "seabios-spiceflow.rec.gz"}) {
    const std::string file = gunzip(std::string(SPICEFLOW_COMPAT_TEST_DATA) + "/" + name);
    ASSERT_GT(file.size(), 1000u) << name;
    const auto types = replay_all(file, 1024);
    EXPECT_GT(types.size(), 100u) << name;
    for (auto t : types) EXPECT_EQ(t, uint32_t(QXL_CMD_DRAW)) << name;
    // Truncated in the middle of the last command: everything before it still replays.
    const size_t last = file.rfind("drawable\n");
    ASSERT_NE(last, std::string::npos);
    EXPECT_EQ(replay_all(file.substr(0, last + 40), 1024).size(), types.size() - 1) << name;
  }
}

}  // namespace
