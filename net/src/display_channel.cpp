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
#include <spice/enums.h>
#include <spice/protocol.h>

#include <array>
#include <optional>

#include "channel.hpp"
#include "spiceflow/core/log.hpp"

namespace spiceflow::net {

namespace {

// The SET_ACK window: the client acknowledges every kAckWindow messages; we pause after
// 2 * kAckWindow unacknowledged ones (as the reference server does for display).
constexpr uint32_t kAckWindow = 40;

class DisplayChannel final : public ChannelClient {
 public:
  DisplayChannel(ServerContext& ctx, std::unique_ptr<Peer> peer, const LinkMess& link,
                 uint32_t session_id, int desktop)
      : ChannelClient(ctx, std::move(peer), link, session_id, desktop),
        mode_(ctx.options().compression) {
    codec_ = choose_codec();
    acquire(codec_);
    log::info("{}: display images as {}", name(), encode::to_string(codec_));
  }

  void on_update() override { pump(); }

  ~DisplayChannel() override {
    release(codec_);
    const double secs =
        std::chrono::duration<double>(std::chrono::steady_clock::now() - since_).count();
    log::info(
        "{}: display: {} frame updates in {:.1f} s ({:.1f} fps), {} draws ({}, {} sent "
        "raw instead), {} copy-bits, {} bytes sent",
        name(), frames_sent_, secs, secs > 0 ? double(frames_sent_) / secs : 0.0, draws_sent_,
        encode::to_string(codec_), fallbacks_, copy_bits_sent_, peer_->bytes_sent());
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
        if (!msg::parse_display_init(body)) return false;
        init_received_ = true;
        pump();
        return true;
      }
      case SPICE_MSGC_DISPLAY_PREFERRED_COMPRESSION: {
        auto m = msg::parse_preferred_compression(body);
        if (!m) return false;
        set_preferred(m->image_compression);
        return true;
      }
      case SPICE_MSGC_DISPLAY_STREAM_REPORT:
      case SPICE_MSGC_DISPLAY_GL_DRAW_DONE:
      case SPICE_MSGC_DISPLAY_PREFERRED_VIDEO_CODEC_TYPE:
        return true;  // no video streams or GL scanout yet
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
        return encode::ImageCodec::lz;
      case ImageCompression::jpeg:
        return encode::ImageCodec::jpeg;
      case ImageCompression::automatic:
      case ImageCompression::lz4:
        break;
    }
    return has_channel_cap(SPICE_DISPLAY_CAP_LZ4_COMPRESSION) ? encode::ImageCodec::lz4
                                                              : encode::ImageCodec::lz;
  }

