// spice_replay_*: replays a file written under SPICE_WORKER_RECORD_FILENAME (by the reference
// libspice-server or by spiceflow's record.cpp; the format is described there).
//
// spice_replay_next_cmd reads records until the next QXL command, performing the device
// messages met on the way on `instance` (create/destroy primary surface, destroy surfaces,
// as the reference's replay does), and rebuilds that command in host memory: every
// QXLPHYSICAL in it is a host pointer, to be read through a memslot that maps the whole
// address space 1:1 (slot 0 of group 0, virt_start 0, virt_end ~0, addr_delta 0 with one
// id bit and one generation bit: the reference's tests/replay.c), and the command's
// QXLReleaseInfo::id is the QXLCommandExt* itself, so the host's release_resource can hand it
// to spice_replay_free_cmd. Off-screen surface ids are remapped into [0, nsurfaces) as the
// reference does (a create waits, up to kIdWait, for the server to release a destroyed one).
//
// The file is hostile input: every count, size and id is bounded before it is used, blobs are
// read in steps so a claimed size never allocates more than the file holds, and the first
// malformed or truncated record logs its reason and ends the replay (NULL from then on).
//
// Threading: spice_replay_next_cmd on one host thread (never the QXL worker: it calls
// spice_qxl_* synchronously); spice_replay_free_cmd from any thread (the worker's
// release_resource). The surface id maps are guarded by SpiceReplay::mu.
#include <sys/stat.h>

#include <algorithm>
#include <cerrno>
#include <charconv>
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <memory>
#include <mutex>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include <fmt/format.h>

#include "abi.hpp"
#include "record.hpp"
#include "spiceflow/core/log.hpp"

namespace {

constexpr size_t kMaxLine = 512;                      // one text record
constexpr uint64_t kMaxBlob = uint64_t{1} << 28;      // one binary: a 8192x8192x4 surface
constexpr uint64_t kMaxCommandBytes = uint64_t{1} << 30;  // all blobs of one command
constexpr uint32_t kMaxChunks = 1u << 17;
constexpr uint32_t kMaxPaletteEntries = 1u << 16;
constexpr uint32_t kMaxRecordedSurfaceId = 1u << 24;
constexpr int kMaxSurfaces = 1 << 20;
constexpr int kMaxImageDepth = 4;
constexpr uint32_t kNoId = UINT32_MAX;
constexpr auto kIdWait = std::chrono::seconds(3);

namespace msg = spiceflow::compat::dev_message;

template <class T>
QXLPHYSICAL phys(const T* p) {
  return QXLPHYSICAL(reinterpret_cast<uintptr_t>(p));
}

struct FreeDeleter {
  void operator()(uint8_t* p) const { std::free(p); }
};
using Block = std::unique_ptr<uint8_t, FreeDeleter>;

// One command handed out: the QXLCommandExt and every block its pointers reach.
struct ReplayCommand {
  QXLCommandExt ext{};
  std::vector<Block> blocks;
  uint32_t destroyed_id = kNoId;  // a surface destroy: the replay id freed on release
};

}  // namespace

struct SpiceReplay {
  FILE* file = nullptr;
  int nsurfaces = 0;
  bool error = false;
  uint64_t commands = 0;
  uint64_t offset = 0;  // bytes consumed, for error messages
  bool created_primary = false;
  Block primary_mem;

  std::mutex mu;
  std::condition_variable id_freed;
  std::unordered_map<uint32_t, uint32_t> id_map;  // guarded by mu: recorded id -> replay id
  std::vector<uint32_t> id_inv;                   // guarded by mu: replay id -> recorded id
  std::vector<uint32_t> id_free;                  // guarded by mu
  uint32_t id_next = 0;                           // guarded by mu: never handed out from here on
  std::unordered_map<QXLCommandExt*, std::unique_ptr<ReplayCommand>> live;  // guarded by mu
};

namespace {

// Reads the records of one command into a ReplayCommand. Sticky failure: after the first
// error every read returns zero/empty, and the caller discards the command.
class Reader {
 public:
  Reader(SpiceReplay& r, ReplayCommand* cmd) : r_(r), cmd_(cmd) {}

  bool ok() const { return !r_.error; }

  void fail(const std::string& why) {
    if (r_.error) return;
    r_.error = true;
    spiceflow::log::error("spiceflow replay: record file malformed at byte {} (after {} commands): {}",
                          r_.offset, r_.commands, why);
  }

  int getc() {
    const int c = std::fgetc(r_.file);
    if (c != EOF) ++r_.offset;
    return c;
  }

  /// One text line, without its '\n'.
  std::string line() {
    std::string s;
    if (!ok()) return s;
    while (true) {
      const int c = getc();
      if (c == EOF) {
        fail(s.empty() ? "unexpected end of file" : "truncated line '" + s + "'");
        return {};
      }
      if (c == '\n') return s;
      if (s.size() >= kMaxLine) {
        fail("line longer than " + std::to_string(kMaxLine) + " bytes");
        return {};
      }
      s.push_back(char(c));
    }
  }

