#pragma once
// Channel clients: one per linked socket (main, display, inputs, cursor). The base class
// frames messages (mini or full data header), enforces the size bound, runs SET_ACK/ACK
// flow control and PING/PONG, and dispatches each message to the concrete channel.
// Threading: everything here runs on the server's event-loop thread.
#include <chrono>
#include <cstdint>
#include <memory>
#include <span>
#include <string>
#include <vector>

#include "peer.hpp"
#include "spiceflow/encode/glz_encoder.hpp"
#include "spiceflow/engine/desktop.hpp"
#include "spiceflow/net/audio.hpp"
#include "spiceflow/net/link.hpp"
#include "spiceflow/net/messages.hpp"
#include "spiceflow/net/server.hpp"

namespace spiceflow::net {

class ChannelClient;
class AgentRelay;
class VmcRegistry;

/// What a channel needs from the server that owns it.
class ServerContext {
 public:
  virtual ~ServerContext() = default;
  virtual EventLoop& loop() = 0;
  virtual const ServerOptions& options() const = 0;
  virtual engine::Desktop& desktop(int index) = 0;
  virtual ServerStats& stats() = 0;
  /// Asks the server to destroy `c` (deferred: safe from inside c's callbacks).
  virtual void retire(ChannelClient* c, const std::string& reason) = 0;
  /// Milliseconds on the multimedia clock (monotonic, shared by all channels).
  virtual uint32_t mm_time() const = 0;
  /// The GLZ dictionary `id` of session `session_id`: made with `window_pixels` by the
  /// first display channel that asks, then shared by the session's display channels (the
  /// client keeps one window per session; later window sizes are ignored, as in the
  /// reference). It lives as long as the session or a channel holding it.
  virtual std::shared_ptr<encode::GlzDictionary> glz_dictionary(uint32_t session_id, uint8_t id,
                                                                int64_t window_pixels) = 0;
  /// The multimedia time of an earlier instant (an audio frame's put time).
  virtual uint32_t mm_time_at(std::chrono::steady_clock::time_point t) const = 0;
  /// The audio streams a host attached (Server::set_playback / set_record), or null.
  virtual std::shared_ptr<PlaybackStream> playback_stream() { return nullptr; }
  virtual std::shared_ptr<RecordStream> record_stream() { return nullptr; }
  /// The channels a session can link now, for MAIN_CHANNELS_LIST: display, inputs, cursor,
  /// and playback / record while a stream is attached.
  virtual std::vector<msg::ChannelId> channel_list() const = 0;
  /// Whether client mouse mode is offered now (Server::set_client_mouse).
  virtual bool client_mouse_allowed() const { return options().client_mouse; }
  /// The guest keyboard LEDs as last set (Server::set_keyboard_leds); 0 until then.
  virtual uint16_t keyboard_leds() const { return 0; }
  /// The guest's monitors on `desktop` (Server::set_guest_monitors); null: one head
  /// covering the primary surface.
  virtual const GuestMonitors* guest_monitors(int desktop) const { return nullptr; }
  /// The guest agent's side of the server; null when the host has no agent (ServerOptions::agent).
  virtual AgentRelay* agent_relay() { return nullptr; }
  /// The host's spicevmc channels; null when it has none (ServerOptions::vmc).
  virtual VmcRegistry* vmc() { return nullptr; }
};

/// The largest client message we accept; anything bigger closes the client.
inline constexpr uint32_t kMaxClientMessage = 256 * 1024;

class ChannelClient {
 public:
  ChannelClient(ServerContext& ctx, std::unique_ptr<Peer> peer, const LinkMess& link,
                uint32_t session_id, int desktop);
  virtual ~ChannelClient();
  ChannelClient(const ChannelClient&) = delete;
  ChannelClient& operator=(const ChannelClient&) = delete;

  /// Called once after the link succeeded; `leftover` holds bytes that arrived already.
  void begin();
  uint8_t channel_type() const { return link_.channel_type; }
  uint8_t channel_id() const { return link_.channel_id; }
  uint32_t session_id() const { return session_id_; }
  int desktop_index() const { return desktop_; }
  const std::string& name() const { return peer_->name(); }
  Peer& peer() { return *peer_; }
  /// Sends SPICE_MSG_DISCONNECTING and closes once it is out.
  void disconnect(const std::string& reason);
  /// A protocol violation: NOTIFY the client (error severity) and close.
  void fail(const std::string& reason);
  /// Called when this channel's desktop published a new frame or cursor state.
  virtual void on_update() {}
  /// Called when client_mouse_allowed(), keyboard_leds() or guest_monitors() of the server
  /// changed, and on
  /// an audio channel when its stream changed (AudioStream's notifier).
  virtual void on_server_state() {}
  /// The server started serving another channel (a spicevmc one) after the session began.
  virtual void on_channel_added(const msg::ChannelId& channel) {}

