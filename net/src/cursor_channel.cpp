// The cursor channel: CURSOR_INIT with the desktop's pointer (shape, position, visibility),
// then CURSOR_SET when the shape changes or the pointer reappears, CURSOR_MOVE when only
// the position changes (server mouse mode), CURSOR_HIDE when the source hides it. The guest
// stream's cursor channel (id GuestStream::channel_id()) serves the streaming agent's cursor
// the same way. Like the display channel it pulls the newest published state, so nothing
// queues up.
#include <spice/enums.h>
#include <spice/protocol.h>

#include <cstring>
#include <functional>

#include "channel.hpp"
#include "spiceflow/core/log.hpp"
#include "spiceflow/net/guest_stream.hpp"

namespace spiceflow::net {

namespace {

constexpr uint32_t kAckWindow = 20;

msg::CursorShape to_wire(const CursorShape& shape) {
  msg::CursorShape s;
  s.unique = shape.id;
  s.width = uint16_t(shape.pixels->width());
  s.height = uint16_t(shape.pixels->height());
  s.hot_x = uint16_t(shape.hotspot.x);
  s.hot_y = uint16_t(shape.hotspot.y);
  // Image pixels are 0xAARRGGBB words in little-endian memory: exactly SPICE's ALPHA layout.
  s.pixels.resize(size_t(s.width) * s.height * 4);
  for (int y = 0; y < s.height; ++y) {
    std::memcpy(&s.pixels[size_t(y) * s.width * 4], shape.pixels->row(y), size_t(s.width) * 4);
  }
  return s;
}

class CursorChannel final : public ChannelClient {
 public:
  using State = std::function<std::shared_ptr<const engine::CursorState>()>;
  CursorChannel(ServerContext& ctx, std::unique_ptr<Peer> peer, const LinkMess& link,
                uint32_t session_id, int desktop, State state)
      : ChannelClient(ctx, std::move(peer), link, session_id, desktop), state_(std::move(state)) {}
  void on_update() override { pump(); }

 protected:
  void start() override {
    start_acks(kAckWindow);
    const auto state = state_();
    msg::Bytes body;
    if (state->shape && state->shape->pixels && state->shape->pixels->width() <= 512 &&
        state->shape->pixels->height() <= 512) {
      const auto wire = to_wire(*state->shape);
      msg::cursor_init(body, state->pos, 0, 0, state->visible, &wire);
    } else {
      msg::cursor_init(body, state->pos, 0, 0, false, nullptr);
    }
    send(SPICE_MSG_CURSOR_INIT, body);
    sent_ = *state;
  }

  void on_room() override { pump(); }

  bool handle(uint16_t type, std::span<const uint8_t> body) override {
    log::warn("{}: unknown cursor message type {}", name(), type);
    return false;
  }

 private:
  void pump() {
    if (!can_send()) return;
    const auto state = state_();
    if (state->version == sent_.version) return;
    msg::Bytes body;
    if (!state->visible) {
      if (sent_.visible) send_empty(SPICE_MSG_CURSOR_HIDE);
    } else if (!sent_.visible || state->shape_version != sent_.shape_version) {
      msg::cursor_set(body, state->pos, true, to_wire(*state->shape));
      send(SPICE_MSG_CURSOR_SET, body);
    } else if (state->pos != sent_.pos) {
      msg::cursor_move(body, state->pos);
      send(SPICE_MSG_CURSOR_MOVE, body);
    }
    sent_ = *state;
  }

  State state_;  // the desktop's cursor, or the guest stream's
  engine::CursorState sent_;
};

}  // namespace

std::unique_ptr<ChannelClient> make_cursor_channel(ServerContext& ctx, std::unique_ptr<Peer> peer,
                                                   const LinkMess& link, uint32_t session_id,
                                                   int desktop) {
  engine::Desktop& d = ctx.desktop(desktop);
  return std::make_unique<CursorChannel>(ctx, std::move(peer), link, session_id, desktop,
                                         [&d] { return d.cursor(); });
}

std::unique_ptr<ChannelClient> make_guest_cursor_channel(ServerContext& ctx,
                                                         std::unique_ptr<Peer> peer,
                                                         const LinkMess& link, uint32_t session_id,
                                                         int desktop,
                                                         std::shared_ptr<GuestStream> stream) {
  return std::make_unique<CursorChannel>(ctx, std::move(peer), link, session_id, desktop,
                                         [stream] { return stream->cursor(); });
}

}  // namespace spiceflow::net
