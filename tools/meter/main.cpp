// spiceflow-meter: a headless SPICE client on spice-client-glib (the library inside
// remote-viewer and spicy) that measures what a user would see: frames a 60 Hz client
// paints, bytes per channel, end-to-end latency from pixel codes, and the video stream
// codec. Prints one JSON object on stdout. See tools/README.md.
//
// Threads: everything spice-client-glib does, and every callback here, runs on the GLib
// main loop of the main thread. Each display channel's bytes pass through a Relay thread
// (relay.hpp), which only forwards and watches them.
#include <CLI/CLI.hpp>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <spice-client.h>
#include <sys/socket.h>
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <iostream>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "image_io.hpp"
#include "relay.hpp"
#include "report.hpp"
#include "spiceflow/core/pixel_code.hpp"
#include "stats.hpp"

namespace spiceflow::meter {
namespace {

constexpr int kExitOk = 0;
constexpr int kExitFailed = 1;
constexpr int kExitUsage = 2;

struct Options {
  std::string host;
  int port = 0;
  int tls_port = 0;
  std::string ca_file;
  double seconds = 0;
  std::string password;
  std::string png;
  std::string reference;
  bool direct = false;
};

struct Primary {
  SpiceChannel* channel = nullptr;
  int format = 0;
  int width = 0;
  int height = 0;
  int stride = 0;
  const uint8_t* data = nullptr;
};

// The state of one run. Lives on main()'s stack; only the main loop thread touches it.
struct Meter {
  Options opt;
  bool relay_display = true;  // plaintext: display channels go through a Relay
  GMainLoop* loop = nullptr;
  SpiceSession* session = nullptr;
  std::vector<SpiceChannel*> channels;  // every channel we connected (not owned)
  std::vector<std::unique_ptr<Relay>> relays;
  std::chrono::steady_clock::time_point start;
  VsyncTicks ticks;
  LatencyRecorder latency;
  Primary primary;
  Report report;
  bool main_failed = false;
};

int64_t since_start_us(const Meter& m) {
  return std::chrono::duration_cast<std::chrono::microseconds>(std::chrono::steady_clock::now() -
                                                               m.start)
      .count();
}

int channel_type(SpiceChannel* ch) {
  int type = -1;
  g_object_get(ch, "channel-type", &type, nullptr);
  return type;
}

int channel_id(SpiceChannel* ch) {
  int id = -1;
  g_object_get(ch, "channel-id", &id, nullptr);
  return id;
}

// A TCP connection to host:port, TCP_NODELAY as spice-client-glib sets it; -1 on failure.
int connect_tcp(const std::string& host, int port, std::string* why) {
  addrinfo hints{};
  hints.ai_family = AF_UNSPEC;
  hints.ai_socktype = SOCK_STREAM;
  addrinfo* res = nullptr;
  const std::string service = std::to_string(port);
  if (int rc = getaddrinfo(host.c_str(), service.c_str(), &hints, &res); rc != 0) {
    *why = "cannot resolve " + host + ": " + gai_strerror(rc);
    return -1;
  }
  int fd = -1;
  for (addrinfo* ai = res; ai; ai = ai->ai_next) {
    fd = ::socket(ai->ai_family, ai->ai_socktype | SOCK_CLOEXEC, ai->ai_protocol);
    if (fd < 0) continue;
    if (::connect(fd, ai->ai_addr, ai->ai_addrlen) == 0) break;
    ::close(fd);
    fd = -1;
  }
  freeaddrinfo(res);
  if (fd < 0) {
    *why = "cannot connect to " + host + ":" + service;
    return -1;
  }
  const int one = 1;
  setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
  return fd;
}

// ---------------------------------------------------------------------------------------
// Display signals

void on_primary_create(SpiceChannel* ch, gint format, gint width, gint height, gint stride,
                       gint shmid, gpointer data, gpointer user) {
  auto* m = static_cast<Meter*>(user);
  m->primary = Primary{ch, format, width, height, stride, static_cast<const uint8_t*>(data)};
}

void on_primary_destroy(SpiceChannel* ch, gpointer user) {
  auto* m = static_cast<Meter*>(user);
  if (m->primary.channel == ch) m->primary = Primary{};
}

void on_invalidate(SpiceChannel* ch, gint x, gint y, gint w, gint h, gpointer user) {
  const uint32_t now = pixel_code::now_us();  // first: the instant the update landed
  auto* m = static_cast<Meter*>(user);
  m->ticks.add(since_start_us(*m));
  const Primary& p = m->primary;
  if (p.channel != ch || !p.data) return;
  if (p.format != SPICE_SURFACE_FMT_32_xRGB && p.format != SPICE_SURFACE_FMT_32_ARGB) return;
  // Only an update that touches the code's cells can show a new code.
  if (x >= pixel_code::kWidth || y >= pixel_code::kHeight || x + w <= 0 || y + h <= 0) return;
  if (auto stamp = pixel_code::read(p.data, size_t(p.stride), p.width, p.height)) {
    m->latency.offer(*stamp, now);
  }
}

void on_gl_draw(SpiceDisplayChannel* ch, guint32 x, guint32 y, guint32 w, guint32 h,
                gpointer user) {
  // Only with a GL scanout (virgl); never from spiceflow. Release the frame at once.
  spice_display_channel_gl_draw_done(ch);
}

// ---------------------------------------------------------------------------------------
// Channels

void on_channel_event(SpiceChannel* ch, SpiceChannelEvent event, gpointer user) {
  auto* m = static_cast<Meter*>(user);
  const char* what = nullptr;
  switch (event) {
    case SPICE_CHANNEL_ERROR_CONNECT: what = "connect"; break;
    case SPICE_CHANNEL_ERROR_TLS: what = "tls"; break;
    case SPICE_CHANNEL_ERROR_LINK: what = "link"; break;
    case SPICE_CHANNEL_ERROR_AUTH: what = "auth"; break;
    case SPICE_CHANNEL_ERROR_IO: what = "io"; break;
    default: return;
  }
  const int type = channel_type(ch);
  m->report.errors.push_back(std::string(spice_channel_type_to_string(type)) + " channel " +
                             std::to_string(channel_id(ch)) + ": " + what + " error");
  if (type == SPICE_CHANNEL_MAIN || type == SPICE_CHANNEL_DISPLAY) {
    m->main_failed = m->main_failed || type == SPICE_CHANNEL_MAIN;
    g_main_loop_quit(m->loop);
  }
}

// Plaintext: spice-client-glib asks for each channel's socket. Display channels get one end
// of a socket pair relayed to the server; the others a direct TCP connection.
void on_open_fd(SpiceChannel* ch, gint with_tls, gpointer user) {
  auto* m = static_cast<Meter*>(user);
  std::string why;
  const int tcp = connect_tcp(m->opt.host, m->opt.port, &why);
  if (tcp < 0) {
    m->report.errors.push_back(why);
    if (channel_type(ch) == SPICE_CHANNEL_MAIN) m->main_failed = true;
    g_main_loop_quit(m->loop);
    return;
  }
  if (channel_type(ch) != SPICE_CHANNEL_DISPLAY || !m->relay_display) {
    spice_channel_open_fd(ch, tcp);  // the channel's GSocket owns it from here
    return;
  }
  int pair[2];
  if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, pair) != 0) {
    ::close(tcp);
    m->report.errors.push_back("socketpair failed");
    g_main_loop_quit(m->loop);
    return;
  }
  m->relays.push_back(std::make_unique<Relay>(pair[1], tcp));
  spice_channel_open_fd(ch, pair[0]);
}

