// spice_server_*: life cycle and configuration of a SpiceServer (struct RedsState).
// Configuration is stored in the RedsState and applied at spice_server_init, which builds
// the engine (one Desktop fed by a QxlSource), the net::Server and its event-loop thread.
// Calls spiceflow does not support log once and return the documented failure value.
#include <spice/enums.h>
#include <spice/protocol.h>

#include <algorithm>
#include <chrono>
#include <cstdlib>
#include <cstring>
#include <random>

#include "abi.hpp"
#include "agent_port.hpp"
#include "host_mailbox.hpp"
#include "stream_port.hpp"
#include "smartcard.hpp"
#include "vmc_port.hpp"
#include "qxl_source.hpp"
#include "qxl_worker.hpp"
#include "record.hpp"
#include "reds.hpp"
#include "spiceflow/core/log.hpp"
#include "spiceflow/engine/desktop.hpp"

using namespace spiceflow;
using compat::InputBridge;
using compat::QxlSource;

namespace {

// The reference refuses every client while ticketing is on and no password is set; a random
// password nobody knows gives the same result with net's ticket check.
std::string unguessable_password() {
  std::random_device rd;
  std::string out;
  const char* hex = "0123456789abcdef";
  for (int i = 0; i < 32; ++i) out.push_back(hex[rd() % 16]);
  return out;
}

}  // namespace

SPICEFLOW_EXPORT spice_compat_version_t spice_get_current_compat_version(void) {
  return SPICE_COMPAT_VERSION_CURRENT;
}

SPICEFLOW_EXPORT SpiceServer* spice_server_new(void) {
  // Logs go to the host's stderr (at SPICEFLOW_LOG's level, info by default), never to its
  // stdout, which QEMU may use for -serial/-monitor stdio.
  const char* level = std::getenv("SPICEFLOW_LOG");
  if (!level || !*level || !log::set_level(level)) (void)log::set_level("info");
  auto* s = new RedsState();
  s->record = compat::Recorder::open_from_env();  // as the reference: at creation, from the environment
  return s;
}

