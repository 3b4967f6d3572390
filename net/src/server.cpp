#include "spiceflow/net/server.hpp"

#include <arpa/inet.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <spice/enums.h>
#include <spice/protocol.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <map>
#include <mutex>
#include <random>
#include <unordered_map>

#include "agent_relay.hpp"
#include "channel.hpp"
#include "spiceflow/core/bytes.hpp"
#include "spiceflow/core/log.hpp"
#include "spiceflow/net/guest_stream.hpp"
#include "vmc_registry.hpp"

namespace spiceflow::net {

Result<ImageCompression> parse_image_compression(std::string_view name) {
  if (name == "auto" || name == "auto_lz") return ImageCompression::automatic;
  if (name == "lz4") return ImageCompression::lz4;
  if (name == "quic") return ImageCompression::quic;
  if (name == "lz") return ImageCompression::lz;
  if (name == "jpeg") return ImageCompression::jpeg;
  if (name == "off") return ImageCompression::off;
  // auto_glz is GLZ for every image, as in the reference (its QUIC choice applies to
  // photo-like images it can tell apart; our tiles all go lossless through GLZ).
  if (name == "glz" || name == "auto_glz") return ImageCompression::glz;
  return make_error("unknown image compression '" + std::string(name) +
                    "' (auto, auto_lz, lz4, quic, lz, jpeg, off, glz, auto_glz)");
}

Result<WanCompression> parse_wan_compression(std::string_view name) {
  if (name == "auto") return WanCompression::automatic;
  if (name == "always") return WanCompression::always;
  if (name == "never") return WanCompression::never;
  return make_error("unknown WAN compression '" + std::string(name) + "' (auto, always, never)");
}

namespace {

// At most this many connections may be in the link stage at once; more are refused at
// accept, so idle half-open connections cannot grow memory without bound.
constexpr size_t kMaxPendingLinks = 256;

std::string peer_name(const sockaddr_storage& ss) {
  char host[INET6_ADDRSTRLEN] = "?";
  uint16_t port = 0;
  if (ss.ss_family == AF_INET) {
    const auto* a = reinterpret_cast<const sockaddr_in*>(&ss);
    inet_ntop(AF_INET, &a->sin_addr, host, sizeof host);
    port = ntohs(a->sin_port);
  } else if (ss.ss_family == AF_INET6) {
    const auto* a = reinterpret_cast<const sockaddr_in6*>(&ss);
    inet_ntop(AF_INET6, &a->sin6_addr, host, sizeof host);
    port = ntohs(a->sin6_port);
  }
  return std::string(host) + ":" + std::to_string(port);
}

Result<int> listen_on(const std::string& addr, uint16_t port) {
  addrinfo hints{};
  hints.ai_family = AF_UNSPEC;
  hints.ai_socktype = SOCK_STREAM;
  hints.ai_flags = AI_PASSIVE | AI_NUMERICSERV;
  addrinfo* res = nullptr;
  const std::string service = std::to_string(port);
  if (int rc = getaddrinfo(addr.c_str(), service.c_str(), &hints, &res); rc != 0) {
    return make_error("cannot resolve " + addr + ": " + gai_strerror(rc));
  }
  std::string last_error = "no usable address";
  int fd = -1;
  for (addrinfo* ai = res; ai; ai = ai->ai_next) {
    fd = ::socket(ai->ai_family, ai->ai_socktype | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (fd < 0) {
      last_error = std::strerror(errno);
      continue;
    }
    int one = 1;
    setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
    if (::bind(fd, ai->ai_addr, ai->ai_addrlen) == 0 && ::listen(fd, 128) == 0) break;
    last_error = std::strerror(errno);
    ::close(fd);
    fd = -1;
  }
  freeaddrinfo(res);
  if (fd < 0) return make_error("cannot listen on " + addr + ":" + service + ": " + last_error);
  return fd;
}

}  // namespace

// One connection in the link stage: reads SpiceLinkHeader + SpiceLinkMess, answers with
// SpiceLinkReply (fresh RSA key), then reads the auth mechanism and the ticket.
class LinkSession {
 public:
  enum class State { header, mess, auth, ticket, done };

  LinkSession(Server::Impl& server, std::unique_ptr<Peer> peer, int desktop, uint64_t id);
  ~LinkSession();
  std::unique_ptr<Peer> release_peer() { return std::move(peer_); }
  uint64_t id() const { return id_; }