  static std::vector<std::string_view> split(std::string_view s) {
    std::vector<std::string_view> out;
    size_t i = 0;
    while (i < s.size()) {
      while (i < s.size() && (s[i] == ' ' || s[i] == '\t' || s[i] == '\r')) ++i;
      size_t j = i;
      while (j < s.size() && s[j] != ' ' && s[j] != '\t' && s[j] != '\r') ++j;
      if (j > i) out.push_back(s.substr(i, j - i));
      i = j;
    }
    return out;
  }

  static std::string join(std::initializer_list<std::string_view> words) {
    std::string s;
    for (auto w : words) {
      if (!s.empty()) s += ' ';
      s += w;
    }
    return s;
  }

  static bool parse_int(std::string_view t, int64_t lo, int64_t hi, int64_t& v) {
    if (!t.empty() && t.front() == '+') t.remove_prefix(1);
    auto [p, ec] = std::from_chars(t.data(), t.data() + t.size(), v);
    return ec == std::errc() && p == t.data() + t.size() && v >= lo && v <= hi;
  }

  /// A line "<keyword...> N1 N2 ...": `keywords` words, then `n` integers in [lo, hi].
  std::vector<int64_t> values(std::initializer_list<std::string_view> keywords, size_t n,
                              int64_t lo = INT32_MIN, int64_t hi = UINT32_MAX) {
    std::vector<int64_t> v(n, 0);
    const std::string l = line();
    if (!ok()) return v;
    auto tok = split(l);
    if (tok.size() != keywords.size() + n) {
      fail("expected '" + join(keywords) + "' with " + std::to_string(n) + " values, got '" + l + "'");
      return v;
    }
    size_t i = 0;
    for (auto k : keywords) {
      if (tok[i++] != k) {
        fail("expected '" + join(keywords) + "', got '" + l + "'");
        return v;
      }
    }
    for (size_t k = 0; k < n; ++k) {
      if (!parse_int(tok[i + k], lo, hi, v[k])) {
        fail("bad value in '" + l + "'");
        return v;
      }
    }
    return v;
  }

  int64_t value(std::string_view keyword, int64_t lo = INT32_MIN, int64_t hi = UINT32_MAX) {
    return values({keyword}, 1, lo, hi)[0];
  }
  uint64_t value_u64(std::string_view keyword) {
    const std::string l = line();
    if (!ok()) return 0;
    auto tok = split(l);
    uint64_t v = 0;
    if (tok.size() != 2 || tok[0] != keyword ||
        std::from_chars(tok[1].data(), tok[1].data() + tok[1].size(), v).ec != std::errc()) {
      fail("expected '" + std::string(keyword) + " <u64>', got '" + l + "'");
    }
    return v;
  }
  void keyword(std::string_view k) { values({k}, 0); }

  /// A zeroed block of `size` bytes owned by the command (or the replay).
  uint8_t* alloc(size_t size) {
    if (!ok()) return nullptr;
    void* p = std::calloc(1, std::max<size_t>(size, 1));
    if (!p) {
      fail("out of memory for " + std::to_string(size) + " bytes");
      return nullptr;
    }
    cmd_->blocks.emplace_back(static_cast<uint8_t*>(p));
    return static_cast<uint8_t*>(p);
  }
  template <class T>
  T* alloc() {
    return reinterpret_cast<T*>(alloc(sizeof(T)));
  }

  /// "binary Z PREFIX SIZE:" then SIZE bytes then '\n': returns a block holding `base`
  /// zero bytes then the data, at least `min_total` bytes long (zero padded), or null.
  uint8_t* binary(std::string_view prefix, size_t base, uint64_t* size_out,
                  uint64_t min_total = 0) {
    *size_out = 0;
    if (!ok()) return nullptr;
    std::string head;
    while (true) {
      const int c = getc();
      if (c == EOF) return fail("unexpected end of file in a binary header"), nullptr;
      if (c == ':') break;
      if (head.size() >= kMaxLine) return fail("binary header too long"), nullptr;
      head.push_back(char(c));
    }
    auto tok = split(head);
    int64_t zlib = 0;
    uint64_t size = 0;
    if (tok.size() != 4 || tok[0] != "binary" || !parse_int(tok[1], 0, 1, zlib) ||
        tok[2] != prefix ||
        std::from_chars(tok[3].data(), tok[3].data() + tok[3].size(), size).ec != std::errc()) {
      fail(fmt::format("expected 'binary 0 {} SIZE:', got '{}:'", prefix, head));
      return nullptr;
    }
    if (zlib) return fail("zlib-compressed binaries are not supported"), nullptr;
    if (size > kMaxBlob) return fail(fmt::format("binary {} of {} bytes is too large", prefix, size)), nullptr;
    command_bytes_ += size;
    if (command_bytes_ > kMaxCommandBytes) return fail("command larger than 1 GiB"), nullptr;
    // Read in steps, growing the block as data arrives: a size the file does not hold
    // costs at most one step of memory.
    const uint64_t want_total = std::max<uint64_t>(base + size, min_total);
    constexpr uint64_t kStep = uint64_t{16} << 20;
    uint64_t cap = std::min<uint64_t>(want_total, base + kStep);
    auto* buf = static_cast<uint8_t*>(std::calloc(1, std::max<uint64_t>(cap, 1)));
    if (!buf) return fail("out of memory"), nullptr;
    Block block(buf);
    uint64_t got = 0;
    while (got < size) {
      if (base + got == cap) {
        const uint64_t ncap = std::min<uint64_t>(want_total, cap + std::max(cap, kStep));
        auto* nb = static_cast<uint8_t*>(std::realloc(block.get(), ncap));
        if (!nb) return fail("out of memory"), nullptr;
        (void)block.release();
        block.reset(nb);
        std::memset(nb + cap, 0, ncap - cap);
        cap = ncap;
      }
      const size_t n = std::fread(block.get() + base + got, 1, size_t(std::min(size - got, cap - base - got)), r_.file);
      if (n == 0) return fail(fmt::format("binary {} truncated ({} of {} bytes)", prefix, got, size)), nullptr;
      got += n;
      r_.offset += n;
    }
    if (cap < want_total) {  // zero padding up to min_total
      auto* nb = static_cast<uint8_t*>(std::realloc(block.get(), want_total));
      if (!nb) return fail("out of memory"), nullptr;
      (void)block.release();
      block.reset(nb);
      std::memset(nb + cap, 0, want_total - cap);
    }
    const int nl = getc();
    if (nl != '\n') return fail(fmt::format("binary {} not followed by a newline", prefix)), nullptr;
    *size_out = size;
    uint8_t* p = block.get();
    cmd_->blocks.push_back(std::move(block));
    return p;
  }

