#pragma once
// A fake QXL device for compat's C ABI tests, in QEMU's VGA style: commands come from host
// memory (memslot group 0 maps the whole address space), the primary surface is a host
// buffer. It records what the server calls back: releases, async completions, the client
// capabilities it is told (set_client_capabilities) and the client monitors
// configurations it gets (client_monitors_config).
#define SPICE_SERVER_INTERNAL 1
#include <spice.h>
#include <spice/enums.h>

#include <array>
#include <atomic>
#include <chrono>
#include <cstring>
#include <deque>
#include <mutex>
#include <set>
#include <thread>
#include <vector>

namespace {

// ---- a fake QXL device in VGA style (commands in host memory, group 0)
constexpr int kW = 64, kH = 48;

struct Update {
  QXLReleaseInfo release_info_unused;  // keeps the layout honest: the drawable comes first
  QXLDrawable drawable;
  QXLImage image;
  std::vector<uint32_t> bitmap;
};

struct FakeQxl {
  QXLInstance qxl{};  // first member: the instance pointer is the FakeQxl pointer
  std::mutex mu;
  std::deque<QXLCommandExt> commands;  // guarded by mu
  std::set<uint64_t> released;         // guarded by mu
  std::set<uint64_t> completed;        // guarded by mu
  std::atomic<int> get_command_calls{0};
  std::atomic<bool> attached{false};
  std::vector<uint32_t> primary = std::vector<uint32_t>(size_t(kW) * kH, 0x12345678);
  struct ClientCaps {
    bool present = false;
    std::array<uint8_t, SPICE_CAPABILITIES_SIZE> caps{};
    bool has(uint32_t cap) const { return caps[cap / 8] & (1u << (cap % 8)); }
  };
  std::vector<ClientCaps> client_caps;                        // guarded by mu
  bool takes_client_monitors = true;                          // set before it is added
  std::vector<std::vector<VDAgentMonConfig>> client_monitors;  // guarded by mu
};
using ClientCaps = FakeQxl::ClientCaps;

FakeQxl* fake(QXLInstance* q) { return reinterpret_cast<FakeQxl*>(q); }

void q_attache_worker(QXLInstance* q, QXLWorker*) { fake(q)->attached = true; }
void q_set_compression_level(QXLInstance*, int) {}
void q_set_mm_time(QXLInstance*, uint32_t) {}
void q_get_init_info(QXLInstance*, QXLDevInitInfo* info) {
  std::memset(info, 0, sizeof *info);
  info->num_memslots_groups = 2;
  info->num_memslots = 8;
  info->memslot_gen_bits = 8;
  info->memslot_id_bits = 8;
  info->internal_groupslot_id = 0;
  info->qxl_ram_size = 1 << 20;
  info->n_surfaces = 1024;
}
int q_get_command(QXLInstance* q, QXLCommandExt* ext) {
  auto* f = fake(q);
  ++f->get_command_calls;
  std::lock_guard lock(f->mu);
  if (f->commands.empty()) return 0;
  *ext = f->commands.front();
  f->commands.pop_front();
  return 1;
}
int q_req_cmd_notification(QXLInstance* q) {
  auto* f = fake(q);
  std::lock_guard lock(f->mu);
  return f->commands.empty() ? 1 : 0;
}
void q_release_resource(QXLInstance* q, QXLReleaseInfoExt info) {
  auto* f = fake(q);
  std::lock_guard lock(f->mu);
  f->released.insert(info.info->id);
}
void q_set_client_capabilities(QXLInstance* q, uint8_t present,
                               uint8_t caps[SPICE_CAPABILITIES_SIZE]) {
  auto* f = fake(q);
  std::lock_guard lock(f->mu);
  ClientCaps c;
  c.present = present != 0;
  std::memcpy(c.caps.data(), caps, c.caps.size());
  f->client_caps.push_back(c);
}
int q_client_monitors_config(QXLInstance* q, VDAgentMonitorsConfig* config) {
  auto* f = fake(q);
  if (!f->takes_client_monitors) return 0;
  if (!config) return 1;
  std::lock_guard lock(f->mu);
  std::vector<VDAgentMonConfig> mons(config->num_of_monitors);
  std::memcpy(mons.data(), config->monitors, sizeof(VDAgentMonConfig) * mons.size());
  f->client_monitors.push_back(std::move(mons));
  return 1;
}
int q_get_cursor_command(QXLInstance*, QXLCommandExt*) { return 0; }
int q_req_cursor_notification(QXLInstance*) { return 1; }
void q_notify_update(QXLInstance*, uint32_t) {}
int q_flush_resources(QXLInstance*) { return 0; }
void q_async_complete(QXLInstance* q, uint64_t cookie) {
  auto* f = fake(q);
  std::lock_guard lock(f->mu);
  f->completed.insert(cookie);
}
void q_update_area_complete(QXLInstance*, uint32_t, QXLRect*, uint32_t) {}

QXLInterface make_qxl_interface() {
  QXLInterface qif{};
  qif.base.type = SPICE_INTERFACE_QXL;
  qif.base.description = "fake qxl";
  qif.base.major_version = SPICE_INTERFACE_QXL_MAJOR;
  qif.base.minor_version = SPICE_INTERFACE_QXL_MINOR;
  qif.attache_worker = q_attache_worker;
  qif.set_compression_level = q_set_compression_level;
  qif.set_mm_time = q_set_mm_time;
  qif.get_init_info = q_get_init_info;
  qif.get_command = q_get_command;
  qif.req_cmd_notification = q_req_cmd_notification;
  qif.release_resource = q_release_resource;
  qif.get_cursor_command = q_get_cursor_command;
  qif.req_cursor_notification = q_req_cursor_notification;
  qif.notify_update = q_notify_update;
  qif.flush_resources = q_flush_resources;
  qif.async_complete = q_async_complete;
  qif.update_area_complete = q_update_area_complete;
  qif.set_client_capabilities = q_set_client_capabilities;
  qif.client_monitors_config = q_client_monitors_config;
  return qif;
}

template <typename Pred>
bool wait_for(Pred pred, std::chrono::milliseconds timeout = std::chrono::milliseconds(3000)) {
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  while (std::chrono::steady_clock::now() < deadline) {
    if (pred()) return true;
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
  }
  return pred();
}


}  // namespace
