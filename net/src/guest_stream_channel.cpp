// The guest stream's display channel (SPICE_CHANNEL_DISPLAY, id GuestStream::channel_id()):
// what the reference's StreamChannel sends. After DISPLAY_INIT the client joins the stream
// and gets, while a stream runs, a primary surface of the stream's size (SURFACE_CREATE,
// MONITORS_CONFIG, a black DRAW_FILL, MARK) and STREAM_CREATE covering it; then each frame
// the agent encoded as STREAM_DATA, unchanged, in order (inter-frame codecs: no frame is
// skipped; the host stops reading its device while this client is behind, see
// guest_stream.hpp). A new format ends the stream (STREAM_DESTROY), re-creates the surface
// if its size changed, and starts a new stream; the agent stopping ends it.
#include <spice/enums.h>
#include <spice/protocol.h>

#include "channel.hpp"
#include "spiceflow/core/log.hpp"
#include "spiceflow/net/guest_stream.hpp"

namespace spiceflow::net {

namespace {

// SET_ACK window, as the other display channel.
constexpr uint32_t kAckWindow = 40;
// How far ahead of the multimedia clock a frame is stamped: the display channel's
// playout lead (display_channel.cpp says why), so the client shows each frame on arrival.
constexpr uint32_t kPlayoutLeadMs = 25;
// Items taken from the stream per pump: bounds one pass of the loop.
constexpr size_t kTakeBatch = 4;
// Largest stream the client is asked to make a surface for (the guest's screen): the
// agent's FORMAT is checked by the host, this only guards the surface allocation.
constexpr uint32_t kMaxSide = 16384;

class GuestStreamChannel final : public ChannelClient {
 public:
  GuestStreamChannel(ServerContext& ctx, std::unique_ptr<Peer> peer, const LinkMess& link,
                     uint32_t session_id, int desktop, std::shared_ptr<GuestStream> stream)
      : ChannelClient(ctx, std::move(peer), link, session_id, desktop), stream_(std::move(stream)) {
    codecs_.push_back(SPICE_VIDEO_CODEC_TYPE_MJPEG);
    if (has_channel_cap(SPICE_DISPLAY_CAP_MULTI_CODEC)) {
      const std::pair<uint32_t, uint8_t> caps[] = {
          {SPICE_DISPLAY_CAP_CODEC_VP8, SPICE_VIDEO_CODEC_TYPE_VP8},
          {SPICE_DISPLAY_CAP_CODEC_H264, SPICE_VIDEO_CODEC_TYPE_H264},
          {SPICE_DISPLAY_CAP_CODEC_VP9, SPICE_VIDEO_CODEC_TYPE_VP9},
          {SPICE_DISPLAY_CAP_CODEC_H265, SPICE_VIDEO_CODEC_TYPE_H265}};
      for (const auto& [cap, codec] : caps) {
        if (has_channel_cap(cap)) codecs_.push_back(codec);
      }
    }
  }
  ~GuestStreamChannel() override {
    if (reader_) stream_->leave(reader_);
    log::info("{}: guest stream: {} streams, {} frames, {} bytes of frames", name(), streams_,
              frames_, frame_bytes_);
  }

  void on_update() override { pump(); }

 protected:
  void start() override { start_acks(kAckWindow); }
  void on_room() override { pump(); }

  bool handle(uint16_t type, std::span<const uint8_t> body) override {
    switch (type) {
      case SPICE_MSGC_DISPLAY_INIT: {
        if (!msg::parse_display_init(body)) return false;
        if (reader_) return true;
        send_empty(SPICE_MSG_DISPLAY_INVAL_ALL_PALETTES);
        std::optional<GuestStream::Format> current;
        reader_ = stream_->join(codecs_, &current);
        if (current) start_stream(*current);
        pump();
        return true;
      }
      case SPICE_MSGC_DISPLAY_PREFERRED_COMPRESSION:
        return msg::parse_preferred_compression(body).has_value();  // no images here
      case SPICE_MSGC_DISPLAY_PREFERRED_VIDEO_CODEC_TYPE:
        // The agent chooses the codec among those every client decodes.
        return msg::parse_preferred_video_codecs(body).has_value();
      case SPICE_MSGC_DISPLAY_STREAM_REPORT: {
        auto m = msg::parse_stream_report(body);
        if (!m) return false;
        if (m->invalid_stream()) {
          log::warn("{}: guest stream: the client cannot decode stream {}", name(), m->stream_id);
        }
        return true;
      }
      case SPICE_MSGC_DISPLAY_GL_DRAW_DONE:
        return true;
      default:
        log::warn("{}: unknown display message type {}", name(), type);
        return false;
    }
  }