 private:
  void on_input();
  bool step();
  void refuse(uint32_t error, const std::string& why, bool with_reply);
  void finish_auth(const std::string& password);

  Server::Impl& server_;
  std::unique_ptr<Peer> peer_;
  const int desktop_;
  const uint64_t id_;
  State state_ = State::header;
  LinkHeader header_;
  LinkMess mess_;
  std::optional<TicketKey> key_;
  TimerId timeout_ = 0;
};

struct Server::Impl final : ServerContext {
  ServerOptions opts;
  engine::Engine& engine;
  std::unique_ptr<EventLoop> loop_;
  struct Listener {
    int fd = -1;
    WatchId watch = 0;
    int desktop = 0;
    bool secure = false;  ///< connections start with a TLS handshake
    uint16_t port = 0;
  };
  std::shared_ptr<TlsContext> tls;
  std::vector<Listener> listeners;
  std::unordered_map<uint64_t, std::unique_ptr<LinkSession>> links;
  std::unordered_map<ChannelClient*, std::unique_ptr<ChannelClient>> channels;
  struct Session {
    int desktop = 0;
    ChannelClient* main = nullptr;
    // GLZ dictionaries by the id clients give in DISPLAY_INIT (spice-gtk: one, id 1).
    std::unordered_map<uint8_t, std::shared_ptr<encode::GlzDictionary>> glz;
  };
  std::unordered_map<uint32_t, Session> sessions;
  /// sessions.size(), readable from any thread.
  std::atomic<size_t> session_count{0};
  std::vector<uint64_t> subscriptions;
  std::vector<std::unique_ptr<std::atomic<bool>>> frame_pending;
  std::mt19937 rng{std::random_device{}()};
  uint64_t next_link_id = 1;
  std::chrono::steady_clock::time_point epoch = std::chrono::steady_clock::now();
  bool stopping = false;
  bool client_mouse = true;  // loop thread
  uint16_t leds = 0;         // loop thread
  std::map<int, GuestMonitors> monitors;  // loop thread; per desktop, absent: the default
  // Addresses of linked channels, kept for their disconnected event (the socket may be
  // gone by then). Loop thread; only when opts.on_channel_event is set.
  std::unordered_map<ChannelClient*, ChannelEvent> channel_events;
  AgentRelay agent;  // loop thread (its in-flight count: any thread)
  VmcRegistry vmc_channels;  // loop thread
  // Audio streams the host attached (set_playback / set_record). Loop thread.
  std::shared_ptr<PlaybackStream> playback;
  std::shared_ptr<RecordStream> record;
  // The guest's own video stream (set_guest_stream), served as display channel
  // guest_stream->channel_id(). Loop thread.
  std::shared_ptr<GuestStream> guest_stream;

  ServerStats live;  // loop thread only
  mutable std::mutex stats_mu;
  ServerStats snapshot;  // guarded by stats_mu
  uint64_t closed_sent = 0, closed_received = 0;

  Impl(const ServerOptions& o, engine::Engine& e)
      : opts(o), engine(e), client_mouse(o.client_mouse), agent(o.agent), vmc_channels(o.vmc) {}
  ~Impl() override {
    for (size_t i = 0; i < subscriptions.size(); ++i) engine.desktop(i).unsubscribe(subscriptions[i]);
    agent.shutdown();  // closing the sessions below must not call into the host
    vmc_channels.shutdown();
    // The host may outlive us and keep calling its streams: no more wake-ups into this loop.
    if (playback) playback->set_notifier(nullptr);
    if (record) record->set_notifier(nullptr);
    if (guest_stream) guest_stream->set_notifier(nullptr);
    channels.clear();
    links.clear();
    for (auto& l : listeners) {
      if (l.fd >= 0) ::close(l.fd);
    }
  }

