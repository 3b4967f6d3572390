// stream_host: a minimal SPICE host with a streaming agent's port, written against <spice.h>
// only, so the same binary runs on the reference libspice-server.so.1 and on spiceflow's
// (LD_LIBRARY_PATH picks; the binary has no RPATH).
//
//   stream_host --port P --recording FILE [--fps N] [--garbage-after K]
//
// It registers a "port" char device named org.spice-space.stream.0, as QEMU does for
// -chardev spiceport,name=org.spice-space.stream.0, and opens it (spice_server_port_event
// OPENED, what QEMU reports when the guest's agent opens its virtio port). It then acts as
// spice-streaming-agent with a recording: FILE holds the agent's messages as it would write
// them (StreamDevHeader + body: FORMAT, then one DATA per frame). Whenever the server sends
// START_STOP naming the recording's codec, it starts over: FORMAT at once, then one DATA
// every 1/fps s until the recording ends (the last frame stays on screen); START_STOP with
// no codec (or without ours) stops it. --garbage-after K writes a malformed message after K
// frames instead of the rest (the server must answer NOTIFY_ERROR and keep running); the
// host then reopens the port (CLOSED, OPENED) as a restarted agent would.
//
// SIGTERM or SIGINT ends it; it then prints one JSON line: the library the loader picked,
// every START_STOP's codec list, the NOTIFY_ERROR texts, frames written, state() calls.
#include <signal.h>
#include <spice.h>
#include <spice/protocol.h>
#include <spice/stream-device.h>

#include <algorithm>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <iterator>
#include <string>
#include <vector>

#include "core_loop.hpp"

