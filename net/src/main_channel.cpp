// The main channel: session set-up (INIT, NAME/UUID, CHANNELS_LIST), mouse modes and the
// multimedia clock. No agent is attached yet: agent messages are accepted and ignored.
#include <spice/enums.h>
#include <spice/protocol.h>

#include <array>

#include "channel.hpp"
#include "spiceflow/core/log.hpp"

namespace spiceflow::net {

namespace {

class MainChannel final : public ChannelClient {
 public:
  using ChannelClient::ChannelClient;

 protected:
  void start() override {
    msg::MainInit init;
    init.session_id = session_id_;
    init.display_channels_hint = 1;
    // Client mode when offered: the client draws its own pointer and sends absolute
    // positions, which is what a synthetic desktop (like a tablet device) consumes
    // directly. Without it (a guest with only a relative mouse) server mode.
    client_mouse_ = ctx_.client_mouse_allowed();
    mouse_mode_ = client_mouse_ ? SPICE_MOUSE_MODE_CLIENT : SPICE_MOUSE_MODE_SERVER;
    init.supported_mouse_modes = supported_modes();
    init.current_mouse_mode = mouse_mode_;
    init.agent_connected = 0;
    init.agent_tokens = 0;
    init.multi_media_time = ctx_.mm_time();
    init.ram_hint = 0;
    msg::Bytes body;
    msg::main_init(body, init);
    send(SPICE_MSG_MAIN_INIT, body);
    if (has_channel_cap(SPICE_MAIN_CAP_NAME_AND_UUID)) {
      body.clear();
      msg::main_name(body, ctx_.options().name);
      send(SPICE_MSG_MAIN_NAME, body);
      body.clear();
      std::array<uint8_t, 16> uuid{};
      if (ctx_.options().uuid) {
        uuid = *ctx_.options().uuid;  // the host's (QEMU -uuid)
      } else {
        // A stable per-desktop UUID: "spiceflow" + desktop index.
        const char tag[] = "spiceflow-desk";
        std::copy(tag, tag + sizeof(tag) - 1, uuid.begin());
        uuid[15] = uint8_t(desktop_);
      }
      msg::main_uuid(body, uuid);
      send(SPICE_MSG_MAIN_UUID, body);
    }
    send_ping();
  }

  bool handle(uint16_t type, std::span<const uint8_t> body) override {
    switch (type) {
      case SPICE_MSGC_MAIN_ATTACH_CHANNELS: {
        const msg::ChannelId channels[] = {{SPICE_CHANNEL_DISPLAY, 0},
                                           {SPICE_CHANNEL_INPUTS, 0},
                                           {SPICE_CHANNEL_CURSOR, 0}};
        msg::Bytes out;
        msg::main_channels_list(out, channels);
        send(SPICE_MSG_MAIN_CHANNELS_LIST, out);
        return true;
      }
      case SPICE_MSGC_MAIN_MOUSE_MODE_REQUEST: {
        auto m = msg::parse_mouse_mode_request(body);
        if (!m) return false;
        if (m->mode == SPICE_MOUSE_MODE_SERVER ||
            (m->mode == SPICE_MOUSE_MODE_CLIENT && client_mouse_)) {
          mouse_mode_ = m->mode;
        } else {
          log::info("{}: unsupported mouse mode {} requested", name(), m->mode);
        }
        send_mouse_mode();
        return true;
      }
      case SPICE_MSGC_MAIN_CLIENT_INFO:
      case SPICE_MSGC_MAIN_AGENT_START:
      case SPICE_MSGC_MAIN_AGENT_DATA:
      case SPICE_MSGC_MAIN_AGENT_TOKEN:
      case SPICE_MSGC_MAIN_QUALITY_INDICATOR:
        // No guest agent behind a synthetic desktop (AGENT_CONNECTED was never sent).
        return true;
      case SPICE_MSGC_MAIN_MIGRATE_CONNECTED:
      case SPICE_MSGC_MAIN_MIGRATE_CONNECT_ERROR:
      case SPICE_MSGC_MAIN_MIGRATE_END:
      case SPICE_MSGC_MAIN_MIGRATE_DST_DO_SEAMLESS:
      case SPICE_MSGC_MAIN_MIGRATE_CONNECTED_SEAMLESS:
        log::info("{}: migration is not supported; ignoring message {}", name(), type);
        return true;
      default:
        log::warn("{}: unknown main message type {}", name(), type);
        return false;
    }
  }

 public:
  void on_server_state() override {
    const bool allowed = ctx_.client_mouse_allowed();
    if (allowed == client_mouse_) return;
    // As the reference: withdrawn -> server mode; offered (a tablet appeared) -> client mode.
    client_mouse_ = allowed;
    mouse_mode_ = allowed ? SPICE_MOUSE_MODE_CLIENT : SPICE_MOUSE_MODE_SERVER;
    send_mouse_mode();
  }

 private:
  uint16_t supported_modes() const {
    return uint16_t(SPICE_MOUSE_MODE_SERVER | (client_mouse_ ? SPICE_MOUSE_MODE_CLIENT : 0));
  }
  void send_mouse_mode() {
    msg::Bytes out;
    msg::main_mouse_mode(out, supported_modes(), uint16_t(mouse_mode_));
    send(SPICE_MSG_MAIN_MOUSE_MODE, out);
  }

  bool client_mouse_ = true;
  uint32_t mouse_mode_ = SPICE_MOUSE_MODE_CLIENT;
};

}  // namespace

std::unique_ptr<ChannelClient> make_main_channel(ServerContext& ctx, std::unique_ptr<Peer> peer,
                                                 const LinkMess& link, uint32_t session_id,
                                                 int desktop) {
  return std::make_unique<MainChannel>(ctx, std::move(peer), link, session_id, desktop);
}

}  // namespace spiceflow::net