SPICEFLOW_EXPORT int spice_server_init(SpiceServer* s, SpiceCoreInterface* core) {
  if (!s || !core) return -1;
  if (s->initialised) {
    s->once.warn("spice_server_init", "called twice; ignored");
    return -1;
  }
  s->core = core;
  auto input = InputBridge::create(core);
  if (!input) {
    log::error("spiceflow compat: {}", input.error().message);
    return -1;
  }
  s->input = std::move(*input);
  auto mailbox = compat::HostMailbox::create(core);
  if (!mailbox) {
    log::error("spiceflow compat: {}", mailbox.error().message);
    return -1;
  }
  s->mailbox = std::move(*mailbox);
  s->agent = std::make_unique<compat::AgentPort>(core, *s->mailbox);
  s->agent->set_running(s->vm_running);
  s->opts.agent = s->agent->hooks();
  s->opts.vmc = compat::vmc_hooks(*s->mailbox, [s](uint8_t type, uint8_t id) {
    if (type == SPICE_CHANNEL_SMARTCARD && s->smartcard) {
      return static_cast<compat::VmcEndpoint*>(s->smartcard.get());
    }
    for (auto& p : s->vmc_ports) {
      if (p->type() == type && p->id() == id) return static_cast<compat::VmcEndpoint*>(p.get());
    }
    return static_cast<compat::VmcEndpoint*>(nullptr);
  });

  if (s->port <= 0 && !s->opts.tls.enabled()) {
    log::error("spiceflow compat: neither a port nor a TLS port is set");
    return -1;
  }
  s->opts.port = uint16_t(std::max(0, s->port));
  if (s->addr.empty()) {
    s->opts.addr = (s->addr_flags & SPICE_ADDR_FLAG_IPV6_ONLY) ? "::" : "0.0.0.0";
  } else {
    s->opts.addr = s->addr;
  }
  if (s->addr_flags & SPICE_ADDR_FLAG_UNIX_ONLY) {
    log::error("spiceflow compat: unix socket listening is not supported");
    return -1;
  }
  s->opts.ticket.disabled = !s->ticketing;
  if (s->ticketing && !s->password_set) {
    s->opts.ticket.password = unguessable_password();
    s->opts.ticket.expires.reset();
  }
  switch (s->image_compression) {
    case SPICE_IMAGE_COMPRESSION_OFF:
      s->opts.compression = net::ImageCompression::off;
      break;
    case SPICE_IMAGE_COMPRESSION_LZ4:
      s->opts.compression = net::ImageCompression::lz4;
      break;
    case SPICE_IMAGE_COMPRESSION_QUIC:
      s->opts.compression = net::ImageCompression::quic;
      break;
    case SPICE_IMAGE_COMPRESSION_LZ:
      s->opts.compression = net::ImageCompression::lz;
      break;
    case SPICE_IMAGE_COMPRESSION_GLZ:
    case SPICE_IMAGE_COMPRESSION_AUTO_GLZ:  // the reference's default: GLZ for images
      s->opts.compression = net::ImageCompression::glz;
      break;
    default:  // auto_lz
      s->opts.compression = net::ImageCompression::automatic;
      break;
  }
  const auto wan = [](spice_wan_compression_t c) {
    return c == SPICE_WAN_COMPRESSION_ALWAYS  ? net::WanCompression::always
           : c == SPICE_WAN_COMPRESSION_NEVER ? net::WanCompression::never
                                              : net::WanCompression::automatic;
  };
  s->opts.zlib_glz = wan(s->zlib_glz);
  s->opts.jpeg_wan = wan(s->jpeg);

  // Client mouse mode needs an absolute pointing device (a tablet); QEMU adds one later,
  // if at all, and add_interface then offers client mode (Server::set_client_mouse).
  s->opts.client_mouse = s->input->has_tablet();
  if (s->uuid_set) s->opts.uuid = s->uuid;
  // Channel life-cycle events go to the host's channel_event on its main loop.
  s->opts.on_channel_event = [s](const net::ChannelEvent& e) {
    if (!s->input) return;
    SpiceChannelEventInfo info{};
    info.connection_id = int(e.connection_id);
    info.type = e.channel_type;
    info.id = e.channel_id;
    info.flags = SPICE_CHANNEL_EVENT_FLAG_ADDR_EXT;
    info.laddr_ext = e.local;
    info.paddr_ext = e.peer;
    info.llen_ext = e.local_len;
    info.plen_ext = e.peer_len;
    // The deprecated fields hold what fits (IPv4), as the reference fills them.
    if (e.local_len <= sizeof info.laddr) {
      std::memcpy(&info.laddr, &e.local, e.local_len);
      info.llen = e.local_len;
    }
    if (e.peer_len <= sizeof info.paddr) {
      std::memcpy(&info.paddr, &e.peer, e.peer_len);
      info.plen = e.peer_len;
    }
    s->input->post_channel_event(e.channel_key, int(e.kind), info);
    if (e.channel_type == SPICE_CHANNEL_MAIN && e.kind == net::ChannelEvent::disconnected) {
      s->mailbox->post([s] {
        // As the reference's reds_client_disconnect: the host asked to end with a client.
        if (!s->exit_on_disconnect) return;
        log::info("spiceflow compat: exiting: a client disconnected (exit_on_disconnect)");
        std::exit(0);
      });
    }
    if (e.channel_type == SPICE_CHANNEL_DISPLAY && e.kind != net::ChannelEvent::initialized) {
      s->mailbox->post([s, key = e.channel_key, gone = e.kind == net::ChannelEvent::disconnected,
                        caps = e.channel_caps] {
        if (gone) {
          s->display_clients.erase(key);
        } else {
          s->display_clients[key] = caps;
        }
        update_guest_client_caps(s);
      });
    }
  };

  engine::DesktopOptions dopts;
  dopts.synthetic = "qxl";
  dopts.source.fps = 30;
  // No codec before a client asks: spice-gtk takes GLZ here (AUTO_GLZ, the default), which
  // its display channel encodes per client; others acquire theirs when they connect.
  dopts.codecs.clear();
  // spice_server_set_streaming_video (QEMU's -spice streaming-video, Xspice's
  // SpiceStreamingVideo): the engine's video detection in the reference's three modes.
  dopts.streaming_video = s->streaming_video == SPICE_STREAM_VIDEO_OFF ? engine::StreamingVideo::off
                          : s->streaming_video == SPICE_STREAM_VIDEO_ALL
                              ? engine::StreamingVideo::all
                              : engine::StreamingVideo::filter;
  auto source = std::make_unique<QxlSource>([s](const InputEvent& ev) {
    if (s->input) s->input->post(ev);
  });
  s->source = source.get();
  auto desktop = engine::Desktop::create(0, dopts, std::move(source));
  if (!desktop) {
    log::error("spiceflow compat: {}", desktop.error().message);
    s->source = nullptr;
    return -1;
  }
  s->engine = std::make_unique<engine::Engine>();
  s->engine->add(std::move(*desktop));
  auto server = net::Server::create(s->opts, *s->engine);
  if (!server) {
    log::error("spiceflow compat: {}", server.error().message);
    s->engine.reset();
    s->source = nullptr;
    return -1;
  }
  s->server = std::move(*server);
  s->agent->set_server(s->server.get());
  s->agent->set_filter({s->agent_copypaste, s->agent_file_xfer});
  s->server->set_agent_filter(s->agent_copypaste, s->agent_file_xfer);
  s->agent->on_attach_change([s] { update_client_mouse(s); });
  s->agent->on_client_monitors_config(
      [s](VDAgentMonitorsConfig* config) { return client_monitors_config(s, config); });
  s->input->set_agent_mouse([s](int32_t x, int32_t y, uint32_t buttons, int wheel) {
    if (!s->agent_mouse || !s->agent->attached()) return false;
    s->agent->mouse(uint32_t(x), uint32_t(y),
                    net::agent::agent_buttons(buttons, wheel < 0, wheel > 0), 0);
    return true;
  });
  s->engine->start();
  net::Server* srv = s->server.get();
  s->server_thread = std::thread([srv] {
    if (auto st = srv->run(); !st) log::error("spiceflow compat: server: {}", st.error().message);
  });
  s->initialised = true;
  log::info("spiceflow compat: serving SPICE on {} port {} TLS port {} ({} auth)", s->opts.addr,
            s->opts.port, s->opts.tls.port, s->ticketing ? "ticket" : "no");
  return 0;
}

