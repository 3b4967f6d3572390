// The main channel: session set-up (INIT, NAME/UUID, CHANNELS_LIST), mouse modes, the
// multimedia clock, and the guest agent's traffic (AGENT_*), as the reference's
// main-channel-client.cpp and reds.cpp do it:
// - client -> agent: the client may send agent::kClientWindow AGENT_DATA messages ahead
//   (MAIN_INIT / AGENT_CONNECTED_TOKENS); each is checked (size, VDAgentMessage framing,
//   the copy & paste / file transfer filter) and handed to the host's device; its token
//   comes back (AGENT_TOKEN, agent::kTokenBatch at a time) once the host has written it.
//   A message over the client's tokens or malformed closes this client.
// - agent -> client: after AGENT_START the client receives the agent's output within the
//   tokens it gives (AGENT_START, AGENT_TOKEN), starting at a message boundary.
#include <spice/enums.h>
#include <spice/protocol.h>

#include <array>
#include <deque>

#include "agent_relay.hpp"
#include "channel.hpp"
#include "spiceflow/core/bytes.hpp"
#include "spiceflow/core/log.hpp"

namespace spiceflow::net {

namespace {

class MainChannel final : public ChannelClient, public AgentEndpoint {
 public:
  MainChannel(ServerContext& ctx, std::unique_ptr<Peer> peer, const LinkMess& link,
              uint32_t session_id, int desktop)
      : ChannelClient(ctx, std::move(peer), link, session_id, desktop),
        relay_(ctx.agent_relay()) {
    if (relay_) relay_->add(this);
  }
  ~MainChannel() override {
    if (relay_) relay_->remove(this);
  }

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
    init.agent_connected = relay_ && relay_->attached() ? 1 : 0;
    init.agent_tokens = agent::kClientWindow;
    reset_agent();
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
        msg::Bytes out;
        msg::main_channels_list(out, ctx_.channel_list());
        send(SPICE_MSG_MAIN_CHANNELS_LIST, out);
        channels_listed_ = true;
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
      case SPICE_MSGC_MAIN_AGENT_START: {
        ByteReader r(body);
        const uint32_t tokens = r.u32();
        if (!r.ok()) return false;
        if (!relay_ || !relay_->attached()) return true;  // as the reference: no agent, no-op
        agent_started_ = true;
        send_tokens_ = tokens;
        write_filter_.configure(relay_->filter());
        write_filter_.set_discard_all(false);
        synced_ = false;
        relay_->started();
        return true;
      }
      case SPICE_MSGC_MAIN_AGENT_TOKEN: {
        ByteReader r(body);
        const uint32_t tokens = r.u32();
        if (!r.ok()) return false;
        if (!relay_ || !relay_->attached()) return true;
        send_tokens_ += tokens;
        flush_agent();
        return true;
      }
      case SPICE_MSGC_MAIN_AGENT_DATA:
        return agent_data(body);
      case SPICE_MSGC_MAIN_CLIENT_INFO:
      case SPICE_MSGC_MAIN_QUALITY_INDICATOR:
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

  // AgentEndpoint (loop thread)
  void agent_attached(bool attached) override {
    reset_agent();
    msg::Bytes out;
    if (!attached) {
      ByteWriter(out).u32(SPICE_LINK_ERR_OK);
      send(SPICE_MSG_MAIN_AGENT_DISCONNECTED, out);
    } else if (has_channel_cap(SPICE_MAIN_CAP_AGENT_CONNECTED_TOKENS)) {
      ByteWriter(out).u32(agent::kClientWindow);
      send(SPICE_MSG_MAIN_AGENT_CONNECTED_TOKENS, out);
    } else {
      send_empty(SPICE_MSG_MAIN_AGENT_CONNECTED);
    }
  }
  void agent_output(const std::shared_ptr<const AgentPiece>& piece) override {
    if (!agent_started_) return;
    // A client that started mid-message gets the agent's output from the next message on.
    if (!synced_ && !piece->message_start()) return;
    synced_ = true;
    agent_out_.push_back(piece);
    flush_agent();
  }
  void agent_consumed(uint64_t generation) override {
    if (!relay_ || generation != relay_->generation()) return;  // an older agent's window
    give_tokens(tokens_.release());
  }
  uint32_t agent_session() const override { return session_id_; }

  void on_channel_added(const msg::ChannelId& channel) override {
    // As the reference's MAIN_REGISTERED_CHANNEL: only a client that has the list hears of
    // it (the others get it in theirs).
    if (!channels_listed_) return;
    msg::Bytes out;
    msg::main_channels_list(out, std::span(&channel, 1));
    send(SPICE_MSG_MAIN_CHANNELS_LIST, out);
  }

 protected:
  void on_room() override { flush_agent(); }

 private:
  // The agent (re)connected or went away: the client starts over with a full window and
  // must send AGENT_START again; what was queued for it belonged to the old agent.
  void reset_agent() {
    agent_started_ = false;
    send_tokens_ = 0;
    synced_ = false;
    agent_out_.clear();
    tokens_.reset();
    // Until AGENT_START the client's data goes nowhere (the reference's discard_all).
    write_filter_.reset(true);
  }

  bool agent_data(std::span<const uint8_t> body) {
    if (!relay_ || !relay_->attached() || !agent_started_) {
      // Sent before AGENT_START or for an agent that has gone: dropped (the reference
      // accepts and discards it, without counting tokens).
      return true;
    }
    if (!tokens_.take()) {
      fail("agent token violation: AGENT_DATA beyond the " +
           std::to_string(agent::kClientWindow) + "-message window");
      return true;
    }
    switch (write_filter_.process(body)) {
      case agent::MessageFilter::Verdict::protocol_error:
        fail("invalid agent data: " + write_filter_.error());
        return true;
      case agent::MessageFilter::Verdict::discard:
        give_tokens(tokens_.release());
        return true;
      case agent::MessageFilter::Verdict::forward:
        relay_->to_device(AgentChunk{session_id_, relay_->generation(),
                                     std::vector<uint8_t>(body.begin(), body.end())});
        return true;
    }
    return true;
  }

  void give_tokens(uint32_t n) {
    if (n == 0) return;
    msg::Bytes out;
    ByteWriter(out).u32(n);
    send(SPICE_MSG_MAIN_AGENT_TOKEN, out);
  }

  void flush_agent() {
    while (!agent_out_.empty() && send_tokens_ > 0 && can_send()) {
      send(SPICE_MSG_MAIN_AGENT_DATA, agent_out_.front()->data());
      agent_out_.pop_front();
      --send_tokens_;
    }
  }

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
  bool channels_listed_ = false;  // CHANNELS_LIST was sent

  // The guest agent (all loop thread).
  AgentRelay* const relay_;  // null: the host has no agent
  bool agent_started_ = false;                // AGENT_START since the agent (re)connected
  uint64_t send_tokens_ = 0;                  // AGENT_DATA we may still send
  bool synced_ = false;                       // output is flowing from a message start
  std::deque<std::shared_ptr<const AgentPiece>> agent_out_;  // ≤ Server::kAgentInFlight
  agent::TokenWindow tokens_;                 // the client's tokens for AGENT_DATA
  agent::MessageFilter write_filter_{{}, true};
};

}  // namespace

std::unique_ptr<ChannelClient> make_main_channel(ServerContext& ctx, std::unique_ptr<Peer> peer,
                                                 const LinkMess& link, uint32_t session_id,
                                                 int desktop) {
  return std::make_unique<MainChannel>(ctx, std::move(peer), link, session_id, desktop);
}

}  // namespace spiceflow::net
