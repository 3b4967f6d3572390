// The cursor channel: CURSOR_INIT with the pointer shape (a generated arrow, ARGB) and
// position. In client mouse mode the client draws the pointer itself; in server mode the
// position would follow CURSOR_MOVE (the synthetic desktops draw their own marker).
#include <spice/enums.h>
#include <spice/protocol.h>

#include "channel.hpp"
#include "spiceflow/core/log.hpp"

namespace spiceflow::net {

namespace {

constexpr uint32_t kAckWindow = 20;

// A 12x19 arrow: black outline, white fill, transparent elsewhere.
msg::CursorShape make_arrow() {
  msg::CursorShape s;
  s.unique = 0x5350494345464c57ull;  // stable id for the client's cursor cache
  s.width = 12;
  s.height = 19;
  s.pixels.assign(size_t(s.width) * s.height * 4, 0);
  for (int y = 0; y < s.height; ++y) {
    // The arrow's right edge widens by one pixel per row, then a stem below row 12.
    const int edge = y < 12 ? y : (y < 16 ? 4 + (y - 12) / 2 : -1);
    for (int x = 0; x < s.width; ++x) {
      uint32_t argb = 0;
      if (edge >= 0 && x <= edge) {
        const bool border = x == 0 || x == edge || y == 11;
        argb = border ? 0xff000000u : 0xffffffffu;
      }
      std::memcpy(&s.pixels[(size_t(y) * s.width + size_t(x)) * 4], &argb, 4);
    }
  }
  return s;
}

class CursorChannel final : public ChannelClient {
 public:
  using ChannelClient::ChannelClient;

 protected:
  void start() override {
    start_acks(kAckWindow);
    static const msg::CursorShape kArrow = make_arrow();
    msg::Bytes body;
    msg::cursor_init(body, Point{0, 0}, 0, 0, true, &kArrow);
    send(SPICE_MSG_CURSOR_INIT, body);
  }

  bool handle(uint16_t type, std::span<const uint8_t> body) override {
    log::warn("{}: unknown cursor message type {}", name(), type);
    return false;
  }
};

}  // namespace

std::unique_ptr<ChannelClient> make_cursor_channel(ServerContext& ctx, std::unique_ptr<Peer> peer,
                                                   const LinkMess& link, uint32_t session_id,
                                                   int desktop) {
  return std::make_unique<CursorChannel>(ctx, std::move(peer), link, session_id, desktop);
}

}  // namespace spiceflow::net
