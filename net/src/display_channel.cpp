// The display channel: after the client's DISPLAY_INIT it gets the primary surface
// (SURFACE_CREATE, MONITORS_CONFIG, one DRAW_COPY of the whole picture, MARK) and from
// then on DRAW_COPYs of the tiles that changed since what it already has. The channel
// pulls the newest published Frame whenever it has room (ACK window open, socket queue
// below low water), so a slow client skips intermediate frames instead of queueing them.
//
// Image codec: one per client, from the server's --image-compression or the client's
// DISPLAY_PREFERRED_COMPRESSION, never one the client lacks (LZ4 needs its capability;
// QUIC, LZ and JPEG are baseline). The channel acquires its codec on the desktop so the
// engine encodes changed tiles with it on its workers; a tile without it (encoded before
// the acquisition, or declined by the codec) is encoded here, falling back to raw.
//
// GLZ is the exception: its images reference earlier images the client holds in its GLZ
// window, so they are encoded per client, here on the event loop, over the session's
// GlzDictionary (ServerContext::glz_dictionary, with the id and window size from the
// client's DISPLAY_INIT), never by the engine. Every GLZ image encoded is sent at once, in
// id order, so the client's window equals the dictionary. Each tile's encode is hinted with
// the image that last covered it (the previous version of the tile, or the full picture at
// the tile's offset), so an edited tile costs about its changes. An image larger than the
// window goes as LZ (as in the reference); ZLIB_GLZ when --zlib-glz-wan-compression says so
// and deflating pays off.
//
// LZ_PLT: under lz (and auto where the client has no LZ4), a client with spice-common's
// canvas gets tiles of at most 256 colours as LZ_PLT (1/4/8-bit indices, encode's lz_plt)
// and the rest as LZ_RGB. spice-html5 has no LZ_PLT decoder; it announces none of the
// canvas caps (COMPOSITE, A8_SURFACE) spice-gtk does, which is how we tell. Palettes go
// with PAL_CACHE_ME the first time and as PAL_FROM_CACHE ids after; the client's palette
// cache (per display channel, unbounded there) is cleared with INVAL_ALL_PALETTES when it
// holds kMaxClientPalettes.
//
// Pixmap cache: a client that announced a cache in DISPLAY_INIT (pixmap_cache_size, in
// pixels) gets every tile with CACHE_ME and, when a tile's content equals an image it still
// holds (a window dragged back uncovers the same wallpaper, a repeated UI tile, text that
// scrolls back), a bare FROM_CACHE_LOSSLESS descriptor instead of the pixels. The client
// never frees on its own: encode::PixmapCache is our copy of its cache (same content key ->
// same id, least recently used evicted within the client's size) and every eviction goes
// out as INVAL_LIST before the image that needed the room. An image sent lossy (JPEG) is
// drawn from the cache only while the codec is lossy; a lossless client gets it again. Ids
// count up from the steady clock's nanoseconds at the channel's start, tagged with the
// channel id, so no id repeats one an earlier display channel of the session may have left
// in the session-wide client cache. (No INVAL_ALL_PIXMAPS: it would clear the other display
// channels' images of a multi-head session too.) Only for clients with spice-common's
// canvas: spice-html5 keeps cached images as canvas ImageData and draws FROM_CACHE with
// alpha, and keeps JPEGs in another form, so it gets every tile in full.
//
// auto (and auto_lz, as the reference's auto_lz picks LZ or QUIC by content): each tile is
// classified (encode::classify_tile: colour count, equal neighbours); flat and text tiles
// go in the client's dictionary codec (codec_: LZ4, or LZ_PLT / LZ where it lacks LZ4),
// photographic ones as QUIC, or JPEG with --jpeg-wan-compression always. The engine has
// codec_ ready for every tile; photo tiles are encoded here, on the event loop.
//
// Video streams: for each video region the engine publishes (engine::VideoRegion), a client
// that decodes one of our video codecs (every spice-gtk decodes MJPEG) gets STREAM_CREATE,
// then the region's encoded frames as STREAM_DATA, and STREAM_DESTROY when the region
// leaves the Frame. Meanwhile the region's tiles are not sent to it; the Frame that drops
// the region refreshes all of them, so the client's picture turns exact again with the
// usual tile updates. The encoder is chosen here (the first entry of the server's
// --video-codecs list, default the encoder registry's order, whose codec the client
// announced with MULTI_CODEC + CODEC_* caps, reordered by its PREFERRED_VIDEO_CODEC_TYPE; a
// client that reports it cannot decode a stream loses that codec and gets the next one),
// but the engine runs it: once per desktop per encoder on its workers
// (Desktop::acquire_video), so the event loop only sends. A client that is behind skips
// frames (only the newest goes when there is room) and then waits for a keyframe, which
// it asks the desktop for, as it does when a stream starts or the client reports drops
// (STREAM_ACTIVATE_REPORT / STREAM_REPORT); losing frames also takes the encoder's
// quality down a level (rate_control(), Desktop::set_video_level), keeping up brings it
// back. A region that moves keeps its stream (frames go
// STREAM_DATA_SIZED to the new place); one that is resized gets a new stream. Covered parts
// of a region (a window or text over the video) are clipped out of the stream
// (STREAM_CLIP) and sent as exact images. send_stream_frame() sends one encoded frame of a
// stream, whoever encoded it.
#include <spice/enums.h>
#include <spice/protocol.h>

#include <algorithm>
#include <array>
#include <atomic>
#include <cassert>
#include <optional>
#include <unordered_set>
#include <span>
#include <utility>

#include "channel.hpp"
#include "spiceflow/core/log.hpp"
#include "spiceflow/encode/classify.hpp"
#include "spiceflow/encode/pixmap_cache.hpp"
#include "spiceflow/encode/video_encoder.hpp"