  /// "data_chunks COUNT TOTAL" and COUNT+1 binaries: the first in a block of `base` bytes
  /// whose last sizeof(QXLDataChunk) are its chunk header, the others in blocks of their own,
  /// linked through next_chunk/prev_chunk. Returns the block and the total data size.
  uint8_t* chunks(std::string_view prefix, size_t base, uint64_t* total) {
    *total = 0;
    auto head = values({"data_chunks"}, 2, 0, INT64_MAX);
    if (!ok()) return nullptr;
    if (head[0] >= kMaxChunks) return fail(fmt::format("{} chunks in one list", head[0])), nullptr;
    if (base < sizeof(QXLDataChunk)) base = sizeof(QXLDataChunk);
    uint64_t size = 0;
    uint8_t* first = binary(prefix, base, &size);
    if (!first) return nullptr;
    auto* cur = reinterpret_cast<QXLDataChunk*>(first + base - sizeof(QXLDataChunk));
    cur->data_size = uint32_t(size);
    if (size > UINT32_MAX) return fail("chunk larger than 4 GiB"), nullptr;
    *total = size;
    for (int64_t i = 0; i < head[0]; ++i) {
      uint8_t* next_block = binary(prefix, sizeof(QXLDataChunk), &size);
      if (!next_block) return nullptr;
      auto* next = reinterpret_cast<QXLDataChunk*>(next_block);
      next->data_size = uint32_t(size);
      next->prev_chunk = phys(cur);
      cur->next_chunk = phys(next);
      cur = next;
      *total += size;
    }
    return first;
  }

  void rect(std::string_view prefix, QXLRect* out) {
    auto v = values({"rect", prefix}, 4, INT32_MIN, INT32_MAX);
    out->top = int32_t(v[0]);
    out->left = int32_t(v[1]);
    out->bottom = int32_t(v[2]);
    out->right = int32_t(v[3]);
  }
  void point(QXLPoint* out) {
    auto v = values({"point"}, 2, INT32_MIN, INT32_MAX);
    out->x = int32_t(v[0]);
    out->y = int32_t(v[1]);
  }
  void point16(QXLPoint16* out) {
    auto v = values({"point16"}, 2, INT16_MIN, INT16_MAX);
    out->x = int16_t(v[0]);
    out->y = int16_t(v[1]);
  }

  uint32_t surface_id(int64_t recorded);  // recorded -> replay id (below)