void on_channel_new(SpiceSession* session, SpiceChannel* ch, gpointer user) {
  auto* m = static_cast<Meter*>(user);
  const int type = channel_type(ch);
  // What a viewer opens for the picture: main (opened by the session), display, cursor and
  // inputs. Audio, USB, smartcard and port channels stay closed.
  if (type != SPICE_CHANNEL_MAIN && type != SPICE_CHANNEL_DISPLAY &&
      type != SPICE_CHANNEL_CURSOR && type != SPICE_CHANNEL_INPUTS) {
    return;
  }
  m->channels.push_back(ch);
  g_signal_connect(ch, "channel-event", G_CALLBACK(on_channel_event), m);
  g_signal_connect(ch, "open-fd", G_CALLBACK(on_open_fd), m);
  if (type == SPICE_CHANNEL_DISPLAY) {
    if (channel_id(ch) == 0) {
      g_signal_connect(ch, "display-primary-create", G_CALLBACK(on_primary_create), m);
      g_signal_connect(ch, "display-primary-destroy", G_CALLBACK(on_primary_destroy), m);
      g_signal_connect(ch, "display-invalidate", G_CALLBACK(on_invalidate), m);
    }
    g_signal_connect(ch, "gl-draw", G_CALLBACK(on_gl_draw), m);
  }
  if (type != SPICE_CHANNEL_MAIN) spice_channel_connect(ch);
}

gboolean on_timeout(gpointer user) {
  g_main_loop_quit(static_cast<Meter*>(user)->loop);
  return G_SOURCE_REMOVE;
}

// ---------------------------------------------------------------------------------------

