// replay_host: a SPICE host that replays a record file (SPICE_WORKER_RECORD_FILENAME) into a
// server, through the public libspice-server ABI only (<spice.h>): spice_replay_new /
// next_cmd / free_cmd / free feed one QXL device. Linked against the system library; the
// same binary runs on the reference libspice-server.so.1 or on spiceflow's
// (LD_LIBRARY_PATH=build/compat), which is the point: the interop test replays one file on
// both and compares what a client sees.
//
//   replay_host --port PORT FILE
//
// Prints "REPLAY_READ N" when spice_replay_next_cmd returned NULL after N commands and
// "REPLAY_DRAINED" once the server has fetched all of them; serves until SIGTERM/SIGINT.
// Exit status: 0 after a signal, 2 for bad arguments, 3 when the file is not a recording.
//
// The host follows the reference's tests/replay.c: one memslot mapping the whole address
// space 1:1 (the replayed commands hold host pointers), commands fed from a thread of ours
// (spice_replay_next_cmd performs primary-surface calls synchronously, so never from the
// QXL worker), at most 50 queued, spice_qxl_wakeup after each batch.
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <deque>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include <spice.h>

namespace {

// ---- a small poll() main loop implementing SpiceCoreInterface

using Clock = std::chrono::steady_clock;

}  // namespace

struct SpiceTimer {
  SpiceTimerFunc func;
  void* opaque;
  bool armed = false;
  bool removed = false;
  Clock::time_point due;
};

struct SpiceWatch {
  int fd;
  int mask;
  SpiceWatchFunc func;
  void* opaque;
  bool removed = false;
};