  // ServerContext
  EventLoop& loop() override { return *loop_; }
  const ServerOptions& options() const override { return opts; }
  engine::Desktop& desktop(int index) override { return engine.desktop(size_t(index)); }
  ServerStats& stats() override { return live; }
  uint32_t mm_time() const override { return mm_time_at(std::chrono::steady_clock::now()); }
  uint32_t mm_time_at(std::chrono::steady_clock::time_point t) const override {
    return uint32_t(std::chrono::duration_cast<std::chrono::milliseconds>(t - epoch).count());
  }
  std::shared_ptr<PlaybackStream> playback_stream() override { return playback; }
  std::shared_ptr<RecordStream> record_stream() override { return record; }
  std::vector<msg::ChannelId> channel_list() const override {
    std::vector<msg::ChannelId> list = {
        {SPICE_CHANNEL_DISPLAY, 0}, {SPICE_CHANNEL_INPUTS, 0}, {SPICE_CHANNEL_CURSOR, 0}};
    if (playback) list.push_back({SPICE_CHANNEL_PLAYBACK, 0});
    if (record) list.push_back({SPICE_CHANNEL_RECORD, 0});
    if (guest_stream) {
      list.push_back({SPICE_CHANNEL_DISPLAY, guest_stream->channel_id()});
      list.push_back({SPICE_CHANNEL_CURSOR, guest_stream->channel_id()});
    }
    for (const auto& c : vmc_channels.channels()) list.push_back(c);
    return list;
  }
  bool serves(uint8_t type, uint8_t id) const {
    if (is_guest_stream(type, id)) return true;
    const bool fixed = type == SPICE_CHANNEL_MAIN || type == SPICE_CHANNEL_DISPLAY ||
                       type == SPICE_CHANNEL_INPUTS || type == SPICE_CHANNEL_CURSOR ||
                       (type == SPICE_CHANNEL_PLAYBACK && playback) ||
                       (type == SPICE_CHANNEL_RECORD && record);
    return fixed ? id == 0 : vmc_channels.find(type, id) != nullptr;
  }
  bool is_guest_stream(uint8_t type, uint8_t id) const {
    return guest_stream && (type == SPICE_CHANNEL_DISPLAY || type == SPICE_CHANNEL_CURSOR) &&
           id == guest_stream->channel_id() && id != 0;
  }

  // Loop thread: `stream` replaces the guest stream; the old one's clients are closed.
  void attach_guest_stream(std::shared_ptr<GuestStream> stream) {
    if (guest_stream == stream) return;
    if (guest_stream) {
      guest_stream->set_notifier(nullptr);
      const uint8_t id = guest_stream->channel_id();
      for (auto& [ptr, ch] : channels) {
        if (is_guest_channel(*ch, id)) {
          ch->disconnect("the host removed the guest stream");
        }
      }
    }
    guest_stream = std::move(stream);
    if (!guest_stream) return;
    const uint8_t id = guest_stream->channel_id();
    guest_stream->set_notifier([this, id] {
      loop_->post([this, id] {
        for (auto& [ptr, ch] : channels) {
          if (is_guest_channel(*ch, id)) {
            ch->on_update();
          }
        }
      });
    });
    for (auto& [ptr, ch] : channels) {
      if (ch->channel_type() != SPICE_CHANNEL_MAIN) continue;
      ch->on_channel_added({SPICE_CHANNEL_DISPLAY, id});
      ch->on_channel_added({SPICE_CHANNEL_CURSOR, id});
    }
  }
  static bool is_guest_channel(const ChannelClient& ch, uint8_t id) {
    return (ch.channel_type() == SPICE_CHANNEL_DISPLAY ||
            ch.channel_type() == SPICE_CHANNEL_CURSOR) &&
           ch.channel_id() == id;
  }

  Caps channel_caps(uint8_t type) const {
    if (type == SPICE_CHANNEL_PLAYBACK && playback) {
      return audio_channel_caps(type, playback->control());
    }
    if (type == SPICE_CHANNEL_RECORD && record) return audio_channel_caps(type, record->control());
    return server_channel_caps(type);
  }

  // A host-side change on an audio stream (its notifier, posted here): the channel client
  // of that type catches up.
  void audio_changed(uint8_t type) {
    AudioStream* stream = type == SPICE_CHANNEL_PLAYBACK ? static_cast<AudioStream*>(playback.get())
                                                         : static_cast<AudioStream*>(record.get());
    if (!stream) return;
    stream->rearm();
    for (auto& [ptr, ch] : channels) {
      if (ch->channel_type() == type) ch->on_server_state();
    }
  }

  // Loop thread: `stream` replaces `slot`'s; the old stream's client is closed.
  template <class Stream>
  void attach_stream(std::shared_ptr<Stream>& slot, std::shared_ptr<Stream> stream, uint8_t type) {
    if (slot == stream) return;
    if (slot) {
      slot->set_notifier(nullptr);
      close_channels_of(type, "the host removed the audio device");
    }
    slot = std::move(stream);
    if (slot) {
      slot->set_notifier([this, type] { loop_->post([this, type] { audio_changed(type); }); });
    }
  }