 protected:
  virtual void start() = 0;
  /// Handles one channel-specific message; returns false for a protocol violation
  /// (bad body), which closes this client.
  virtual bool handle(uint16_t type, std::span<const uint8_t> body) = 0;
  /// The output queue dropped below the low-water mark, or the ACK window reopened.
  virtual void on_room() {}
  /// While true, received messages wait in the input buffer (the channel pauses its peer's
  /// reading too); resume_input() handles what waits once it is false again.
  virtual bool input_paused() const { return false; }
  void resume_input();

  void send(uint16_t type, const msg::Bytes& body);
  void send_empty(uint16_t type) { send(type, {}); }
  bool has_channel_cap(uint32_t bit) const { return link_.channel_caps.has(bit); }
  bool has_common_cap(uint32_t bit) const { return link_.common_caps.has(bit); }
  /// Starts ACK flow control: sends SET_ACK; sending then pauses while more than
  /// 2 * window messages are unacknowledged.
  void start_acks(uint32_t window);
  bool waiting_for_ack() const;
  /// Room to send more (not waiting for an ACK, output queue below low water).
  bool can_send() const;
  /// Room to send `messages` more without passing the ACK window (a group that must go
  /// together, like a stream's clip, its exact covered parts and its frame).
  bool can_send(uint32_t messages) const;
  /// Sends a PING (the reply's round trip is logged at debug level).
  void send_ping();

  ServerContext& ctx_;
  std::unique_ptr<Peer> peer_;
  const LinkMess link_;
  const uint32_t session_id_;
  const int desktop_;

 private:
  void on_input();
  bool handle_common(uint16_t type, std::span<const uint8_t> body, bool* handled);

  bool mini_header_ = false;
  uint64_t serial_ = 0;
  // ACK flow control (as the SPICE client implements it: it sends ACK every `window`
  // messages after an ACK_SYNC for the current generation).
  bool acks_ = false;
  uint32_t ack_generation_ = 0;
  uint32_t client_generation_ = ~0u;
  uint32_t ack_window_ = 0;
  uint32_t unacked_ = 0;
  uint32_t ping_id_ = 0;
  std::chrono::steady_clock::time_point ping_sent_;
};

std::unique_ptr<ChannelClient> make_main_channel(ServerContext& ctx, std::unique_ptr<Peer> peer,
                                                 const LinkMess& link, uint32_t session_id,
                                                 int desktop);
std::unique_ptr<ChannelClient> make_display_channel(ServerContext& ctx,
                                                    std::unique_ptr<Peer> peer,
                                                    const LinkMess& link, uint32_t session_id,
                                                    int desktop);
class GuestStream;
/// Display channel GuestStream::channel_id(): the guest's own video stream.
std::unique_ptr<ChannelClient> make_guest_stream_channel(ServerContext& ctx,
                                                         std::unique_ptr<Peer> peer,
                                                         const LinkMess& link, uint32_t session_id,
                                                         int desktop,
                                                         std::shared_ptr<GuestStream> stream);
/// Cursor channel GuestStream::channel_id(): the streaming agent's cursor.
std::unique_ptr<ChannelClient> make_guest_cursor_channel(ServerContext& ctx,
                                                         std::unique_ptr<Peer> peer,
                                                         const LinkMess& link, uint32_t session_id,
                                                         int desktop,
                                                         std::shared_ptr<GuestStream> stream);
std::unique_ptr<ChannelClient> make_inputs_channel(ServerContext& ctx, std::unique_ptr<Peer> peer,
                                                   const LinkMess& link, uint32_t session_id,
                                                   int desktop);
std::unique_ptr<ChannelClient> make_vmc_channel(ServerContext& ctx, std::unique_ptr<Peer> peer,
                                                const LinkMess& link, uint32_t session_id,
                                                int desktop);
std::unique_ptr<ChannelClient> make_cursor_channel(ServerContext& ctx, std::unique_ptr<Peer> peer,
                                                   const LinkMess& link, uint32_t session_id,
                                                   int desktop);

std::unique_ptr<ChannelClient> make_playback_channel(ServerContext& ctx,
                                                     std::unique_ptr<Peer> peer,
                                                     const LinkMess& link, uint32_t session_id,
                                                     int desktop);
std::unique_ptr<ChannelClient> make_record_channel(ServerContext& ctx, std::unique_ptr<Peer> peer,
                                                   const LinkMess& link, uint32_t session_id,
                                                   int desktop);
/// The channel capabilities of an audio channel whose stream is in state `ctl`: VOLUME
/// always, OPUS once the host set a rate Opus supports (as the reference's set_rate).
Caps audio_channel_caps(uint8_t channel_type, const AudioControl& ctl);

/// The channel capabilities the server advertises for `channel_type` in its link reply.
Caps server_channel_caps(uint8_t channel_type);

}  // namespace spiceflow::net