namespace spiceflow::net {

namespace {

// The SET_ACK window: the client acknowledges every kAckWindow messages; we pause after
// 2 * kAckWindow unacknowledged ones (as the reference server does for display).
constexpr uint32_t kAckWindow = 40;

// How far ahead of the multimedia clock a stream frame is stamped. spice-gtk sets its
// clock from MAIN_INIT's multi_media_time (so it runs behind ours by that message's
// transit), shows a frame when its clock reaches the stamp and drops any frame that is
// already late on arrival. 25 ms absorbs loopback/LAN transit plus one large frame's
// queueing while holding frames for less than one 30 fps interval - the reference stamps
// ~400 ms ahead (audio/video sync), which is what makes its streams lag.
constexpr uint32_t kPlayoutLeadMs = 25;

// The largest GLZ window we keep for a client: spice-gtk's largest default (64 MiB of
// xRGB). The dictionary holds that many pixels of the client's recent images; a client
// asking for more (up to the format's 2^25) gets this, so one client cannot make the
// server hold 128 MiB.
constexpr int64_t kMaxGlzWindowPixels = 16 << 20;

// The most palettes we let a client's palette cache hold (at most 1 KiB each) before
// clearing it: spice-gtk never frees one on its own.
constexpr size_t kMaxClientPalettes = 4096;

// Pixmap cache ids: the channel id in the top byte, a count below (see the top comment).
constexpr int kCacheIdChannelShift = 56;
constexpr uint64_t kCacheIdCountMask = (uint64_t{1} << kCacheIdChannelShift) - 1;

// STREAM_ACTIVATE_REPORT: the client reports after this many frames or this long, whichever
// comes first: about a second of 30 fps video, so a drop is answered with a keyframe soon.
constexpr uint32_t kReportWindowFrames = 30;
constexpr uint32_t kReportTimeoutMs = 1000;

// How long a client waiting for a keyframe waits before asking again: a few frames, so a
// keyframe it missed (still behind) is soon replaced, while one slow client cannot make the
// encoder send every frame as a keyframe to everyone.
constexpr std::chrono::milliseconds kKeyframeRetry{250};

// Rate control's pace: a client losing frames goes one quality level down at most once a
// second (a new level starts from a keyframe and takes a moment to show), and one level
// up after 4 s without losses (slower up than down, so a link at its limit does not
// oscillate every second).
constexpr std::chrono::seconds kLevelHold{1};
constexpr std::chrono::seconds kLevelRecover{4};

class DisplayChannel final : public ChannelClient {
 public:
  DisplayChannel(ServerContext& ctx, std::unique_ptr<Peer> peer, const LinkMess& link,
                 uint32_t session_id, int desktop)
      : ChannelClient(ctx, std::move(peer), link, session_id, desktop),
        mode_(ctx.options().compression) {
    codec_ = choose_codec();
    acquire(codec_);
    log::info("{}: display images as {}", name(), encode::to_string(codec_));
    // A client without MULTI_CODEC decodes MJPEG only (the protocol's original codec).
    if (!has_channel_cap(SPICE_DISPLAY_CAP_MULTI_CODEC)) {
      video_codecs_.push_back(encode::VideoCodec::mjpeg);
    } else {
      const std::pair<uint32_t, encode::VideoCodec> caps[] = {
          {SPICE_DISPLAY_CAP_CODEC_MJPEG, encode::VideoCodec::mjpeg},
          {SPICE_DISPLAY_CAP_CODEC_VP8, encode::VideoCodec::vp8},
          {SPICE_DISPLAY_CAP_CODEC_H264, encode::VideoCodec::h264},
          {SPICE_DISPLAY_CAP_CODEC_VP9, encode::VideoCodec::vp9},
          {SPICE_DISPLAY_CAP_CODEC_H265, encode::VideoCodec::h265}};
      for (const auto& [cap, codec] : caps) {
        if (has_channel_cap(cap)) video_codecs_.push_back(codec);
      }
    }
  }

  void on_update() override { pump(); }
  // The server's state changed: the guest's monitors maybe (Server::set_guest_monitors).
  void on_server_state() override {
    if (has_surface_) send_monitors_config(false);
  }

  ~DisplayChannel() override {
    release(codec_);
    const double secs =
        std::chrono::duration<double>(std::chrono::steady_clock::now() - since_).count();
    log::info(
        "{}: display: {} frame updates in {:.1f} s ({:.1f} fps), {} draws ({}, {} sent "
        "raw instead), {} of them painted parts of tiles, {} copy-bits, {} bytes sent",
        name(), frames_sent_, secs, secs > 0 ? double(frames_sent_) / secs : 0.0, draws_sent_,
        encode::to_string(codec_), fallbacks_, deltas_sent_, copy_bits_sent_,
        peer_->bytes_sent());
    log::info(
        "{}: display: {} stream frames in {} streams ({} keyframes, {} skipped while "
        "behind), {} stream bytes",
        name(), stream_frames_sent_, streams_created_, stream_keyframes_sent_,
        stream_frames_skipped_, stream_bytes_);
    if (mode_ == ImageCompression::automatic) {
      log::info("{}: display: auto: {} flat, {} text tiles as {}, {} photo tiles as {}", name(),
                tiles_by_class_[0], tiles_by_class_[1], encode::to_string(codec_),
                tiles_by_class_[2],
                ctx_.options().jpeg_wan == WanCompression::always ? "jpeg" : "quic");
    }
    if (lz_plt_sent_) {
      log::info("{}: display: {} images as lz_plt, {} of them with a cached palette", name(),
                lz_plt_sent_, palettes_from_cache_);
    }
    if (pixmap_cache_) {
      const auto& s = pixmap_cache_->stats();
      log::info(
          "{}: display: pixmap cache: {} hits ({} pixels not sent), {} images cached, {} "
          "evicted ({} INVAL_LIST), {} too large; {} images / {} of {} pixels held",
          name(), s.hits, s.hit_pixels, s.added, s.evicted, inval_lists_sent_, s.too_large,
          pixmap_cache_->size(), pixmap_cache_->used_pixels(), pixmap_cache_->capacity_pixels());
    }
    if (glz_) {
      const auto s = glz_->dictionary()->stats();
      log::info(
          "{}: display: glz: {} images in the dictionary ({} copy from earlier images, {} "
          "pixels so), {} evicted, window {} images / {} of {} pixels; {} sent as zlib_glz, "
          "{} as lz (larger than the window)",
          name(), s.images, s.referencing, s.cross_pixels, s.evicted, s.window_images,
          s.window_pixels, glz_->dictionary()->window_pixels(), zlib_glz_sent_, glz_as_lz_);
      // Images still queued here never reach the client: a later display channel of this
      // session must not reference them.
      glz_->dictionary()->restart();
    }
  }

 protected:
  void start() override {
    start_acks(kAckWindow);
    // Nothing else until DISPLAY_INIT: the client sets up its caches first.
  }

  void on_room() override { pump(); }