  // The client's SpiceImageCompression replaces the server's choice for this client (as
  // in the reference server). GLZ is not implemented: LZ is its closest relative.
  void set_preferred(uint8_t wanted) {
    std::optional<ImageCompression> mode;
    switch (wanted) {
      case SPICE_IMAGE_COMPRESSION_OFF:
        mode = ImageCompression::off;
        break;
      case SPICE_IMAGE_COMPRESSION_AUTO_GLZ:
      case SPICE_IMAGE_COMPRESSION_AUTO_LZ:
        mode = ImageCompression::automatic;
        break;
      case SPICE_IMAGE_COMPRESSION_QUIC:
        mode = ImageCompression::quic;
        break;
      case SPICE_IMAGE_COMPRESSION_GLZ:
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
  }

  void acquire(encode::ImageCodec c) { ctx_.desktop(desktop_).acquire_codec(c); }
  void release(encode::ImageCodec c) { ctx_.desktop(desktop_).release_codec(c); }

  const encode::ImageEncoder& encoder(encode::ImageCodec c) {
    auto& e = encoders_[size_t(c)];
    if (!e) e = encode::make_image_encoder(c);
    return *e;
  }

  void send_image(const Rect& box, const encode::EncodedImage& img) {
    msg::Bytes body;
    msg::display_draw_copy(body, 0, box, ++image_id_, img);
    send(SPICE_MSG_DISPLAY_DRAW_COPY, body);
    ++ctx_.stats().display_messages;
    ++draws_sent_;
  }

  void encode_and_send(const Rect& box, const ImageView& pixels) {
    if (codec_ != encode::ImageCodec::raw) {
      auto res = encoder(codec_).encode(pixels);
      if (auto* e = std::get_if<encode::EncodedImage>(&res)) {
        send_image(box, *e);
        return;
      }
      ++fallbacks_;
    }
    auto res = encoder(encode::ImageCodec::raw).encode(pixels);
    if (auto* e = std::get_if<encode::EncodedImage>(&res)) send_image(box, *e);
  }

  void send_surface(const engine::Frame& frame) {
    msg::Bytes body;
    if (has_surface_) {
      msg::display_surface_destroy(body, 0);
      send(SPICE_MSG_DISPLAY_SURFACE_DESTROY, body);
      body.clear();
    } else {
      send_empty(SPICE_MSG_DISPLAY_INVAL_ALL_PALETTES);
    }
    msg::display_surface_create(body, 0, uint32_t(frame.size.width), uint32_t(frame.size.height),
                                SPICE_SURFACE_FMT_32_xRGB, SPICE_SURFACE_FLAGS_PRIMARY);
    send(SPICE_MSG_DISPLAY_SURFACE_CREATE, body);
    if (has_channel_cap(SPICE_DISPLAY_CAP_MONITORS_CONFIG)) {
      body.clear();
      msg::MonitorHead head;
      head.width = uint32_t(frame.size.width);
      head.height = uint32_t(frame.size.height);
      msg::display_monitors_config(body, {&head, 1}, 1);
      send(SPICE_MSG_DISPLAY_MONITORS_CONFIG, body);
    }
    // The whole picture as the first draw: a client's first invalidate already shows the
    // complete frame (spicy-screenshot saves on the first one).
    const Image full = frame.assemble();
    encode_and_send(Rect::from_size(frame.size), full.view());
    send_empty(SPICE_MSG_DISPLAY_MARK);
    tile_versions_.resize(frame.tiles.size());
    for (size_t i = 0; i < frame.tiles.size(); ++i) tile_versions_[i] = frame.tiles[i]->version;
    generation_ = frame.surface_generation;
    has_surface_ = true;
    last_frame_version_ = frame.version;
    synced_version_ = frame.version;
    ++frames_sent_;
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
    // A client holding exactly the previous version replays the frame's pixel moves
    // (COPY_BITS) and then needs only the tiles that were painted.
    if (!frame->copies.empty() && frame->version == synced_version_ + 1 &&
        copies_sent_version_ != frame->version) {
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
      if (tile.moved_only && tile.version == copies_sent_version_) {
        tile_versions_[i] = tile.version;  // the client made it with COPY_BITS
        continue;
      }
      if (!can_send()) {
        complete = false;
        break;
      }
      if (const auto& enc = tile.encoding(codec_)) {
        send_image(tile.rect, *enc);
      } else {
        encode_and_send(tile.rect, tile.pixels->view());
      }
      tile_versions_[i] = tile.version;
    }
    if (complete) synced_version_ = frame->version;
  }

  ImageCompression mode_;
  encode::ImageCodec codec_ = encode::ImageCodec::raw;  // acquired on the desktop
  // Made on first use, for tiles the engine did not encode with codec_ (and raw).
  std::array<std::unique_ptr<encode::ImageEncoder>, encode::kImageCodecCount> encoders_;
  uint64_t fallbacks_ = 0;  // images codec_ declined (sent raw)
  bool init_received_ = false;
  bool has_surface_ = false;
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
  std::chrono::steady_clock::time_point since_ = std::chrono::steady_clock::now();
};

}  // namespace

std::unique_ptr<ChannelClient> make_display_channel(ServerContext& ctx, std::unique_ptr<Peer> peer,
                                                    const LinkMess& link, uint32_t session_id,
                                                    int desktop) {
  return std::make_unique<DisplayChannel>(ctx, std::move(peer), link, session_id, desktop);
}

}  // namespace spiceflow::net