void finish_report(Meter& m) {
  Report& r = m.report;
  r.host = m.opt.host;
  r.port = m.opt.port ? m.opt.port : m.opt.tls_port;
  r.seconds = double(since_start_us(m)) / 1e6;
  r.frames = m.ticks.frames();
  r.updates = m.ticks.updates();
  r.latency = m.latency.summary();
  r.latency_repeats = m.latency.repeats();
  for (SpiceChannel* ch : m.channels) {
    gulong bytes = 0;
    g_object_get(ch, "total-read-bytes", &bytes, nullptr);
    r.add_bytes(spice_channel_type_to_string(channel_type(ch)), bytes);
  }
  if (m.relay_display) {
    StreamCounts streams;
    for (auto& relay : m.relays) {
      const DisplayWireWatcher w = relay->snapshot();
      streams.created += w.streams().created;
      streams.frames += w.streams().frames;
      streams.destroyed += w.streams().destroyed;
      if (!r.stream_codec && w.first_codec()) r.stream_codec = video_codec_name(*w.first_codec());
      if (!w.failure().empty()) r.notes.push_back("display wire not followed: " + w.failure());
    }
    r.streams = streams;
  } else {
    r.notes.push_back(m.opt.tls_port ? "stream codec not observable: the display channel is TLS"
                                     : "stream codec not observed: --direct");
  }

  const Primary& p = m.primary;
  if (!p.data) {
    r.errors.push_back("no primary surface received");
    return;
  }
  r.primary = PrimaryInfo{p.width, p.height, p.format};
  if (m.opt.png.empty() && m.opt.reference.empty()) return;
  auto img = copy_surface(p.data, p.width, p.height, p.stride, p.format);
  if (!img) {
    r.errors.push_back(img.error().message);
    return;
  }
  if (!m.opt.png.empty()) {
    if (auto st = write_png(m.opt.png, img->view()); st) {
      r.png = m.opt.png;
    } else {
      r.errors.push_back(st.error().message);
    }
  }
  if (!m.opt.reference.empty()) {
    auto ref = read_ppm(m.opt.reference);
    if (!ref) {
      r.errors.push_back(ref.error().message);
      return;
    }
    auto cmp = compare(img->view(), ref->view());
    if (!cmp) {
      r.errors.push_back(cmp.error().message);
      return;
    }
    r.reference = *cmp;
    r.reference->path = m.opt.reference;
  }
}

int run(const Options& opt) {
  Meter m;
  m.opt = opt;
  m.relay_display = opt.tls_port == 0 && !opt.direct;
  m.loop = g_main_loop_new(nullptr, FALSE);
  m.session = spice_session_new();
  g_object_set(m.session, "host", opt.host.c_str(), nullptr);
  if (opt.port) g_object_set(m.session, "port", std::to_string(opt.port).c_str(), nullptr);
  if (opt.tls_port) g_object_set(m.session, "tls-port", std::to_string(opt.tls_port).c_str(), nullptr);
  if (!opt.ca_file.empty()) g_object_set(m.session, "ca-file", opt.ca_file.c_str(), nullptr);
  if (!opt.password.empty()) g_object_set(m.session, "password", opt.password.c_str(), nullptr);
  g_signal_connect(m.session, "channel-new", G_CALLBACK(on_channel_new), &m);

  m.start = std::chrono::steady_clock::now();
  // Plaintext: the meter opens the sockets (so it can relay the display channel); with TLS
  // or --direct spice-client-glib connects by itself.
  const bool started = m.relay_display ? spice_session_open_fd(m.session, -1)
                                       : spice_session_connect(m.session);
  if (started) {
    g_timeout_add(guint(opt.seconds * 1000), on_timeout, &m);
    g_main_loop_run(m.loop);
  } else {
    m.report.errors.push_back("spice_session_connect failed");
  }
  finish_report(m);

  spice_session_disconnect(m.session);
  for (auto& relay : m.relays) relay->stop();
  // Let the channels' coroutines see the disconnect before the session goes.
  for (int i = 0; i < 1000 && g_main_context_iteration(nullptr, FALSE); ++i) {
  }
  g_object_unref(m.session);
  g_main_loop_unref(m.loop);

  std::cout << to_json(m.report) << std::endl;
  return m.report.primary && !m.main_failed ? kExitOk : kExitFailed;
}

}  // namespace
}  // namespace spiceflow::meter

int main(int argc, char** argv) {
  spiceflow::meter::Options opt;
  CLI::App app{"spiceflow-meter: connect to a SPICE server as spice-client-glib, measure for a "
               "while, print one JSON object (fps, frames, bytes per channel, latency_ms, "
               "stream_codec)"};
  app.add_option("--host", opt.host, "Server address")->required();
  auto* port = app.add_option("--port", opt.port, "Plaintext port")->check(CLI::Range(1, 65535));
  auto* tls = app.add_option("--tls-port", opt.tls_port, "TLS port (no relay: stream_codec "
                             "is then not observable)")->check(CLI::Range(1, 65535));
  app.add_option("--ca-file", opt.ca_file, "CA certificate file for TLS");
  app.add_option("--seconds", opt.seconds, "How long to measure after connecting")
      ->required()
      ->check(CLI::Range(0.05, 86400.0));
  app.add_option("--password", opt.password, "Ticket (password)");
  app.add_option("--png", opt.png, "Write the client's final picture as PNG");
  app.add_option("--reference", opt.reference,
                 "Compare the final picture with this binary PPM; prints psnr_db");
  app.add_flag("--direct", opt.direct,
               "Let spice-client-glib connect the display channel itself (no relay hop); "
               "stream_codec and streams are then not observed");
  try {
    app.parse(argc, argv);
    if (!port->count() && !tls->count()) throw CLI::RequiredError("--port or --tls-port");
  } catch (const CLI::ParseError& e) {
    const int rc = app.exit(e);
    return rc == 0 ? 0 : spiceflow::meter::kExitUsage;
  }
  return spiceflow::meter::run(opt);
}