  bool handle(uint16_t type, std::span<const uint8_t> body) override {
    switch (type) {
      case SPICE_MSGC_DISPLAY_INIT: {
        auto init = msg::parse_display_init(body);
        if (!init) return false;
        init_ = *init;
        init_received_ = true;
        setup_glz();
        setup_pixmap_cache();
        pump();
        return true;
      }
      case SPICE_MSGC_DISPLAY_PREFERRED_COMPRESSION: {
        auto m = msg::parse_preferred_compression(body);
        if (!m) return false;
        set_preferred(m->image_compression);
        return true;
      }
      case SPICE_MSGC_DISPLAY_STREAM_REPORT: {
        auto m = msg::parse_stream_report(body);
        if (!m) return false;
        if (m->invalid_stream()) {
          on_invalid_stream(m->stream_id);
        } else if (m->num_drops > 0) {
          on_stream_drops(*m);
        }
        return true;
      }
      case SPICE_MSGC_DISPLAY_PREFERRED_VIDEO_CODEC_TYPE: {
        auto m = msg::parse_preferred_video_codecs(body);
        if (!m) return false;
        set_preferred_video_codecs(m->codecs);
        return true;
      }
      case SPICE_MSGC_DISPLAY_GL_DRAW_DONE:
        return true;  // no GL scanout yet
      default:
        log::warn("{}: unknown display message type {}", name(), type);
        return false;
    }
  }

 private:
  encode::ImageCodec choose_codec() const {
    switch (mode_) {
      case ImageCompression::off:
        return encode::ImageCodec::raw;
      case ImageCompression::quic:
        return encode::ImageCodec::quic;
      case ImageCompression::lz:
        return lz_codec();
      case ImageCompression::jpeg:
        return encode::ImageCodec::jpeg;
      case ImageCompression::glz:
        return encode::ImageCodec::glz;
      case ImageCompression::automatic:
      case ImageCompression::lz4:
        break;
    }
    return has_channel_cap(SPICE_DISPLAY_CAP_LZ4_COMPRESSION) ? encode::ImageCodec::lz4
                                                              : lz_codec();
  }

  // A client drawing with spice-common's canvas (spice-gtk): it announces the canvas's
  // COMPOSITE / A8_SURFACE operations. spice-html5 announces neither.
  bool has_common_canvas() const {
    return has_channel_cap(SPICE_DISPLAY_CAP_A8_SURFACE) ||
           has_channel_cap(SPICE_DISPLAY_CAP_COMPOSITE);
  }

  // LZ with palettes for clients that decode LZ_PLT (see the top comment), else LZ_RGB.
  encode::ImageCodec lz_codec() const {
    return has_common_canvas() ? encode::ImageCodec::lz_plt : encode::ImageCodec::lz;
  }

  // The client's SpiceImageCompression replaces the server's choice for this client (as
  // in the reference server; AUTO_GLZ is GLZ, as --image-compression auto_glz).
  void set_preferred(uint8_t wanted) {
    std::optional<ImageCompression> mode;
    switch (wanted) {
      case SPICE_IMAGE_COMPRESSION_OFF:
        mode = ImageCompression::off;
        break;
      case SPICE_IMAGE_COMPRESSION_AUTO_LZ:
        mode = ImageCompression::automatic;
        break;
      case SPICE_IMAGE_COMPRESSION_AUTO_GLZ:
      case SPICE_IMAGE_COMPRESSION_GLZ:
        mode = ImageCompression::glz;
        break;
      case SPICE_IMAGE_COMPRESSION_QUIC:
        mode = ImageCompression::quic;
        break;
      case SPICE_IMAGE_COMPRESSION_LZ:
        mode = ImageCompression::lz;
        break;
      case SPICE_IMAGE_COMPRESSION_LZ4:
        mode = ImageCompression::lz4;
        break;
      default:
        break;
    }
    if (!mode) {
      log::warn("{}: client prefers unknown image compression {}: ignored", name(), wanted);
      return;
    }
    mode_ = *mode;
    const encode::ImageCodec codec = choose_codec();
    log::info("{}: client prefers image compression {}: sending {}", name(), wanted,
              encode::to_string(codec));
    if (codec == codec_) return;
    acquire(codec);
    release(codec_);
    codec_ = codec;
    setup_glz();
  }

  // GLZ images are made here, per client: the engine makes none.
  void acquire(encode::ImageCodec c) {
    if (!encode::needs_dictionary(c)) ctx_.desktop(desktop_).acquire_codec(c);
  }
  void release(encode::ImageCodec c) {
    if (!encode::needs_dictionary(c)) ctx_.desktop(desktop_).release_codec(c);
  }

  // Once the client chose GLZ and sent DISPLAY_INIT: the session's dictionary.
  void setup_glz() {
    if (codec_ != encode::ImageCodec::glz || glz_ || !init_received_) return;
    // auto: never, as on a LAN link (no bandwidth test yet: every link counts as LAN).
    const bool zlib = ctx_.options().zlib_glz == WanCompression::always;
    glz_ = encode::make_glz_encoder(
        ctx_.glz_dictionary(session_id_, init_.glz_dictionary_id,
                            std::min<int64_t>(init_.glz_dictionary_window_size,
                                              kMaxGlzWindowPixels)),
        zlib);
    log::info("{}: GLZ dictionary {}: window of {} pixels (client asked {}){}", name(),
              init_.glz_dictionary_id, glz_->dictionary()->window_pixels(),
              init_.glz_dictionary_window_size, zlib ? ", ZLIB_GLZ when smaller" : "");
  }

  void setup_pixmap_cache() {
    if (!ctx_.options().pixmap_cache || init_.pixmap_cache_size <= 0 || pixmap_cache_ ||
        !has_common_canvas()) {
      return;
    }
    const uint64_t start = uint64_t(std::chrono::duration_cast<std::chrono::nanoseconds>(
                                        std::chrono::steady_clock::now().time_since_epoch())
                                        .count());
    const uint64_t base = (uint64_t(link_.channel_id) << kCacheIdChannelShift) |
                          (start & kCacheIdCountMask);
    pixmap_cache_.emplace(init_.pixmap_cache_size, base);
    log::info("{}: pixmap cache {}: {} pixels", name(), init_.pixmap_cache_id,
              init_.pixmap_cache_size);
  }

  // `auto` (ImageCompression::automatic): the tile's class picks its codec (see the top
  // comment); every other mode sends codec_.
  encode::ImageCodec tile_codec(const ImageView& pixels) {
    if (mode_ != ImageCompression::automatic) return codec_;
    const encode::TileClass c = encode::classify_tile(pixels);
    ++tiles_by_class_[size_t(c)];
    if (c != encode::TileClass::photo) return codec_;
    return ctx_.options().jpeg_wan == WanCompression::always ? encode::ImageCodec::jpeg
                                                             : encode::ImageCodec::quic;
  }