 private:
  void pump() {
    if (!reader_) return;
    while (can_send()) {
      auto items = stream_->take(reader_, kTakeBatch);
      if (items.empty()) return;
      for (const auto& item : items) {
        switch (item.kind) {
          case GuestStream::Item::format:
            start_stream(item.fmt);
            break;
          case GuestStream::Item::stop:
            end_stream();
            break;
          case GuestStream::Item::frame:
            if (!stream_id_) break;  // no stream (a format it could not show)
            msg::Bytes body;
            msg::display_stream_data(body, *stream_id_, ctx_.mm_time() + kPlayoutLeadMs,
                                     *item.data);
            send(SPICE_MSG_DISPLAY_STREAM_DATA, body);
            ++frames_;
            frame_bytes_ += item.data->size();
            break;
        }
      }
    }
  }

  void end_stream() {
    if (!stream_id_) return;
    msg::Bytes body;
    msg::display_stream_destroy(body, *stream_id_);
    send(SPICE_MSG_DISPLAY_STREAM_DESTROY, body);
    stream_id_.reset();
  }

  void start_stream(const GuestStream::Format& f) {
    end_stream();
    if (f.width == 0 || f.height == 0 || f.width > kMaxSide || f.height > kMaxSide) {
      log::warn("{}: guest stream of {}x{} not shown", name(), f.width, f.height);
      return;
    }
    const Rect area{0, 0, int(f.width), int(f.height)};
    msg::Bytes body;
    if (surface_.width != area.width || surface_.height != area.height) {
      if (!surface_.empty()) {
        msg::display_surface_destroy(body, 0);
        send(SPICE_MSG_DISPLAY_SURFACE_DESTROY, body);
        body.clear();
      }
      msg::display_surface_create(body, 0, f.width, f.height, SPICE_SURFACE_FMT_32_xRGB,
                                  SPICE_SURFACE_FLAGS_PRIMARY);
      send(SPICE_MSG_DISPLAY_SURFACE_CREATE, body);
      if (has_channel_cap(SPICE_DISPLAY_CAP_MONITORS_CONFIG)) {
        body.clear();
        msg::MonitorHead head;
        head.width = f.width;
        head.height = f.height;
        msg::display_monitors_config(body, {&head, 1}, 1);
        send(SPICE_MSG_DISPLAY_MONITORS_CONFIG, body);
      }
      body.clear();
      msg::display_fill(body, 0, area, 0);
      send(SPICE_MSG_DISPLAY_DRAW_FILL, body);
      send_empty(SPICE_MSG_DISPLAY_MARK);
      surface_ = area;
    }
    // Ids cycle through a few (spice-gtk keeps streams in a small array by id), so a frame
    // still in flight for the old stream never lands on the new one.
    next_id_ = (next_id_ + 1) % kStreamIds;
    stream_id_ = next_id_;
    msg::StreamCreate m;
    m.surface_id = 0;
    m.id = *stream_id_;
    m.flags = SPICE_STREAM_FLAGS_TOP_DOWN;
    m.codec_type = f.codec;
    m.stamp = ctx_.mm_time();
    m.stream_width = m.src_width = f.width;
    m.stream_height = m.src_height = f.height;
    m.dest = area;
    body.clear();
    msg::display_stream_create(body, m);
    send(SPICE_MSG_DISPLAY_STREAM_CREATE, body);
    ++streams_;
    log::info("{}: guest stream {}: codec {} {}x{}", name(), *stream_id_, int(f.codec), f.width,
              f.height);
  }

  static constexpr uint32_t kStreamIds = 8;

  std::shared_ptr<GuestStream> stream_;
  std::vector<uint8_t> codecs_;  // what this client decodes (SPICE_VIDEO_CODEC_TYPE_*)
  uint64_t reader_ = 0;          // 0: not joined yet (before DISPLAY_INIT)
  Rect surface_{};               // the primary surface the client has (empty: none)
  std::optional<uint32_t> stream_id_;
  uint32_t next_id_ = kStreamIds - 1;
  uint64_t streams_ = 0, frames_ = 0, frame_bytes_ = 0;
};

}  // namespace

std::unique_ptr<ChannelClient> make_guest_stream_channel(ServerContext& ctx,
                                                         std::unique_ptr<Peer> peer,
                                                         const LinkMess& link, uint32_t session_id,
                                                         int desktop,
                                                         std::shared_ptr<GuestStream> stream) {
  return std::make_unique<GuestStreamChannel>(ctx, std::move(peer), link, session_id, desktop,
                                              std::move(stream));
}

}  // namespace spiceflow::net
