#include "record.hpp"

#include <fcntl.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <cinttypes>
#include <cstdlib>
#include <cstring>
#include <span>
#include <utility>
#include <vector>

#include <fmt/format.h>

#include "spiceflow/core/log.hpp"

extern char** environ;

namespace spiceflow::compat {

namespace {

// Bounds on what one command may make us copy out of guest memory (a hostile guest's chunk
// list may be cyclic or claim gigabytes): the same orders as qxl::ParseLimits.
constexpr uint32_t kMaxChunks = 1u << 17;
constexpr uint64_t kMaxDataBytes = uint64_t{1} << 28;
constexpr uint64_t kMaxMessageBytes = 4096;
constexpr int kMaxImageDepth = 4;  // images nest at most brush -> image; a bound, not a rule

// Serialises one command into text in the reference's record format. Every guest read goes
// through the memslots; the first failure is kept in `failed` and makes every later read
// return zeroes (so no branch below needs its own check), and the command is then dropped.
class Writer {
 public:
  Writer(const qxl::MemSlots& slots, uint32_t group) : slots_(slots), group_(group) {}

  std::string out;
  std::string failed;  // empty: ok

  void line(const std::string& s) {
    out += s;
    out += '\n';
  }

  void fail(std::string why) {
    if (failed.empty()) failed = std::move(why);
  }

  /// `size` guest bytes at `addr` (null after a failure).
  const uint8_t* bytes(QXLPHYSICAL addr, uint64_t size, const char* what) {
    if (!failed.empty()) return nullptr;
    auto p = slots_.translate(group_, addr, size);
    if (!p) {
      fail(fmt::format("{}: {}", what, p.error().message));
      return nullptr;
    }
    return *p;
  }

  template <class T>
  T read(QXLPHYSICAL addr, const char* what) {
    T value;
    std::memset(&value, 0, sizeof(T));
    if (const uint8_t* p = bytes(addr, sizeof(T), what)) std::memcpy(&value, p, sizeof(T));
    return value;
  }

  void binary(const char* prefix, std::span<const uint8_t> data) {
    out += fmt::format("binary 0 {} {}:", prefix, data.size());
    out.append(reinterpret_cast<const char*>(data.data()), data.size());
    out += '\n';
  }

  /// The chunk list whose first QXLDataChunk is at guest address `first`: "data_chunks"
  /// with the number of chunks after the first and the total size, then each chunk's bytes.
  uint64_t chunks(const char* prefix, QXLPHYSICAL first) {
    std::vector<std::span<const uint8_t>> spans;
    uint64_t total = 0;
    QXLPHYSICAL at = first;
    while (failed.empty()) {
      auto chunk = read<QXLDataChunk>(at, prefix);
      if (!failed.empty()) break;
      const uint8_t* data = bytes(at + sizeof(QXLDataChunk), chunk.data_size, prefix);
      if (!data) break;
      spans.emplace_back(data, size_t(chunk.data_size));
      total += chunk.data_size;
      if (spans.size() > kMaxChunks || total > kMaxDataBytes) {
        fail(fmt::format("{}: chunk list longer than {} chunks or {} bytes", prefix, kMaxChunks,
                         kMaxDataBytes));
        break;
      }
      if (!chunk.next_chunk) break;
      at = chunk.next_chunk;
    }
    if (!failed.empty()) return 0;
    line(fmt::format("data_chunks {} {}", spans.size() - 1, total));
    for (const auto& s : spans) binary(prefix, s);
    return total;
  }

  void point(const QXLPoint& p) { line(fmt::format("point {} {}", p.x, p.y)); }
  void point16(const QXLPoint16& p) { line(fmt::format("point16 {} {}", p.x, p.y)); }
  void rect(const char* prefix, const QXLRect& r) {
    line(fmt::format("rect {} {} {} {} {}", prefix, r.top, r.left, r.bottom, r.right));
  }
  void field(const char* name, int64_t v) { line(fmt::format("{} {}", name, v)); }
  // The reference prints these with %d: an unsigned 32-bit value above INT32_MAX comes out
  // negative, and its reader takes it back the same way.
  void field_d(const char* name, uint32_t v) { field(name, int32_t(v)); }

