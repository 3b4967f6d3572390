// audio_host: a minimal SPICE host with a playback and a record device, written against
// <spice.h> only, so the same binary runs on the reference libspice-server.so.1 and on
// spiceflow's (LD_LIBRARY_PATH picks; the binary has no RPATH).
//
//   audio_host --port P --out DIR [--rate HZ] [--playback-compression on|off]
//              [--volume L,R] [--mute]
//
// It runs tools/qxl-player's CoreLoop (the SpiceCoreInterface: poll() watches and timers,
// as QEMU's main loop provides them) and, every 10 ms of that loop, does what QEMU's
// -audiodev spice does: asks for a playback buffer (spice_server_playback_get_buffer) and,
// when one is lent, fills it with the next samples of a known signal and puts it back; and
// reads whatever the record device has (spice_server_record_get_samples). Everything put
// goes to DIR/played.raw and everything read to DIR/recorded.raw (S16 stereo, as on the
// wire). SIGTERM or SIGINT ends it; it then prints one JSON line with its counters and the
// library the loader picked.
//
// The signal: left a logarithmic sine sweep 200 Hz -> 6 kHz over 2 s, right the same sweep
// descending, both at 40% of full scale; sample n of the stream is a pure function of n.
#include <signal.h>
#include <spice.h>

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <numbers>
#include <string>
#include <vector>

#include "core_loop.hpp"

namespace {

volatile sig_atomic_t g_stop = 0;
spiceflow::player::CoreLoop* g_core = nullptr;

// Sample n of the test signal (left | right << 16).
uint32_t signal_sample(uint64_t n, uint32_t rate) {
  const double period = 2.0;  // seconds per sweep
  const double f0 = 200, f1 = 6000;
  const double k = std::log(f1 / f0);
  const double t = std::fmod(double(n) / rate, period);
  // Phase of a log sweep f(t) = f0 * exp(k t / T): 2 pi f0 T / k (exp(k t / T) - 1).
  const double up = 2 * std::numbers::pi * f0 * period / k * (std::exp(k * t / period) - 1);
  const double down_t = period - t;
  const double down = 2 * std::numbers::pi * f0 * period / k * (std::exp(k * down_t / period) - 1);
  const auto l = int16_t(std::lround(0.4 * 32767 * std::sin(up)));
  const auto r = int16_t(std::lround(0.4 * 32767 * std::sin(-down)));
  return uint32_t(uint16_t(l)) | uint32_t(uint16_t(r)) << 16;
}

std::string loaded_library() {
  std::ifstream maps("/proc/self/maps");
  std::string line;
  while (std::getline(maps, line)) {
    const auto at = line.find('/');
    if (at != std::string::npos && line.find("libspice-server.so") != std::string::npos) {
      char real[4096];
      const std::string path = line.substr(at);
      return realpath(path.c_str(), real) ? real : path;
    }
  }
  return "";
}

int usage() {
  std::fprintf(stderr,
               "usage: audio_host --port P --out DIR [--rate HZ] [--playback-compression on|off] "
               "[--volume L,R] [--mute]\n");
  return 2;
}

}  // namespace

