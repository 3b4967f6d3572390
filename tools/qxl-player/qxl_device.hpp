#pragma once
/// QxlDevice: a QXL display device as QEMU's hw/display/qxl.c exposes it to libspice-server
/// (QXLInstance + QXLInterface), together with the guest driver that fills its rings: the
/// drawing calls below build QXLDrawable / QXLImage / QXLDataChunk / QXLCursorCmd structures
/// in guest memory (GuestMemory's BARs, registered as memslots) and push them through the
/// command and cursor rings; the library hands them back through release_resource, which
/// chains them into the release ring as QEMU does; the guest side then frees them.
///
/// Threading: the drawing calls, setup and the waits run on the main thread (the "vCPU").
/// The QXLInterface callbacks run on the library's QXL worker thread; they touch only the
/// rings, the release chain state (release_mu_), the atomics and the async cookie set.
/// Blocking waits (ring full, guest memory full, async I/O) run the main loop meanwhile, so
/// the library's timers and watches keep being served; past the run's deadline a wait throws
/// Stalled.
#include <spice.h>

#include <atomic>
#include <cstdint>
#include <functional>
#include <memory>
#include <mutex>
#include <set>
#include <string>
#include <vector>

#include "core_loop.hpp"
#include "guest_memory.hpp"

namespace spiceflow::player {

struct Rect {
  int left = 0, top = 0, right = 0, bottom = 0;
  int width() const { return right - left; }
  int height() const { return bottom - top; }
  bool empty() const { return right <= left || bottom <= top; }
};

/// Thrown by a wait for the library that reached the run's deadline or a stop request;
/// `what` names what the device was waiting for.
struct Stalled {
  std::string what;
};

/// A 32-bit xRGB bitmap in guest memory (a QXLImage whose QXL_BITMAP data is a chain of
/// QXLDataChunks), to be filled row by row and then drawn once with QxlDevice::copy().
class Bitmap {
 public:
  int width() const { return w_; }
  int height() const { return h_; }
  uint32_t* row(int y) {
    const auto& c = chunks_[size_t(y / rows_per_chunk_)];
    return reinterpret_cast<uint32_t*>(c + size_t(y % rows_per_chunk_) * size_t(w_) * 4);
  }
  /// Contiguous rows [y, y + rows) exist within one chunk when y % rows_per_chunk() == 0.
  int rows_per_chunk() const { return rows_per_chunk_; }

 private:
  friend class QxlDevice;
  int w_ = 0, h_ = 0;
  int rows_per_chunk_ = 1;
  uint32_t release_ = 0;    // release record holding the image's memory
  uint64_t image_phys_ = 0;  // the QXLImage
  std::vector<uint8_t*> chunks_;  // payload of each chunk
};

struct DeviceStats {
  std::atomic<uint64_t> display_commands{0};  // pushed into the command ring
  std::atomic<uint64_t> cursor_commands{0};   // pushed into the cursor ring
  std::atomic<uint64_t> fetched{0};           // taken by the library (get_command + cursor)
  std::atomic<uint64_t> released{0};          // resources the library released
  std::atomic<uint64_t> image_bytes{0};       // bitmap payload bytes submitted
  std::atomic<uint64_t> ring_full_waits{0};
  std::atomic<uint64_t> memory_waits{0};
  std::atomic<uint64_t> oom_notifies{0};
  std::atomic<uint64_t> wakeups{0};             // spice_qxl_wakeup calls
  std::atomic<uint64_t> client_present{0};      // set_client_capabilities(present=1) calls
  std::atomic<uint64_t> flush_resources{0};
  std::atomic<uint64_t> async_completions{0};
  std::atomic<uint64_t> update_area_completions{0};
};

class QxlDevice {
 public:
  struct Options {
    int width = 1920;
    int height = 1080;
    uint64_t struct_heap_bytes = 8ull << 20;
    uint64_t image_heap_bytes = 64ull << 20;
    bool shadow = false;  // keep the player's own copy of the expected picture
  };