  void image(QXLPHYSICAL addr, int depth = 0) {
    line(fmt::format("image {}", addr ? 1 : 0));
    if (!addr || !failed.empty()) return;
    if (depth > kMaxImageDepth) return fail("image nesting too deep");
    auto img = read<QXLImage>(addr, "image");
    const QXLImageDescriptor d = img.descriptor;
    line(fmt::format("descriptor.id {}", uint64_t(d.id)));
    field("descriptor.type", d.type);
    field("descriptor.flags", d.flags);
    field_d("descriptor.width", d.width);
    field_d("descriptor.height", d.height);
    switch (d.type) {
      case SPICE_IMAGE_TYPE_BITMAP: {
        const QXLBitmap b = img.bitmap;
        field("bitmap.format", b.format);
        field("bitmap.flags", b.flags);
        field_d("bitmap.x", b.x);
        field_d("bitmap.y", b.y);
        field_d("bitmap.stride", b.stride);
        field("has_palette", b.palette ? 1 : 0);
        if (b.palette) {
          auto pal = read<QXLPalette>(b.palette, "palette");
          const uint16_t n = pal.num_ents;
          field("qp.num_ents", n);
          const uint8_t* ents = bytes(b.palette + sizeof(QXLPalette), uint64_t(n) * 4, "palette");
          line(fmt::format("unique {}", uint64_t(pal.unique)));
          for (uint32_t i = 0; ents && i < n; ++i) {
            uint32_t e;
            std::memcpy(&e, ents + 4 * i, 4);
            field_d("ents", e);
          }
        }
        const uint64_t size = uint64_t(b.y) * b.stride;
        if (size > kMaxDataBytes) return fail("bitmap larger than the record limit");
        if (b.flags & QXL_BITMAP_DIRECT) {
          if (const uint8_t* p = bytes(b.data, size, "bitmap data")) {
            binary("image_data_flat", {p, size});
          }
        } else if (chunks("bitmap.data", b.data) != size && failed.empty()) {
          fail("bitmap chunks do not hold stride * height bytes");
        }
        break;
      }
      case SPICE_IMAGE_TYPE_SURFACE:
        field_d("surface_image.surface_id", img.surface_image.surface_id);
        break;
      case SPICE_IMAGE_TYPE_QUIC: {
        const uint32_t size = img.quic.data_size;
        field_d("quic.data_size", size);
        const QXLPHYSICAL chunk = addr + sizeof(QXLImageDescriptor) + sizeof(QXLQUICData);
        if (chunks("quic.data", chunk) != size && failed.empty()) {
          fail("QUIC chunks do not hold quic.data_size bytes");
        }
        break;
      }
      default:
        // The reference's recorder knows no other image type either (it aborts on them).
        fail(fmt::format("image type {} cannot be recorded", int(d.type)));
    }
  }

  void brush(const QXLBrush& b) {
    field_d("type", b.type);
    if (b.type == SPICE_BRUSH_TYPE_SOLID) {
      field_d("u.color", b.u.color);
    } else if (b.type == SPICE_BRUSH_TYPE_PATTERN) {
      image(b.u.pattern.pat, 1);
      point(b.u.pattern.pos);
    }
  }

  void qmask(const QXLQMask& m) {
    field("flags", m.flags);
    point(m.pos);
    image(m.bitmap, 1);
  }

  void clip(const QXLClip& c) {
    field_d("type", c.type);
    if (c.type == SPICE_CLIP_TYPE_RECTS) {
      auto rects = read<QXLClipRects>(c.data, "clip rects");
      field_d("num_rects", rects.num_rects);
      chunks("clip_rects", c.data + offsetof(QXLClipRects, chunk));
    }
  }

  template <class Src>
  void src_image_area(const Src& s) {
    image(s.src_bitmap);
    rect("src_area", s.src_area);
  }

  void stroke(const QXLStroke& s) {
    chunks("path", s.path + offsetof(QXLPath, chunk));
    field("attr.flags", s.attr.flags);
    if (s.attr.flags & SPICE_LINE_FLAGS_STYLED) {
      const uint8_t n = s.attr.style_nseg;
      field("attr.style_nseg", n);
      if (const uint8_t* p = bytes(s.attr.style, uint64_t(n) * sizeof(QXLFIXED), "line style")) {
        binary("style", {p, size_t(n) * sizeof(QXLFIXED)});
      }
    }
    brush(s.brush);
    field("fore_mode", s.fore_mode);
    field("back_mode", s.back_mode);
  }

  void text(const QXLText& t) {
    auto str = read<QXLString>(t.str, "string");
    field_d("data_size", str.data_size);
    field("length", str.length);
    field("flags", str.flags);
    if (chunks("string", t.str + offsetof(QXLString, chunk)) != str.data_size &&
        failed.empty()) {
      fail("string chunks do not hold data_size bytes");
    }
    rect("back_area", t.back_area);
    brush(t.fore_brush);
    brush(t.back_brush);
    field("fore_mode", t.fore_mode);
    field("back_mode", t.back_mode);
  }