  QXLPHYSICAL image(int depth = 0) {
    if (value("image", 0, 1) == 0 || !ok()) return 0;
    if (depth > kMaxImageDepth) return fail("images nested too deep"), 0;
    QXLImageDescriptor d{};
    d.id = value_u64("descriptor.id");
    d.type = uint8_t(value("descriptor.type", 0, 255));
    d.flags = uint8_t(value("descriptor.flags", 0, 255));
    d.width = uint32_t(value("descriptor.width"));
    d.height = uint32_t(value("descriptor.height"));
    if (!ok()) return 0;
    switch (d.type) {
      case SPICE_IMAGE_TYPE_BITMAP: {
        auto* img = alloc<QXLImage>();
        if (!img) return 0;
        img->descriptor = d;
        QXLBitmap b{};
        b.format = uint8_t(value("bitmap.format", 0, 255));
        b.flags = uint8_t(value("bitmap.flags", 0, 255));
        b.x = uint32_t(value("bitmap.x"));
        b.y = uint32_t(value("bitmap.y"));
        b.stride = uint32_t(value("bitmap.stride"));
        if (value("has_palette", 0, 1)) {
          const auto n = uint32_t(value("qp.num_ents", 0, kMaxPaletteEntries - 1));
          auto* pal = reinterpret_cast<QXLPalette*>(alloc(sizeof(QXLPalette) + size_t(n) * 4));
          if (!pal) return 0;
          pal->num_ents = uint16_t(n);
          pal->unique = value_u64("unique");
          for (uint32_t i = 0; i < n && ok(); ++i) {
            const uint32_t e = uint32_t(value("ents"));
            std::memcpy(reinterpret_cast<uint8_t*>(pal) + sizeof(QXLPalette) + 4 * i, &e, 4);
          }
          b.palette = phys(pal);
        }
        const uint64_t size = uint64_t(b.y) * b.stride;
        if (!ok()) return 0;
        uint64_t got = 0;
        if (b.flags & QXL_BITMAP_DIRECT) {
          b.data = phys(binary("image_data_flat", 0, &got));
        } else {
          b.data = phys(chunks("bitmap.data", 0, &got));
        }
        // The server reads stride * height bytes from here: less in the file is malformed.
        if (ok() && got != size) fail(fmt::format("bitmap holds {} bytes, not stride * height = {}", got, size));
        img->bitmap = b;
        return ok() ? phys(img) : 0;
      }
      case SPICE_IMAGE_TYPE_SURFACE: {
        auto* img = alloc<QXLImage>();
        if (!img) return 0;
        img->descriptor = d;
        img->surface_image.surface_id = surface_id(value("surface_image.surface_id"));
        return ok() ? phys(img) : 0;
      }
      case SPICE_IMAGE_TYPE_QUIC: {
        const auto size = uint32_t(value("quic.data_size"));
        uint64_t got = 0;
        // One block: the descriptor, quic.data_size, then the first chunk (QXLQUICData's
        // data is a QXLDataChunk).
        uint8_t* block = chunks("quic.data",
                                sizeof(QXLImageDescriptor) + sizeof(QXLQUICData) + sizeof(QXLDataChunk),
                                &got);
        if (!block) return 0;
        if (got != size) return fail(fmt::format("QUIC data holds {} bytes, not {}", got, size)), 0;
        auto* img = reinterpret_cast<QXLImage*>(block);
        img->descriptor = d;
        img->quic.data_size = size;
        return phys(img);
      }
      default:
        fail(fmt::format("image type {} is not in the record format", int(d.type)));
        return 0;
    }
  }

  void brush(QXLBrush* b) {
    b->type = uint32_t(value("type"));
    if (!ok()) return;
    if (b->type == SPICE_BRUSH_TYPE_SOLID) {
      b->u.color = uint32_t(value("u.color"));
    } else if (b->type == SPICE_BRUSH_TYPE_PATTERN) {
      b->u.pattern.pat = image(1);
      QXLPoint p{};
      point(&p);
      b->u.pattern.pos = p;
    }
  }

  void qmask(QXLQMask* m) {
    m->flags = uint8_t(value("flags", 0, 255));
    QXLPoint p{};
    point(&p);
    m->pos = p;
    m->bitmap = image(1);
  }

  template <class S>
  void src_image_area(S* s) {
    s->src_bitmap = image();
    QXLRect r{};
    rect("src_area", &r);
    s->src_area = r;
  }

  void copy(QXLCopy* c) {
    src_image_area(c);
    c->rop_descriptor = uint16_t(value("rop_descriptor", 0, 65535));
    c->scale_mode = uint8_t(value("scale_mode", 0, 255));
    qmask(&c->mask);
  }

  QXLPHYSICAL transform() {
    uint64_t size = 0;
    uint8_t* p = binary("transform", 0, &size, sizeof(QXLTransform));
    if (ok() && size != sizeof(QXLTransform)) fail("transform of the wrong size");
    return phys(p);
  }

  void stroke(QXLStroke* s) {
    uint64_t total = 0;
    uint8_t* path = chunks("path", sizeof(QXLPath), &total);
    if (!path) return;
    reinterpret_cast<QXLPath*>(path)->data_size = uint32_t(total);
    s->path = phys(path);
    s->attr.flags = uint8_t(value("attr.flags", 0, 255));
    if (ok() && (s->attr.flags & SPICE_LINE_FLAGS_STYLED)) {
      const auto n = uint8_t(value("attr.style_nseg", 0, 255));
      s->attr.style_nseg = n;
      uint64_t size = 0;
      // The server reads style_nseg fixed-point values: pad a shorter blob with zeroes.
      s->attr.style = phys(binary("style", 0, &size, uint64_t(n) * sizeof(QXLFIXED)));
    }
    brush(&s->brush);
    s->fore_mode = uint16_t(value("fore_mode", 0, 65535));
    s->back_mode = uint16_t(value("back_mode", 0, 65535));
  }