  // A tile about to go to the client in `codec`: if it holds an image with these pixels
  // (lossless, or lossy while the codec is), draws that and returns true. Otherwise makes room for
  // the tile in the client's cache (INVAL_LIST of what leaves) and returns false with
  // *cache_id set to the id to send it under with CACHE_ME (unset if not cached).
  bool draw_from_cache(const Rect& box, const ImageView& pixels, encode::ImageCodec codec,
                       std::optional<uint64_t>* cache_id) {
    if (!pixmap_cache_) return false;
    const bool lossy = !encode::is_lossless(codec);
    const encode::ContentKey key = encode::content_key(pixels);
    if (auto e = pixmap_cache_->find(key); e && (!e->lossy || lossy)) {
      msg::Bytes body;
      msg::display_draw_copy_from_cache(body, 0, box, e->id, pixels.width, pixels.height,
                                        !e->lossy);
      send(SPICE_MSG_DISPLAY_DRAW_COPY, body);
      ++ctx_.stats().display_messages;
      ++draws_sent_;
      return true;
    }
    auto added = pixmap_cache_->add(key, lossy);
    if (!added) return false;
    const std::span<const uint64_t> gone = added->evicted;
    for (size_t at = 0; at < gone.size(); at += msg::kMaxInvalListIds) {
      msg::Bytes body;
      msg::display_inval_list(body, gone.subspan(at, std::min(msg::kMaxInvalListIds,
                                                              gone.size() - at)));
      send(SPICE_MSG_DISPLAY_INVAL_LIST, body);
      ++inval_lists_sent_;
    }
    *cache_id = added->id;
    return false;
  }

  const encode::ImageEncoder& encoder(encode::ImageCodec c) {
    auto& e = encoders_[size_t(c)];
    if (!e) e = encode::make_image_encoder(c);
    return *e;
  }

  // `cache_id`: the client caches the image under this id (draw_from_cache's).
  void send_image(const Rect& box, const encode::EncodedImage& img,
                  std::optional<uint64_t> cache_id = std::nullopt) {
    msg::Bytes body;
    auto palette = msg::PaletteSend::inline_only;
    if (img.codec == encode::ImageCodec::lz_plt) {
      if (palettes_held_.count(img.palette_id)) {
        palette = msg::PaletteSend::from_cache;
        ++palettes_from_cache_;
      } else {
        if (palettes_held_.size() >= kMaxClientPalettes) {
          send_empty(SPICE_MSG_DISPLAY_INVAL_ALL_PALETTES);
          palettes_held_.clear();
        }
        palettes_held_.insert(img.palette_id);
        palette = msg::PaletteSend::cache_me;
      }
      ++lz_plt_sent_;
    }
    msg::display_draw_copy(body, 0, box, cache_id ? *cache_id : ++image_id_, img,
                           cache_id.has_value(), palette);
    send(SPICE_MSG_DISPLAY_DRAW_COPY, body);
    ++ctx_.stats().display_messages;
    ++draws_sent_;
  }

  // Which tile some pixels are, where in it they start, and whether they are all of it
  // (a delta is a part).
  struct TilePart {
    size_t index = 0;
    Point offset;
    bool whole = true;
  };

  // Sends `pixels` in `codec` (default: the client's codec_), else raw. `tile`: the tile
  // (part) they are, if one (GLZ hints); `cache_id` as send_image's. Returns the GLZ image
  // id when it went as GLZ.
  std::optional<uint64_t> encode_and_send(const Rect& box, const ImageView& pixels,
                                          std::optional<TilePart> tile = std::nullopt,
                                          std::optional<uint64_t> cache_id = std::nullopt,
                                          std::optional<encode::ImageCodec> codec_for = {}) {
    const encode::ImageCodec codec = codec_for.value_or(codec_);
    if (codec == encode::ImageCodec::glz) {
      assert(glz_ && "GLZ images before DISPLAY_INIT");
      std::optional<encode::GlzHint> hint;
      if (tile && tile->index < glz_hints_.size() && glz_hints_[tile->index]) {
        hint = *glz_hints_[tile->index];
        hint->dx += tile->offset.x;
        hint->dy += tile->offset.y;
      }
      const bool whole_tile = tile && tile->whole && tile->index < glz_hints_.size();
      uint64_t id = 0;
      auto res = glz_->encode(pixels, hint, &id);
      if (auto* e = std::get_if<encode::EncodedImage>(&res)) {
        // The next picture of the tile most resembles this one, when it is all of it.
        if (whole_tile) glz_hints_[tile->index] = encode::GlzHint{id, 0, 0};
        if (e->codec == encode::ImageCodec::zlib_glz) ++zlib_glz_sent_;
        send_image(box, *e, cache_id);
        return id;
      }
      ++glz_as_lz_;
      auto lz = encoder(encode::ImageCodec::lz).encode(pixels);
      if (auto* e = std::get_if<encode::EncodedImage>(&lz)) {
        send_image(box, *e, cache_id);
        return std::nullopt;
      }
      ++fallbacks_;
    } else if (codec != encode::ImageCodec::raw) {
      auto res = encoder(codec).encode(pixels);
      if (auto* e = std::get_if<encode::EncodedImage>(&res)) {
        send_image(box, *e, cache_id);
        return std::nullopt;
      }
      ++fallbacks_;
    }
    auto res = encoder(encode::ImageCodec::raw).encode(pixels);
    if (auto* e = std::get_if<encode::EncodedImage>(&res)) send_image(box, *e, cache_id);
    return std::nullopt;
  }

  void send_surface(const engine::Frame& frame) {
    msg::Bytes body;
    if (!streams_.empty()) {
      send_empty(SPICE_MSG_DISPLAY_STREAM_DESTROY_ALL);
      streams_.clear();
    }
    declined_.clear();
    if (has_surface_) {
      msg::display_surface_destroy(body, 0);
      send(SPICE_MSG_DISPLAY_SURFACE_DESTROY, body);
      body.clear();
    } else {
      send_empty(SPICE_MSG_DISPLAY_INVAL_ALL_PALETTES);
      palettes_held_.clear();
    }
    msg::display_surface_create(body, 0, uint32_t(frame.size.width), uint32_t(frame.size.height),
                                SPICE_SURFACE_FMT_32_xRGB, SPICE_SURFACE_FLAGS_PRIMARY);
    send(SPICE_MSG_DISPLAY_SURFACE_CREATE, body);
    surface_size_ = frame.size;
    send_monitors_config(true);
    // The whole picture as the first draw: a client's first invalidate already shows the
    // complete frame (spicy-screenshot saves on the first one).
    const Image full = frame.assemble();
    const auto full_id = encode_and_send(Rect::from_size(frame.size), full.view());
    send_empty(SPICE_MSG_DISPLAY_MARK);
    glz_hints_.assign(frame.tiles.size(), std::nullopt);
    if (full_id) {
      for (size_t i = 0; i < frame.tiles.size(); ++i) {
        const Rect& r = frame.tiles[i]->rect;
        glz_hints_[i] = encode::GlzHint{*full_id, r.x, r.y};
      }
    }
    tile_versions_.resize(frame.tiles.size());
    for (size_t i = 0; i < frame.tiles.size(); ++i) tile_versions_[i] = frame.tiles[i]->version;
    generation_ = frame.surface_generation;
    has_surface_ = true;
    last_frame_version_ = frame.version;
    synced_version_ = frame.version;
    ++frames_sent_;
  }