  void composite(const QXLComposite& c) {
    field_d("flags", c.flags);
    image(c.src);
    field("src_transform", c.src_transform ? 1 : 0);
    if (c.src_transform) {
      if (const uint8_t* p = bytes(c.src_transform, sizeof(QXLTransform), "transform")) {
        binary("transform", {p, sizeof(QXLTransform)});
      }
    }
    field("mask", c.mask ? 1 : 0);
    if (c.mask) image(c.mask);
    field("mask_transform", c.mask_transform ? 1 : 0);
    if (c.mask_transform) {
      if (const uint8_t* p = bytes(c.mask_transform, sizeof(QXLTransform), "transform")) {
        binary("transform", {p, sizeof(QXLTransform)});
      }
    }
    line(fmt::format("src_origin {} {}", c.src_origin.x, c.src_origin.y));
    line(fmt::format("mask_origin {} {}", c.mask_origin.x, c.mask_origin.y));
  }

  // The per-type part shared by native and compat drawables (U: their union).
  template <class U>
  void draw_op(uint8_t type, const U& u, bool compat) {
    field("type", type);
    switch (type) {
      case QXL_DRAW_ALPHA_BLEND:
        if (compat) {
          const auto& a = reinterpret_cast<const QXLCompatAlphaBlend&>(u);
          field("alpha", a.alpha);
          src_image_area(a);
        } else {
          const auto& a = reinterpret_cast<const QXLAlphaBlend&>(u);
          field("alpha_flags", a.alpha_flags);
          field("alpha", a.alpha);
          src_image_area(a);
        }
        break;
      case QXL_DRAW_BLACKNESS: qmask(u.blackness.mask); break;
      case QXL_DRAW_WHITENESS: qmask(u.whiteness.mask); break;
      case QXL_DRAW_INVERS: qmask(u.invers.mask); break;
      case QXL_DRAW_BLEND:
      case QXL_DRAW_COPY: {
        const QXLCopy& c = type == QXL_DRAW_COPY ? u.copy : u.blend;
        src_image_area(c);
        field("rop_descriptor", c.rop_descriptor);
        field("scale_mode", c.scale_mode);
        qmask(c.mask);
        break;
      }
      case QXL_COPY_BITS: point(u.copy_bits.src_pos); break;
      case QXL_DRAW_FILL:
        brush(u.fill.brush);
        field("rop_descriptor", u.fill.rop_descriptor);
        qmask(u.fill.mask);
        break;
      case QXL_DRAW_OPAQUE:
        src_image_area(u.opaque);
        brush(u.opaque.brush);
        field("rop_descriptor", u.opaque.rop_descriptor);
        field("scale_mode", u.opaque.scale_mode);
        qmask(u.opaque.mask);
        break;
      case QXL_DRAW_NOP: break;
      case QXL_DRAW_ROP3:
        src_image_area(u.rop3);
        brush(u.rop3.brush);
        field("rop3", u.rop3.rop3);
        field("scale_mode", u.rop3.scale_mode);
        qmask(u.rop3.mask);
        break;
      case QXL_DRAW_STROKE: stroke(u.stroke); break;
      case QXL_DRAW_TEXT: text(u.text); break;
      case QXL_DRAW_TRANSPARENT:
        src_image_area(u.transparent);
        field_d("src_color", u.transparent.src_color);
        field_d("true_color", u.transparent.true_color);
        break;
      default:
        if constexpr (requires { u.composite; }) {
          if (type == QXL_DRAW_COMPOSITE && !compat) {
            composite(u.composite);
            break;
          }
        }
        fail(fmt::format("drawable type {} cannot be recorded", int(type)));
    }
  }

  void drawable(QXLPHYSICAL addr, uint32_t flags) {
    line("drawable");
    if (flags & QXL_COMMAND_FLAG_COMPAT) {
      auto d = read<QXLCompatDrawable>(addr, "drawable");
      rect("bbox", d.bbox);
      clip(d.clip);
      field("effect", d.effect);
      field_d("mm_time", d.mm_time);
      field("bitmap_offset", d.bitmap_offset);
      rect("bitmap_area", d.bitmap_area);
      draw_op(d.type, d.u, true);
      return;
    }
    auto d = read<QXLDrawable>(addr, "drawable");
    rect("bbox", d.bbox);
    clip(d.clip);
    field("effect", d.effect);
    field_d("mm_time", d.mm_time);
    field("self_bitmap", d.self_bitmap);
    rect("self_bitmap_area", d.self_bitmap_area);
    field_d("surface_id", d.surface_id);
    for (int i = 0; i < 3; ++i) {
      field("surfaces_dest", d.surfaces_dest[i]);
      rect("surfaces_rects", d.surfaces_rects[i]);
    }
    draw_op(d.type, d.u, false);
  }