  void close_channels_of(uint8_t type, const std::string& reason) {
    for (auto& [ptr, ch] : channels) {
      if (ch->channel_type() == type) ch->disconnect(reason);
    }
  }

  std::shared_ptr<encode::GlzDictionary> glz_dictionary(uint32_t session_id, uint8_t id,
                                                        int64_t window_pixels) override {
    auto s = sessions.find(session_id);
    if (s == sessions.end()) return std::make_shared<encode::GlzDictionary>(window_pixels);
    auto& dict = s->second.glz[id];
    if (!dict) dict = std::make_shared<encode::GlzDictionary>(window_pixels);
    return dict;
  }

  bool client_mouse_allowed() const override { return client_mouse; }
  uint16_t keyboard_leds() const override { return leds; }
  const GuestMonitors* guest_monitors(int desktop) const override {
    auto it = monitors.find(desktop);
    return it == monitors.end() ? nullptr : &it->second;
  }
  AgentRelay* agent_relay() override { return agent.enabled() ? &agent : nullptr; }
  VmcRegistry* vmc() override { return vmc_channels.enabled() ? &vmc_channels : nullptr; }
  void server_state_changed() {
    for (auto& [ptr, ch] : channels) ch->on_server_state();
  }

  void retire(ChannelClient* c, const std::string& reason) override {
    log::info("{}: channel {} closed: {}", c->name(), int(c->channel_type()), reason);
    closed_sent += c->peer().bytes_sent();
    closed_received += c->peer().bytes_received();
    // Destroy later: we are inside one of c's callbacks.
    loop_->post([this, c] {
      auto it = channels.find(c);
      if (it == channels.end()) return;
      auto owned = std::move(it->second);
      channels.erase(it);
      if (auto ev = channel_events.find(c); ev != channel_events.end()) {
        ev->second.kind = ChannelEvent::disconnected;
        opts.on_channel_event(ev->second);
        channel_events.erase(ev);
      }
      auto s = sessions.find(owned->session_id());
      if (s != sessions.end() && s->second.main == owned.get()) {
        // The session ends with its main channel: close its other channels too.
        sessions.erase(s);
        session_count.store(sessions.size());
        for (auto& [ptr, ch] : channels) {
          if (ch->session_id() == owned->session_id()) ch->disconnect("main channel closed");
        }
      }
    });
  }

  void retire_link(uint64_t id) {
    loop_->post([this, id] { links.erase(id); });
  }

  void accept_all(Listener& l) {
    while (true) {
      sockaddr_storage ss{};
      socklen_t len = sizeof ss;
      int fd = ::accept4(l.fd, reinterpret_cast<sockaddr*>(&ss), &len,
                         SOCK_NONBLOCK | SOCK_CLOEXEC);
      if (fd < 0) {
        if (errno == EINTR) continue;
        if (errno != EAGAIN && errno != EWOULDBLOCK) {
          log::warn("accept on port {}: {}", l.port, std::strerror(errno));
        }
        return;
      }
      const std::string name = peer_name(ss);
      if (links.size() >= kMaxPendingLinks || stopping) {
        log::warn("{}: refused: {} connections already in the link stage", name, links.size());
        ::close(fd);
        continue;
      }
      int one = 1;
      setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
      const uint64_t id = next_link_id++;
      SSL* ssl = nullptr;
      if (l.secure) {
        ssl = tls->new_session(fd);
        if (!ssl) {
          log::warn("{}: refused: no TLS session: {}", name, tls_error_string());
          ::close(fd);
          continue;
        }
      }
      auto peer = std::make_unique<Peer>(*loop_, fd, name, ssl);
      links.emplace(id, std::make_unique<LinkSession>(*this, std::move(peer), l.desktop, id));
    }
  }