  void text(QXLText* t) {
    const auto data_size = uint32_t(value("data_size"));
    const auto length = uint16_t(value("length", 0, 65535));
    const auto flags = uint16_t(value("flags", 0, 65535));
    uint64_t total = 0;
    uint8_t* block = chunks("string", sizeof(QXLString), &total);
    if (!block) return;
    if (total != data_size) return fail("string chunks do not hold data_size bytes");
    auto* str = reinterpret_cast<QXLString*>(block);
    str->data_size = data_size;
    str->length = length;
    str->flags = flags;
    t->str = phys(str);
    QXLRect r{};
    rect("back_area", &r);
    t->back_area = r;
    brush(&t->fore_brush);
    brush(&t->back_brush);
    t->fore_mode = uint16_t(value("fore_mode", 0, 65535));
    t->back_mode = uint16_t(value("back_mode", 0, 65535));
  }

  void composite(QXLComposite* c) {
    c->flags = uint32_t(value("flags"));
    c->src = image();
    c->src_transform = value("src_transform", 0, 1) ? transform() : 0;
    c->mask = value("mask", 0, 1) ? image() : 0;
    c->mask_transform = value("mask_transform", 0, 1) ? transform() : 0;
    auto so = values({"src_origin"}, 2, INT16_MIN, INT16_MAX);
    auto mo = values({"mask_origin"}, 2, INT16_MIN, INT16_MAX);
    c->src_origin.x = int16_t(so[0]);
    c->src_origin.y = int16_t(so[1]);
    c->mask_origin.x = int16_t(mo[0]);
    c->mask_origin.y = int16_t(mo[1]);
  }

  QXLPHYSICAL drawable() {
    keyword("drawable");
    auto* d = alloc<QXLDrawable>();
    if (!d) return 0;
    QXLRect r{};
    rect("bbox", &r);
    d->bbox = r;
    d->clip.type = uint32_t(value("type"));
    if (ok() && d->clip.type == SPICE_CLIP_TYPE_RECTS) {
      const auto n = uint32_t(value("num_rects"));
      uint64_t total = 0;
      uint8_t* block = chunks("clip_rects", sizeof(QXLClipRects), &total);
      if (!block) return 0;
      reinterpret_cast<QXLClipRects*>(block)->num_rects = n;
      d->clip.data = phys(block);
    }
    d->effect = uint8_t(value("effect", 0, 255));
    d->mm_time = uint32_t(value("mm_time"));
    d->self_bitmap = uint8_t(value("self_bitmap", 0, 255));
    rect("self_bitmap_area", &r);
    d->self_bitmap_area = r;
    d->surface_id = surface_id(value("surface_id"));
    for (int i = 0; i < 3 && ok(); ++i) {
      d->surfaces_dest[i] = int32_t(surface_id(value("surfaces_dest")));
      rect("surfaces_rects", &r);
      d->surfaces_rects[i] = r;
    }
    d->type = uint8_t(value("type", 0, 255));
    if (!ok()) return 0;
    switch (d->type) {
      case QXL_DRAW_ALPHA_BLEND:
        d->u.alpha_blend.alpha_flags = uint16_t(value("alpha_flags", 0, 65535));
        d->u.alpha_blend.alpha = uint8_t(value("alpha", 0, 255));
        src_image_area(&d->u.alpha_blend);
        break;
      case QXL_DRAW_BLACKNESS: qmask(&d->u.blackness.mask); break;
      case QXL_DRAW_WHITENESS: qmask(&d->u.whiteness.mask); break;
      case QXL_DRAW_INVERS: qmask(&d->u.invers.mask); break;
      case QXL_DRAW_BLEND: copy(&d->u.blend); break;
      case QXL_DRAW_COPY: copy(&d->u.copy); break;
      case QXL_COPY_BITS: {
        QXLPoint p{};
        point(&p);
        d->u.copy_bits.src_pos = p;
        break;
      }
      case QXL_DRAW_FILL:
        brush(&d->u.fill.brush);
        d->u.fill.rop_descriptor = uint16_t(value("rop_descriptor", 0, 65535));
        qmask(&d->u.fill.mask);
        break;
      case QXL_DRAW_OPAQUE:
        src_image_area(&d->u.opaque);
        brush(&d->u.opaque.brush);
        d->u.opaque.rop_descriptor = uint16_t(value("rop_descriptor", 0, 65535));
        d->u.opaque.scale_mode = uint8_t(value("scale_mode", 0, 255));
        qmask(&d->u.opaque.mask);
        break;
      case QXL_DRAW_NOP: break;
      case QXL_DRAW_ROP3:
        src_image_area(&d->u.rop3);
        brush(&d->u.rop3.brush);
        d->u.rop3.rop3 = uint8_t(value("rop3", 0, 255));
        d->u.rop3.scale_mode = uint8_t(value("scale_mode", 0, 255));
        qmask(&d->u.rop3.mask);
        break;
      case QXL_DRAW_STROKE: stroke(&d->u.stroke); break;
      case QXL_DRAW_TEXT: text(&d->u.text); break;
      case QXL_DRAW_TRANSPARENT:
        src_image_area(&d->u.transparent);
        d->u.transparent.src_color = uint32_t(value("src_color"));
        d->u.transparent.true_color = uint32_t(value("true_color"));
        break;
      case QXL_DRAW_COMPOSITE: composite(&d->u.composite); break;
      default: fail(fmt::format("unknown drawable type {}", int(d->type)));
    }
    return ok() ? phys(d) : 0;
  }