  void update(QXLPHYSICAL addr) {
    auto u = read<QXLUpdateCmd>(addr, "update");
    line("update");
    rect("area", u.area);
    field_d("update_id", u.update_id);
    field_d("surface_id", u.surface_id);
  }

  void message(QXLPHYSICAL addr) {
    const QXLPHYSICAL text = addr + sizeof(QXLMessage);
    auto avail = slots_.bytes_to_slot_end(group_, text);
    if (!avail) return fail("message: " + avail.error().message);
    const uint64_t n = std::min<uint64_t>(*avail, kMaxMessageBytes);
    const uint8_t* p = bytes(text, n, "message");
    if (!p) return;
    const void* nul = std::memchr(p, 0, n);
    binary("message", {p, nul ? size_t(static_cast<const uint8_t*>(nul) - p) : size_t(n)});
  }

  void surface(QXLPHYSICAL addr) {
    auto s = read<QXLSurfaceCmd>(addr, "surface command");
    line("surface_cmd");
    field_d("surface_id", s.surface_id);
    field("type", s.type);
    field_d("flags", s.flags);
    if (s.type != QXL_SURFACE_CMD_CREATE) return;
    const QXLSurface c = s.u.surface_create;
    field_d("u.surface_create.format", c.format);
    field_d("u.surface_create.width", c.width);
    field_d("u.surface_create.height", c.height);
    field("u.surface_create.stride", c.stride);
    if (s.flags & QXL_SURF_FLAG_KEEP_DATA) {
      const uint64_t size = uint64_t(c.height) * uint64_t(std::abs(int64_t(c.stride)));
      if (size > kMaxDataBytes) return fail("surface larger than the record limit");
      if (const uint8_t* p = bytes(c.data, size, "surface data")) binary("data", {p, size});
    }
  }

  void cursor(QXLPHYSICAL addr) {
    auto c = read<QXLCursorCmd>(addr, "cursor command");
    line("cursor_cmd");
    field("type", c.type);
    switch (c.type) {
      case QXL_CURSOR_SET: {
        point16(c.u.set.position);
        field("u.set.visible", c.u.set.visible);
        auto shape = read<QXLCursor>(c.u.set.shape, "cursor shape");
        line(fmt::format("header.unique {}", uint64_t(shape.header.unique)));
        field("header.type", shape.header.type);
        field("header.width", shape.header.width);
        field("header.height", shape.header.height);
        field("header.hot_spot_x", shape.header.hot_spot_x);
        field("header.hot_spot_y", shape.header.hot_spot_y);
        field_d("data_size", shape.data_size);
        chunks("cursor", c.u.set.shape + offsetof(QXLCursor, chunk));
        break;
      }
      case QXL_CURSOR_MOVE: point16(c.u.position); break;
      case QXL_CURSOR_TRAIL:
        field("u.trail.length", c.u.trail.length);
        field("u.trail.frequency", c.u.trail.frequency);
        break;
      default: break;
    }
  }

