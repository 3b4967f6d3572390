// The inputs channel: keyboard scancodes, modifiers and mouse events from the client,
// delivered to the desktop's source. Every SPICE_INPUT_MOTION_ACK_BUNCH motion/position
// messages are acknowledged, or the client stops sending motion.
#include <spice/enums.h>
#include <spice/protocol.h>

#include "channel.hpp"
#include "spiceflow/core/log.hpp"

namespace spiceflow::net {

namespace {

class InputsChannel final : public ChannelClient {
 public:
  using ChannelClient::ChannelClient;

 protected:
  void start() override {
    // The guest keyboard's LEDs when a host reports them (compat/), else 0.
    leds_ = ctx_.keyboard_leds();
    modifiers_ = leds_;
    msg::Bytes body;
    msg::inputs_init(body, modifiers_);
    send(SPICE_MSG_INPUTS_INIT, body);
  }

 public:
  void on_server_state() override {
    const uint16_t leds = ctx_.keyboard_leds();
    if (leds == leds_) return;
    leds_ = leds;
    modifiers_ = leds;
    msg::Bytes out;
    msg::inputs_key_modifiers(out, leds);
    send(SPICE_MSG_INPUTS_KEY_MODIFIERS, out);
  }

 protected:
  bool handle(uint16_t type, std::span<const uint8_t> body) override {
    auto& desk = ctx_.desktop(desktop_);
    switch (type) {
      case SPICE_MSGC_INPUTS_KEY_DOWN:
      case SPICE_MSGC_INPUTS_KEY_UP: {
        auto m = msg::parse_key_code(body);
        if (!m) return false;
        desk.post_input(KeyEvent{m->code, type == SPICE_MSGC_INPUTS_KEY_DOWN});
        return true;
      }
      case SPICE_MSGC_INPUTS_KEY_MODIFIERS: {
        auto m = msg::parse_key_modifiers(body);
        if (!m) return false;
        modifiers_ = m->modifiers;
        // Echo the LED state back, as a keyboard device would after applying it.
        msg::Bytes out;
        msg::inputs_key_modifiers(out, modifiers_);
        send(SPICE_MSG_INPUTS_KEY_MODIFIERS, out);
        return true;
      }
      case SPICE_MSGC_INPUTS_MOUSE_MOTION: {
        auto m = msg::parse_mouse_motion(body);
        if (!m) return false;
        desk.post_input(MotionEvent{m->dx, m->dy, m->buttons});
        count_motion();
        return true;
      }
      case SPICE_MSGC_INPUTS_MOUSE_POSITION: {
        auto m = msg::parse_mouse_position(body);
        if (!m) return false;
        if (m->display_id == 0) {
          desk.post_input(PointerEvent{int32_t(m->x), int32_t(m->y), m->buttons});
        }
        count_motion();
        return true;
      }
      case SPICE_MSGC_INPUTS_MOUSE_PRESS:
      case SPICE_MSGC_INPUTS_MOUSE_RELEASE: {
        auto m = msg::parse_mouse_button(body);
        if (!m) return false;
        desk.post_input(ButtonEvent{m->button, type == SPICE_MSGC_INPUTS_MOUSE_PRESS, m->buttons});
        return true;
      }
      case SPICE_MSGC_INPUTS_KEY_SCANCODE:
        // Not offered (no SPICE_INPUTS_CAP_KEY_SCANCODE); clients use KEY_DOWN/KEY_UP.
        log::debug("{}: ignoring KEY_SCANCODE", name());
        return true;
      default:
        log::warn("{}: unknown inputs message type {}", name(), type);
        return false;
    }
  }

 private:
  void count_motion() {
    if (++motions_ % SPICE_INPUT_MOTION_ACK_BUNCH == 0) {
      send_empty(SPICE_MSG_INPUTS_MOUSE_MOTION_ACK);
    }
  }

  uint16_t modifiers_ = 0;
  uint16_t leds_ = 0;  // the guest LEDs last sent
  uint64_t motions_ = 0;
};

}  // namespace

std::unique_ptr<ChannelClient> make_inputs_channel(ServerContext& ctx, std::unique_ptr<Peer> peer,
                                                   const LinkMess& link, uint32_t session_id,
                                                   int desktop) {
  return std::make_unique<InputsChannel>(ctx, std::move(peer), link, session_id, desktop);
}

}  // namespace spiceflow::net