  QXLPHYSICAL update() {
    keyword("update");
    auto* u = alloc<QXLUpdateCmd>();
    if (!u) return 0;
    QXLRect r{};
    rect("area", &r);
    u->area = r;
    u->update_id = uint32_t(value("update_id"));
    u->surface_id = surface_id(value("surface_id"));
    return ok() ? phys(u) : 0;
  }

  QXLPHYSICAL message() {
    uint64_t size = 0;
    // One more zero byte than the text: the server reads a NUL-terminated string.
    uint8_t* block = binary("message", sizeof(QXLMessage), &size);
    if (!block) return 0;
    uint8_t* terminated = alloc(sizeof(QXLMessage) + size + 1);
    if (!terminated) return 0;
    std::memcpy(terminated, block, sizeof(QXLMessage) + size);
    return phys(terminated);
  }

  QXLPHYSICAL surface_cmd();
  QXLPHYSICAL cursor_cmd();

  uint64_t command_bytes_ = 0;
  SpiceReplay& r_;
  ReplayCommand* cmd_;
};

// ---- surface ids: recorded -> [0, nsurfaces), as the reference (id 0 is the primary)

uint32_t id_get(SpiceReplay& r, int64_t recorded) {
  if (recorded == -1 || recorded == int64_t(UINT32_MAX)) return kNoId;  // "no surface"
  std::lock_guard lock(r.mu);
  auto it = r.id_map.find(uint32_t(recorded));
  if (it == r.id_map.end()) {
    spiceflow::log::warn("spiceflow replay: surface {} was never created in this recording", recorded);
    return kNoId;  // an id no server accepts: the command is rejected there
  }
  return it->second;
}

// A replay id for a new surface; waits (bounded) for the server to release one.
bool id_new(SpiceReplay& r, uint32_t recorded, uint32_t* out) {
  std::unique_lock lock(r.mu);
  const bool got = r.id_freed.wait_for(lock, kIdWait, [&] {
    return !r.id_free.empty() || r.id_next < uint32_t(r.nsurfaces);
  });
  if (!got) return false;
  uint32_t id;
  if (!r.id_free.empty()) {
    id = r.id_free.front();  // the reference takes the first and moves the last into its place
    r.id_free.front() = r.id_free.back();
    r.id_free.pop_back();
  } else {
    id = r.id_next++;
  }
  r.id_map[recorded] = id;
  r.id_inv[id] = recorded;
  *out = id;
  return true;
}

void id_release(SpiceReplay& r, uint32_t id) {
  std::lock_guard lock(r.mu);
  if (id >= r.id_inv.size() || r.id_inv[id] == kNoId) return;
  const uint32_t recorded = r.id_inv[id];
  r.id_inv[id] = kNoId;
  if (auto it = r.id_map.find(recorded); it != r.id_map.end() && it->second == id) {
    r.id_map.erase(it);
  }
  r.id_free.push_back(id);
  r.id_freed.notify_all();
}

uint32_t Reader::surface_id(int64_t recorded) {
  if (!ok()) return kNoId;
  return id_get(r_, recorded);
}

QXLPHYSICAL Reader::surface_cmd() {
  keyword("surface_cmd");
  auto* s = alloc<QXLSurfaceCmd>();
  if (!s) return 0;
  const int64_t recorded = value("surface_id");
  s->type = uint8_t(value("type", 0, 255));
  s->flags = uint32_t(value("flags"));
  if (!ok()) return 0;
  if (s->type == QXL_SURFACE_CMD_CREATE) {
    auto& c = s->u.surface_create;
    c.format = uint32_t(value("u.surface_create.format"));
    c.width = uint32_t(value("u.surface_create.width"));
    c.height = uint32_t(value("u.surface_create.height"));
    c.stride = int32_t(value("u.surface_create.stride", INT32_MIN + 1, INT32_MAX));
    if (!ok()) return 0;
    const uint64_t size = uint64_t(c.height) * uint64_t(std::abs(int64_t(c.stride)));
    if (size > kMaxBlob) return fail(fmt::format("surface of {} bytes is too large", size)), 0;
    uint8_t* mem = nullptr;
    if (s->flags & QXL_SURF_FLAG_KEEP_DATA) {
      uint64_t got = 0;
      mem = binary("data", 0, &got, size);  // the server reads height * |stride| bytes
      if (mem && got != size) {
        spiceflow::log::warn("spiceflow replay: surface data holds {} bytes, not {}", got, size);
      }
    } else {
      mem = alloc(size_t(size));
    }
    if (!mem) return 0;
    c.data = phys(mem);
    if (recorded < 0 || recorded >= kMaxRecordedSurfaceId) {
      return fail(fmt::format("surface id {} out of range", recorded)), 0;
    }
    uint32_t id = 0;
    if (!id_new(r_, uint32_t(recorded), &id)) {
      return fail(fmt::format("no free surface id within {} s: the server holds all {}",
                              kIdWait.count(), r_.nsurfaces)), 0;
    }
    s->surface_id = id;
  } else {
    s->surface_id = id_get(r_, recorded);
    if (s->type == QXL_SURFACE_CMD_DESTROY) cmd_->destroyed_id = s->surface_id;
  }
  return phys(s);
}

QXLPHYSICAL Reader::cursor_cmd() {
  keyword("cursor_cmd");
  auto* c = alloc<QXLCursorCmd>();
  if (!c) return 0;
  c->type = uint8_t(value("type", 0, 255));
  if (!ok()) return 0;
  switch (c->type) {
    case QXL_CURSOR_SET: {
      QXLPoint16 p{};
      point16(&p);
      c->u.set.position = p;
      c->u.set.visible = uint8_t(value("u.set.visible", 0, 255));
      QXLCursorHeader h{};
      h.unique = value_u64("header.unique");
      h.type = uint16_t(value("header.type", 0, 65535));
      h.width = uint16_t(value("header.width", 0, 65535));
      h.height = uint16_t(value("header.height", 0, 65535));
      h.hot_spot_x = uint16_t(value("header.hot_spot_x", 0, 65535));
      h.hot_spot_y = uint16_t(value("header.hot_spot_y", 0, 65535));
      (void)value("data_size");  // the reference's reader also takes the chunks' total
      uint64_t total = 0;
      uint8_t* block = chunks("cursor", sizeof(QXLCursor), &total);
      if (!block) return 0;
      auto* shape = reinterpret_cast<QXLCursor*>(block);
      shape->header = h;
      shape->data_size = uint32_t(total);
      c->u.set.shape = phys(shape);
      break;
    }
    case QXL_CURSOR_MOVE: {
      QXLPoint16 p{};
      point16(&p);
      c->u.position = p;
      break;
    }
    case QXL_CURSOR_TRAIL:
      c->u.trail.length = uint16_t(value("u.trail.length", 0, 65535));
      c->u.trail.frequency = uint16_t(value("u.trail.frequency", 0, 65535));
      break;
    default: break;
  }
  return ok() ? phys(c) : 0;
}

// ---- device messages

void create_primary(SpiceReplay& r, QXLInstance* instance) {
  ReplayCommand scratch;  // owns the pixels until they become the replay's primary memory
  Reader rd(r, &scratch);
  auto a = rd.values({}, 4);
  auto b = rd.values({}, 4);
  if (!rd.ok()) return;
  QXLDevSurfaceCreate s{};
  s.width = uint32_t(a[0]);
  s.height = uint32_t(a[1]);
  s.stride = int32_t(a[2]);
  s.format = uint32_t(a[3]);
  s.position = uint32_t(b[0]);
  s.mouse_mode = uint32_t(b[1]);
  s.flags = uint32_t(b[2]);
  s.type = uint32_t(b[3]);
  const uint64_t size = uint64_t(s.height) * uint64_t(std::abs(int64_t(s.stride)));
  if (size > kMaxBlob) return rd.fail(fmt::format("primary surface of {} bytes is too large", size));
  uint64_t got = 0;
  // The server maps height * |stride| bytes: a shorter (or empty) blob is padded with zeroes.
  uint8_t* mem = rd.binary("data", 0, &got, size);
  if (!mem) return;
  if (r.created_primary) {
    spiceflow::log::warn("spiceflow replay: a primary surface created while one exists; "
                         "destroying the old one first");
    spice_qxl_destroy_primary_surface(instance, 0);
  }
  r.created_primary = true;
  for (auto& blk : scratch.blocks) {
    if (blk.get() == mem) r.primary_mem = std::move(blk);
  }
  s.group_id = 0;
  s.mem = phys(mem);
  spice_qxl_create_primary_surface(instance, 0, &s);
}

void device_message(SpiceReplay& r, QXLInstance* instance, uint32_t type) {
  switch (type) {
    case msg::kCreatePrimarySurface:
    case msg::kCreatePrimarySurfaceAsync:
      create_primary(r, instance);
      break;
    case msg::kDestroyPrimarySurface:
    case msg::kDestroyPrimarySurfaceAsync:
      r.created_primary = false;
      spice_qxl_destroy_primary_surface(instance, 0);
      r.primary_mem.reset();
      break;
    case msg::kDestroySurfaces:
    case msg::kDestroySurfacesAsync:
      r.created_primary = false;
      spice_qxl_destroy_surfaces(instance);
      break;
    default:
      break;  // updates, wakeups, memslots...: nothing to replay (the commands carry the pixels)
  }
}

}  // namespace