SPICEFLOW_EXPORT void spice_server_destroy(SpiceServer* s) {
  if (!s) return;
  s->vmc_ports.clear();  // their channels leave the server while it runs
  s->stream_port.reset();
  s->smartcard.reset();
  if (s->server) {
    s->server->stop();
    if (s->server_thread.joinable()) s->server_thread.join();
  }
  // Workers first: one may be waiting for the pipeline, which needs the engine running.
  s->workers.clear();
  if (s->engine) s->engine->stop();
  s->server.reset();
  s->engine.reset();
  s->source = nullptr;
  s->agent.reset();  // after the server: its sessions' hooks post into the port
  s->mailbox.reset();
  s->input.reset();
  delete s;
}

SPICEFLOW_EXPORT int spice_server_set_compat_version(SpiceServer* s,
                                                     spice_compat_version_t version) {
  if (version < SPICE_COMPAT_VERSION_0_6) {
    // The reference also refuses 0.4 compatibility.
    return -1;
  }
  return version > SPICE_COMPAT_VERSION_CURRENT ? -1 : 0;
}

SPICEFLOW_EXPORT int spice_server_set_port(SpiceServer* s, int port) {
  if (port < 0 || port > 0xffff) return -1;
  if (s->initialised) s->once.warn("spice_server_set_port", "ignored after spice_server_init");
  s->port = port;
  return 0;
}

SPICEFLOW_EXPORT void spice_server_set_addr(SpiceServer* s, const char* addr, int flags) {
  s->addr = addr ? addr : "";
  s->addr_flags = flags;
}

SPICEFLOW_EXPORT int spice_server_set_listen_socket_fd(SpiceServer* s, int listen_fd) {
  s->once.warn("spice_server_set_listen_socket_fd", "not supported (spiceflow binds its own port)");
  return -1;
}

SPICEFLOW_EXPORT int spice_server_set_exit_on_disconnect(SpiceServer* s, int flag) {
  s->exit_on_disconnect = flag != 0;  // applied when a client's main channel closes
  return 0;
}

SPICEFLOW_EXPORT int spice_server_set_noauth(SpiceServer* s) {
  if (s->initialised) {
    s->once.warn("spice_server_set_noauth", "cannot change authentication after init");
    return -1;
  }
  s->ticketing = false;
  s->password_set = false;
  s->opts.ticket = net::TicketPolicy{};
  s->opts.ticket.disabled = true;
  return 0;
}

SPICEFLOW_EXPORT int spice_server_set_sasl(SpiceServer* s, int enabled) {
  if (!enabled) return 0;
  s->once.warn("spice_server_set_sasl", "SASL authentication is not supported");
  return -1;
}

SPICEFLOW_EXPORT int spice_server_set_sasl_appname(SpiceServer* s, const char* appname) {
  return 0;  // only used with SASL, which set_sasl refuses
}