  QxlDevice(CoreLoop& loop, const Options& opt);
  ~QxlDevice();
  QxlDevice(const QxlDevice&) = delete;
  QxlDevice& operator=(const QxlDevice&) = delete;

  /// Like QEMU at device reset and guest driver load: adds the QXL instance to `server`,
  /// the host memslot (group 0) and the two BAR memslots (group 1, async), starts the VM,
  /// and creates the primary surface (async). With `replay` set the device only registers
  /// group 0's host memslot: replayed commands carry host pointers.
  void attach(SpiceServer* server, bool replay);

  /// Commands the library fetches come from `source` instead of the rings (replay mode);
  /// `release` gets every released resource with group 0. Both run on the worker thread.
  void set_external_source(std::function<bool(QXLCommandExt*)> display,
                           std::function<bool(QXLCommandExt*)> cursor,
                           std::function<bool()> display_empty,
                           std::function<bool()> cursor_empty,
                           std::function<void(QXLReleaseInfoExt)> release);

  QXLInstance* instance() { return &qxl_; }
  int width() const { return opt_.width; }
  int height() const { return opt_.height; }

  /// A wait gives up (throws Stalled) once monotonic_ms() passes `deadline_ms`...
  void set_deadline(int64_t deadline_ms) { deadline_ms_ = deadline_ms; }
  /// ...or once this was called (any thread; async-signal-safe).
  void request_stop() { stop_.store(true); }

  // ---- drawing on the primary surface (main thread) ----
  void fill(const Rect& r, uint32_t xrgb);
  /// Allocates a w x h bitmap; fill it, then draw it with copy().
  Bitmap alloc_bitmap(int w, int h);
  /// QXL_DRAW_COPY of the whole bitmap with its top-left at (x, y).
  void copy(Bitmap&& bm, int x, int y);
  /// QXL_COPY_BITS: the pixels at src_x,src_y move to `dst`.
  void copy_bits(int src_x, int src_y, const Rect& dst);
  /// QXL_CURSOR_SET with a 32x32 ARGB shape (row-major, 1024 pixels).
  void cursor_set(const uint32_t* argb32x32, int hot_x, int hot_y, int x, int y);
  /// QXL_CURSOR_MOVE.
  void cursor_move(int x, int y);

  /// Takes the release ring's resources back into the heaps (main thread; also done from
  /// the interrupt handler and while waiting).
  void collect_releases();

  /// spice_qxl_update_area of the whole primary surface (synchronous, as QEMU's local
  /// display does): the library renders everything pending into the guest's surface memory.
  void update_area();
  /// The guest's primary surface memory (after update_area: the library's rendering).
  const uint8_t* primary_pixels() { return mem_.primary(); }
  /// The player's own model of the picture (Options::shadow), or null.
  const uint32_t* shadow_pixels() const { return shadow_.empty() ? nullptr : shadow_.data(); }

  /// Stops the rings (the library is being shut down): later callbacks find them empty.
  void detach();

  const DeviceStats& stats() const { return stats_; }
  uint64_t image_heap_peak() const { return mem_.image_heap().peak(); }

 private:
  static constexpr uint32_t kMaxReleases = 1u << 16;
  static constexpr uint32_t kFreeBunch = 32;  // QEMU's QXL_FREE_BUNCH_SIZE

  struct Alloc {
    bool image_heap;
    uint64_t offset;
  };
  struct Release {
    QXLReleaseInfo* info = nullptr;  // where the library writes the chain's next id
    std::vector<Alloc> allocs;
    bool live = false;
  };

