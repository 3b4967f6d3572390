#include "serve.hpp"

#include <CLI/CLI.hpp>

#include <pthread.h>
#include <signal.h>

#include <cstdio>
#include <iostream>
#include <thread>

#include "spiceflow/core/log.hpp"
#include "spiceflow/engine/engine.hpp"
#include "spiceflow/net/server.hpp"

namespace spiceflow::tools {

namespace {
constexpr int kExitRuntime = 1;
constexpr int kExitUsage = 2;

int usage_error(const std::string& msg) {
  std::cerr << "spiceflow serve: " << msg << "\n";
  return kExitUsage;
}

bool is_loopback(const std::string& addr) {
  return addr.rfind("127.", 0) == 0 || addr == "::1" || addr == "localhost";
}

Result<Size> parse_size(const std::string& s) {
  int w = 0, h = 0;
  char x = 0, extra = 0;
  if (std::sscanf(s.c_str(), "%d%c%d%c", &w, &x, &h, &extra) != 3 || (x != 'x' && x != 'X')) {
    return make_error("--size must be WIDTHxHEIGHT, e.g. 1920x1080 (got '" + s + "')");
  }
  return Size{w, h};
}

// "--dump-frame out.ppm" names desktop 0's file; desktop i > 0 writes out-i.ppm.
std::string dump_path_for(const std::string& base, int i) {
  if (base.empty() || i == 0) return base;
  const auto dot = base.rfind('.');
  const auto slash = base.rfind('/');
  if (dot == std::string::npos || (slash != std::string::npos && dot < slash)) {
    return base + "-" + std::to_string(i);
  }
  return base.substr(0, dot) + "-" + std::to_string(i) + base.substr(dot);
}
}  // namespace

CLI::App* add_serve_command(CLI::App& app, ServeConfig& cfg) {
  auto* cmd = app.add_subcommand("serve", "Serve synthetic desktops to SPICE clients");
  cmd->add_option("--addr", cfg.addr, "Address to listen on")->capture_default_str();
  cmd->add_option("--port", cfg.port, "TCP port of the first desktop (0: none, TLS port only)")
      ->capture_default_str()
      ->check(CLI::Range(0, 65535));
  cmd->add_option("--tls-port", cfg.tls_port, "TLS port of the first desktop (0: no TLS)")
      ->capture_default_str()
      ->check(CLI::Range(0, 65535));
  cmd->add_option("--x509-dir", cfg.x509_dir,
                  "Directory with ca-cert.pem, server-cert.pem and server-key.pem (as QEMU)");
  cmd->add_option("--x509-cert-file", cfg.x509_cert_file, "PEM server certificate (chain)");
  cmd->add_option("--x509-key-file", cfg.x509_key_file, "PEM private key of the certificate");
  cmd->add_option("--x509-key-password", cfg.x509_key_password, "Password of an encrypted key");
  cmd->add_option("--x509-cacert-file", cfg.x509_cacert_file, "PEM CA certificate(s)");
  cmd->add_option("--x509-dh-key-file", cfg.x509_dh_key_file, "PEM DH parameters");
  cmd->add_option("--tls-ciphers", cfg.tls_ciphers, "OpenSSL cipher list (TLS 1.2)");
  cmd->add_option("--tls-channel", cfg.tls_channels,
                  "A channel served over TLS only (main, display, inputs, cursor, ...; "
                  "default = all); repeatable, as QEMU's tls-channel");
  cmd->add_option("--password", cfg.password, "Ticket (password) clients must present");
  cmd->add_flag("--disable-ticketing", cfg.disable_ticketing,
                "Accept clients without a password (required off loopback without --password)");
  cmd->add_option("--password-expires", cfg.password_expires,
                  "The password stops working this many seconds after start (0 = never)")
      ->check(CLI::NonNegativeNumber);
  cmd->add_option("--io", cfg.io, "Socket I/O backend: auto, uring or epoll")
      ->capture_default_str()
      ->check(CLI::IsMember({"auto", "uring", "epoll"}));
  cmd->add_option("--synthetic", cfg.synthetic, "Synthetic desktop workload (--list-synthetic)")
      ->capture_default_str();
  cmd->add_flag("--list-synthetic", cfg.list_synthetic, "List the synthetic workloads and exit");
  cmd->add_option("--size", cfg.size, "Desktop size WIDTHxHEIGHT")->capture_default_str();
  cmd->add_option("--fps", cfg.fps, "Frames per second of the desktop")
      ->capture_default_str()
      ->check(CLI::Range(1, 240));
  cmd->add_flag("--frozen", cfg.frozen, "Render one fixed, deterministic frame (input still shows)");
  cmd->add_flag("--pixel-code", cfg.pixel_code,
                "Paint a frame id and timestamp at (0,0) of every frame, for spiceflow-meter's "
                "latency (no effect with --frozen)");
  cmd->add_option("--stop-after", cfg.stop_after,
                  "Stop animating after this many frames (input still shows); 0 = never")
      ->capture_default_str();
  cmd->add_option("--dump-frame", cfg.dump_frame,
                  "Write the server's rendering of the first frame as binary PPM once ready "
                  "(desktop i > 0 writes NAME-i.ppm)");
  cmd->add_option("--desktops", cfg.desktops, "Independent desktops on ports PORT..PORT+N-1")
      ->capture_default_str()
      ->check(CLI::Range(1, 256));
  cmd->add_option("--log-level", cfg.log_level, "trace, debug, info, warn, error or off")
      ->capture_default_str()
      ->check(CLI::IsMember({"trace", "debug", "info", "warn", "error", "off"}));
  // Checked by net::parse_image_compression (below).
  cmd->add_option("--image-compression", cfg.image_compression,
                  "auto or auto_lz (LZ4 when the client supports it, else LZ), lz4, quic, lz, "
                  "glz or auto_glz (GLZ: LZ with a per-client dictionary of earlier images), "
                  "jpeg (lossy), or off (raw bitmaps)")
      ->capture_default_str();
  cmd->add_option("--zlib-glz-wan-compression", cfg.zlib_glz,
                  "Deflate GLZ images too (ZLIB_GLZ, when smaller): always, never, or auto "
                  "(only on a WAN link, as the reference; there is no link test yet, so every "
                  "link counts as LAN)")
      ->capture_default_str()
      ->check(CLI::IsMember({"auto", "always", "never"}));
  cmd->add_option("--jpeg-wan-compression", cfg.jpeg_wan,
                  "Under --image-compression auto, send photographic tiles as JPEG (lossy): "
                  "always, never (QUIC, lossless), or auto (only on a WAN link, as the "
                  "reference; there is no link test yet, so every link counts as LAN)")
      ->capture_default_str()
      ->check(CLI::IsMember({"auto", "always", "never"}));
  cmd->add_option("--pixmap-cache", cfg.pixmap_cache,
                  "Use the client's pixmap cache: tiles it still holds are drawn from it "
                  "(FROM_CACHE) instead of being sent again; off sends every tile in full")
      ->capture_default_str()
      ->check(CLI::IsMember({"on", "off"}));
  cmd->add_option("--link-timeout", cfg.link_timeout,
                  "Seconds a connection may take to complete the SPICE link")
      ->capture_default_str()
      ->check(CLI::PositiveNumber);
  cmd->add_option("--raster", cfg.raster,
                  "Raster backend: auto (a Vulkan GPU when there is one, else cpu), vulkan (any "
                  "Vulkan device, software ones such as lavapipe included) or cpu")
      ->capture_default_str()
      ->check(CLI::IsMember({"auto", "vulkan", "cpu"}));
  cmd->add_option("--streaming-video", cfg.streaming_video,
                  "Video streams for regions that change like video: off, filter (regions "
                  "whose changes repaint most pixels) or all (any steadily changing region)")
      ->capture_default_str()
      ->check(CLI::IsMember({"off", "filter", "all"}));
  // Checked by encode::parse_video_codecs (below).
  cmd->add_option("--video-codecs", cfg.video_codecs,
                  "Video stream encoders in order of preference, encoder:codec;... as the "
                  "reference server's (spice:mjpeg;gstreamer:h264;...: spice = mjpeg, gstreamer "
                  "= any backend of the codec) or ours (nvenc, vaapi, x264, vpx, mjpeg; codecs "
                  "mjpeg, vp8, h264, vp9, h265); auto = every backend, hardware first, MJPEG last")
      ->capture_default_str();
  return cmd;
}

namespace {

// The codecs the engine encodes tiles with before any client asks: the one most clients
// will get under this --image-compression (clients acquire what they need on top).
std::vector<encode::ImageCodec> engine_codecs(net::ImageCompression c) {
  switch (c) {
    case net::ImageCompression::automatic:
    case net::ImageCompression::lz4:
      return {encode::ImageCodec::lz4};
    case net::ImageCompression::quic:
      return {encode::ImageCodec::quic};
    case net::ImageCompression::lz:  // spice-gtk takes LZ_PLT, spice-html5 only LZ_RGB
      return {encode::ImageCodec::lz_plt};
    case net::ImageCompression::jpeg:
      return {encode::ImageCodec::jpeg};
    case net::ImageCompression::off:
    case net::ImageCompression::glz:  // encoded per client, by its display channel
      break;
  }
  return {};
}

}  // namespace

int run_serve(const ServeConfig& cfg) {
  if (auto st = log::set_level(cfg.log_level); !st) return usage_error(st.error().message);

  if (cfg.list_synthetic) {
    for (const auto& s : qxl::list_synthetic()) std::cout << s.name << "\t" << s.description << "\n";
    return 0;
  }
  auto size = parse_size(cfg.size);
  if (!size) return usage_error(size.error().message);
  if (!cfg.password.empty() && cfg.disable_ticketing) {
    return usage_error("--password and --disable-ticketing exclude each other");
  }
  if (!is_loopback(cfg.addr) && cfg.password.empty() && !cfg.disable_ticketing) {
    return usage_error("refusing to listen on " + cfg.addr +
                       " without a password: anyone who can reach it could watch and control "
                       "the desktop. Give --password, or --disable-ticketing to allow it anyway");
  }
  auto io = net::parse_io_backend(cfg.io);
  if (!io) return usage_error(io.error().message);
  auto compression = net::parse_image_compression(cfg.image_compression);
  if (!compression) return usage_error(compression.error().message);
  std::string codec_warnings;
  auto video_codecs = encode::parse_video_codecs(cfg.video_codecs, &codec_warnings);
  if (!video_codecs) return usage_error(video_codecs.error().message);
  if (!codec_warnings.empty()) log::warn("--video-codecs: skipped {}", codec_warnings);
  log::info("video codecs: {}", encode::to_string(*video_codecs));
  if (cfg.pixel_code && cfg.frozen) log::info("--pixel-code has no effect with --frozen");

  // Block the termination signals in every thread; a dedicated thread waits for them.
  sigset_t sigs;
  sigemptyset(&sigs);
  sigaddset(&sigs, SIGINT);
  sigaddset(&sigs, SIGTERM);
  pthread_sigmask(SIG_BLOCK, &sigs, nullptr);

  engine::Engine engine;
  for (int i = 0; i < cfg.desktops; ++i) {
    engine::DesktopOptions d;
    d.synthetic = cfg.synthetic;
    d.source.size = *size;
    d.source.fps = cfg.fps;
    d.source.frozen = cfg.frozen;
    d.source.pixel_code = cfg.pixel_code;
    d.stop_after_frames = cfg.stop_after;
    d.raster = cfg.raster;
    d.dump_frame_path = dump_path_for(cfg.dump_frame, i);
    d.codecs = engine_codecs(*compression);
    d.streaming_video = cfg.streaming_video == "off"   ? engine::StreamingVideo::off
                        : cfg.streaming_video == "all" ? engine::StreamingVideo::all
                                                       : engine::StreamingVideo::filter;
    auto desktop = engine::Desktop::create(i, d);
    if (!desktop) return usage_error(desktop.error().message);
    engine.add(std::move(*desktop));
  }

  net::ServerOptions so;
  so.addr = cfg.addr;
  so.port = uint16_t(cfg.port);
  so.io = *io;
  so.compression = *compression;
  so.zlib_glz = *net::parse_wan_compression(cfg.zlib_glz);  // checked by CLI11
  so.pixmap_cache = cfg.pixmap_cache == "on";
  so.jpeg_wan = *net::parse_wan_compression(cfg.jpeg_wan);  // checked by CLI11
  so.video_codecs = *video_codecs;
  so.link_timeout = std::chrono::milliseconds(int64_t(cfg.link_timeout * 1000));
  if (cfg.port == 0 && cfg.tls_port == 0) return usage_error("--port 0 needs a --tls-port");
  so.tls.port = uint16_t(cfg.tls_port);
  so.tls.cert_file = cfg.x509_cert_file;
  so.tls.key_file = cfg.x509_key_file;
  so.tls.key_password = cfg.x509_key_password;
  so.tls.ca_file = cfg.x509_cacert_file;
  so.tls.dh_file = cfg.x509_dh_key_file;
  so.tls.ciphers = cfg.tls_ciphers;
  if (!cfg.x509_dir.empty()) so.tls.use_dir(cfg.x509_dir);
  for (const auto& name : cfg.tls_channels) {
    auto bits = net::secure_channel_bits(name);
    if (!bits) return usage_error("--tls-channel: " + bits.error().message);
    so.tls.secure_channels |= *bits;
  }
  if (so.tls.secure_channels && !so.tls.enabled()) return usage_error("--tls-channel needs --tls-port");
  // On loopback without a password the ticket is not checked (a local, single-user
  // default, so `remote-viewer spice://127.0.0.1:5900` just works).
  so.ticket.disabled = cfg.disable_ticketing || cfg.password.empty();
  so.ticket.password = cfg.password;
  if (cfg.password_expires > 0) {
    so.ticket.expires = std::chrono::system_clock::now() +
                        std::chrono::milliseconds(int64_t(cfg.password_expires * 1000));
  }
  if (so.ticket.disabled) log::info("ticketing disabled: clients need no password");

  auto server = net::Server::create(so, engine);
  if (!server) {
    std::cerr << "spiceflow serve: " << server.error().message << "\n";
    return kExitRuntime;
  }
  for (int i = 0; i < cfg.desktops; ++i) {
    std::cout << "spiceflow: desktop " << i << " at spice://" << cfg.addr;
    if (cfg.port != 0) std::cout << ":" << cfg.port + i;
    if (cfg.tls_port != 0) std::cout << "?tls-port=" << cfg.tls_port + i;
    std::cout << std::endl;
  }

  std::thread signals([&] {
    int sig = 0;
    sigwait(&sigs, &sig);
    log::info("signal {}: shutting down", sig);
    (*server)->stop();
  });
  engine.start();
  auto st = (*server)->run();
  engine.stop();
  // Wake the signal thread if run() ended on its own.
  pthread_kill(signals.native_handle(), SIGTERM);
  signals.join();

  const auto stats = (*server)->stats();
  for (size_t i = 0; i < engine.size(); ++i) {
    const auto ds = engine.desktop(i).stats();
    log::info("desktop {}: {} frames rendered, {} ticks skipped, {} tiles encoded", i, ds.frames,
              ds.skipped_ticks, ds.tiles_encoded);
  }
  log::info("sent {} bytes, received {} bytes, {} links ok, {} refused, {} display draws",
            stats.bytes_sent, stats.bytes_received, stats.links_ok, stats.links_refused,
            stats.display_messages);
  if (!st) {
    std::cerr << "spiceflow serve: " << st.error().message << "\n";
    return kExitRuntime;
  }
  return 0;
}

}  // namespace spiceflow::tools
