// SPICE channel message bodies, protocol 2.2 (spice-common's spice.proto, not spice1.proto).
//
// Everything is little-endian and packed. Two rules from spice.proto that a naive reading
// gets wrong:
//   - `Type *field` (a pointer) is a u32 offset from the start of the message body, 0 for
//     null; the pointed-to data is appended after the fixed part of the message.
//   - In protocol 2 a clip's rect list is *inline* after the clip type (`@to_ptr` only makes
//     it a pointer in the C struct); spice1.proto had a pointer there. We only send
//     SPICE_CLIP_TYPE_NONE, which is just the one type byte either way.
// Field widths are noted beside each write so the layouts can be checked against the proto.
#include "spiceflow/net/messages.hpp"

#include <spice/enums.h>

#include <algorithm>
#include <cassert>
#include <limits>

#include "spiceflow/core/bytes.hpp"

namespace spiceflow::net::msg {
namespace {

// Rect on the wire: top, left, bottom, right (i32 each) - not x, y, w, h.
void put_rect(ByteWriter& w, const Rect& r) {
  w.i32(r.top());
  w.i32(r.left());
  w.i32(r.bottom());
  w.i32(r.right());
}

// SpiceMsgDisplayBase: surface_id u32, box Rect, clip {type u8} (21 bytes with no clip).
void put_display_base(ByteWriter& w, uint32_t surface_id, const Rect& box) {
  w.u32(surface_id);
  put_rect(w, box);
  w.u8(SPICE_CLIP_TYPE_NONE);
}

// QMask: flags u8, pos Point (i32 x, i32 y), bitmap Image* (u32, 0 = no mask). 13 bytes.
void put_no_mask(ByteWriter& w) {
  w.u8(0);
  w.i32(0);
  w.i32(0);
  w.u32(0);
}

// Point16 (cursor positions): i16 x, i16 y. Clamped, since a surface coordinate beyond
// int16 cannot be expressed in the cursor channel.
void put_point16(ByteWriter& w, Point p) {
  auto clamp16 = [](int32_t v) {
    return static_cast<int16_t>(std::clamp<int32_t>(v, std::numeric_limits<int16_t>::min(),
                                                    std::numeric_limits<int16_t>::max()));
  };
  w.u16(static_cast<uint16_t>(clamp16(p.x)));
  w.u16(static_cast<uint16_t>(clamp16(p.y)));
}

// SpiceCursor: flags u16; unless NONE: header {unique u64, type u8, width u16, height u16,
// hot_spot_x u16, hot_spot_y u16} (17 bytes); then the pixel data runs to the end of the
// message (no length field: the client takes whatever remains), so it must come last.
void put_cursor(ByteWriter& w, const CursorShape* shape) {
  if (shape == nullptr) {
    w.u16(SPICE_CURSOR_FLAGS_NONE);
    return;
  }
  assert(shape->pixels.size() == size_t{shape->width} * shape->height * 4);
  w.u16(0);  // not cached: spice-gtk only caches with CACHE_ME
  w.u64(shape->unique);
  w.u8(SPICE_CURSOR_TYPE_ALPHA);
  w.u16(shape->width);
  w.u16(shape->height);
  w.u16(shape->hot_x);
  w.u16(shape->hot_y);
  w.bytes(shape->pixels);
}

}  // namespace

// ---- common server messages ----

void set_ack(Bytes& out, uint32_t generation, uint32_t window) {
  ByteWriter w(out);
  w.u32(generation);  // generation u32
  w.u32(window);      // window u32
}

void ping(Bytes& out, uint32_t id, uint64_t timestamp, size_t padding) {
  ByteWriter w(out);
  w.u32(id);         // id u32
  w.u64(timestamp);  // timestamp u64
  w.zeros(padding);  // data[] to the end of the message
}

void notify(Bytes& out, uint64_t time_stamp, uint32_t severity, uint32_t visibility,
            uint32_t what, std::string_view message) {
  ByteWriter w(out);
  w.u64(time_stamp);  // time_stamp u64
  w.u32(severity);    // severity u32 (enum32)
  w.u32(visibility);  // visibilty u32 (enum32)
  w.u32(what);        // what u32
  // message_len excludes the NUL (spice-gtk prints it with %.*s); the reference server
  // still appends a NUL after the counted bytes, and so do we.
  w.u32(static_cast<uint32_t>(message.size()));
  w.bytes(message.data(), message.size());
  w.u8(0);
}

void disconnecting(Bytes& out, uint64_t time_stamp, uint32_t reason) {
  ByteWriter w(out);
  w.u64(time_stamp);  // time_stamp u64
  w.u32(reason);      // reason u32 (link_err)
}

// ---- main channel ----

void main_init(Bytes& out, const MainInit& init) {
  ByteWriter w(out);  // eight u32 fields, 32 bytes
  w.u32(init.session_id);
  w.u32(init.display_channels_hint);
  w.u32(init.supported_mouse_modes);
  w.u32(init.current_mouse_mode);
  w.u32(init.agent_connected);
  w.u32(init.agent_tokens);
  w.u32(init.multi_media_time);
  w.u32(init.ram_hint);
}

void main_channels_list(Bytes& out, std::span<const ChannelId> channels) {
  ByteWriter w(out);
  w.u32(static_cast<uint32_t>(channels.size()));  // num_of_channels u32
  for (const auto& c : channels) {
    w.u8(c.type);  // type u8
    w.u8(c.id);    // id u8
  }
}

void main_mouse_mode(Bytes& out, uint16_t supported_modes, uint16_t current_mode) {
  ByteWriter w(out);
  w.u16(supported_modes);  // supported_modes u16 (flags16)
  w.u16(current_mode);     // current_mode u16 (flags16)
}

void main_multi_media_time(Bytes& out, uint32_t time) { ByteWriter(out).u32(time); }

void main_name(Bytes& out, std::string_view name) {
  ByteWriter w(out);
  // Unlike NOTIFY, name_len counts the NUL: spice-gtk uses the bytes as a C string.
  w.u32(static_cast<uint32_t>(name.size() + 1));
  w.bytes(name.data(), name.size());
  w.u8(0);
}

void main_uuid(Bytes& out, const std::array<uint8_t, 16>& uuid) {
  ByteWriter(out).bytes(uuid.data(), uuid.size());  // uuid u8[16]
}

// ---- display channel ----

void display_surface_create(Bytes& out, uint32_t surface_id, uint32_t width, uint32_t height,
                            uint32_t format, uint32_t flags) {
  ByteWriter w(out);  // five u32 fields, 20 bytes
  w.u32(surface_id);
  w.u32(width);
  w.u32(height);
  w.u32(format);  // surface_fmt (enum32)
  w.u32(flags);   // surface_flags (flags32)
}

void display_surface_destroy(Bytes& out, uint32_t surface_id) { ByteWriter(out).u32(surface_id); }

void display_monitors_config(Bytes& out, std::span<const MonitorHead> heads, uint16_t max_allowed) {
  ByteWriter w(out);
  w.u16(static_cast<uint16_t>(heads.size()));  // count u16
  w.u16(max_allowed);                          // max_allowed u16
  for (const auto& h : heads) {                // Head: seven u32 fields, 28 bytes
    w.u32(h.id);
    w.u32(h.surface_id);
    w.u32(h.width);
    w.u32(h.height);
    w.u32(h.x);
    w.u32(h.y);
    w.u32(h.flags);
  }
}

namespace {
uint8_t spice_image_type(encode::ImageCodec codec) {
  switch (codec) {
    case encode::ImageCodec::raw:
      return SPICE_IMAGE_TYPE_BITMAP;
    case encode::ImageCodec::lz4:
      return SPICE_IMAGE_TYPE_LZ4;
    case encode::ImageCodec::quic:
      return SPICE_IMAGE_TYPE_QUIC;
    case encode::ImageCodec::lz:
      return SPICE_IMAGE_TYPE_LZ_RGB;
    case encode::ImageCodec::jpeg:
      return SPICE_IMAGE_TYPE_JPEG;
    case encode::ImageCodec::glz:
      return SPICE_IMAGE_TYPE_GLZ_RGB;
    case encode::ImageCodec::zlib_glz:
      return SPICE_IMAGE_TYPE_ZLIB_GLZ_RGB;
    case encode::ImageCodec::lz_plt:
      return SPICE_IMAGE_TYPE_LZ_PLT;
    case encode::ImageCodec::jpeg_alpha:
      return SPICE_IMAGE_TYPE_JPEG_ALPHA;
  }
  assert(false && "unhandled ImageCodec");
  return SPICE_IMAGE_TYPE_BITMAP;
}

// DRAW_COPY's fixed part and the image descriptor (the image's data follows).
void put_draw_copy_head(ByteWriter& w, size_t body_start, uint32_t surface_id, const Rect& box,
                        uint64_t image_id, uint8_t image_type, uint8_t image_flags,
                        int32_t width, int32_t height) {
  put_display_base(w, surface_id, box);  // 21 bytes
  // SpiceCopy
  const size_t src_bitmap_field = w.size();
  w.u32(0);  // src_bitmap Image* u32, patched below
  put_rect(w, Rect{0, 0, width, height});  // src_area Rect (16)
  w.u16(SPICE_ROPD_OP_PUT);                // rop_descriptor u16 (flags16)
  w.u8(SPICE_IMAGE_SCALE_MODE_NEAREST);    // scale_mode u8
  put_no_mask(w);                          // mask QMask (13)
  // Fixed part ends at 57 bytes; the image follows, pointed to by src_bitmap.
  w.patch_u32(src_bitmap_field, static_cast<uint32_t>(w.size() - body_start));

  // SpiceImageDescriptor (18 bytes)
  w.u64(image_id);                         // id u64
  w.u8(image_type);                        // type u8
  w.u8(image_flags);                       // flags u8
  w.u32(static_cast<uint32_t>(width));     // width u32
  w.u32(static_cast<uint32_t>(height));    // height u32
}
}  // namespace

void display_draw_copy_from_cache(Bytes& out, uint32_t surface_id, const Rect& box,
                                  uint64_t image_id, int32_t width, int32_t height,
                                  bool lossless) {
  const size_t body_start = out.size();
  ByteWriter w(out);
  put_draw_copy_head(w, body_start, surface_id, box, image_id,
                     lossless ? SPICE_IMAGE_TYPE_FROM_CACHE_LOSSLESS : SPICE_IMAGE_TYPE_FROM_CACHE,
                     0, width, height);
}

void display_inval_list(Bytes& out, std::span<const uint64_t> pixmap_ids) {
  assert(pixmap_ids.size() <= kMaxInvalListIds);
  ByteWriter w(out);
  w.u16(static_cast<uint16_t>(pixmap_ids.size()));  // count u16
  for (uint64_t id : pixmap_ids) {                  // ResourceID: type u8, id u64
    w.u8(SPICE_RES_TYPE_PIXMAP);
    w.u64(id);
  }
}

void display_draw_copy(Bytes& out, uint32_t surface_id, const Rect& box, uint64_t image_id,
                       const encode::EncodedImage& image, bool cache_me,
                       PaletteSend palette) {
  const size_t body_start = out.size();
  ByteWriter w(out);
  put_draw_copy_head(w, body_start, surface_id, box, image_id, spice_image_type(image.codec),
                     cache_me ? SPICE_IMAGE_FLAGS_CACHE_ME : 0, image.width, image.height);
  switch (image.codec) {
    case encode::ImageCodec::raw: {
      // SpiceBitmap: format u8, flags u8, x u32, y u32, stride u32, palette Palette* u32,
      // then stride * y bytes of pixels inline (not behind a pointer).
      const uint32_t stride = static_cast<uint32_t>(image.width) * 4;
      assert(image.data.size() == size_t{stride} * static_cast<uint32_t>(image.height));
      w.u8(SPICE_BITMAP_FMT_32BIT);
      w.u8(SPICE_BITMAP_FLAGS_TOP_DOWN);
      w.u32(static_cast<uint32_t>(image.width));
      w.u32(static_cast<uint32_t>(image.height));
      w.u32(stride);
      w.u32(0);  // palette: none for 32-bit pixels
      w.bytes(image.data);
      break;
    }
    case encode::ImageCodec::lz4:
    case encode::ImageCodec::quic:
    case encode::ImageCodec::lz:
    case encode::ImageCodec::jpeg:
    case encode::ImageCodec::glz:
      // BinaryData: data_size u32, then the bytes. Each stream carries its own header
      // (LZ4: top-down flag and bitmap format; QUIC, LZ, GLZ: magic, type, size; JPEG: JFIF),
      // so nothing else goes between. spice-gtk reads QUIC as whole 32-bit words.
      assert(image.codec != encode::ImageCodec::quic || image.data.size() % 4 == 0);
      w.u32(static_cast<uint32_t>(image.data.size()));
      w.bytes(image.data);
      break;
    case encode::ImageCodec::zlib_glz:
      // ZlibGlzRGBData: glz_data_size u32 (what the client inflates to), data_size u32, data.
      w.u32(image.glz_size);
      w.u32(static_cast<uint32_t>(image.data.size()));
      w.bytes(image.data);
      break;
    case encode::ImageCodec::jpeg_alpha:
      // JPEGAlphaData: flags u8, jpeg_size u32, data_size u32, data (JPEG, then alpha LZ).
      assert(image.jpeg_size <= image.data.size());
      w.u8(SPICE_JPEG_ALPHA_FLAGS_TOP_DOWN);
      w.u32(image.jpeg_size);
      w.u32(static_cast<uint32_t>(image.data.size()));
      w.bytes(image.data);
      break;
    case encode::ImageCodec::lz_plt: {
      // LZPLTData: flags u8, data_size u32, then PAL_FROM_CACHE ? palette_id u64 : Palette*
      // u32 (non-null), then the LZ stream; the Palette (unique u64, num_ents u16, ents u32
      // each) goes after it, where the pointer says.
      assert(!image.palette.empty() && image.palette.size() <= 256);
      uint8_t flags = SPICE_BITMAP_FLAGS_TOP_DOWN;
      if (palette == PaletteSend::cache_me) flags |= SPICE_BITMAP_FLAGS_PAL_CACHE_ME;
      if (palette == PaletteSend::from_cache) flags |= SPICE_BITMAP_FLAGS_PAL_FROM_CACHE;
      w.u8(flags);
      w.u32(static_cast<uint32_t>(image.data.size()));
      size_t palette_field = 0;
      if (palette == PaletteSend::from_cache) {
        w.u64(image.palette_id);
      } else {
        palette_field = w.size();
        w.u32(0);  // patched below
      }
      w.bytes(image.data);
      if (palette != PaletteSend::from_cache) {
        w.patch_u32(palette_field, static_cast<uint32_t>(w.size() - body_start));
        w.u64(image.palette_id);
        w.u16(static_cast<uint16_t>(image.palette.size()));
        for (uint32_t c : image.palette) w.u32(c);
      }
      break;
    }
  }
}

void display_copy_bits(Bytes& out, uint32_t surface_id, const Rect& box, Point src_pos) {
  ByteWriter w(out);
  put_display_base(w, surface_id, box);  // 21 bytes
  w.i32(src_pos.x);                      // src_pos Point: i32 x
  w.i32(src_pos.y);                      //                i32 y
}

void display_fill(Bytes& out, uint32_t surface_id, const Rect& box, uint32_t color) {
  ByteWriter w(out);
  put_display_base(w, surface_id, box);  // 21 bytes
  w.u8(SPICE_BRUSH_TYPE_SOLID);          // brush.type u8
  w.u32(color);                          // brush.color u32
  w.u16(SPICE_ROPD_OP_PUT);              // rop_descriptor u16
  put_no_mask(w);                        // mask QMask (13)
}

// ---- display streams ----

void display_stream_create(Bytes& out, const StreamCreate& m) {
  ByteWriter w(out);
  w.u32(m.surface_id);
  w.u32(m.id);             // stream_id_t
  w.u8(m.flags);           // stream_flags (flags8)
  w.u8(m.codec_type);      // video_codec_type (enum8)
  w.u64(m.stamp);
  w.u32(m.stream_width);
  w.u32(m.stream_height);
  w.u32(m.src_width);
  w.u32(m.src_height);
  put_rect(w, m.dest);     // 16
  w.u8(SPICE_CLIP_TYPE_NONE);
}

void display_stream_data(Bytes& out, uint32_t id, uint32_t mm_time, std::span<const uint8_t> data) {
  ByteWriter w(out);
  w.u32(id);       // StreamDataHeader.id
  w.u32(mm_time);  // StreamDataHeader.multi_media_time
  w.u32(uint32_t(data.size()));
  w.bytes(data);
}

void display_stream_data_sized(Bytes& out, uint32_t id, uint32_t mm_time, uint32_t width,
                               uint32_t height, const Rect& dest, std::span<const uint8_t> data) {
  ByteWriter w(out);
  w.u32(id);
  w.u32(mm_time);
  w.u32(width);
  w.u32(height);
  put_rect(w, dest);
  w.u32(uint32_t(data.size()));
  w.bytes(data);
}

void display_stream_destroy(Bytes& out, uint32_t id) { ByteWriter(out).u32(id); }

void display_stream_activate_report(Bytes& out, uint32_t id, uint32_t unique_id,
                                    uint32_t max_window_size, uint32_t timeout_ms) {
  ByteWriter w(out);
  w.u32(id);
  w.u32(unique_id);
  w.u32(max_window_size);
  w.u32(timeout_ms);
}

void display_stream_clip(Bytes& out, uint32_t id, std::span<const Rect> rects) {
  ByteWriter w(out);
  w.u32(id);
  if (rects.empty()) {
    w.u8(SPICE_CLIP_TYPE_NONE);
    return;
  }
  w.u8(SPICE_CLIP_TYPE_RECTS);
  w.u32(uint32_t(rects.size()));  // ClipRects inline (protocol 2)
  for (const Rect& r : rects) put_rect(w, r);
}

// ---- cursor channel ----

void cursor_init(Bytes& out, Point pos, uint16_t trail_length, uint16_t trail_frequency,
                 bool visible, const CursorShape* shape) {
  ByteWriter w(out);
  put_point16(w, pos);      // position Point16 (4)
  w.u16(trail_length);      // trail_length u16
  w.u16(trail_frequency);   // trail_frequency u16
  w.u8(visible ? 1 : 0);    // visible u8
  put_cursor(w, shape);
}

void cursor_set(Bytes& out, Point pos, bool visible, const CursorShape& shape) {
  ByteWriter w(out);
  put_point16(w, pos);    // position Point16 (4)
  w.u8(visible ? 1 : 0);  // visible u8
  put_cursor(w, &shape);
}

void cursor_move(Bytes& out, Point pos) {
  ByteWriter w(out);
  put_point16(w, pos);  // position Point16 (4)
}

// ---- inputs channel ----

void inputs_init(Bytes& out, uint16_t keyboard_modifiers) {
  ByteWriter(out).u16(keyboard_modifiers);
}

void inputs_key_modifiers(Bytes& out, uint16_t modifiers) { ByteWriter(out).u16(modifiers); }

// ---- client messages ----
// Each parser reads the fixed fields and accepts trailing bytes, like spice-gtk's and the
// reference server's generated demarshallers (a newer peer may extend a message).

std::optional<AckSync> parse_ack_sync(std::span<const uint8_t> body) {
  ByteReader r(body);
  AckSync m;
  m.generation = r.u32();  // generation u32
  if (!r.ok()) return std::nullopt;
  return m;
}

std::optional<Pong> parse_pong(std::span<const uint8_t> body) {
  ByteReader r(body);
  Pong m;
  m.id = r.u32();         // id u32
  m.timestamp = r.u64();  // timestamp u64
  if (!r.ok()) return std::nullopt;
  return m;
}

std::optional<ClientDisconnecting> parse_disconnecting(std::span<const uint8_t> body) {
  ByteReader r(body);
  ClientDisconnecting m;
  m.time_stamp = r.u64();  // time_stamp u64
  m.reason = r.u32();      // reason u32
  if (!r.ok()) return std::nullopt;
  return m;
}

std::optional<DisplayInit> parse_display_init(std::span<const uint8_t> body) {
  ByteReader r(body);
  DisplayInit m;
  m.pixmap_cache_id = r.u8();                           // u8
  m.pixmap_cache_size = static_cast<int64_t>(r.u64());  // i64, in pixels
  m.glz_dictionary_id = r.u8();                         // u8
  m.glz_dictionary_window_size = r.i32();               // i32, in pixels
  if (!r.ok()) return std::nullopt;
  return m;
}

std::optional<MouseModeRequest> parse_mouse_mode_request(std::span<const uint8_t> body) {
  ByteReader r(body);
  MouseModeRequest m;
  m.mode = r.u16();  // mode u16 (flags16)
  if (!r.ok()) return std::nullopt;
  return m;
}

std::optional<KeyCode> parse_key_code(std::span<const uint8_t> body) {
  ByteReader r(body);
  KeyCode m;
  m.code = r.u32();  // code u32
  if (!r.ok()) return std::nullopt;
  return m;
}

std::optional<KeyModifiers> parse_key_modifiers(std::span<const uint8_t> body) {
  ByteReader r(body);
  KeyModifiers m;
  m.modifiers = r.u16();  // modifiers u16 (flags16)
  if (!r.ok()) return std::nullopt;
  return m;
}

std::optional<MouseMotion> parse_mouse_motion(std::span<const uint8_t> body) {
  ByteReader r(body);
  MouseMotion m;
  m.dx = r.i32();        // dx i32
  m.dy = r.i32();        // dy i32
  m.buttons = r.u16();   // buttons_state u16
  if (!r.ok()) return std::nullopt;
  return m;
}

std::optional<MousePosition> parse_mouse_position(std::span<const uint8_t> body) {
  ByteReader r(body);
  MousePosition m;
  m.x = r.u32();           // x u32
  m.y = r.u32();           // y u32
  m.buttons = r.u16();     // buttons_state u16
  m.display_id = r.u8();   // display_id u8
  if (!r.ok()) return std::nullopt;
  return m;
}

std::optional<MouseButton> parse_mouse_button(std::span<const uint8_t> body) {
  ByteReader r(body);
  MouseButton m;
  m.button = r.u8();    // button u8 (enum8)
  m.buttons = r.u16();  // buttons_state u16
  if (!r.ok()) return std::nullopt;
  return m;
}

std::optional<PreferredCompression> parse_preferred_compression(std::span<const uint8_t> body) {
  ByteReader r(body);
  PreferredCompression m;
  m.image_compression = r.u8();  // image_compression u8 (enum8)
  if (!r.ok()) return std::nullopt;
  return m;
}

std::optional<PreferredVideoCodecs> parse_preferred_video_codecs(std::span<const uint8_t> body) {
  ByteReader r(body);
  const uint8_t n = r.u8();  // num_of_codecs u8, then codecs u8[num_of_codecs]
  auto codecs = r.bytes(n);
  if (!r.ok()) return std::nullopt;
  return PreferredVideoCodecs{{codecs.begin(), codecs.end()}};
}

std::optional<StreamReport> parse_stream_report(std::span<const uint8_t> body) {
  ByteReader r(body);
  StreamReport m;
  m.stream_id = r.u32();
  m.unique_id = r.u32();
  m.start_frame_mm_time = r.u32();
  m.end_frame_mm_time = r.u32();
  m.num_frames = r.u32();
  m.num_drops = r.u32();
  m.last_frame_delay = r.i32();
  m.audio_delay = r.u32();
  if (!r.ok()) return std::nullopt;
  return m;
}

}  // namespace spiceflow::net::msg