  // The guest driver's monitors when it set them, else one head covering the primary
  // surface, as the reference (display_channel_set_monitors_config_to_primary). Unless
  // `always` (a new surface), only when they differ from what the client has.
  void send_monitors_config(bool always) {
    if (!has_channel_cap(SPICE_DISPLAY_CAP_MONITORS_CONFIG)) return;
    msg::Bytes body;
    if (const GuestMonitors* guest = ctx_.guest_monitors(desktop_)) {
      msg::display_monitors_config(body, guest->heads, guest->max_allowed);
    } else {
      msg::MonitorHead head;
      head.width = uint32_t(surface_size_.width);
      head.height = uint32_t(surface_size_.height);
      msg::display_monitors_config(body, {&head, 1}, 1);
    }
    if (!always && body == monitors_sent_) return;
    monitors_sent_ = body;
    send(SPICE_MSG_DISPLAY_MONITORS_CONFIG, body);
  }

  void pump() {
    if (!init_received_ || !can_send()) return;
    auto frame = ctx_.desktop(desktop_).latest();
    if (!frame) return;
    if (!has_surface_ || frame->surface_generation != generation_) {
      send_surface(*frame);
      return;  // updates continue when there is room again
    }
    if (frame->version > last_frame_version_) {
      // Counted once per published frame the client starts receiving: the frame rate the
      // client sees (a slow client skips versions and counts fewer).
      last_frame_version_ = frame->version;
      ++frames_sent_;
    }
    sync_streams(*frame);
    // A client holding exactly the previous version replays the frame's pixel moves
    // (COPY_BITS) and then needs only the tiles that were painted. Not where a move
    // touches a streamed region: the client's pixels there are the lossy stream's.
    if (!frame->copies.empty() && frame->version == synced_version_ + 1 &&
        copies_sent_version_ != frame->version && !copies_touch_streams(*frame)) {
      for (const auto& c : frame->copies) {
        msg::Bytes body;
        msg::display_copy_bits(body, 0, c.dst, c.src);
        send(SPICE_MSG_DISPLAY_COPY_BITS, body);
        ++ctx_.stats().display_messages;
        ++copy_bits_sent_;
      }
      copies_sent_version_ = frame->version;
    }
    bool complete = true;
    for (size_t i = 0; i < frame->tiles.size(); ++i) {
      const auto& tile = *frame->tiles[i];
      if (tile.version <= tile_versions_[i]) continue;
      if (streamed(tile.rect)) continue;  // the stream shows it; refreshed when it ends
      if (tile.moved_only && tile.version == copies_sent_version_) {
        tile_versions_[i] = tile.version;  // the client made it with COPY_BITS
        continue;
      }
      if (!can_send()) {
        complete = false;
        break;
      }
      // A client holding the tile's previous version (and this version's moves, where
      // they reach the tile) needs only the painted part.
      const bool delta = tile.has_delta() && tile.base_version != 0 &&
                         tile_versions_[i] == tile.base_version &&
                         (!tile.copied_into || copies_sent_version_ == tile.version);
      const Rect box = delta ? tile.delta : tile.rect;
      const ImageView pixels = tile.pixels->view().sub(box.translated(-tile.rect.x, -tile.rect.y));
      const encode::ImageCodec codec = tile_codec(pixels);
      std::optional<uint64_t> cache_id;
      if (draw_from_cache(box, pixels, codec, &cache_id)) {
        tile_versions_[i] = tile.version;
        continue;
      }
      if (const auto& enc = delta ? tile.delta_encoding(codec) : tile.encoding(codec)) {
        send_image(box, *enc, cache_id);
      } else {
        encode_and_send(box, pixels, TilePart{i, {box.x - tile.rect.x, box.y - tile.rect.y}, !delta},
                        cache_id, codec);
      }
      if (delta) ++deltas_sent_;
      tile_versions_[i] = tile.version;
    }
    if (complete) synced_version_ = frame->version;
  }

  // A hold on the desktop's encoder for a stream (Desktop::acquire_video), released with
  // the stream however it ends.
  class VideoLease {
   public:
    VideoLease(engine::Desktop& d, encode::VideoCodecChoice key)
        : d_(&d), key_(std::move(key)), owner_(next_owner()) {
      d_->acquire_video(key_);
    }
    VideoLease(VideoLease&& o) noexcept
        : d_(std::exchange(o.d_, nullptr)), key_(o.key_), owner_(o.owner_) {}
    VideoLease& operator=(VideoLease&& o) noexcept {
      if (this != &o) {
        if (d_) d_->release_video(key_, owner_);
        d_ = std::exchange(o.d_, nullptr);
        key_ = o.key_;
        owner_ = o.owner_;
      }
      return *this;
    }
    ~VideoLease() {
      if (d_) d_->release_video(key_, owner_);
    }
    const encode::VideoCodecChoice& key() const { return key_; }
    /// This stream's quality level on the desktop's encoder (rate control).
    void set_level(int level) {
      if (d_) d_->set_video_level(key_, owner_, level);
    }

   private:
    static uint64_t next_owner() {
      static std::atomic<uint64_t> next{1};
      return next++;
    }
    engine::Desktop* d_;
    encode::VideoCodecChoice key_;
    uint64_t owner_;
  };

  struct Stream {
    uint32_t region = 0;  // engine::VideoRegion::id
    uint32_t wire_id = 0; // the id on the wire: small and reused (spice-gtk indexes an array)
    Rect rect;            // where the region is now
    Rect dest;            // where STREAM_CREATE put it (frames elsewhere go DATA_SIZED)
    VideoLease encoder;   // the desktop's encoder whose frames this stream carries
    // The last frame of it this client saw (sent or skipped), and whether the client
    // lost one since its last keyframe: then only a keyframe goes, asked for when the wait
    // began and again every kKeyframeRetry while it lasts (the keyframe may have been
    // skipped too, by a client still behind).
    uint64_t encoder_id = 0;
    uint64_t seq = 0;
    bool waiting_key = true;
    std::optional<std::chrono::steady_clock::time_point> key_asked;
    std::vector<Rect> covered;  // the region's covered parts as the client's clip has them
    uint32_t report_id = 0;     // STREAM_ACTIVATE_REPORT's unique_id (0: reports not asked)
    // Rate control (see rate_control()): the quality level this client asks for, since
    // when, and whether it lost frames since then.
    int level = 0;
    std::chrono::steady_clock::time_point level_since = std::chrono::steady_clock::now();
    bool trouble = false;
  };

