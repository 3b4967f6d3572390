// The display channel: after the client's DISPLAY_INIT it gets the primary surface
// (SURFACE_CREATE, MONITORS_CONFIG, one DRAW_COPY of the whole picture, MARK) and from
// then on DRAW_COPYs of the tiles that changed since what it already has. The channel
// pulls the newest published Frame whenever it has room (ACK window open, socket queue
// below low water), so a slow client skips intermediate frames instead of queueing them.
#include <spice/enums.h>
#include <spice/protocol.h>

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
        lz4_(encode::make_image_encoder(encode::ImageCodec::lz4)),
        raw_(encode::make_image_encoder(encode::ImageCodec::raw)) {}

  void on_update() override { pump(); }

  ~DisplayChannel() override {
    const double secs = std::chrono::duration<double>(std::chrono::steady_clock::now() - since_).count();
    log::info("{}: display: {} frame updates in {:.1f} s ({:.1f} fps), {} draws, {} bytes sent",
              name(), frames_sent_, secs, secs > 0 ? double(frames_sent_) / secs : 0.0,
              draws_sent_, peer_->bytes_sent());
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
        client_wants_raw_ = m->image_compression == SPICE_IMAGE_COMPRESSION_OFF;
        log::info("{}: client prefers image compression {}", name(), m->image_compression);
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
  bool use_lz4() const {
    return ctx_.options().compression != ImageCompression::off && !client_wants_raw_ &&
           has_channel_cap(SPICE_DISPLAY_CAP_LZ4_COMPRESSION);
  }

  void send_image(const Rect& box, const encode::EncodedImage& img) {
    msg::Bytes body;
    msg::display_draw_copy(body, 0, box, ++image_id_, img);
    send(SPICE_MSG_DISPLAY_DRAW_COPY, body);
    ++ctx_.stats().display_messages;
    ++draws_sent_;
  }

  void encode_and_send(const Rect& box, const ImageView& pixels) {
    if (use_lz4()) {
      auto res = lz4_->encode(pixels);
      if (auto* e = std::get_if<encode::EncodedImage>(&res)) {
        send_image(box, *e);
        return;
      }
    }
    auto res = raw_->encode(pixels);
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
    const bool lz4 = use_lz4();
    if (frame->version > last_frame_version_) {
      // Counted once per published frame the client starts receiving: the frame rate the
      // client sees (a slow client skips versions and counts fewer).
      last_frame_version_ = frame->version;
      ++frames_sent_;
    }
    for (size_t i = 0; i < frame->tiles.size() && can_send(); ++i) {
      const auto& tile = *frame->tiles[i];
      if (tile.version <= tile_versions_[i]) continue;
      if (lz4 && tile.lz4) {
        send_image(tile.rect, *tile.lz4);
      } else {
        encode_and_send(tile.rect, tile.pixels->view());
      }
      tile_versions_[i] = tile.version;
    }
  }

  std::unique_ptr<encode::ImageEncoder> lz4_;
  std::unique_ptr<encode::ImageEncoder> raw_;
  bool init_received_ = false;
  bool client_wants_raw_ = false;
  bool has_surface_ = false;
  uint64_t generation_ = 0;
  uint64_t image_id_ = 0;
  std::vector<uint64_t> tile_versions_;
  uint64_t last_frame_version_ = 0;
  uint64_t frames_sent_ = 0;
  uint64_t draws_sent_ = 0;
  std::chrono::steady_clock::time_point since_ = std::chrono::steady_clock::now();
};

}  // namespace

std::unique_ptr<ChannelClient> make_display_channel(ServerContext& ctx,
                                                    std::unique_ptr<Peer> peer,
                                                    const LinkMess& link, uint32_t session_id,
                                                    int desktop) {
  return std::make_unique<DisplayChannel>(ctx, std::move(peer), link, session_id, desktop);
}

}  // namespace spiceflow::net
