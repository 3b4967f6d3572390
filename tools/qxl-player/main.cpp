// spiceflow-qxl-player: a host program that drives libspice-server.so.1 through its public
// API only, the way QEMU does (a SpiceCoreInterface main loop, a QXL device with guest-like
// memory and rings, keyboard / mouse / tablet), with deterministic desktop scenes or a
// record file. The same binary runs on the reference library (the system's) and on
// spiceflow's drop-in (LD_LIBRARY_PATH=build/compat). See tools/README.md.
//
// Exit codes: 0 success, 1 runtime failure, 2 bad usage (or --replay on a library whose
// spice_replay_new returns NULL).
#include <dlfcn.h>
#include <getopt.h>
#include <sys/resource.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <climits>
#include <csignal>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <memory>
#include <string>

#include "core_loop.hpp"
#include "input_devices.hpp"
#include "qxl_device.hpp"
#include "replay_feed.hpp"
#include "scenes.hpp"

using namespace spiceflow::player;

namespace {

struct Options {
  std::string scene;
  int port = 0;
  double seconds = 0;
  double fps = 30;
  std::string replay;
  std::string password;
  bool has_password = false;
  uint64_t frames = 0;  // 0: as many as fit in --seconds
  bool pixel_code = true;
  std::string dump_frame;
  std::string dump_expected;
  std::string image_compression;
  std::string streaming_video;
};

constexpr const char* kUsage =
    "usage: spiceflow-qxl-player --scene NAME --port N --seconds S [--fps F] [--replay FILE]\n"
    "         [--password P] [--frames N] [--no-pixel-code] [--dump-frame OUT.ppm]\n"
    "         [--dump-expected OUT.ppm] [--image-compression C] [--streaming-video V]\n"
    "\n"
    "Serves SPICE on 127.0.0.1:N for S seconds, drawing scene NAME at F frames/s (default 30)\n"
    "through a QXL device, then prints one JSON line with its figures.\n"
    "  --scene NAME          %s\n"
    "  --replay FILE         feed the commands of a SPICE_WORKER_RECORD_FILENAME recording\n"
    "                        (spice_replay_*) instead of a scene\n"
    "  --password P          clients must give this ticket (default: no ticketing)\n"
    "  --frames N            draw N frames, then idle (the picture stays: for comparisons)\n"
    "  --no-pixel-code       do not paint the latency pixel code at (0,0)\n"
    "  --dump-frame F        at the end, spice_qxl_update_area the whole primary surface and\n"
    "                        write the guest's surface memory (the library's rendering) as PPM\n"
    "  --dump-expected F     write the player's own model of the final picture as PPM\n"
    "  --image-compression C off|auto_glz|auto_lz|quic|glz|lz|lz4 (default: the library's)\n"
    "  --streaming-video V   off|all|filter (default: the library's)\n";

// What the SIGINT/SIGTERM handler reaches: the run ends at the next loop iteration, and a
// wait for the library in progress gives up.
std::atomic<CoreLoop*> g_signal_loop{nullptr};
std::atomic<QxlDevice*> g_signal_device{nullptr};
volatile std::sig_atomic_t g_stop = 0;

void on_signal(int) {
  g_stop = 1;
  if (QxlDevice* d = g_signal_device.load()) d->request_stop();
  if (CoreLoop* l = g_signal_loop.load()) l->wake();
}

int usage_error(const char* fmt, const char* arg = "") {
  std::fprintf(stderr, "spiceflow-qxl-player: ");
  std::fprintf(stderr, fmt, arg);
  std::fprintf(stderr, "\n\n");
  std::fprintf(stderr, kUsage, scene_names());
  return 2;
}

bool parse_number(const char* s, double* out) {
  char* end = nullptr;
  errno = 0;
  *out = std::strtod(s, &end);
  return errno == 0 && end && *end == '\0' && end != s;
}

/// Returns 0 when parsed, else the exit code.
int parse(int argc, char** argv, Options* o) {
  enum { kScene = 1, kPort, kSeconds, kFps, kReplay, kPassword, kFrames, kNoPixelCode,
         kDumpFrame, kDumpExpected, kImageCompression, kStreamingVideo, kHelp };
  static const option longopts[] = {
      {"scene", required_argument, nullptr, kScene},
      {"port", required_argument, nullptr, kPort},
      {"seconds", required_argument, nullptr, kSeconds},
      {"fps", required_argument, nullptr, kFps},
      {"replay", required_argument, nullptr, kReplay},
      {"password", required_argument, nullptr, kPassword},
      {"frames", required_argument, nullptr, kFrames},
      {"no-pixel-code", no_argument, nullptr, kNoPixelCode},
      {"dump-frame", required_argument, nullptr, kDumpFrame},
      {"dump-expected", required_argument, nullptr, kDumpExpected},
      {"image-compression", required_argument, nullptr, kImageCompression},
      {"streaming-video", required_argument, nullptr, kStreamingVideo},
      {"help", no_argument, nullptr, kHelp},
      {nullptr, 0, nullptr, 0},
  };
  bool have_port = false, have_seconds = false;
  opterr = 0;
  int c;
  while ((c = getopt_long(argc, argv, "", longopts, nullptr)) != -1) {
    double v = 0;
    switch (c) {
      case kScene: o->scene = optarg; break;
      case kPort:
        if (!parse_number(optarg, &v) || v < 1 || v > 65535 || v != int(v)) {
          return usage_error("bad --port '%s'", optarg);
        }
        o->port = int(v);
        have_port = true;
        break;
      case kSeconds:
        if (!parse_number(optarg, &v) || v <= 0 || v > 86400) {
          return usage_error("bad --seconds '%s'", optarg);
        }
        o->seconds = v;
        have_seconds = true;
        break;
      case kFps:
        if (!parse_number(optarg, &v) || v <= 0 || v > 1000) {
          return usage_error("bad --fps '%s'", optarg);
        }
        o->fps = v;
        break;
      case kReplay: o->replay = optarg; break;
      case kPassword:
        o->password = optarg;
        o->has_password = true;
        break;
      case kFrames:
        if (!parse_number(optarg, &v) || v < 1 || v != double(uint64_t(v))) {
          return usage_error("bad --frames '%s'", optarg);
        }
        o->frames = uint64_t(v);
        break;
      case kNoPixelCode: o->pixel_code = false; break;
      case kDumpFrame: o->dump_frame = optarg; break;
      case kDumpExpected: o->dump_expected = optarg; break;
      case kImageCompression: o->image_compression = optarg; break;
      case kStreamingVideo: o->streaming_video = optarg; break;
      case kHelp: std::printf(kUsage, scene_names()); return -1;
      default:
        return usage_error("unknown or incomplete option '%s'", argv[optind - 1]);
    }
  }
  if (optind < argc) return usage_error("unexpected argument '%s'", argv[optind]);
  if (!have_port) return usage_error("--port is required");
  if (!have_seconds) return usage_error("--seconds is required");
  if (o->replay.empty()) {
    SceneSize size{};
    if (o->scene.empty()) return usage_error("--scene (or --replay) is required");
    if (!scene_size(o->scene, &size)) return usage_error("unknown scene '%s'", o->scene.c_str());
  } else if (!o->dump_frame.empty() || !o->dump_expected.empty() || o->frames) {
    return usage_error("--dump-frame, --dump-expected and --frames are for scenes, not --replay");
  }
  return 0;
}

bool set_image_compression(SpiceServer* s, const std::string& name) {
  static const struct {
    const char* name;
    SpiceImageCompression value;
  } kModes[] = {{"off", SPICE_IMAGE_COMPRESSION_OFF},   {"auto_glz", SPICE_IMAGE_COMPRESSION_AUTO_GLZ},
                {"auto_lz", SPICE_IMAGE_COMPRESSION_AUTO_LZ}, {"quic", SPICE_IMAGE_COMPRESSION_QUIC},
                {"glz", SPICE_IMAGE_COMPRESSION_GLZ},   {"lz", SPICE_IMAGE_COMPRESSION_LZ},
                {"lz4", SPICE_IMAGE_COMPRESSION_LZ4}};
  for (const auto& m : kModes) {
    if (name == m.name) return spice_server_set_image_compression(s, m.value) == 0;
  }
  return false;
}

bool set_streaming_video(SpiceServer* s, const std::string& name) {
  int v = name == "off" ? SPICE_STREAM_VIDEO_OFF
          : name == "all" ? SPICE_STREAM_VIDEO_ALL
          : name == "filter" ? SPICE_STREAM_VIDEO_FILTER
                             : -1;
  return v >= 0 && spice_server_set_streaming_video(s, v) == 0;
}

/// The file the dynamic loader took libspice-server from.
std::string library_path() {
  Dl_info info{};
  if (dladdr(reinterpret_cast<void*>(&spice_server_new), &info) && info.dli_fname) {
    char resolved[PATH_MAX];
    if (realpath(info.dli_fname, resolved)) return resolved;
    return info.dli_fname;
  }
  return "?";
}

bool write_ppm(const std::string& path, const uint8_t* xrgb, int w, int h, size_t stride) {
  FILE* f = std::fopen(path.c_str(), "wb");
  if (!f) return false;
  std::fprintf(f, "P6\n%d %d\n255\n", w, h);
  std::string row(size_t(w) * 3, '\0');
  for (int y = 0; y < h; ++y) {
    const uint8_t* p = xrgb + size_t(y) * stride;
    for (int x = 0; x < w; ++x) {  // memory order B, G, R, X
      row[size_t(x) * 3] = char(p[x * 4 + 2]);
      row[size_t(x) * 3 + 1] = char(p[x * 4 + 1]);
      row[size_t(x) * 3 + 2] = char(p[x * 4]);
    }
    std::fwrite(row.data(), 1, row.size(), f);
  }
  return std::fclose(f) == 0;
}

std::string json_escape(const std::string& s) {
  std::string out;
  for (char c : s) {
    if (c == '"' || c == '\\') out.push_back('\\');
    if (static_cast<unsigned char>(c) < 0x20) continue;
    out.push_back(c);
  }
  return out;
}

}  // namespace