namespace {

volatile sig_atomic_t g_stop = 0;
spiceflow::player::CoreLoop* g_core = nullptr;

struct Message {
  uint16_t type = 0;
  std::vector<uint8_t> bytes;  // header included
};

struct Host {
  std::vector<Message> recording;
  uint8_t codec = 0;
  size_t next = 0;       // next recording message to write
  bool playing = false;
  std::vector<uint8_t> out;  // device -> server, not read yet
  std::vector<uint8_t> in;   // server -> device, not parsed yet
  std::vector<std::vector<uint8_t>> start_stops;
  std::vector<std::string> errors;
  int states_on = 0, states_off = 0;
  uint64_t frames = 0;
  int64_t garbage_after = -1;
  bool garbage_sent = false;
  bool reopen = false;
};
Host g_host;
SpiceCharDeviceInstance g_port{};

uint32_t le32(const uint8_t* p) {
  return uint32_t(p[0]) | uint32_t(p[1]) << 8 | uint32_t(p[2]) << 16 | uint32_t(p[3]) << 24;
}

// Splits the recording into messages (it is ours: a bad one is a test set-up error).
bool load(const std::string& path, Host& h) {
  std::ifstream f(path, std::ios::binary);
  std::vector<uint8_t> all((std::istreambuf_iterator<char>(f)), std::istreambuf_iterator<char>());
  size_t pos = 0;
  while (pos + sizeof(StreamDevHeader) <= all.size()) {
    const uint16_t type = uint16_t(all[pos + 2] | all[pos + 3] << 8);
    const uint32_t size = le32(&all[pos + 4]);
    if (pos + sizeof(StreamDevHeader) + size > all.size()) return false;
    Message m;
    m.type = type;
    m.bytes.assign(all.begin() + long(pos), all.begin() + long(pos + sizeof(StreamDevHeader) + size));
    if (type == STREAM_TYPE_FORMAT && size >= 9) h.codec = all[pos + sizeof(StreamDevHeader) + 8];
    h.recording.push_back(std::move(m));
    pos += sizeof(StreamDevHeader) + size;
  }
  return pos == all.size() && h.codec != 0;
}

// What the server wrote: START_STOP starts or stops the recording; NOTIFY_ERROR is kept.
void parse_in(Host& h) {
  while (h.in.size() >= sizeof(StreamDevHeader)) {
    const uint16_t type = uint16_t(h.in[2] | h.in[3] << 8);
    const uint32_t size = le32(&h.in[4]);
    if (h.in.size() < sizeof(StreamDevHeader) + size) return;
    const uint8_t* body = h.in.data() + sizeof(StreamDevHeader);
    if (type == STREAM_TYPE_START_STOP && size >= 1) {
      const uint8_t n = std::min<uint32_t>(body[0], size - 1);
      std::vector<uint8_t> codecs(body + 1, body + 1 + n);
      h.start_stops.push_back(codecs);
      const bool ours = std::find(codecs.begin(), codecs.end(), h.codec) != codecs.end();
      h.playing = ours;
      h.next = 0;  // a new stream: from the FORMAT on
    } else if (type == STREAM_TYPE_NOTIFY_ERROR && size >= 4) {
      h.errors.emplace_back(reinterpret_cast<const char*>(body + 4),
                            strnlen(reinterpret_cast<const char*>(body + 4), size - 4));
    }
    h.in.erase(h.in.begin(), h.in.begin() + long(sizeof(StreamDevHeader) + size));
  }
}

void port_state(SpiceCharDeviceInstance*, int connected) {
  (connected ? g_host.states_on : g_host.states_off)++;
}
int port_write(SpiceCharDeviceInstance*, const uint8_t* buf, int len) {
  g_host.in.insert(g_host.in.end(), buf, buf + len);
  parse_in(g_host);
  return len;
}
int port_read(SpiceCharDeviceInstance*, uint8_t* buf, int len) {
  const int n = std::min<int>(len, int(g_host.out.size()));
  std::memcpy(buf, g_host.out.data(), size_t(n));
  g_host.out.erase(g_host.out.begin(), g_host.out.begin() + n);
  return n;
}
void port_event(SpiceCharDeviceInstance*, uint8_t) {}

// One tick of the agent: the FORMAT (and anything before the first DATA) at once, then one
// DATA per tick.
void tick(Host& h) {
  if (!h.playing) return;
  bool wrote = false;
  while (h.next < h.recording.size()) {
    const Message& m = h.recording[h.next];
    if (m.type == STREAM_TYPE_DATA && wrote) break;
    if (m.type == STREAM_TYPE_DATA && h.garbage_after >= 0 && !h.garbage_sent &&
        h.frames >= uint64_t(h.garbage_after)) {
      // A DATA header claiming 64 MiB (beyond any frame), then a message type that does
      // not exist: the server must refuse the first and never allocate it.
      const uint8_t bad[] = {STREAM_DEVICE_PROTOCOL, 0, STREAM_TYPE_DATA, 0, 0, 0, 0, 4,
                             1, 0, 0x77, 0, 4, 0, 0, 0, 1, 2, 3, 4};
      h.out.insert(h.out.end(), std::begin(bad), std::end(bad));
      h.garbage_sent = true;
      h.playing = false;
      h.reopen = true;
      break;
    }
    h.out.insert(h.out.end(), m.bytes.begin(), m.bytes.end());
    if (m.type == STREAM_TYPE_DATA) {
      ++h.frames;
      wrote = true;
    }
    ++h.next;
  }
  if (!h.out.empty()) spice_server_char_device_wakeup(&g_port);
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

std::string json_list(const std::vector<uint8_t>& v) {
  std::string s = "[";
  for (size_t i = 0; i < v.size(); ++i) s += (i ? "," : "") + std::to_string(v[i]);
  return s + "]";
}

std::string json_string(const std::string& in) {
  std::string s = "\"";
  for (char c : in) {
    if (c == '"' || c == '\\') s += '\\';
    if (uint8_t(c) >= 0x20) s += c;
  }
  return s + "\"";
}

int usage() {
  std::fprintf(stderr,
               "usage: stream_host --port P --recording FILE [--fps N] [--garbage-after K]\n");
  return 2;
}

}  // namespace

int main(int argc, char** argv) {
  int port = 0, fps = 30;
  std::string recording;
  for (int i = 1; i < argc; ++i) {
    const std::string a = argv[i];
    const char* v = i + 1 < argc ? argv[i + 1] : nullptr;
    if (!v) return usage();
    ++i;
    if (a == "--port") {
      port = std::atoi(v);
    } else if (a == "--recording") {
      recording = v;
    } else if (a == "--fps") {
      fps = std::max(1, std::atoi(v));
    } else if (a == "--garbage-after") {
      g_host.garbage_after = std::atoi(v);
    } else {
      return usage();
    }
  }
  if (port <= 0 || recording.empty()) return usage();
  if (!load(recording, g_host)) {
    std::fprintf(stderr, "stream_host: %s is not a stream-device recording with a FORMAT\n",
                 recording.c_str());
    return 1;
  }

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
  if (spice_server_init(server, loop.core()) != 0) {
    std::fprintf(stderr, "stream_host: spice_server_init failed\n");
    return 1;
  }
  static SpiceCharDeviceInterface sif{};
  sif.base.type = SPICE_INTERFACE_CHAR_DEVICE;
  sif.base.description = "stream port";
  sif.base.major_version = SPICE_INTERFACE_CHAR_DEVICE_MAJOR;
  sif.base.minor_version = SPICE_INTERFACE_CHAR_DEVICE_MINOR;
  sif.state = port_state;
  sif.write = port_write;
  sif.read = port_read;
  sif.event = port_event;
  sif.flags = SPICE_CHAR_DEVICE_NOTIFY_WRITABLE;  // every write is taken whole
  g_port.base.sif = &sif.base;
  g_port.subtype = "port";
  g_port.portname = "org.spice-space.stream.0";
  if (spice_server_add_interface(server, &g_port.base) != 0) {
    std::fprintf(stderr, "stream_host: add_interface failed\n");
    return 1;
  }
  spice_server_vm_start(server);
  spice_server_port_event(&g_port, SPICE_PORT_EVENT_OPENED);

  std::printf("{\"ready\": true, \"port\": %d}\n", port);
  std::fflush(stdout);
  using spiceflow::player::monotonic_ms;
  const int64_t period = 1000 / fps;
  int64_t next_tick = monotonic_ms();
  while (!g_stop) {
    loop.run_once(std::max<int64_t>(0, next_tick - monotonic_ms()));
    if (monotonic_ms() < next_tick) continue;
    next_tick += period;
    if (g_host.reopen && !g_host.errors.empty()) {
      // The agent restarts after the server's error: it reopens its port.
      g_host.reopen = false;
      g_host.out.clear();
      spice_server_port_event(&g_port, SPICE_PORT_EVENT_CLOSED);
      spice_server_port_event(&g_port, SPICE_PORT_EVENT_OPENED);
    }
    tick(g_host);
  }
  std::string starts = "[";
  for (size_t i = 0; i < g_host.start_stops.size(); ++i) {
    starts += (i ? "," : "") + json_list(g_host.start_stops[i]);
  }
  starts += "]";
  std::string errors = "[";
  for (size_t i = 0; i < g_host.errors.size(); ++i) {
    errors += (i ? "," : "") + json_string(g_host.errors[i]);
  }
  errors += "]";
  std::printf(
      "{\"library\": \"%s\", \"codec\": %d, \"frames_written\": %llu, \"start_stops\": %s, "
      "\"notify_errors\": %s, \"state_on\": %d, \"state_off\": %d}\n",
      loaded_library().c_str(), int(g_host.codec), (unsigned long long)g_host.frames,
      starts.c_str(), errors.c_str(), g_host.states_on, g_host.states_off);
  std::fflush(stdout);
  spice_server_remove_interface(&g_port.base);
  spice_server_destroy(server);
  return 0;
}