  // Rate control, per stream: a client that lost frames (it was behind and skipped some,
  // or reported drops) asks the desktop's encoder for one quality level lower, at most
  // every kLevelHold (the change takes a moment to show); one that lost none for
  // kLevelRecover asks for one higher again. The encoder runs at the lowest quality any of
  // its clients asks for, down to the floor (engine's kMaxVideoLevel); past that the
  // client keeps skipping frames (the newest wins).
  void rate_control(Stream& s) {
    const auto now = std::chrono::steady_clock::now();
    const auto held = now - s.level_since;
    int level = s.level;
    if (s.trouble && held >= kLevelHold && level < engine::Desktop::kMaxVideoLevel) {
      ++level;
    } else if (!s.trouble && held >= kLevelRecover && level > 0) {
      --level;
    } else if (!(s.trouble && held >= kLevelHold)) {
      return;
    }
    s.level_since = now;
    s.trouble = false;
    if (level == s.level) return;  // at the floor already
    log::info("{}: stream {}: quality level {} ({})", name(), s.wire_id, level,
              level > s.level ? "lost frames" : "keeping up");
    s.level = level;
    s.encoder.set_level(level);
  }

  // The client's pixels in `rect` are a stream's: its tiles there go again.
  void forget_tiles(const Rect& rect) {
    auto frame = ctx_.desktop(desktop_).latest();
    if (!frame) return;
    for (size_t i = 0; i < frame->tiles.size() && i < tile_versions_.size(); ++i) {
      if (!intersect(rect, frame->tiles[i]->rect).empty()) tile_versions_[i] = 0;
    }
  }

  // The region's covered parts changed: the stream is clipped to the rest (STREAM_CLIP,
  // before any frame of this picture) and the covered parts go as exact images, but for
  // those the client has exact already (inside a part covered before: covered parts do
  // not change while covered).
  static std::vector<Rect> newly_covered(const Stream& s, const engine::VideoRegion& v) {
    std::vector<Rect> out;
    for (const Rect& c : v.covered) {
      if (std::none_of(s.covered.begin(), s.covered.end(),
                       [&](const Rect& had) { return had.contains(c); })) {
        out.push_back(c);
      }
    }
    return out;
  }

  // Where the client may show a stream's frames: the region less its covered parts, or
  // all of it (never "no clip" once the stream moved: frames still queued at the client for
  // an older place are clipped away with it).
  static std::vector<Rect> clip_of(const engine::VideoRegion& v) {
    return v.shown.empty() ? std::vector<Rect>{v.rect} : v.shown;
  }

  void send_clip(Stream& s, const engine::VideoRegion& v, std::span<const Rect> fresh) {
    msg::Bytes body;
    msg::display_stream_clip(body, s.wire_id, clip_of(v));
    send(SPICE_MSG_DISPLAY_STREAM_CLIP, body);
    ++ctx_.stats().display_messages;
    for (const Rect& c : fresh) {
      const Rect local{c.x - v.rect.x, c.y - v.rect.y, c.width, c.height};
      encode_and_send(c, v.pixels->view().sub(local));
    }
    s.covered = v.covered;
    log::info("{}: stream {} clip: {} rects shown, {} covered rects sent exact", name(),
              s.wire_id, v.shown.size(), fresh.size());
  }

  bool streamed(const Rect& r) const {
    return std::any_of(streams_.begin(), streams_.end(),
                       [&](const Stream& s) { return s.rect.contains(r); });
  }

  bool copies_touch_streams(const engine::Frame& frame) const {
    for (const auto& c : frame.copies) {
      const Rect src{c.src.x, c.src.y, c.dst.width, c.dst.height};
      for (const auto& s : streams_) {
        if (!intersect(s.rect, src).empty() || !intersect(s.rect, c.dst).empty()) return true;
      }
    }
    return false;
  }

  // Ends streams whose region is gone, starts streams for new regions, and sends each
  // stream's newest picture if the client does not have it yet.
  void sync_streams(const engine::Frame& frame) {
    const auto region_of = [&](uint32_t id) -> const engine::VideoRegion* {
      for (const auto& v : frame.video) {
        if (v.id == id) return &v;
      }
      return nullptr;
    };
    for (auto it = streams_.begin(); it != streams_.end();) {
      const engine::VideoRegion* v = region_of(it->region);
      if (v && v->rect == it->rect) {
        ++it;
        continue;
      }
      if (v && v->rect.size() == it->rect.size()) {
        // Moved (a dragged window): the same stream, its frames sized to the new place.
        // The clip goes to the new place first: the client shows frames it holds later,
        // and those for the old place must not paint over the exact tiles left behind.
        if (!can_send(1)) {
          ++it;  // the next pump moves it; until then its new tiles go as tiles
          continue;
        }
        msg::Bytes clip;
        msg::display_stream_clip(clip, it->wire_id, clip_of(*v));
        send(SPICE_MSG_DISPLAY_STREAM_CLIP, clip);
        ++ctx_.stats().display_messages;
        it->covered = v->covered;
        forget_tiles(it->rect);
        it->rect = v->rect;
        log::info("{}: stream {} (region {}) moved to {},{}", name(), it->wire_id, it->region,
                  v->rect.x, v->rect.y);
        ++it;
        continue;
      }
      msg::Bytes body;
      msg::display_stream_destroy(body, it->wire_id);
      send(SPICE_MSG_DISPLAY_STREAM_DESTROY, body);
      if (v) {
        // Resized: a new stream of the new size follows (sync below).
        forget_tiles(it->rect);
        log::info("{}: stream {} (region {}) destroyed: resized to {}x{}", name(), it->wire_id,
                  it->region, v->rect.width, v->rect.height);
      } else {
        log::info("{}: stream {} (region {}) destroyed", name(), it->wire_id, it->region);
      }
      it = streams_.erase(it);
    }
    std::erase_if(declined_, [&](uint32_t id) { return !region_of(id); });
    for (const auto& v : frame.video) {
      const bool known = std::any_of(streams_.begin(), streams_.end(),
                                     [&](const Stream& s) { return s.region == v.id; }) ||
                         std::find(declined_.begin(), declined_.end(), v.id) != declined_.end();
      if (!known) start_stream(v);
    }
    std::vector<uint32_t> failed;  // wire ids whose encoder failed
    for (auto& s : streams_) {
      const engine::VideoRegion* v = region_of(s.region);
      if (!v) continue;
      const auto e = std::find_if(v->encoded.begin(), v->encoded.end(),
                                  [&](const engine::EncodedVideoFrame& f) {
                                    return f.encoder == s.encoder.key();
                                  });
      if (e == v->encoded.end() || (e->encoder_id == s.encoder_id && e->seq <= s.seq)) continue;
      if (!e->frame) {
        log::warn("{}: stream {}: {}; region {} goes back to tiles", name(), s.wire_id,
                  e->failed, s.region);
        failed.push_back(s.wire_id);
        continue;
      }
      // The clip and the exact covered parts go with the frame, in one go.
      const bool reclip = v->covered != s.covered;
      const std::vector<Rect> fresh = reclip ? newly_covered(s, *v) : std::vector<Rect>{};
      if (!can_send(uint32_t(1 + (reclip ? 1 + fresh.size() : 0)))) {
        break;  // the next pump sends the then-newest picture
      }
      // Frames this client could not take meanwhile are gone (the newest wins): with them
      // what later frames refer to, so it waits for a keyframe, asked for once.
      const bool next = e->encoder_id == s.encoder_id && e->seq == s.seq + 1;
      if (!next && s.encoder_id == e->encoder_id && e->seq > s.seq + 1) {
        skipped_stream_frames(e->seq - s.seq - 1);
        s.trouble = true;
      }
      if (!next) s.waiting_key = true;
      s.encoder_id = e->encoder_id;
      s.seq = e->seq;
      if (s.waiting_key && !e->frame->keyframe) {
        const auto now = std::chrono::steady_clock::now();
        if (!s.key_asked || now - *s.key_asked >= kKeyframeRetry) {
          ctx_.desktop(desktop_).request_keyframe(s.region, s.encoder.key());
          s.key_asked = now;
        }
        skipped_stream_frames(1);
        continue;
      }
      s.waiting_key = false;
      s.key_asked.reset();
      rate_control(s);
      if (reclip) send_clip(s, *v, fresh);
      send_stream_frame(s, *e->frame);
    }
    for (uint32_t id : failed) decline(id);
  }