 private:
  const qxl::MemSlots& slots_;
  uint32_t group_;
};

uint64_t monotonic_ns() {
  return uint64_t(std::chrono::duration_cast<std::chrono::nanoseconds>(
                      std::chrono::steady_clock::now().time_since_epoch())
                      .count());
}

}  // namespace

std::shared_ptr<Recorder> Recorder::open_from_env() {
  const char* path = std::getenv("SPICE_WORKER_RECORD_FILENAME");
  if (!path || !*path) return nullptr;
  const char* filter = std::getenv("SPICE_WORKER_RECORD_FILTER");
  return open(path, filter ? filter : "");
}

std::shared_ptr<Recorder> Recorder::open(const std::string& path, const std::string& filter) {
  FILE* f = std::fopen(path.c_str(), "wb");
  if (!f) {
    log::error("spiceflow compat: cannot open the record file {}: {}", path, std::strerror(errno));
    return nullptr;
  }
  pid_t pid = 0;
  if (!filter.empty()) {
    // The filter (run by the shell, as a command line) reads our stream on its stdin and
    // writes the file on its stdout.
    int pipe_fds[2];
    if (pipe2(pipe_fds, O_CLOEXEC) != 0) {
      log::error("spiceflow compat: record filter: pipe: {}", std::strerror(errno));
      std::fclose(f);
      return nullptr;
    }
    posix_spawn_file_actions_t actions;
    posix_spawn_file_actions_init(&actions);
    posix_spawn_file_actions_adddup2(&actions, pipe_fds[0], STDIN_FILENO);
    posix_spawn_file_actions_adddup2(&actions, fileno(f), STDOUT_FILENO);
    const std::string cmd = "exec " + filter;
    char* argv[] = {const_cast<char*>("sh"), const_cast<char*>("-c"),
                    const_cast<char*>(cmd.c_str()), nullptr};
    const int rc = posix_spawn(&pid, "/bin/sh", &actions, nullptr, argv, environ);
    posix_spawn_file_actions_destroy(&actions);
    close(pipe_fds[0]);
    std::fclose(f);
    if (rc != 0) {
      log::error("spiceflow compat: cannot start the record filter '{}': {}", filter,
                 std::strerror(rc));
      close(pipe_fds[1]);
      return nullptr;
    }
    f = fdopen(pipe_fds[1], "wb");
    if (!f) {
      close(pipe_fds[1]);
      waitpid(pid, nullptr, 0);
      return nullptr;
    }
  }
  static constexpr char kHeader[] = "SPICE_REPLAY 1\n";
  if (std::fwrite(kHeader, sizeof(kHeader) - 1, 1, f) != 1 || std::fflush(f) != 0) {
    log::error("spiceflow compat: cannot write the record file {}", path);
    std::fclose(f);
    if (pid > 0) waitpid(pid, nullptr, 0);
    return nullptr;
  }
  log::info("spiceflow compat: recording QXL commands to {}{}", path,
            filter.empty() ? "" : " through '" + filter + "'");
  return std::shared_ptr<Recorder>(new Recorder(f, pid));
}

Recorder::~Recorder() {
  if (skipped_ > 0) {
    log::warn("spiceflow compat: record: {} QXL commands were left out of the file (their guest "
              "memory could not be read)", skipped_);
  }
  std::fclose(file_);
  if (filter_pid_ > 0) waitpid(filter_pid_, nullptr, 0);  // it ends at our EOF
}

void Recorder::write_record(uint32_t what, uint32_t type, const std::string& body) {
  std::lock_guard lock(mu_);
  if (write_failed_) return;
  const std::string head = fmt::format("event {} {} {} {}\n", counter_++, what, type, monotonic_ns());
  if (std::fwrite(head.data(), 1, head.size(), file_) != head.size() ||
      (!body.empty() && std::fwrite(body.data(), 1, body.size(), file_) != body.size()) ||
      std::fflush(file_) != 0) {
    write_failed_ = true;
    log::error("spiceflow compat: writing the record file failed ({}); recording stops",
               std::strerror(errno));
  }
}

void Recorder::event(uint32_t message) { write_record(1, message, {}); }

void Recorder::primary_surface(uint32_t message, const qxl::MemSlots& slots,
                               const QXLDevSurfaceCreate& s) {
  Writer w(slots, s.group_id);
  w.line(fmt::format("{} {} {} {}", int32_t(s.width), int32_t(s.height), s.stride,
                     int32_t(s.format)));
  w.line(fmt::format("{} {} {} {}", int32_t(s.position), int32_t(s.mouse_mode),
                     int32_t(s.flags), int32_t(s.type)));
  const uint64_t size = uint64_t(s.height) * uint64_t(std::abs(int64_t(s.stride)));
  const uint8_t* p = size <= kMaxDataBytes ? w.bytes(s.mem, size, "primary surface") : nullptr;
  if (p) {
    w.binary("data", {p, size});
  } else {
    w.binary("data", {});  // as the reference when it has no line 0: a replay gets zeroes
  }
  write_record(1, message, w.out);
}

void Recorder::command(const qxl::MemSlots& slots, const QXLCommandExt& ext) {
  Writer w(slots, ext.group_id);
  switch (ext.cmd.type) {
    case QXL_CMD_DRAW: w.drawable(ext.cmd.data, ext.flags); break;
    case QXL_CMD_UPDATE: w.update(ext.cmd.data); break;
    case QXL_CMD_MESSAGE: w.message(ext.cmd.data); break;
    case QXL_CMD_SURFACE: w.surface(ext.cmd.data); break;
    case QXL_CMD_CURSOR: w.cursor(ext.cmd.data); break;
    default: w.fail(fmt::format("unknown command type {}", ext.cmd.type));
  }
  if (!w.failed.empty()) {
    // Writing part of it would leave a file no replay can read past.
    std::call_once(skipped_logged_, [&] {
      log::warn("spiceflow compat: record: a QXL command was not recorded ({}); later ones "
                "are counted and reported when the recording ends", w.failed);
    });
    std::lock_guard lock(mu_);
    ++skipped_;
    return;
  }
  write_record(0, ext.cmd.type, w.out);
}

}  // namespace spiceflow::compat