SPICEFLOW_EXPORT int spice_server_set_ticket(SpiceServer* s, const char* passwd, int lifetime,
                                             int fail_if_connected, int disconnect_if_connected) {
  // As the reference: a connected client makes this fail, or is disconnected, when asked.
  const bool connected = s->initialised && s->server && s->server->session_count() > 0;
  if (connected && fail_if_connected) return -1;
  if (connected && disconnect_if_connected) s->server->disconnect_all("the password changed");
  if (passwd && std::strlen(passwd) > 60) return -1;  // SPICE_MAX_PASSWORD_LENGTH
  s->ticketing = true;
  s->opts.ticket.disabled = false;
  if (passwd) {
    s->opts.ticket.password = passwd;
    s->password_set = true;
    if (lifetime > 0) {
      s->opts.ticket.expires = std::chrono::system_clock::now() + std::chrono::seconds(lifetime);
    } else {
      s->opts.ticket.expires.reset();
    }
  } else {
    // As the reference: nobody may connect until a password is set.
    s->password_set = false;
    s->opts.ticket.password = unguessable_password();
    s->opts.ticket.expires.reset();
  }
  if (s->initialised && s->server) {
    s->server->set_ticket(s->opts.ticket);  // for links from now on
  }
  return 0;
}

SPICEFLOW_EXPORT int spice_server_set_tls(SpiceServer* s, int port, const char* ca_cert_file,
                                          const char* certs_file, const char* private_key_file,
                                          const char* key_passwd, const char* dh_key_file,
                                          const char* ciphersuite) {
  // The reference's checks; the files are loaded (and errors reported) at spice_server_init.
  if (port <= 0 || port > 0xffff || !ca_cert_file || !certs_file || !private_key_file) return -1;
  net::TlsOptions& tls = s->opts.tls;
  tls.port = uint16_t(port);
  tls.ca_file = ca_cert_file;
  tls.cert_file = certs_file;
  tls.key_file = private_key_file;
  tls.key_password = key_passwd ? key_passwd : "";
  tls.dh_file = dh_key_file ? dh_key_file : "";
  tls.ciphers = ciphersuite ? ciphersuite : "";
  return 0;
}

SPICEFLOW_EXPORT int spice_server_add_client(SpiceServer* s, int socket, int skip_auth) {
  s->once.warn("spice_server_add_client", "adding an accepted socket is not supported");
  return -1;
}

SPICEFLOW_EXPORT int spice_server_add_ssl_client(SpiceServer* s, int socket, int skip_auth) {
  s->once.warn("spice_server_add_ssl_client", "adding an accepted socket is not supported");
  return -1;
}

SPICEFLOW_EXPORT int spice_server_set_image_compression(SpiceServer* s,
                                                        SpiceImageCompression comp) {
  if (comp <= SPICE_IMAGE_COMPRESSION_INVALID || comp > SPICE_IMAGE_COMPRESSION_LZ4) return -1;
  s->image_compression = comp;
  return 0;
}

SPICEFLOW_EXPORT SpiceImageCompression spice_server_get_image_compression(SpiceServer* s) {
  return s->image_compression;
}

SPICEFLOW_EXPORT int spice_server_set_jpeg_compression(SpiceServer* s,
                                                       spice_wan_compression_t comp) {
  if (comp == SPICE_WAN_COMPRESSION_INVALID || comp > SPICE_WAN_COMPRESSION_NEVER) return -1;
  s->jpeg = comp;
  return 0;
}

SPICEFLOW_EXPORT int spice_server_set_zlib_glz_compression(SpiceServer* s,
                                                           spice_wan_compression_t comp) {
  if (comp == SPICE_WAN_COMPRESSION_INVALID || comp > SPICE_WAN_COMPRESSION_NEVER) return -1;
  s->zlib_glz = comp;
  return 0;
}

SPICEFLOW_EXPORT int spice_server_set_channel_security(SpiceServer* s, const char* channel,
                                                       int security) {
  // As the reference: NULL names every channel; a channel is TLS-only when NONE is absent.
  auto bits = net::secure_channel_bits(channel ? channel : "default");
  if (!bits) return -1;
  if (security & SPICE_CHANNEL_SECURITY_NONE) {
    s->opts.tls.secure_channels &= ~*bits;
  } else {
    s->opts.tls.secure_channels |= *bits;
  }
  return 0;
}