  // Called by a LinkSession whose client passed authentication. Returns the link error.
  uint32_t attach(LinkSession& link, const LinkMess& mess, int desktop) {
    uint32_t session_id = mess.connection_id;
    if (mess.channel_type == SPICE_CHANNEL_MAIN) {
      do {
        session_id = rng();
      } while (session_id == 0 || sessions.count(session_id));
    } else {
      auto s = sessions.find(mess.connection_id);
      if (s == sessions.end() || s->second.desktop != desktop) return SPICE_LINK_ERR_BAD_CONNECTION_ID;
    }
    // An audio device may have gone away since the link message was checked.
    if (!serves(mess.channel_type, mess.channel_id)) return SPICE_LINK_ERR_CHANNEL_NOT_AVAILABLE;
    auto peer = link.release_peer();
    peer->send(build_link_result(SPICE_LINK_ERR_OK));
    std::unique_ptr<ChannelClient> ch;
    switch (mess.channel_type) {
      case SPICE_CHANNEL_MAIN:
        ch = make_main_channel(*this, std::move(peer), mess, session_id, desktop);
        sessions[session_id] = Session{desktop, ch.get(), {}};
        session_count.store(sessions.size());
        break;
      case SPICE_CHANNEL_DISPLAY:
        ch = is_guest_stream(mess.channel_type, mess.channel_id)
                 ? make_guest_stream_channel(*this, std::move(peer), mess, session_id, desktop,
                                             guest_stream)
                 : make_display_channel(*this, std::move(peer), mess, session_id, desktop);
        break;
      case SPICE_CHANNEL_INPUTS:
        ch = make_inputs_channel(*this, std::move(peer), mess, session_id, desktop);
        break;
      case SPICE_CHANNEL_CURSOR:
        ch = is_guest_stream(mess.channel_type, mess.channel_id)
                 ? make_guest_cursor_channel(*this, std::move(peer), mess, session_id, desktop,
                                             guest_stream)
                 : make_cursor_channel(*this, std::move(peer), mess, session_id, desktop);
        break;
      case SPICE_CHANNEL_PLAYBACK:
      case SPICE_CHANNEL_RECORD:
        // One client per audio channel, as the reference: the newcomer takes it over.
        close_channels_of(mess.channel_type, "another client linked this audio channel");
        ch = mess.channel_type == SPICE_CHANNEL_PLAYBACK
                 ? make_playback_channel(*this, std::move(peer), mess, session_id, desktop)
                 : make_record_channel(*this, std::move(peer), mess, session_id, desktop);
        break;
      default:
        if (!vmc_channels.find(mess.channel_type, mess.channel_id)) {
          return SPICE_LINK_ERR_CHANNEL_NOT_AVAILABLE;  // checked earlier; kept for safety
        }
        ch = make_vmc_channel(*this, std::move(peer), mess, session_id, desktop);
        break;
    }
    ++live.links_ok;
    log::info("{}: linked channel {} (session {:#x}, desktop {})", ch->name(),
              int(mess.channel_type), session_id, desktop);
    ChannelClient* raw = ch.get();
    channels.emplace(raw, std::move(ch));
    if (opts.on_channel_event) {
      ChannelEvent ev;
      ev.channel_key = reinterpret_cast<uintptr_t>(raw);
      ev.connection_id = session_id;
      ev.channel_type = mess.channel_type;
      ev.channel_id = mess.channel_id;
      ev.channel_caps = mess.channel_caps;
      ev.local_len = sizeof ev.local;
      ev.peer_len = sizeof ev.peer;
      if (::getsockname(raw->peer().fd(), reinterpret_cast<sockaddr*>(&ev.local), &ev.local_len) != 0) {
        ev.local_len = 0;
      }
      if (::getpeername(raw->peer().fd(), reinterpret_cast<sockaddr*>(&ev.peer), &ev.peer_len) != 0) {
        ev.peer_len = 0;
      }
      opts.on_channel_event(ev);
      ev.kind = ChannelEvent::initialized;
      opts.on_channel_event(ev);
      channel_events[raw] = ev;
    }
    raw->begin();
    return SPICE_LINK_ERR_OK;
  }

  void frame_ready(int desktop) {
    frame_pending[size_t(desktop)]->store(false);
    for (auto& [ptr, ch] : channels) {
      if (ch->desktop_index() == desktop) ch->on_update();
    }
  }

