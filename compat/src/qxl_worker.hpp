#pragma once
// QxlWorker: one thread per QXL device instance (QXLInstance), like the reference's
// red-worker. It owns the device's memslots, the surfaces the guest created, the batch of
// parsed commands being built, and it is the only thread that calls the device's
// QXLInterface callbacks get_command / req_cmd_notification / get_cursor_command /
// req_cursor_notification / release_resource / flush_resources / notify_update /
// update_area_complete / async_complete.
//
// The spice_qxl_* entry points (called by QEMU from its main loop or vCPU threads, with its
// big lock held) post a task to this thread: synchronous calls wait for it, *_async calls
// return at once and the task ends with async_complete(cookie). Tasks run in order between
// command fetches, so a create_primary_surface is ordered with the drawing around it exactly
// as in the reference. The task queue is bounded (kMaxTasks; a caller beyond it waits).
//
// Parsed commands (qxl::parse_command: every guest address goes through the memslots) are
// collected into DrawBatches and pushed into the desktop's QxlSource; while its bounded queue
// is full the worker stops fetching from the guest's rings (the guest waits), but keeps
// serving tasks. update_area (and vm stop, and flush_surfaces) push what is pending, wait
// for the pipeline to render it, and copy the primary surface's pixels into the guest's
// surface memory.
#include <array>
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <deque>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <thread>

#include "abi.hpp"
#include "spiceflow/core/draw.hpp"
#include "spiceflow/net/server.hpp"
#include "spiceflow/qxl/memslots.hpp"
#include "spiceflow/qxl/parser.hpp"

struct RedsState;
namespace spiceflow::engine {
class Desktop;
}

namespace spiceflow::compat {

class QxlSource;

/// QXLRom::client_capabilities: a bitmap of SPICE_DISPLAY_CAP_* bits.
using GuestClientCaps = std::array<uint8_t, SPICE_CAPABILITIES_SIZE>;

class QxlWorker {
 public:
  static constexpr size_t kMaxTasks = 64;
  /// Commands per batch before it is handed to the pipeline.
  static constexpr size_t kMaxBatchCommands = 256;
  /// Image bytes per batch before it is handed to the pipeline.
  static constexpr size_t kMaxBatchBytes = size_t{16} << 20;
  /// Batches built but not yet accepted by the QxlSource before fetching pauses.
  static constexpr size_t kMaxOutbox = 2;

  /// `source`/`desktop` null: the device runs (commands fetched, parsed, released) but is
  /// not shown.
  QxlWorker(RedsState& reds, QXLInstance* qin, QxlSource* source, engine::Desktop* desktop);
  ~QxlWorker();
  QxlWorker(const QxlWorker&) = delete;
  QxlWorker& operator=(const QxlWorker&) = delete;

  /// On the host's main thread, from add_interface: get_init_info, attache_worker, starts
  /// the thread. Errors: bad memslot geometry from the device.
  Status attach();
  QXLInstance* instance() const { return qin_; }

  // ---- spice_qxl_* (any host thread). `cookie` set: the *_async variant.
  void wakeup();
  void oom();
  void start();
  void stop();
  void update_area(uint32_t surface_id, QXLRect area, QXLRect* dirty_rects, uint32_t num_dirty,
                   std::optional<uint64_t> cookie);
  void add_memslot(const QXLDevMemSlot& slot, std::optional<uint64_t> cookie);
  void del_memslot(uint32_t group_id, uint32_t slot_id);
  void reset_memslots();
  void destroy_surfaces(std::optional<uint64_t> cookie);
  void destroy_primary(uint32_t surface_id, std::optional<uint64_t> cookie);
  void create_primary(uint32_t surface_id, const QXLDevSurfaceCreate& s,
                      std::optional<uint64_t> cookie);
  void reset_image_cache();
  void reset_cursor();
  void destroy_surface(uint32_t surface_id, std::optional<uint64_t> cookie);
  void loadvm_commands(const QXLCommandExt* ext, uint32_t count);
  void flush_surfaces(uint64_t cookie);
  void monitors_config(QXLPHYSICAL config, int group_id, uint64_t cookie);
  void driver_unload();
  void set_max_monitors(unsigned max);
  void set_device_info(const char* address, uint32_t start, uint32_t count);
  /// The display clients' common capabilities changed (`present`: at least one display
  /// client). Host main thread; returns at once. The device hears it
  /// (QXLInterface::set_client_capabilities, interface 3.2+) on the worker while it runs,
  /// and again at every start, as the reference's guest_set_client_capabilities.
  void client_capabilities(bool present, const GuestClientCaps& caps);
  /// A client's monitors configuration for the device (QXLInterface::client_monitors_config,
  /// interface 3.3+), on the caller's thread (the host main loop, as the reference); null
  /// asks whether the device takes them. False: it does not (or has no such callback).
  bool client_monitors_config(VDAgentMonitorsConfig* config);
  /// GL scanout is not supported: completes at once.
  void gl_draw(uint64_t cookie);