namespace {

struct Loop {
  std::recursive_mutex mu;  // the server may call the core from its threads
  std::vector<std::unique_ptr<SpiceTimer>> timers;
  std::vector<std::unique_ptr<SpiceWatch>> watches;
  int wake[2] = {-1, -1};
};
Loop g_loop;  // the core interface has no opaque pointer: one loop per process
std::atomic<bool> g_quit{false};
int g_signal_pipe[2] = {-1, -1};

void poke() {
  const char c = 0;
  (void)!write(g_loop.wake[1], &c, 1);
}

SpiceTimer* timer_add(SpiceTimerFunc func, void* opaque) {
  std::lock_guard lock(g_loop.mu);
  g_loop.timers.push_back(std::make_unique<SpiceTimer>(SpiceTimer{func, opaque, false, false, {}}));
  return g_loop.timers.back().get();
}
void timer_start(SpiceTimer* t, uint32_t ms) {
  std::lock_guard lock(g_loop.mu);
  t->armed = true;
  t->due = Clock::now() + std::chrono::milliseconds(ms);
  poke();
}
void timer_cancel(SpiceTimer* t) {
  std::lock_guard lock(g_loop.mu);
  t->armed = false;
}
void timer_remove(SpiceTimer* t) {
  std::lock_guard lock(g_loop.mu);
  t->armed = false;
  t->removed = true;
}
SpiceWatch* watch_add(int fd, int mask, SpiceWatchFunc func, void* opaque) {
  std::lock_guard lock(g_loop.mu);
  g_loop.watches.push_back(std::make_unique<SpiceWatch>(SpiceWatch{fd, mask, func, opaque}));
  poke();
  return g_loop.watches.back().get();
}
void watch_update_mask(SpiceWatch* w, int mask) {
  std::lock_guard lock(g_loop.mu);
  w->mask = mask;
  poke();
}
void watch_remove(SpiceWatch* w) {
  std::lock_guard lock(g_loop.mu);
  w->removed = true;
  poke();
}
void channel_event(int event, SpiceChannelEventInfo* info) {}

void run_loop() {
  while (!g_quit) {
    std::vector<pollfd> fds;
    std::vector<SpiceWatch*> polled;
    int timeout = 1000;
    {
      std::lock_guard lock(g_loop.mu);
      std::erase_if(g_loop.watches, [](auto& w) { return w->removed; });
      std::erase_if(g_loop.timers, [](auto& t) { return t->removed; });
      fds.push_back({g_loop.wake[0], POLLIN, 0});
      fds.push_back({g_signal_pipe[0], POLLIN, 0});
      for (auto& w : g_loop.watches) {
        short ev = 0;
        if (w->mask & SPICE_WATCH_EVENT_READ) ev |= POLLIN;
        if (w->mask & SPICE_WATCH_EVENT_WRITE) ev |= POLLOUT;
        if (!ev) continue;
        fds.push_back({w->fd, ev, 0});
        polled.push_back(w.get());
      }
      const auto now = Clock::now();
      for (auto& t : g_loop.timers) {
        if (!t->armed) continue;
        const auto ms = std::chrono::duration_cast<std::chrono::milliseconds>(t->due - now).count();
        timeout = std::min<int>(timeout, int(std::max<int64_t>(0, ms)));
      }
    }
    if (poll(fds.data(), fds.size(), timeout) < 0 && errno != EINTR) break;
    char buf[64];
    if (fds[0].revents & POLLIN) (void)!read(g_loop.wake[0], buf, sizeof(buf));
    if (fds[1].revents & POLLIN) break;  // SIGTERM / SIGINT
    std::lock_guard lock(g_loop.mu);
    for (size_t i = 0; i < polled.size(); ++i) {
      SpiceWatch* w = polled[i];
      const short re = fds[i + 2].revents;
      if (w->removed || !re) continue;
      if ((re & (POLLIN | POLLHUP | POLLERR)) && (w->mask & SPICE_WATCH_EVENT_READ)) {
        w->func(w->fd, SPICE_WATCH_EVENT_READ, w->opaque);
      }
      if (!w->removed && (re & (POLLOUT | POLLERR)) && (w->mask & SPICE_WATCH_EVENT_WRITE)) {
        w->func(w->fd, SPICE_WATCH_EVENT_WRITE, w->opaque);
      }
    }
    const auto now = Clock::now();
    for (size_t i = 0; i < g_loop.timers.size(); ++i) {  // callbacks may add timers
      SpiceTimer* t = g_loop.timers[i].get();
      if (t->armed && !t->removed && t->due <= now) {
        t->armed = false;
        t->func(t->opaque);
      }
    }
  }
}

SpiceCoreInterface g_core = [] {
  SpiceCoreInterface c{};
  c.base.type = SPICE_INTERFACE_CORE;
  c.base.description = "replay_host core";
  c.base.major_version = SPICE_INTERFACE_CORE_MAJOR;
  c.base.minor_version = SPICE_INTERFACE_CORE_MINOR;
  c.timer_add = timer_add;
  c.timer_start = timer_start;
  c.timer_cancel = timer_cancel;
  c.timer_remove = timer_remove;
  c.watch_add = watch_add;
  c.watch_update_mask = watch_update_mask;
  c.watch_remove = watch_remove;
  c.channel_event = channel_event;
  return c;
}();

// ---- the replayed QXL device

constexpr size_t kMaxQueued = 50;

struct Device {
  QXLInstance qxl{};
  SpiceServer* server = nullptr;
  SpiceReplay* replay = nullptr;
  std::mutex mu;
  std::condition_variable room;
  std::deque<QXLCommandExt*> display;  // guarded by mu
  std::deque<QXLCommandExt*> cursor;   // guarded by mu
  bool read_all = false;               // guarded by mu
  bool drained_reported = false;       // guarded by mu
  bool stop = false;                   // guarded by mu
};
Device g_dev;

void q_attached_worker(QXLInstance* qin) {
  QXLDevMemSlot slot{};
  slot.slot_group_id = 0;
  slot.slot_id = 0;
  slot.generation = 0;
  slot.virt_start = 0;
  slot.virt_end = ~uint64_t{0};
  slot.addr_delta = 0;
  slot.qxl_ram_size = ~uint32_t{0};
  spice_qxl_add_memslot(qin, &slot);
}

void q_set_compression_level(QXLInstance*, int) {}

void q_get_init_info(QXLInstance*, QXLDevInitInfo* info) {
  std::memset(info, 0, sizeof(*info));
  info->num_memslots = 1;
  info->num_memslots_groups = 1;
  info->memslot_id_bits = 1;
  info->memslot_gen_bits = 1;
  info->n_surfaces = 1024;  // as QEMU
}

void report_drained_locked() {
  if (g_dev.read_all && !g_dev.drained_reported && g_dev.display.empty() && g_dev.cursor.empty()) {
    g_dev.drained_reported = true;
    std::printf("REPLAY_DRAINED\n");
    std::fflush(stdout);
  }
}

int pop(std::deque<QXLCommandExt*>& q, QXLCommandExt* ext) {
  std::lock_guard lock(g_dev.mu);
  if (q.empty()) {
    report_drained_locked();
    return 0;
  }
  *ext = *q.front();
  q.pop_front();
  g_dev.room.notify_all();
  return 1;
}

int q_get_command(QXLInstance*, QXLCommandExt* ext) { return pop(g_dev.display, ext); }
int q_get_cursor_command(QXLInstance*, QXLCommandExt* ext) { return pop(g_dev.cursor, ext); }
int q_req_cmd_notification(QXLInstance*) {
  std::lock_guard lock(g_dev.mu);
  return g_dev.display.empty() ? 1 : 0;
}
int q_req_cursor_notification(QXLInstance*) {
  std::lock_guard lock(g_dev.mu);
  return g_dev.cursor.empty() ? 1 : 0;
}
void q_release_resource(QXLInstance*, QXLReleaseInfoExt info) {
  spice_replay_free_cmd(g_dev.replay, reinterpret_cast<QXLCommandExt*>(uintptr_t(info.info->id)));
}
void q_notify_update(QXLInstance*, uint32_t) {}
int q_flush_resources(QXLInstance*) { return 0; }
void q_async_complete(QXLInstance*, uint64_t) {}
void q_update_area_complete(QXLInstance*, uint32_t, QXLRect*, uint32_t) {}
void q_set_client_capabilities(QXLInstance*, uint8_t, uint8_t*) {}
int q_client_monitors_config(QXLInstance*, VDAgentMonitorsConfig*) { return 0; }

QXLInterface g_qxl_sif = [] {
  QXLInterface q{};
  q.base.type = SPICE_INTERFACE_QXL;
  q.base.description = "replay";
  q.base.major_version = SPICE_INTERFACE_QXL_MAJOR;
  q.base.minor_version = SPICE_INTERFACE_QXL_MINOR;
  q.attached_worker = q_attached_worker;
  q.set_compression_level = q_set_compression_level;
  q.get_init_info = q_get_init_info;
  q.get_command = q_get_command;
  q.req_cmd_notification = q_req_cmd_notification;
  q.release_resource = q_release_resource;
  q.get_cursor_command = q_get_cursor_command;
  q.req_cursor_notification = q_req_cursor_notification;
  q.notify_update = q_notify_update;
  q.flush_resources = q_flush_resources;
  q.async_complete = q_async_complete;
  q.update_area_complete = q_update_area_complete;
  q.set_client_capabilities = q_set_client_capabilities;
  q.client_monitors_config = q_client_monitors_config;
  return q;
}();

void feed() {
  uint64_t n = 0;
  while (true) {
    {
      std::unique_lock lock(g_dev.mu);
      g_dev.room.wait(lock, [] {
        return g_dev.stop || g_dev.display.size() + g_dev.cursor.size() < kMaxQueued;
      });
      if (g_dev.stop) return;
    }
    QXLCommandExt* cmd = spice_replay_next_cmd(g_dev.replay, &g_dev.qxl);
    {
      std::lock_guard lock(g_dev.mu);
      if (!cmd) {
        g_dev.read_all = true;
        std::printf("REPLAY_READ %llu\n", static_cast<unsigned long long>(n));
        std::fflush(stdout);
        report_drained_locked();
      } else if (cmd->cmd.type == QXL_CMD_CURSOR) {
        g_dev.cursor.push_back(cmd);
      } else {
        g_dev.display.push_back(cmd);
      }
    }
    spice_qxl_wakeup(&g_dev.qxl);
    if (!cmd) return;
    ++n;
  }
}

void on_signal(int) {
  const char c = 1;
  (void)!write(g_signal_pipe[1], &c, 1);
}

}  // namespace