int main(int argc, char** argv) {
  int port = 0;
  std::string out_dir;
  uint32_t rate = 0;  // 0: never call set_*_rate
  int compression = -1;
  std::vector<uint16_t> volume;
  bool mute = false;
  for (int i = 1; i < argc; ++i) {
    const std::string a = argv[i];
    auto next = [&]() -> const char* { return i + 1 < argc ? argv[++i] : nullptr; };
    if (a == "--port" && i + 1 < argc) {
      port = std::atoi(next());
    } else if (a == "--out" && i + 1 < argc) {
      out_dir = next();
    } else if (a == "--rate" && i + 1 < argc) {
      rate = uint32_t(std::atoi(next()));
    } else if (a == "--playback-compression" && i + 1 < argc) {
      compression = std::string(next()) == "on" ? 1 : 0;
    } else if (a == "--volume" && i + 1 < argc) {
      unsigned l = 0, r = 0;
      if (std::sscanf(next(), "%u,%u", &l, &r) != 2) return usage();
      volume = {uint16_t(l), uint16_t(r)};
    } else if (a == "--mute") {
      mute = true;
    } else {
      return usage();
    }
  }
  if (port <= 0 || out_dir.empty()) return usage();

  spiceflow::player::CoreLoop loop;
  g_core = &loop;
  struct sigaction sa{};
  sa.sa_handler = [](int) {
    g_stop = 1;
    g_core->wake();
  };
  sigaction(SIGTERM, &sa, nullptr);
  sigaction(SIGINT, &sa, nullptr);

  SpiceServer* server = spice_server_new();
  spice_server_set_port(server, port);
  spice_server_set_addr(server, "127.0.0.1", 0);
  spice_server_set_noauth(server);
  if (compression >= 0) spice_server_set_playback_compression(server, compression);
  if (spice_server_init(server, loop.core()) != 0) {
    std::fprintf(stderr, "audio_host: spice_server_init failed\n");
    return 1;
  }

  static SpicePlaybackInterface playback_sif{};
  playback_sif.base.type = SPICE_INTERFACE_PLAYBACK;
  playback_sif.base.description = "playback";
  playback_sif.base.major_version = SPICE_INTERFACE_PLAYBACK_MAJOR;
  playback_sif.base.minor_version = SPICE_INTERFACE_PLAYBACK_MINOR;
  static SpicePlaybackInstance playback{};
  playback.base.sif = &playback_sif.base;
  static SpiceRecordInterface record_sif{};
  record_sif.base.type = SPICE_INTERFACE_RECORD;
  record_sif.base.description = "record";
  record_sif.base.major_version = SPICE_INTERFACE_RECORD_MAJOR;
  record_sif.base.minor_version = SPICE_INTERFACE_RECORD_MINOR;
  static SpiceRecordInstance record{};
  record.base.sif = &record_sif.base;

  // As QEMU's audio/spiceaudio.c: ask for the best rate, register, set the rate, and start
  // the devices (QEMU starts them when the guest opens its sound card).
  const uint32_t best = spice_server_get_best_playback_rate(nullptr);
  if (spice_server_add_interface(server, &playback.base) != 0 ||
      spice_server_add_interface(server, &record.base) != 0) {
    std::fprintf(stderr, "audio_host: add_interface failed\n");
    return 1;
  }
  if (rate) {
    spice_server_set_playback_rate(&playback, rate);
    spice_server_set_record_rate(&record, rate);
  }
  const uint32_t signal_rate = rate ? rate : best;
  if (!volume.empty()) {
    spice_server_playback_set_volume(&playback, uint8_t(volume.size()), volume.data());
    spice_server_record_set_volume(&record, uint8_t(volume.size()), volume.data());
  }
  spice_server_playback_set_mute(&playback, mute);
  spice_server_record_set_mute(&record, mute);
  spice_server_playback_start(&playback);
  spice_server_record_start(&record);
  spice_server_vm_start(server);

  std::ofstream played(out_dir + "/played.raw", std::ios::binary);
  std::ofstream recorded(out_dir + "/recorded.raw", std::ios::binary);
  uint64_t next_sample = 0, frames_put = 0, null_buffers = 0, recorded_samples = 0;
  uint32_t frame_size = 0;
  std::vector<uint32_t> rec_buf(4096);
  using spiceflow::player::monotonic_ms;
  int64_t next_tick = monotonic_ms();
  std::printf("{\"ready\": true, \"port\": %d}\n", port);
  std::fflush(stdout);
  while (!g_stop) {
    loop.run_once(std::max<int64_t>(0, next_tick - monotonic_ms()));
    const int64_t now = monotonic_ms();
    if (now < next_tick) continue;
    // One 10 ms tick; a late loop catches up by at most 4 frames (QEMU's rate control
    // also drops what it cannot deliver in time).
    int64_t due = (now - next_tick) / 10 + 1;
    next_tick += 10 * due;
    due = std::min<int64_t>(due, 4);
    for (int64_t f = 0; f < due; ++f) {
      uint32_t* buf = nullptr;
      uint32_t n = 0;
      spice_server_playback_get_buffer(&playback, &buf, &n);
      if (!buf || !n) {
        ++null_buffers;
        break;
      }
      frame_size = n;
      for (uint32_t i = 0; i < n; ++i) buf[i] = signal_sample(next_sample++, signal_rate);
      played.write(reinterpret_cast<const char*>(buf), std::streamsize(n) * 4);
      spice_server_playback_put_samples(&playback, buf);
      ++frames_put;
    }
    while (true) {
      const uint32_t got =
          spice_server_record_get_samples(&record, rec_buf.data(), uint32_t(rec_buf.size()));
      if (!got) break;
      recorded.write(reinterpret_cast<const char*>(rec_buf.data()), std::streamsize(got) * 4);
      recorded_samples += got;
      if (got < rec_buf.size()) break;
    }
  }
  played.close();
  recorded.close();
  std::printf(
      "{\"library\": \"%s\", \"best_rate\": %u, \"signal_rate\": %u, \"frame_size\": %u, "
      "\"frames_put\": %llu, \"null_buffers\": %llu, \"recorded_samples\": %llu}\n",
      loaded_library().c_str(), best, signal_rate, frame_size, (unsigned long long)frames_put,
      (unsigned long long)null_buffers, (unsigned long long)recorded_samples);
  std::fflush(stdout);
  spice_server_playback_stop(&playback);
  spice_server_record_stop(&record);
  spice_server_remove_interface(&playback.base);
  spice_server_remove_interface(&record.base);
  spice_server_destroy(server);
  return 0;
}