SPICEFLOW_EXPORT SpiceReplay* spice_replay_new(FILE* file, int nsurfaces) {
  if (!file) return nullptr;
  if (nsurfaces <= 0 || nsurfaces > kMaxSurfaces) {
    spiceflow::log::error("spiceflow replay: nsurfaces {} out of range (1..{})", nsurfaces, kMaxSurfaces);
    return nullptr;
  }
  char header[16] = {};
  static constexpr char kHeader[] = "SPICE_REPLAY 1\n";
  if (std::fread(header, 1, sizeof(kHeader) - 1, file) != sizeof(kHeader) - 1 ||
      std::memcmp(header, kHeader, sizeof(kHeader) - 1) != 0) {
    if (std::memcmp(header, "SPICE_REPLAY ", 13) == 0) {
      spiceflow::log::error("spiceflow replay: record file version unsupported (want 1)");
    } else {
      spiceflow::log::error("spiceflow replay: not a record file (no 'SPICE_REPLAY 1' header)");
    }
    return nullptr;
  }
  auto* r = new SpiceReplay();
  r->file = file;
  r->offset = sizeof(kHeader) - 1;
  r->nsurfaces = nsurfaces;
  r->id_inv.assign(size_t(nsurfaces), kNoId);
  uint32_t zero = 0;
  id_new(*r, 0, &zero);  // the primary keeps id 0
  return r;
}