  // QXLInterface callbacks (static trampolines to the device behind the instance).
  static QxlDevice* from(QXLInstance* qin);
  static void cb_attached_worker(QXLInstance* qin);
  static void cb_set_compression_level(QXLInstance* qin, int level);
  static void cb_set_mm_time(QXLInstance* qin, uint32_t mm_time);
  static void cb_get_init_info(QXLInstance* qin, QXLDevInitInfo* info);
  static int cb_get_command(QXLInstance* qin, QXLCommandExt* ext);
  static int cb_req_cmd_notification(QXLInstance* qin);
  static void cb_release_resource(QXLInstance* qin, QXLReleaseInfoExt info);
  static int cb_get_cursor_command(QXLInstance* qin, QXLCommandExt* ext);
  static int cb_req_cursor_notification(QXLInstance* qin);
  static void cb_notify_update(QXLInstance* qin, uint32_t update_id);
  static int cb_flush_resources(QXLInstance* qin);
  static void cb_async_complete(QXLInstance* qin, uint64_t cookie);
  static void cb_update_area_complete(QXLInstance* qin, uint32_t surface_id, QXLRect* rects,
                                      uint32_t n);
  static void cb_set_client_capabilities(QXLInstance* qin, uint8_t present, uint8_t* caps);
  static int cb_client_monitors_config(QXLInstance* qin, VDAgentMonitorsConfig* config);

  // Worker side.
  bool fetch(Ring<QxlCommandItem, 32>& ring, QXLCommandExt* ext);
  int fetch_external(const std::function<bool(QXLCommandExt*)>& source, QXLCommandExt* ext);
  void push_free_res(bool flush);  // QEMU's qxl_push_free_res; release_mu_ held
  void raise_irq();

  // Guest (main thread) side.
  void on_irq();
  uint32_t new_release();
  void* alloc_struct(uint32_t release, uint64_t bytes);
  uint8_t* alloc_image(uint32_t release, uint64_t bytes);
  void free_release(uint32_t id);
  QXLDrawable* new_drawable(uint32_t release, uint8_t type, const Rect& bbox);
  void push(Ring<QxlCommandItem, 32>& ring, uint32_t type, uint64_t phys, bool cursor);
  /// Runs the main loop until `done()`; throws Stalled past the deadline.
  void wait(const char* what, const std::function<bool()>& done);
  void wait_async(uint64_t cookie, const char* what);
  void wait_for_memory(const char* what, const std::function<bool()>& fits);
  uint64_t next_cookie() { return ++cookie_seq_; }
  uint32_t mm_time() const;

  CoreLoop& loop_;
  Options opt_;
  GuestMemory mem_;
  QXLInterface iface_{};
  /// The instance handed to the library, with the way back to its device.
  struct Instance {
    QXLInstance qxl{};  // first: a QXLInstance* is an Instance*
    QxlDevice* device = nullptr;
  } instance_;
  QXLInstance& qxl_ = instance_.qxl;
  int irq_fd_ = -1;  // eventfd: the device's interrupt line to the guest
  int64_t deadline_ms_ = INT64_MAX;
  std::atomic<bool> detached_{false};
  std::atomic<bool> stop_{false};
  static_assert(std::atomic<bool>::is_always_lock_free);
  DeviceStats stats_;

  // External command source (replay); set before attach, read by the worker.
  std::function<bool(QXLCommandExt*)> ext_display_, ext_cursor_;
  std::function<bool()> ext_display_empty_, ext_cursor_empty_;
  std::function<void(QXLReleaseInfoExt)> ext_release_;

  // Release chain under construction (QEMU's last_release / num_free_res).
  std::mutex release_mu_;
  QXLReleaseInfo* last_release_ = nullptr;  // guarded by release_mu_
  uint32_t num_free_res_ = 0;               // guarded by release_mu_
  uint64_t bunch_bytes_ = 0;                // guarded by release_mu_: image bytes in the bunch
  /// Image bytes held by each release id: written by the guest before the command is
  /// pushed, read by the worker when the library releases it.
  std::unique_ptr<std::atomic<uint64_t>[]> release_bytes_;

  // Async I/O completions (worker -> main).
  std::mutex async_mu_;
  std::set<uint64_t> completed_;  // guarded by async_mu_
  uint64_t cookie_seq_ = 0;       // main thread

  std::atomic<uint32_t> mm_time_{0};
  std::atomic<int64_t> mm_time_set_ms_{0};

  // Main thread only.
  std::vector<Release> releases_;
  std::vector<uint32_t> free_ids_;
  uint64_t image_unique_ = 0;
  std::vector<uint32_t> shadow_;
};

}  // namespace spiceflow::player