  void publish_stats() {
    ServerStats s = live;
    s.bytes_sent = closed_sent;
    s.bytes_received = closed_received;
    for (auto& [ptr, ch] : channels) {
      s.bytes_sent += ch->peer().bytes_sent();
      s.bytes_received += ch->peer().bytes_received();
    }
    std::lock_guard lock(stats_mu);
    snapshot = s;
  }
};

LinkSession::LinkSession(Server::Impl& server, std::unique_ptr<Peer> peer, int desktop,
                         uint64_t id)
    : server_(server), peer_(std::move(peer)), desktop_(desktop), id_(id) {
  peer_->set_input_limit(kLinkHeaderSize + kMaxLinkMessSize + 1024);
  peer_->on_input([this] { on_input(); });
  peer_->on_close([this](const std::string& reason) {
    log::info("{}: link closed: {}", peer_ ? peer_->name() : std::string("?"), reason);
    server_.retire_link(id_);
  });
  timeout_ = server_.loop().add_timer(server_.opts.link_timeout, [this] {
    timeout_ = 0;
    ++server_.live.links_refused;
    if (peer_) peer_->close("link not completed within the link timeout");
  });
}

LinkSession::~LinkSession() {
  if (timeout_) server_.loop().cancel_timer(timeout_);
  if (peer_) {
    peer_->on_close(nullptr);
    peer_->close("link session ended");
  }
}

void LinkSession::refuse(uint32_t error, const std::string& why, bool with_reply) {
  log::warn("{}: link refused: {}", peer_->name(), why);
  ++server_.live.links_refused;
  if (with_reply) {
    if (state_ == State::ticket || state_ == State::auth) {
      peer_->send(build_link_result(error));
    } else {
      peer_->send(build_link_reply(error, {}, Caps{}, Caps{}));
    }
  }
  state_ = State::done;
  peer_->close_after_flush("link refused: " + why);
}

void LinkSession::on_input() {
  while (peer_ && !peer_->closing() && state_ != State::done) {
    if (!step()) return;
  }
}

// Consumes one link-stage element if complete; returns false when more bytes are needed.
bool LinkSession::step() {
  auto in = peer_->input();
  switch (state_) {
    case State::header: {
      if (in.size() < kLinkHeaderSize) return false;
      uint32_t err = SPICE_LINK_ERR_OK;
      auto h = parse_link_header(in.first(kLinkHeaderSize), &err);
      if (!h) {
        // A peer that does not even send the magic is not a SPICE client: no reply.
        refuse(err, h.error().message, err != SPICE_LINK_ERR_OK && err != SPICE_LINK_ERR_INVALID_MAGIC);
        return false;
      }
      header_ = *h;
      peer_->consume(kLinkHeaderSize);
      state_ = State::mess;
      return true;
    }
    case State::mess: {
      if (in.size() < header_.size) return false;
      auto m = parse_link_mess(in.first(header_.size));
      if (!m) {
        refuse(SPICE_LINK_ERR_INVALID_DATA, m.error().message, true);
        return false;
      }
      mess_ = std::move(*m);
      peer_->consume(header_.size);
      const uint8_t t = mess_.channel_type;
      if (!server_.serves(t, mess_.channel_id)) {
        refuse(SPICE_LINK_ERR_CHANNEL_NOT_AVAILABLE,
               "channel type " + std::to_string(t) + " id " + std::to_string(mess_.channel_id) +
                   " is not served",
               true);
        return false;
      }
      if (!peer_->secure() && server_.opts.tls.enabled() && server_.opts.tls.requires_tls(t)) {
        refuse(SPICE_LINK_ERR_NEED_SECURED,
               "channel type " + std::to_string(t) + " is served over TLS only", true);
        return false;
      }
      auto key = TicketKey::generate();
      if (!key) {
        refuse(SPICE_LINK_ERR_ERROR, "RSA key generation failed: " + key.error().message, true);
        return false;
      }
      key_.emplace(std::move(*key));
      Caps common;
      common.set(SPICE_COMMON_CAP_PROTOCOL_AUTH_SELECTION);
      common.set(SPICE_COMMON_CAP_AUTH_SPICE);
      common.set(SPICE_COMMON_CAP_MINI_HEADER);
      peer_->send(build_link_reply(SPICE_LINK_ERR_OK, key_->public_der(), common,
                                   server_.channel_caps(t)));
      state_ = mess_.common_caps.has(SPICE_COMMON_CAP_PROTOCOL_AUTH_SELECTION) ? State::auth
                                                                                 : State::ticket;
      return true;
    }
    case State::auth: {
      if (in.size() < 4) return false;
      ByteReader r(in);
      const uint32_t mech = r.u32();
      peer_->consume(4);
      if (mech != SPICE_COMMON_CAP_AUTH_SPICE) {
        refuse(SPICE_LINK_ERR_INVALID_DATA,
               "auth mechanism " + std::to_string(mech) + " is not offered (only SPICE tickets)",
               true);
        return false;
      }
      state_ = State::ticket;
      return true;
    }
    case State::ticket: {
      if (in.size() < kEncryptedTicketSize) return false;
      auto password = key_->decrypt(in.first(kEncryptedTicketSize));
      peer_->consume(kEncryptedTicketSize);
      const auto& policy = server_.opts.ticket;
      if (!policy.disabled) {
        if (!password) {
          refuse(SPICE_LINK_ERR_PERMISSION_DENIED, "ticket does not decrypt", true);
          return false;
        }
        if (!policy.accepts(*password)) {
          refuse(SPICE_LINK_ERR_PERMISSION_DENIED,
                 policy.expires && std::chrono::system_clock::now() >= *policy.expires
                     ? "password expired"
                     : "wrong password",
                 true);
          return false;
        }
      }
      if (timeout_) {
        server_.loop().cancel_timer(timeout_);
        timeout_ = 0;
      }
      state_ = State::done;
      peer_->on_close(nullptr);
      peer_->on_input(nullptr);
      const uint32_t err = server_.attach(*this, mess_, desktop_);
      if (err != SPICE_LINK_ERR_OK) {
        state_ = State::ticket;  // so refuse() sends the u32 result
        refuse(err,
               err == SPICE_LINK_ERR_CHANNEL_NOT_AVAILABLE
                   ? "channel type " + std::to_string(mess_.channel_type) + " is no longer served"
                   : "connection id " + std::to_string(mess_.connection_id) + " is unknown",
               true);
      }
      server_.retire_link(id_);
      return false;
    }
    case State::done:
      return false;
  }
  return false;
}

Server::Server(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}
Server::~Server() = default;

Result<std::unique_ptr<Server>> Server::create(const ServerOptions& opts, engine::Engine& engine) {
  auto impl = std::make_unique<Impl>(opts, engine);
  auto loop = make_event_loop(opts.io);
  if (!loop) return loop.error();
  impl->loop_ = std::move(*loop);
  if (opts.port == 0 && !opts.tls.enabled()) return make_error("no port to listen on");
  if (opts.tls.enabled()) {
    auto ctx = TlsContext::create(opts.tls);
    if (!ctx) return ctx.error();
    impl->tls = std::move(*ctx);
  }
  for (size_t i = 0; i < engine.size(); ++i) {
    for (const bool secure : {false, true}) {
      const uint16_t base = secure ? opts.tls.port : opts.port;
      if (base == 0) continue;
      const uint32_t port = uint32_t(base) + uint32_t(i);
      if (port > 65535) return make_error("port " + std::to_string(port) + " is out of range");
      auto fd = listen_on(opts.addr, uint16_t(port));
      if (!fd) return fd.error();
      impl->listeners.push_back({*fd, 0, int(i), secure, uint16_t(port)});
    }
  }
  Impl* p = impl.get();
  for (auto& l : impl->listeners) {
    Impl::Listener* lp = &l;
    l.watch = impl->loop_->watch(l.fd, kReadable, [p, lp](uint32_t) { p->accept_all(*lp); });
  }
  for (size_t i = 0; i < engine.size(); ++i) {
    impl->frame_pending.push_back(std::make_unique<std::atomic<bool>>(false));
    // Called on a pipeline thread: coalesce into at most one pending wake-up per desktop.
    impl->subscriptions.push_back(engine.desktop(i).subscribe([p, i] {
      if (!p->frame_pending[i]->exchange(true)) p->loop_->post([p, i] { p->frame_ready(int(i)); });
    }));
  }
  impl->loop_->add_periodic(std::chrono::milliseconds(500), [p] { p->publish_stats(); });
  return std::unique_ptr<Server>(new Server(std::move(impl)));
}

IoBackend Server::io_backend() const { return impl_->loop_->backend(); }

Status Server::run() {
  for (auto& l : impl_->listeners) {
    log::info("listening on {}:{}{} (desktop {}, io backend {})", impl_->opts.addr, l.port,
              l.secure ? " with TLS" : "", l.desktop, to_string(impl_->loop_->backend()));
  }
  auto st = impl_->loop_->run();
  impl_->publish_stats();
  return st;
}

void Server::stop() {
  Impl* p = impl_.get();
  p->loop_->post([p] {
    if (p->stopping) return;
    p->stopping = true;
    for (auto& [ptr, ch] : p->channels) ch->disconnect("server shutting down");
    // Give DISCONNECTING a moment to reach the clients.
    p->loop_->add_timer(std::chrono::milliseconds(100), [p] { p->loop_->stop(); });
  });
}

void Server::set_ticket(const TicketPolicy& ticket) {
  Impl* p = impl_.get();
  p->loop_->post([p, ticket] { p->opts.ticket = ticket; });
}

size_t Server::session_count() const { return impl_->session_count.load(); }

void Server::disconnect_all(const std::string& reason) {
  Impl* p = impl_.get();
  p->loop_->post([p, reason] {
    for (auto& [ptr, ch] : p->channels) ch->disconnect(reason);
  });
}

void Server::set_client_mouse(bool allowed) {
  Impl* p = impl_.get();
  p->loop_->post([p, allowed] {
    if (p->client_mouse == allowed) return;
    p->client_mouse = allowed;
    p->server_state_changed();
  });
}

void Server::set_keyboard_leds(uint16_t leds) {
  Impl* p = impl_.get();
  p->loop_->post([p, leds] {
    if (p->leds == leds) return;
    p->leds = leds;
    p->server_state_changed();
  });
}

void Server::set_guest_monitors(int desktop, std::optional<GuestMonitors> monitors) {
  Impl* p = impl_.get();
  p->loop_->post([p, desktop, monitors = std::move(monitors)]() mutable {
    if (monitors) {
      p->monitors[desktop] = std::move(*monitors);
    } else if (p->monitors.erase(desktop) == 0) {
      return;
    }
    for (auto& [ptr, ch] : p->channels) {
      if (ch->channel_type() == SPICE_CHANNEL_DISPLAY && ch->desktop_index() == desktop) {
        ch->on_server_state();
      }
    }
  });
}

void Server::set_agent_attached(bool attached) {
  Impl* p = impl_.get();
  p->loop_->post([p, attached] { p->agent.set_attached(attached); });
}

bool Server::agent_send(std::vector<uint8_t> piece, bool message_start) {
  Impl* p = impl_.get();
  const bool room = p->agent.reserve();
  p->loop_->post([p, piece = std::move(piece), message_start]() mutable {
    p->agent.send(std::move(piece), message_start);
  });
  return room;
}

bool Server::agent_has_room() const { return impl_->agent.has_room(); }

void Server::agent_consumed(uint32_t session, uint64_t generation) {
  Impl* p = impl_.get();
  p->loop_->post([p, session, generation] { p->agent.consumed(session, generation); });
}

void Server::set_agent_filter(bool copy_paste, bool file_xfer) {
  Impl* p = impl_.get();
  p->loop_->post([p, copy_paste, file_xfer] { p->agent.set_filter({copy_paste, file_xfer}); });
}

void Server::set_playback(std::shared_ptr<PlaybackStream> stream) {
  Impl* p = impl_.get();
  p->loop_->post([p, stream] { p->attach_stream(p->playback, stream, SPICE_CHANNEL_PLAYBACK); });
}

void Server::set_record(std::shared_ptr<RecordStream> stream) {
  Impl* p = impl_.get();
  p->loop_->post([p, stream] { p->attach_stream(p->record, stream, SPICE_CHANNEL_RECORD); });
}

void Server::set_guest_stream(std::shared_ptr<GuestStream> stream) {
  Impl* p = impl_.get();
  p->loop_->post([p, stream] { p->attach_guest_stream(stream); });
}

void Server::add_vmc_channel(uint8_t type, uint8_t id, std::string port_name, bool opened) {
  Impl* p = impl_.get();
  p->loop_->post([p, type, id, name = std::move(port_name), opened]() mutable {
    p->vmc_channels.add(type, id, std::move(name), opened);
    for (auto& [ptr, ch] : p->channels) {
      if (ch->channel_type() == SPICE_CHANNEL_MAIN) ch->on_channel_added({type, id});
    }
  });
}

void Server::remove_vmc_channel(uint8_t type, uint8_t id) {
  Impl* p = impl_.get();
  p->loop_->post([p, type, id] { p->vmc_channels.remove(type, id); });
}

void Server::vmc_send(uint8_t type, uint8_t id, std::vector<uint8_t> data) {
  Impl* p = impl_.get();
  p->loop_->post([p, type, id, data = std::move(data)]() mutable {
    p->vmc_channels.send(type, id, std::move(data));
  });
}

void Server::vmc_port_event(uint8_t type, uint8_t id, uint8_t event) {
  Impl* p = impl_.get();
  p->loop_->post([p, type, id, event] { p->vmc_channels.port_event(type, id, event); });
}

void Server::vmc_consumed(uint8_t type, uint8_t id, uint64_t connection) {
  Impl* p = impl_.get();
  p->loop_->post([p, type, id, connection] { p->vmc_channels.consumed(type, id, connection); });
}

ServerStats Server::stats() const {
  std::lock_guard lock(impl_->stats_mu);
  return impl_->snapshot;
}

}  // namespace spiceflow::net