SPICEFLOW_EXPORT int spice_server_add_renderer(SpiceServer* s, const char* name) {
  // The reference knows only the software renderer "sw".
  return name && std::strcmp(name, "sw") == 0 ? 0 : -1;
}

SPICEFLOW_EXPORT int spice_server_set_streaming_video(SpiceServer* s, int value) {
  if (value != SPICE_STREAM_VIDEO_OFF && value != SPICE_STREAM_VIDEO_ALL &&
      value != SPICE_STREAM_VIDEO_FILTER) {
    return -1;
  }
  if (s->initialised) {
    s->once.warn("streaming video", "set after spice_server_init: kept, not applied");
  }
  s->streaming_video = value;
  return 0;
}

// The reference's "encoder:codec;..." list onto net's (encode::parse_video_codecs maps its
// spice/gstreamer encoders to our backends); as in the reference, invalid entries are
// skipped with a warning and a list with no valid entry is refused (-1).
SPICEFLOW_EXPORT int spice_server_set_video_codecs(SpiceServer* s, const char* video_codecs) {
  if (!video_codecs) return -1;
  std::string warnings;
  auto list = spiceflow::encode::parse_video_codecs(video_codecs, &warnings);
  if (!warnings.empty()) log::warn("spice_server_set_video_codecs: skipped {}", warnings);
  if (!list) return -1;
  s->opts.video_codecs = std::move(*list);
  s->video_codecs = video_codecs;
  return 0;
}

SPICEFLOW_EXPORT const char* spice_server_get_video_codecs(SpiceServer* s) {
  return strdup(s->video_codecs.c_str());
}

SPICEFLOW_EXPORT void spice_server_free_video_codecs(SpiceServer* s, const char* video_codecs) {
  std::free(const_cast<char*>(video_codecs));
}

SPICEFLOW_EXPORT int spice_server_set_playback_compression(SpiceServer* s, int enable) {
  s->playback_compression = enable != 0;
  compat::set_playback_compression(s, s->playback_compression);
  return 0;
}

void update_client_mouse(RedsState* s) {
  if (!s->server) return;
  const bool agent = s->agent_mouse && s->agent && s->agent->attached();
  s->server->set_client_mouse(agent || (s->input && s->input->has_tablet()));
}

void update_guest_client_caps(RedsState* s) {
  // What the guest may use depends on what spiceflow renders, not only on what the clients
  // decode: the server draws every command itself. COMPOSITE and A8_SURFACE (the
  // reference's other two) stay off until the raster renders composite and A8 surfaces.
  static constexpr uint32_t kGuestCaps[] = {SPICE_DISPLAY_CAP_SIZED_STREAM,
                                            SPICE_DISPLAY_CAP_MONITORS_CONFIG};
  compat::GuestClientCaps caps{};
  const bool present = !s->display_clients.empty();
  if (present) {
    for (uint32_t cap : kGuestCaps) {
      const bool all = std::all_of(s->display_clients.begin(), s->display_clients.end(),
                                   [cap](const auto& c) { return c.second.has(cap); });
      if (all) caps[cap / 8] |= uint8_t(1u << (cap % 8));
    }
  }
  for (auto& w : s->workers) {
    if (w) w->client_capabilities(present, caps);
  }
}

bool client_monitors_config(RedsState* s, VDAgentMonitorsConfig* config) {
  bool any = false;
  for (auto& w : s->workers) {
    if (!w) continue;
    any = true;
    if (!config && !w->client_monitors_config(nullptr)) return false;
  }
  if (!any || !config) return any;
  for (auto& w : s->workers) {
    // A device that fails is a normal condition (some devices lack it), as the reference.
    if (w && !w->client_monitors_config(config)) {
      log::debug("spiceflow compat: QXL device {}: client_monitors_config failed",
                 w->instance()->id);
    }
  }
  return true;
}

// Agent settings apply at once, also while clients are connected (as the reference's).
static void apply_agent_filter(SpiceServer* s) {
  if (!s->server) return;
  s->agent->set_filter({s->agent_copypaste, s->agent_file_xfer});
  s->server->set_agent_filter(s->agent_copypaste, s->agent_file_xfer);
}

SPICEFLOW_EXPORT int spice_server_set_agent_mouse(SpiceServer* s, int enable) {
  s->agent_mouse = enable != 0;
  update_client_mouse(s);
  return 0;
}

SPICEFLOW_EXPORT int spice_server_set_agent_copypaste(SpiceServer* s, int enable) {
  s->agent_copypaste = enable != 0;
  apply_agent_filter(s);
  return 0;
}