  void skipped_stream_frames(uint64_t n) {
    stream_frames_skipped_ += n;
    ctx_.stats().stream_frames_skipped += n;
  }

  // One encoded frame of `s` (STREAM_DATA, or STREAM_DATA_SIZED when its size or place
  // differs from the stream's), stamped to show on arrival. Frames encoded elsewhere (a
  // guest's streaming agent) go out the same way.
  void send_stream_frame(const Stream& s, const encode::EncodedFrame& f) {
    msg::Bytes body;
    const uint32_t mm = ctx_.mm_time() + kPlayoutLeadMs;
    if (f.width == s.rect.width && f.height == s.rect.height && s.rect == s.dest) {
      msg::display_stream_data(body, s.wire_id, mm, f.data);
      send(SPICE_MSG_DISPLAY_STREAM_DATA, body);
    } else {
      msg::display_stream_data_sized(body, s.wire_id, mm, uint32_t(f.width), uint32_t(f.height),
                                     s.rect, f.data);
      send(SPICE_MSG_DISPLAY_STREAM_DATA_SIZED, body);
    }
    ++ctx_.stats().display_messages;
    ++ctx_.stats().stream_frames;
    ++stream_frames_sent_;
    if (f.keyframe) ++stream_keyframes_sent_;
    stream_bytes_ += f.data.size();
  }

  void start_stream(const engine::VideoRegion& v) {
    if (v.rect.empty()) return;
    encode::VideoEncoderConfig cfg;
    cfg.size = v.rect.size();
    cfg.fps = ctx_.desktop(desktop_).fps();
    std::string why;
    auto enc = encode::make_video_encoder(ctx_.options().video_codecs, preferred_video_,
                                          video_codecs_, cfg, &why);
    if (!enc) {
      log::info("{}: region {} not streamed: {}", name(), v.id, enc.error().message);
      declined_.push_back(v.id);
      return;
    }
    if (auto input = (*enc)->yuv_input()) ctx_.desktop(desktop_).request_video_input(*input);
    uint32_t wire_id = 0;
    while (std::any_of(streams_.begin(), streams_.end(),
                       [&](const Stream& s) { return s.wire_id == wire_id; }) ||
           std::find(retired_ids_.begin(), retired_ids_.end(), wire_id) != retired_ids_.end()) {
      ++wire_id;
    }
    msg::StreamCreate m;
    m.surface_id = 0;
    m.id = wire_id;
    m.flags = SPICE_STREAM_FLAGS_TOP_DOWN;
    m.codec_type = uint8_t((*enc)->codec());
    m.stamp = ctx_.mm_time();
    m.stream_width = m.src_width = uint32_t(v.rect.width);
    m.stream_height = m.src_height = uint32_t(v.rect.height);
    m.dest = v.rect;
    msg::Bytes body;
    msg::display_stream_create(body, m);
    send(SPICE_MSG_DISPLAY_STREAM_CREATE, body);
    log::info("{}: stream {} for region {} ({}x{} at {},{}): {} ({})", name(), wire_id, v.id,
              v.rect.width, v.rect.height, v.rect.x, v.rect.y,
              encode::to_string((*enc)->codec()), why);
    // The desktop's encoder of this backend and codec makes the frames (one per desktop,
    // shared with other clients); the one made here only settled the choice. Its next
    // frame is a keyframe, so a client joining mid-stream starts on one.
    encode::VideoCodecChoice key{std::string((*enc)->name()), (*enc)->codec()};
    enc->reset();
    engine::Desktop& desk = ctx_.desktop(desktop_);
    streams_.push_back(
        Stream{v.id, wire_id, v.rect, v.rect, VideoLease(desk, key), 0, 0, true, std::nullopt, {}, 0,
             0, std::chrono::steady_clock::now(), false});
    desk.request_keyframe(v.id, key);
    ++streams_created_;
    if (has_channel_cap(SPICE_DISPLAY_CAP_STREAM_REPORT)) {
      // The client reports what it showed and dropped (STREAM_REPORT): drops get a keyframe.
      body.clear();
      streams_.back().report_id = ++report_ids_;
      msg::display_stream_activate_report(body, wire_id, report_ids_, kReportWindowFrames,
                                          kReportTimeoutMs);
      send(SPICE_MSG_DISPLAY_STREAM_ACTIVATE_REPORT, body);
    }
  }

