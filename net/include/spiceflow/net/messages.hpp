#pragma once
/// Marshalling of SPICE channel messages (bodies only; the mini/full data header is added
/// by the channel). Layouts follow spice-common's spice.proto for protocol 2.2 as
/// spice-gtk 0.42 parses them; enum values come from spice-protocol's headers. Builders
/// append to `out`; parsers read a message body with bounds checks and return nullopt for
/// a body that is too short (extra trailing bytes are ignored, as spice-gtk does).
/// Pointers inside a message (SPICE's @ptr32 fields) are offsets from the body start.
#include <array>
#include <cstdint>
#include <optional>
#include <span>
#include <string_view>
#include <vector>

#include "spiceflow/core/geometry.hpp"
#include "spiceflow/encode/image_encoder.hpp"

namespace spiceflow::net::msg {

using Bytes = std::vector<uint8_t>;

// ---- common server messages (SPICE_MSG_*) ----
void set_ack(Bytes& out, uint32_t generation, uint32_t window);
/// PING: id, timestamp, then `padding` zero bytes (the bandwidth-test pings carry data).
void ping(Bytes& out, uint32_t id, uint64_t timestamp, size_t padding = 0);
/// NOTIFY: time_stamp, severity, visibility, what, message_len, message + NUL.
void notify(Bytes& out, uint64_t time_stamp, uint32_t severity, uint32_t visibility,
            uint32_t what, std::string_view message);
void disconnecting(Bytes& out, uint64_t time_stamp, uint32_t reason);

// ---- main channel ----
struct MainInit {
  uint32_t session_id = 0;
  uint32_t display_channels_hint = 1;
  uint32_t supported_mouse_modes = 0;
  uint32_t current_mouse_mode = 0;
  uint32_t agent_connected = 0;
  uint32_t agent_tokens = 0;
  uint32_t multi_media_time = 0;
  uint32_t ram_hint = 0;
};
void main_init(Bytes& out, const MainInit& init);
struct ChannelId {
  uint8_t type = 0;
  uint8_t id = 0;
};
void main_channels_list(Bytes& out, std::span<const ChannelId> channels);
void main_mouse_mode(Bytes& out, uint16_t supported_modes, uint16_t current_mode);
void main_multi_media_time(Bytes& out, uint32_t time);
void main_name(Bytes& out, std::string_view name);
void main_uuid(Bytes& out, const std::array<uint8_t, 16>& uuid);

// ---- display channel ----
void display_surface_create(Bytes& out, uint32_t surface_id, uint32_t width, uint32_t height,
                            uint32_t format, uint32_t flags);
void display_surface_destroy(Bytes& out, uint32_t surface_id);
/// MARK and RESET and INVAL_ALL_PALETTES have empty bodies: nothing to build.
struct MonitorHead {
  uint32_t id = 0;
  uint32_t surface_id = 0;
  uint32_t width = 0;
  uint32_t height = 0;
  uint32_t x = 0;
  uint32_t y = 0;
  uint32_t flags = 0;
};
void display_monitors_config(Bytes& out, std::span<const MonitorHead> heads, uint16_t max_allowed);
/// DRAW_COPY of `image` onto `box` of surface `surface_id`: no clip, src_area = the whole
/// image, rop SPICE_ROPD_OP_PUT, scale mode NEAREST, no mask. `image_id` goes into the
/// image descriptor (flags 0: not cached). raw -> SPICE_IMAGE_TYPE_BITMAP (32BIT,
/// TOP_DOWN, no palette); lz4 -> SPICE_IMAGE_TYPE_LZ4; quic -> SPICE_IMAGE_TYPE_QUIC;
/// lz -> SPICE_IMAGE_TYPE_LZ_RGB; jpeg -> SPICE_IMAGE_TYPE_JPEG (all four: BinaryData,
/// data_size u32 + the encoder's bytes); lz_plt -> SPICE_IMAGE_TYPE_LZ_PLT (LZPLTData, its
/// palette as `palette` says). `cache_me`: the descriptor's SPICE_IMAGE_FLAGS_CACHE_ME (the
/// client keeps the decoded image under `image_id`).
enum class PaletteSend {
  inline_only,  ///< the palette in the message, not cached
  cache_me,     ///< in the message with PAL_CACHE_ME: the client keeps it by its id
  from_cache,   ///< PAL_FROM_CACHE: only its id (the client has it)
};
void display_draw_copy(Bytes& out, uint32_t surface_id, const Rect& box, uint64_t image_id,
                       const encode::EncodedImage& image, bool cache_me = false,
                       PaletteSend palette = PaletteSend::inline_only);
/// DRAW_COPY of the client's cached image `image_id` (width x height) onto `box`: a bare
/// descriptor of type FROM_CACHE_LOSSLESS (`lossless`: the client must have it lossless,
/// as it does when it was sent so) or FROM_CACHE.
void display_draw_copy_from_cache(Bytes& out, uint32_t surface_id, const Rect& box,
                                  uint64_t image_id, int32_t width, int32_t height, bool lossless);
/// The most resources one INVAL_LIST carries (its count is a u16); more take several.
inline constexpr size_t kMaxInvalListIds = 4096;
/// INVAL_LIST: the client drops these pixmap cache ids (SPICE_RES_TYPE_PIXMAP each);
/// at most kMaxInvalListIds.
void display_inval_list(Bytes& out, std::span<const uint64_t> pixmap_ids);
/// COPY_BITS: moves the pixels at `src_pos` to `box` within the surface (no clip).
void display_copy_bits(Bytes& out, uint32_t surface_id, const Rect& box, Point src_pos);
/// DRAW_FILL with a solid colour over `box` (no clip, rop PUT, no mask).
void display_fill(Bytes& out, uint32_t surface_id, const Rect& box, uint32_t color);

/// STREAM_CREATE (51 bytes): surface_id u32, id u32, flags u8, codec_type u8 (a
/// SPICE_VIDEO_CODEC_TYPE_*), stamp u64, stream_width u32, stream_height u32, src_width
/// u32, src_height u32, dest Rect, clip type u8 (NONE).
struct StreamCreate {
  uint32_t surface_id = 0;
  uint32_t id = 0;
  uint8_t flags = 0;  ///< SPICE_STREAM_FLAGS_TOP_DOWN for top-down frames
  uint8_t codec_type = 0;
  uint64_t stamp = 0;
  uint32_t stream_width = 0, stream_height = 0;  ///< the encoded picture's size
  uint32_t src_width = 0, src_height = 0;        ///< the source area's size
  Rect dest;                                     ///< where frames go on the surface
};
void display_stream_create(Bytes& out, const StreamCreate& m);
/// STREAM_DATA: id u32, multi_media_time u32, data_size u32, data.
void display_stream_data(Bytes& out, uint32_t id, uint32_t mm_time, std::span<const uint8_t> data);
/// STREAM_DATA_SIZED (a frame whose size or place differs from the stream's): id u32,
/// multi_media_time u32, width u32, height u32, dest Rect, data_size u32, data.
void display_stream_data_sized(Bytes& out, uint32_t id, uint32_t mm_time, uint32_t width,
                               uint32_t height, const Rect& dest, std::span<const uint8_t> data);
/// STREAM_DESTROY: id u32. STREAM_DESTROY_ALL has an empty body.
void display_stream_destroy(Bytes& out, uint32_t id);
/// STREAM_ACTIVATE_REPORT: stream_id u32, unique_id u32 (echoed in the client's reports),
/// max_window_size u32 (frames per report), timeout_ms u32 (the longest between reports).
void display_stream_activate_report(Bytes& out, uint32_t id, uint32_t unique_id,
                                    uint32_t max_window_size, uint32_t timeout_ms);
/// STREAM_CLIP: id u32, clip: type u8 (NONE when `rects` is empty, else RECTS followed by
/// num_rects u32 and the rects inline). The client shows the stream's frames only inside
/// the rects (surface coordinates).
void display_stream_clip(Bytes& out, uint32_t id, std::span<const Rect> rects);

// ---- cursor channel ----
/// A cursor shape: 32-bit ARGB (SPICE_CURSOR_TYPE_ALPHA), `pixels` = width*height*4 bytes.
struct CursorShape {
  uint64_t unique = 0;
  uint16_t width = 0;
  uint16_t height = 0;
  uint16_t hot_x = 0;
  uint16_t hot_y = 0;
  std::vector<uint8_t> pixels;
};
/// CURSOR_INIT: position, trail_length, trail_frequency, visible, then the cursor
/// (shape == nullptr sends SPICE_CURSOR_FLAGS_NONE).
void cursor_init(Bytes& out, Point pos, uint16_t trail_length, uint16_t trail_frequency,
                 bool visible, const CursorShape* shape);
void cursor_set(Bytes& out, Point pos, bool visible, const CursorShape& shape);
void cursor_move(Bytes& out, Point pos);
/// CURSOR_HIDE and CURSOR_RESET have empty bodies.

// ---- inputs channel ----
void inputs_init(Bytes& out, uint16_t keyboard_modifiers);
void inputs_key_modifiers(Bytes& out, uint16_t modifiers);
/// INPUTS_MOUSE_MOTION_ACK has an empty body.

// ---- client messages (SPICE_MSGC_*) ----
struct AckSync { uint32_t generation = 0; };
struct Pong { uint32_t id = 0; uint64_t timestamp = 0; };
struct ClientDisconnecting { uint64_t time_stamp = 0; uint32_t reason = 0; };
struct DisplayInit {
  uint8_t pixmap_cache_id = 0;
  int64_t pixmap_cache_size = 0;
  uint8_t glz_dictionary_id = 0;
  int32_t glz_dictionary_window_size = 0;
};
struct MouseModeRequest { uint16_t mode = 0; };
struct KeyCode { uint32_t code = 0; };  // KEY_DOWN / KEY_UP
struct KeyModifiers { uint16_t modifiers = 0; };
struct MouseMotion { int32_t dx = 0; int32_t dy = 0; uint16_t buttons = 0; };
struct MousePosition { uint32_t x = 0; uint32_t y = 0; uint16_t buttons = 0; uint8_t display_id = 0; };
struct MouseButton { uint8_t button = 0; uint16_t buttons = 0; };  // PRESS / RELEASE
struct PreferredCompression { uint8_t image_compression = 0; };

std::optional<AckSync> parse_ack_sync(std::span<const uint8_t> body);
std::optional<Pong> parse_pong(std::span<const uint8_t> body);
std::optional<ClientDisconnecting> parse_disconnecting(std::span<const uint8_t> body);
std::optional<DisplayInit> parse_display_init(std::span<const uint8_t> body);
std::optional<MouseModeRequest> parse_mouse_mode_request(std::span<const uint8_t> body);
std::optional<KeyCode> parse_key_code(std::span<const uint8_t> body);
std::optional<KeyModifiers> parse_key_modifiers(std::span<const uint8_t> body);
std::optional<MouseMotion> parse_mouse_motion(std::span<const uint8_t> body);
std::optional<MousePosition> parse_mouse_position(std::span<const uint8_t> body);
std::optional<MouseButton> parse_mouse_button(std::span<const uint8_t> body);
std::optional<PreferredCompression> parse_preferred_compression(std::span<const uint8_t> body);

/// DISPLAY_PREFERRED_VIDEO_CODEC_TYPE: the client's video codecs, most wanted first
/// (SPICE_VIDEO_CODEC_TYPE_* values, unvalidated).
struct PreferredVideoCodecs { std::vector<uint8_t> codecs; };
std::optional<PreferredVideoCodecs> parse_preferred_video_codecs(std::span<const uint8_t> body);
/// DISPLAY_STREAM_REPORT. num_frames 0 with num_drops 0xffffffff is spice-gtk's "I have no
/// such stream" (it could not decode the stream, or already dropped it).
struct StreamReport {
  uint32_t stream_id = 0;
  uint32_t unique_id = 0;
  uint32_t start_frame_mm_time = 0;
  uint32_t end_frame_mm_time = 0;
  uint32_t num_frames = 0;
  uint32_t num_drops = 0;
  int32_t last_frame_delay = 0;
  uint32_t audio_delay = 0;
  bool invalid_stream() const { return num_frames == 0 && num_drops == 0xffffffffu; }
};
std::optional<StreamReport> parse_stream_report(std::span<const uint8_t> body);

}  // namespace spiceflow::net::msg