SPICEFLOW_EXPORT QXLCommandExt* spice_replay_next_cmd(SpiceReplay* replay, QXLInstance* instance) {
  if (!replay || replay->error) return nullptr;
  auto cmd = std::make_unique<ReplayCommand>();
  Reader rd(*replay, cmd.get());
  int64_t type = 0;
  while (true) {
    // "event COUNTER WHAT TYPE TIMESTAMP"; the end of the file here is the end of the replay.
    const int c = std::fgetc(replay->file);
    if (c == EOF) {
      replay->error = true;
      spiceflow::log::info("spiceflow replay: end of the record file after {} commands",
                           replay->commands);
      return nullptr;
    }
    std::ungetc(c, replay->file);
    const std::string l = rd.line();
    if (!rd.ok()) return nullptr;
    auto tok = Reader::split(l);
    int64_t counter = 0, what = 0;
    uint64_t ts = 0;
    if (tok.size() != 5 || tok[0] != "event" || !Reader::parse_int(tok[1], INT32_MIN, UINT32_MAX, counter) ||
        !Reader::parse_int(tok[2], 0, 1, what) || !Reader::parse_int(tok[3], 0, UINT32_MAX, type) ||
        std::from_chars(tok[4].data(), tok[4].data() + tok[4].size(), ts).ec != std::errc()) {
      rd.fail("expected 'event COUNTER WHAT TYPE TIMESTAMP', got '" + l + "'");
      return nullptr;
    }
    if (what == 0) break;
    device_message(*replay, instance, uint32_t(type));
    if (!rd.ok()) return nullptr;
  }
  QXLPHYSICAL data = 0;
  switch (type) {
    case QXL_CMD_DRAW: data = rd.drawable(); break;
    case QXL_CMD_UPDATE: data = rd.update(); break;
    case QXL_CMD_MESSAGE: data = rd.message(); break;
    case QXL_CMD_SURFACE: data = rd.surface_cmd(); break;
    case QXL_CMD_CURSOR: data = rd.cursor_cmd(); break;
    default: rd.fail(fmt::format("unknown command type {}", type));
  }
  if (!rd.ok() || !data) {
    rd.fail("command could not be rebuilt");
    if (cmd->destroyed_id != kNoId) id_release(*replay, cmd->destroyed_id);
    return nullptr;
  }
  QXLCommandExt* ext = &cmd->ext;
  ext->cmd.type = uint32_t(type);
  ext->cmd.data = data;
  ext->group_id = 0;
  ext->flags = 0;
  // Every command struct starts with its QXLReleaseInfo: release_resource finds us through it.
  reinterpret_cast<QXLReleaseInfo*>(uintptr_t(data))->id = uint64_t(uintptr_t(ext));
  ++replay->commands;
  std::lock_guard lock(replay->mu);
  replay->live.emplace(ext, std::move(cmd));
  return ext;
}

SPICEFLOW_EXPORT void spice_replay_free_cmd(SpiceReplay* replay, QXLCommandExt* cmd) {
  if (!replay || !cmd) return;
  std::unique_ptr<ReplayCommand> owned;
  {
    std::lock_guard lock(replay->mu);
    auto it = replay->live.find(cmd);
    if (it == replay->live.end()) {
      spiceflow::log::warn("spiceflow replay: spice_replay_free_cmd on a command this replay did "
                           "not hand out (or freed twice); ignored");
      return;
    }
    owned = std::move(it->second);
    replay->live.erase(it);
  }
  // A destroyed surface's id becomes free once the server is done with the destroy.
  if (owned->destroyed_id != kNoId) id_release(*replay, owned->destroyed_id);
}

SPICEFLOW_EXPORT void spice_replay_free(SpiceReplay* replay) {
  if (!replay) return;
  {
    std::lock_guard lock(replay->mu);
    if (!replay->live.empty()) {
      // As the reference: commands the server still holds stay valid (their memory is not
      // ours to pull from under it); they are left to the process.
      spiceflow::log::info("spiceflow replay: {} commands still held by the server at "
                           "spice_replay_free", replay->live.size());
      for (auto& [ext, c] : replay->live) (void)c.release();
    }
  }
  std::fclose(replay->file);
  delete replay;
}