int main(int argc, char** argv) {
  int port = 0;
  const char* path = nullptr;
  for (int i = 1; i < argc; ++i) {
    if (!std::strcmp(argv[i], "--port") && i + 1 < argc) {
      port = std::atoi(argv[++i]);
    } else {
      path = argv[i];
    }
  }
  if (port <= 0 || !path) {
    std::fprintf(stderr, "usage: %s --port PORT RECORD_FILE\n", argv[0]);
    return 2;
  }
  FILE* f = std::fopen(path, "rb");
  if (!f) {
    std::fprintf(stderr, "replay_host: cannot open %s\n", path);
    return 2;
  }
  g_dev.replay = spice_replay_new(f, 1024);
  if (!g_dev.replay) {
    std::fprintf(stderr, "replay_host: %s is not a record file this library can replay\n", path);
    return 3;
  }
  if (pipe2(g_loop.wake, O_CLOEXEC | O_NONBLOCK) != 0 ||
      pipe2(g_signal_pipe, O_CLOEXEC | O_NONBLOCK) != 0) {
    return 2;
  }
  signal(SIGTERM, on_signal);
  signal(SIGINT, on_signal);
  signal(SIGPIPE, SIG_IGN);

  g_dev.server = spice_server_new();
  spice_server_set_port(g_dev.server, port);
  spice_server_set_addr(g_dev.server, "127.0.0.1", 0);
  spice_server_set_noauth(g_dev.server);
  // Lossless and without video streams, so that two servers can be compared pixel for pixel.
  spice_server_set_image_compression(g_dev.server, SPICE_IMAGE_COMPRESSION_OFF);
  spice_server_set_streaming_video(g_dev.server, SPICE_STREAM_VIDEO_OFF);
  if (spice_server_init(g_dev.server, &g_core) != 0) {
    std::fprintf(stderr, "replay_host: spice_server_init failed\n");
    return 2;
  }
  g_dev.qxl.base.sif = &g_qxl_sif.base;
  g_dev.qxl.id = 0;
  if (spice_server_add_interface(g_dev.server, &g_dev.qxl.base) != 0) {
    std::fprintf(stderr, "replay_host: adding the QXL interface failed\n");
    return 2;
  }
  spice_server_vm_start(g_dev.server);
  std::thread feeder(feed);
  run_loop();

  {
    std::lock_guard lock(g_dev.mu);
    g_dev.stop = true;
  }
  g_dev.room.notify_all();
  feeder.join();
  spice_server_vm_stop(g_dev.server);
  spice_server_destroy(g_dev.server);
  spice_replay_free(g_dev.replay);  // after the server: it may release commands on the way out
  return 0;
}