 private:
  enum class RingState { idle, more, blocked };
  struct HeldSurface {
    qxl::GuestSurface memory;
    Size size;
    QXLReleaseInfoExt release{nullptr, 0};
  };

  /// Runs `fn` on the worker thread: waits for it (sync) or completes `cookie` after it.
  void call(std::function<void()> fn, std::optional<uint64_t> cookie);
  /// Runs `fn` on the worker thread without waiting for it.
  void post(std::function<void()> fn);
  /// Worker: tells the device the client capabilities (while running).
  void push_client_capabilities();
  /// Worker: the guest's monitors for the clients (null: one head on the primary).
  void publish_monitors(std::optional<net::GuestMonitors> monitors);
  void run();
  RingState process_rings();
  void handle(const QXLCommandExt& ext);
  void release(const QXLReleaseInfoExt& info);
  void flush_batch();
  void push_outbox();
  void kick_if_idle(RingState ring);
  /// Fetches and parses every command in the display ring now (while running).
  void drain_display_ring();
  /// Hands everything pending (the ring included) to the pipeline and waits until it is
  /// rendered.
  bool sync_pipeline();
  /// Renders `area` of `surface_id` into the guest's memory for it.
  void write_back(uint32_t surface_id, const Rect& area);
  /// The same for an off-screen surface: its pixels in the raster, between passes.
  void write_back_offscreen(uint32_t surface_id, const Rect& area);
  void drop_surface(uint32_t surface_id);
  void blit_guest_content(uint32_t surface_id, const qxl::GuestSurface& mem, Size size);
  const QXLInterface* qif() const;

  RedsState& reds_;
  QXLInstance* qin_;
  QxlSource* source_;
  engine::Desktop* desktop_;
  bool unkicked_ = false;  // batches pushed since the last kick (worker thread only)
  QXLState* state_ = nullptr;  // what qin_->st points at (owned here)

  std::mutex mu_;
  std::condition_variable cv_;        // wakes the worker
  std::condition_variable room_cv_;   // wakes callers waiting for task room
  std::deque<std::function<void()>> tasks_;  // guarded by mu_, at most kMaxTasks
  bool wakeup_ = false;   // guarded by mu_
  bool running_ = false;  // guarded by mu_
  bool quit_ = false;     // guarded by mu_
  std::thread thread_;
  std::thread::id thread_id_;

  // Worker thread only.
  std::optional<qxl::MemSlots> memslots_;
  qxl::ParseLimits limits_;
  std::optional<qxl::GuestSurface> primary_;
  Size primary_size_;
  std::map<uint32_t, HeldSurface> surfaces_;  // off-screen surfaces the guest created
  DrawBatch batch_;
  size_t batch_bytes_ = 0;  // image bytes in batch_
  std::deque<std::pair<DrawBatch, size_t>> outbox_;
  uint64_t released_since_flush_ = 0;
  bool draining_ = false;
  std::string device_address_;
  /// spice_qxl_set_max_monitors; unlimited until the device sets it (as the reference).
  uint32_t max_monitors_ = UINT32_MAX;
  /// The driver sent a monitors configuration (spice_qxl_monitors_config_async) since it
  /// loaded: a new primary surface then keeps it instead of one head covering it.
  bool driver_monitors_config_ = false;
  bool clients_present_ = false;
  GuestClientCaps client_caps_{};
};

}  // namespace spiceflow::compat

/// What QXLInstance::st points at: the way back from the device's handle to its worker.
struct QXLState {
  RedsState* reds = nullptr;
  spiceflow::compat::QxlWorker* worker = nullptr;
};