SPICEFLOW_EXPORT int spice_server_set_agent_file_xfer(SpiceServer* s, int enable) {
  s->agent_file_xfer = enable != 0;
  apply_agent_filter(s);
  return 0;
}

SPICEFLOW_EXPORT int spice_server_get_sock_info(SpiceServer* s, struct sockaddr* sa,
                                                socklen_t* salen) {
  // Deprecated in the reference, which also fails without a main channel client.
  s->once.warn("spice_server_get_sock_info", "not supported (deprecated; use channel_event)");
  return -1;
}

SPICEFLOW_EXPORT int spice_server_get_peer_info(SpiceServer* s, struct sockaddr* sa,
                                                socklen_t* salen) {
  s->once.warn("spice_server_get_peer_info", "not supported (deprecated; use channel_event)");
  return -1;
}

SPICEFLOW_EXPORT int spice_server_is_server_mouse(SpiceServer* s) {
  const bool agent = s->agent_mouse && s->agent && s->agent->attached();
  return !(agent || (s->input && s->input->has_tablet()));
}

SPICEFLOW_EXPORT void spice_server_set_name(SpiceServer* s, const char* name) {
  if (!name) return;
  if (s->initialised) s->once.warn("spice_server_set_name", "ignored after spice_server_init");
  s->opts.name = name;
}

SPICEFLOW_EXPORT void spice_server_set_uuid(SpiceServer* s, const uint8_t uuid[16]) {
  if (s->initialised) s->once.warn("spice_server_set_uuid", "ignored after spice_server_init");
  std::memcpy(s->uuid.data(), uuid, 16);
  s->uuid_set = true;
}

SPICEFLOW_EXPORT void spice_server_vm_start(SpiceServer* s) {
  s->vm_running = true;
  for (auto& w : s->workers) w->start();
  if (s->agent) s->agent->set_running(true);
  for (auto& p : s->vmc_ports) p->set_running(true);
  if (s->stream_port) s->stream_port->set_running(true);
  if (s->smartcard) s->smartcard->set_running(true);
}

SPICEFLOW_EXPORT void spice_server_vm_stop(SpiceServer* s) {
  s->vm_running = false;
  for (auto& w : s->workers) w->stop();
  if (s->agent) s->agent->set_running(false);
  for (auto& p : s->vmc_ports) p->set_running(false);
  if (s->stream_port) s->stream_port->set_running(false);
  if (s->smartcard) s->smartcard->set_running(false);
}

SPICEFLOW_EXPORT int spice_server_get_num_clients(SpiceServer* s) {
  // The reference counts its RedClients: one per session (main channel).
  return s && s->server ? int(s->server->session_count()) : 0;
}

// ---- migration: not supported. The calls succeed the way the reference does when no
// client is connected (nothing to move), so the VM's own migration proceeds; connected
// clients are not carried over.

SPICEFLOW_EXPORT int spice_server_migrate_info(SpiceServer* s, const char* dest, int port,
                                               int secure_port, const char* cert_subject) {
  s->once.warn("spice_server_migrate_info", "SPICE client migration is not supported");
  return -1;
}

SPICEFLOW_EXPORT int spice_server_migrate_switch(SpiceServer* s) {
  s->once.warn("spice_server_migrate_switch", "SPICE client migration is not supported");
  return -1;
}

SPICEFLOW_EXPORT int spice_server_migrate_connect(SpiceServer* s, const char* dest, int port,
                                                  int secure_port, const char* cert_subject) {
  s->once.warn("spice_server_migrate_connect",
               "SPICE client migration is not supported; clients will not follow the VM");
  if (s->migration) {
    auto* sif = reinterpret_cast<const SpiceMigrateInterface*>(s->migration->base.sif);
    if (sif->migrate_connect_complete) sif->migrate_connect_complete(s->migration);
  }
  return 0;
}

SPICEFLOW_EXPORT int spice_server_migrate_start(SpiceServer* s) { return 0; }

SPICEFLOW_EXPORT int spice_server_migrate_end(SpiceServer* s, int completed) {
  if (s->migration) {
    auto* sif = reinterpret_cast<const SpiceMigrateInterface*>(s->migration->base.sif);
    if (sif->migrate_end_complete) sif->migrate_end_complete(s->migration);
  }
  return 0;
}

SPICEFLOW_EXPORT void spice_server_set_seamless_migration(SpiceServer* s, int enable) {
  s->seamless_migration = enable != 0;
}