int main(int argc, char** argv) {
  Options opt;
  if (int rc = parse(argc, argv, &opt)) return rc < 0 ? 0 : rc;

  // stdout carries the one JSON line only: whatever the library prints there (a library may
  // log to stdout) goes to stderr instead.
  std::fflush(stdout);
  const int json_fd = dup(STDOUT_FILENO);
  FILE* json_out = json_fd >= 0 ? fdopen(json_fd, "w") : nullptr;
  if (!json_out || dup2(STDERR_FILENO, STDOUT_FILENO) < 0) {
    std::perror("spiceflow-qxl-player: redirecting stdout");
    return 1;
  }

  std::signal(SIGPIPE, SIG_IGN);  // as QEMU: socket errors come back from write()
  std::signal(SIGINT, on_signal);
  std::signal(SIGTERM, on_signal);

  const bool replay_mode = !opt.replay.empty();
  SpiceReplay* replay = nullptr;
  if (replay_mode) {
    FILE* f = std::fopen(opt.replay.c_str(), "rb");
    if (!f) {
      std::fprintf(stderr, "spiceflow-qxl-player: cannot open %s: %s\n", opt.replay.c_str(),
                   std::strerror(errno));
      return 2;
    }
    replay = spice_replay_new(f, 1024);
    if (!replay) {
      std::fclose(f);
      std::fprintf(stderr,
                   "spiceflow-qxl-player: spice_replay_new returned NULL for %s: the record file "
                   "is not valid or this libspice-server (%s) does not implement replay\n",
                   opt.replay.c_str(), library_path().c_str());
      return 2;
    }
  }

  CoreLoop loop;
  g_signal_loop = &loop;

  SceneSize size{1920, 1080};
  if (!replay_mode) scene_size(opt.scene, &size);
  QxlDevice::Options dopt;
  dopt.width = size.width;
  dopt.height = size.height;
  // Room for about six full-screen images in flight, at least 64 MiB (QEMU's default VRAM).
  dopt.image_heap_bytes = std::max<uint64_t>(64ull << 20, uint64_t(size.width) * size.height * 4 * 6);
  dopt.shadow = !opt.dump_expected.empty();
  auto dev = std::make_unique<QxlDevice>(loop, dopt);
  g_signal_device = dev.get();
  InputDevices inputs;
  // Before the server exists: a scene's textures take a moment to make.
  std::unique_ptr<Scene> scene = replay_mode ? nullptr : make_scene(opt.scene);

  SpiceServer* server = spice_server_new();
  spice_server_set_port(server, opt.port);
  spice_server_set_addr(server, "127.0.0.1", 0);
  if (opt.has_password) {
    spice_server_set_ticket(server, opt.password.c_str(), 0, 0, 0);
  } else {
    spice_server_set_noauth(server);
  }
  spice_server_set_name(server, "spiceflow-qxl-player");
  if (!opt.image_compression.empty() && !set_image_compression(server, opt.image_compression)) {
    return usage_error("bad --image-compression '%s'", opt.image_compression.c_str());
  }
  if (!opt.streaming_video.empty() && !set_streaming_video(server, opt.streaming_video)) {
    return usage_error("bad --streaming-video '%s'", opt.streaming_video.c_str());
  }
  if (spice_server_init(server, loop.core()) != 0) {
    std::fprintf(stderr, "spiceflow-qxl-player: spice_server_init failed (port %d in use?)\n",
                 opt.port);
    return 1;
  }
  if (!inputs.attach(server)) {
    std::fprintf(stderr, "spiceflow-qxl-player: adding the input devices failed\n");
    return 1;
  }

  std::unique_ptr<ReplayFeed> feed;
  if (replay_mode) feed = std::make_unique<ReplayFeed>(loop, *dev, replay);

  rusage ru_start{}, ru_main_start{};
  getrusage(RUSAGE_SELF, &ru_start);  // the figures cover the run, not the set-up before it
  getrusage(RUSAGE_THREAD, &ru_main_start);
  const int64_t start = monotonic_ms();
  const int64_t end = start + int64_t(opt.seconds * 1000);
  dev->set_deadline(end);

  uint64_t frames = 0, skipped = 0, slot = 0;
  bool rendered = false;  // update_area ran after the last frame
  std::string waiting_at_end;  // what the device waited for when the run ended, if anything
  std::fprintf(stderr, "spiceflow-qxl-player: %s %dx%d on 127.0.0.1:%d, library %s\n",
               replay_mode ? "replay" : opt.scene.c_str(), size.width, size.height, opt.port,
               library_path().c_str());
  try {
    dev->attach(server, replay_mode);
    if (feed) feed->fill();
    const double period_ms = 1000.0 / opt.fps;
    bool producing = !replay_mode;
    bool replay_reported = false;
    while (!g_stop) {
      int64_t now = monotonic_ms();
      if (now >= end) break;
      if (feed && !replay_reported && feed->drained()) {
        replay_reported = true;
        std::fprintf(stderr, "spiceflow-qxl-player: replay done, %llu commands\n",
                     static_cast<unsigned long long>(feed->commands()));
      }
      const int64_t due = start + int64_t(double(slot) * period_ms);
      if (producing && now >= due) {
        dev->collect_releases();  // what the library gave back since the last frame
        scene->frame(*dev, frames);
        if (opt.pixel_code) draw_pixel_code(*dev, uint32_t(frames));
        ++frames;
        // The next slot is the current one when this frame overran its period: slots it
        // overran are skipped, not made up in a burst.
        now = monotonic_ms();
        const uint64_t next = std::max<uint64_t>(slot + 1, uint64_t(double(now - start) / period_ms));
        skipped += next - slot - 1;
        slot = next;
        // Serve the library's timers and sockets between frames, also when behind schedule.
        loop.run_once(0);
        if (opt.frames && frames == opt.frames) {
          producing = false;
          dev->update_area();  // everything drawn is rendered before anyone looks
          rendered = true;
          std::fprintf(stderr, "spiceflow-qxl-player: %llu frames drawn\n",
                       static_cast<unsigned long long>(frames));
        }
        continue;
      }
      int64_t timeout = end - now;
      if (producing) timeout = std::min<int64_t>(timeout, std::max<int64_t>(0, due - now));
      loop.run_once(timeout);
    }
  } catch (const Stalled& s) {
    waiting_at_end = s.what;
  }
  const double wall_s = double(monotonic_ms() - start) / 1000.0;
  rusage ru{}, ru_main{};
  getrusage(RUSAGE_SELF, &ru);
  getrusage(RUSAGE_THREAD, &ru_main);

  bool dumped_ok = true;
  if (!opt.dump_frame.empty()) {
    if (!rendered) dev->update_area();
    dumped_ok = write_ppm(opt.dump_frame, dev->primary_pixels(), size.width, size.height,
                          size_t(size.width) * 4);
  }
  if (!opt.dump_expected.empty()) {
    dumped_ok = dumped_ok && write_ppm(opt.dump_expected,
                                       reinterpret_cast<const uint8_t*>(dev->shadow_pixels()),
                                       size.width, size.height, size_t(size.width) * 4);
  }

  auto seconds_of = [](const timeval& tv) { return double(tv.tv_sec) + double(tv.tv_usec) / 1e6; };
  const double cpu_user = seconds_of(ru.ru_utime) - seconds_of(ru_start.ru_utime);
  const double cpu_sys = seconds_of(ru.ru_stime) - seconds_of(ru_start.ru_stime);
  // The main thread: the scene, the guest side of the device, and what the library runs in
  // the host's main loop (its timers and watches).
  const double cpu_main = seconds_of(ru_main.ru_utime) + seconds_of(ru_main.ru_stime) -
                          seconds_of(ru_main_start.ru_utime) - seconds_of(ru_main_start.ru_stime);
  spice_server_vm_stop(server);
  dev->detach();
  spice_server_destroy(server);

  const DeviceStats& st = dev->stats();
  const InputCounts& in = inputs.counts();
  const ChannelEventCounts& ev = loop.channel_events();
  std::fprintf(
      json_out,
      "{\"player\":\"spiceflow-qxl-player\",\"scene\":\"%s\",\"replay\":%s,\"library\":\"%s\","
      "\"width\":%d,\"height\":%d,\"port\":%d,\"seconds\":%.3f,\"fps_target\":%g,"
      "\"frames\":%llu,\"frames_skipped\":%llu,\"fps_submitted\":%.2f,"
      "\"commands\":%llu,\"display_commands\":%llu,\"cursor_commands\":%llu,"
      "\"commands_fetched\":%llu,\"released\":%llu,\"image_bytes\":%llu,"
      "\"ring_full_waits\":%llu,\"memory_waits\":%llu,\"oom_notifies\":%llu,\"wakeups\":%llu,"
      "\"image_heap_peak\":%llu,\"waiting_at_end\":%s,"
      "\"cpu_user_s\":%.3f,\"cpu_sys_s\":%.3f,\"cpu_main_thread_s\":%.3f,\"peak_rss_kb\":%ld,"
      "\"client_present_calls\":%llu,\"channel_events\":{\"connected\":%llu,\"initialized\":%llu,"
      "\"disconnected\":%llu},\"input\":{\"scancodes\":%llu,\"mouse_motions\":%llu,"
      "\"mouse_buttons\":%llu,\"tablet_positions\":%llu,\"tablet_wheels\":%llu,"
      "\"tablet_buttons\":%llu,\"tablet_button_changes\":%llu}}\n",
      replay_mode ? "" : opt.scene.c_str(),
      replay_mode ? ("{\"file\":\"" + json_escape(opt.replay) + "\",\"commands\":" +
                     std::to_string(feed->commands()) + ",\"done\":" +
                     (feed->done() ? "true" : "false") + "}")
                        .c_str()
                  : "null",
      json_escape(library_path()).c_str(), size.width, size.height, opt.port, wall_s, opt.fps,
      static_cast<unsigned long long>(frames), static_cast<unsigned long long>(skipped),
      wall_s > 0 ? double(frames) / wall_s : 0.0,
      static_cast<unsigned long long>(feed ? feed->commands()
                                           : st.display_commands + st.cursor_commands),
      static_cast<unsigned long long>(st.display_commands.load()),
      static_cast<unsigned long long>(st.cursor_commands.load()),
      static_cast<unsigned long long>(st.fetched.load()),
      static_cast<unsigned long long>(st.released.load()),
      static_cast<unsigned long long>(st.image_bytes.load()),
      static_cast<unsigned long long>(st.ring_full_waits.load()),
      static_cast<unsigned long long>(st.memory_waits.load()),
      static_cast<unsigned long long>(st.oom_notifies.load()),
      static_cast<unsigned long long>(st.wakeups.load()),
      static_cast<unsigned long long>(dev->image_heap_peak()),
      waiting_at_end.empty() ? "null" : ("\"" + waiting_at_end + "\"").c_str(), cpu_user, cpu_sys, cpu_main, ru.ru_maxrss,
      static_cast<unsigned long long>(st.client_present.load()),
      static_cast<unsigned long long>(ev.connected.load()),
      static_cast<unsigned long long>(ev.initialized.load()),
      static_cast<unsigned long long>(ev.disconnected.load()),
      static_cast<unsigned long long>(in.scancodes.load()),
      static_cast<unsigned long long>(in.mouse_motions.load()),
      static_cast<unsigned long long>(in.mouse_buttons.load()),
      static_cast<unsigned long long>(in.tablet_positions.load()),
      static_cast<unsigned long long>(in.tablet_wheels.load()),
      static_cast<unsigned long long>(in.tablet_buttons.load()),
      static_cast<unsigned long long>(in.tablet_button_changes.load()));
  std::fclose(json_out);
  feed.reset();
  g_signal_loop = nullptr;
  g_signal_device = nullptr;
  if (!dumped_ok) {
    std::fprintf(stderr, "spiceflow-qxl-player: writing a PPM failed\n");
    return 1;
  }
  return 0;
}