  // The client's codec preference (most wanted first) reorders the server's list for the
  // streams created from now on; codecs we do not know are ignored, as in the reference.
  void set_preferred_video_codecs(std::span<const uint8_t> codecs) {
    preferred_video_.clear();
    for (uint8_t c : codecs) {
      if (c < uint8_t(encode::VideoCodec::mjpeg) || c > uint8_t(encode::VideoCodec::h265)) continue;
      const auto codec = encode::VideoCodec(c);
      if (std::find(preferred_video_.begin(), preferred_video_.end(), codec) ==
          preferred_video_.end()) {
        preferred_video_.push_back(codec);
      }
    }
    std::string names;
    for (auto c : preferred_video_) names += std::string(names.empty() ? "" : ",") +
                                             std::string(encode::to_string(c));
    log::info("{}: client prefers video codecs [{}]", name(), names);
  }

  // spice-gtk answers STREAM_CREATE with this report when it cannot make a decoder for the
  // codec (and STREAM_DATA for a stream it dropped): the client loses that codec and the
  // region gets a new stream with the next codec both sides accept. The client already
  // destroyed the stream, so no STREAM_DESTROY; its wire id is not reused, so that reports
  // still in flight for it cannot hit the new stream.
  void on_invalid_stream(uint32_t wire_id) {
    if (std::find(retired_ids_.begin(), retired_ids_.end(), wire_id) != retired_ids_.end()) return;
    auto it = std::find_if(streams_.begin(), streams_.end(),
                           [&](const Stream& x) { return x.wire_id == wire_id; });
    if (it == streams_.end()) return;  // a stream we ended already
    const encode::VideoCodec lost = it->encoder.key().codec;
    std::erase(video_codecs_, lost);
    log::warn("{}: client cannot decode stream {} ({}); region {} tries its next codec", name(),
              wire_id, encode::to_string(lost), it->region);
    retired_ids_.push_back(wire_id);
    const Rect rect = it->rect;
    streams_.erase(it);  // not declined: the next sync_streams starts a new stream
    forget_tiles(rect);
  }

  // The client dropped frames of a stream (late, or its decoder failed on them): what
  // later frames refer to may be gone, so the stream's encoder makes a keyframe.
  void on_stream_drops(const msg::StreamReport& r) {
    auto it = std::find_if(streams_.begin(), streams_.end(),
                           [&](const Stream& x) { return x.wire_id == r.stream_id; });
    if (it == streams_.end() || it->report_id != r.unique_id) return;  // an ended stream's
    log::debug("{}: stream {}: client dropped {} of {} frames: keyframe", name(), r.stream_id,
               r.num_drops, r.num_frames + r.num_drops);
    ctx_.desktop(desktop_).request_keyframe(it->region, it->encoder.key());
    it->trouble = true;
  }

  // Ends `s` for good: the client gets the region's tiles again (all of them: its pixels
  // there are the stream's).
  void decline(uint32_t wire_id) {
    auto it = std::find_if(streams_.begin(), streams_.end(),
                           [&](const Stream& x) { return x.wire_id == wire_id; });
    if (it == streams_.end()) return;
    msg::Bytes body;
    msg::display_stream_destroy(body, wire_id);
    send(SPICE_MSG_DISPLAY_STREAM_DESTROY, body);
    declined_.push_back(it->region);
    const Rect rect = it->rect;
    streams_.erase(it);
    forget_tiles(rect);
  }

  ImageCompression mode_;
  encode::ImageCodec codec_ = encode::ImageCodec::raw;  // acquired on the desktop
  // Made on first use, for tiles the engine did not encode with codec_ (and raw).
  std::array<std::unique_ptr<encode::ImageEncoder>, encode::kImageCodecCount> encoders_;
  uint64_t fallbacks_ = 0;  // images codec_ declined (sent raw)
  bool init_received_ = false;
  msg::DisplayInit init_;
  // GLZ (codec_ glz, from DISPLAY_INIT on): the encoder over the session's dictionary, and
  // per tile the image that last covered it.
  std::unique_ptr<encode::GlzEncoder> glz_;
  std::vector<std::optional<encode::GlzHint>> glz_hints_;
  uint64_t zlib_glz_sent_ = 0;
  uint64_t glz_as_lz_ = 0;
  // The client's pixmap cache as we left it (from DISPLAY_INIT on, if it has one).
  std::optional<encode::PixmapCache> pixmap_cache_;
  uint64_t inval_lists_sent_ = 0;
  // Palette ids the client's palette cache holds (LZ_PLT images).
  std::unordered_set<uint64_t> palettes_held_;
  uint64_t lz_plt_sent_ = 0;
  uint64_t palettes_from_cache_ = 0;
  // auto: tiles per encode::TileClass (flat, text, photo).
  std::array<uint64_t, 3> tiles_by_class_{};
  bool has_surface_ = false;
  Size surface_size_;        // of the primary surface last sent
  msg::Bytes monitors_sent_;  // the last DISPLAY_MONITORS_CONFIG body sent
  uint64_t generation_ = 0;
  uint64_t image_id_ = 0;
  std::vector<uint64_t> tile_versions_;
  // The frame version the client holds completely (every tile sent), and the version
  // whose COPY_BITS it has been sent: moves replay only on top of the previous version.
  uint64_t synced_version_ = 0;
  uint64_t copies_sent_version_ = 0;
  uint64_t last_frame_version_ = 0;
  uint64_t frames_sent_ = 0;
  uint64_t draws_sent_ = 0;
  uint64_t copy_bits_sent_ = 0;
  uint64_t deltas_sent_ = 0;  // draws that were a tile's painted part (Tile::delta)
  std::chrono::steady_clock::time_point since_ = std::chrono::steady_clock::now();
  std::vector<encode::VideoCodec> video_codecs_;  // what the client decodes, from its caps
  std::vector<encode::VideoCodec> preferred_video_;  // PREFERRED_VIDEO_CODEC_TYPE, if sent
  std::vector<uint32_t> retired_ids_;  // wire ids of streams the client could not decode
  std::vector<Stream> streams_;
  std::vector<uint32_t> declined_;  // regions this client gets as tiles (no encoder fits)
  uint64_t stream_frames_sent_ = 0;
  uint64_t stream_keyframes_sent_ = 0;
  uint32_t report_ids_ = 0;
  uint64_t stream_frames_skipped_ = 0;  // the client was behind: newer frames went instead
  uint64_t streams_created_ = 0;
  uint64_t stream_bytes_ = 0;
};

}  // namespace

std::unique_ptr<ChannelClient> make_display_channel(ServerContext& ctx, std::unique_ptr<Peer> peer,
                                                    const LinkMess& link, uint32_t session_id,
                                                    int desktop) {
  return std::make_unique<DisplayChannel>(ctx, std::move(peer), link, session_id, desktop);
}

}  // namespace spiceflow::net
