#include "qxl_device.hpp"

#include <sys/eventfd.h>
#include <unistd.h>

#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <cstring>

namespace spiceflow::player {

namespace {

// QEMU's qxl device: 8 memslots of 8 id bits and 8 generation bits, two groups (0: host
// memory QEMU itself points at, 1: the guest's BARs), 1024 surfaces.
constexpr uint32_t kGroupHost = 0;
constexpr uint32_t kGroupGuest = 1;
constexpr uint32_t kNumMemslots = 8;
constexpr uint32_t kNumGroups = 2;
constexpr uint8_t kSlotBits = 8;
constexpr uint8_t kGenerationBits = 8;
constexpr uint32_t kNumSurfaces = 1024;

// Image data chunks: at most this many bytes each (whole rows), like a driver splitting a
// big image over several allocations.
constexpr uint64_t kChunkBytes = 1u << 20;

QXLRect to_qxl(const Rect& r) {
  QXLRect q{};
  q.top = r.top;
  q.left = r.left;
  q.bottom = r.bottom;
  q.right = r.right;
  return q;
}

}  // namespace

QxlDevice::QxlDevice(CoreLoop& loop, const Options& opt)
    : loop_(loop),
      opt_(opt),
      mem_(uint64_t(opt.width) * uint64_t(opt.height) * 4, opt.struct_heap_bytes,
           opt.image_heap_bytes),
      release_bytes_(new std::atomic<uint64_t>[kMaxReleases]) {
  iface_.base.type = SPICE_INTERFACE_QXL;
  iface_.base.description = "spiceflow-qxl-player qxl";
  iface_.base.major_version = SPICE_INTERFACE_QXL_MAJOR;
  iface_.base.minor_version = SPICE_INTERFACE_QXL_MINOR;
  // attached_worker shares its slot with the deprecated attache_worker(qin, worker) QEMU
  // fills; both only get told that the worker exists.
  iface_.attached_worker = &QxlDevice::cb_attached_worker;
  iface_.set_compression_level = &QxlDevice::cb_set_compression_level;
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wdeprecated-declarations"
  iface_.set_mm_time = &QxlDevice::cb_set_mm_time;  // QEMU still fills it; 0.15 never calls it
#pragma GCC diagnostic pop
  iface_.get_init_info = &QxlDevice::cb_get_init_info;
  iface_.get_command = &QxlDevice::cb_get_command;
  iface_.req_cmd_notification = &QxlDevice::cb_req_cmd_notification;
  iface_.release_resource = &QxlDevice::cb_release_resource;
  iface_.get_cursor_command = &QxlDevice::cb_get_cursor_command;
  iface_.req_cursor_notification = &QxlDevice::cb_req_cursor_notification;
  iface_.notify_update = &QxlDevice::cb_notify_update;
  iface_.flush_resources = &QxlDevice::cb_flush_resources;
  iface_.async_complete = &QxlDevice::cb_async_complete;
  iface_.update_area_complete = &QxlDevice::cb_update_area_complete;
  iface_.set_client_capabilities = &QxlDevice::cb_set_client_capabilities;
  iface_.client_monitors_config = &QxlDevice::cb_client_monitors_config;
  qxl_.base.sif = &iface_.base;
  qxl_.id = 0;
  instance_.device = this;

  irq_fd_ = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
  if (irq_fd_ < 0) {
    std::perror("spiceflow-qxl-player: eventfd");
    std::exit(1);
  }
  loop_.add_fd(irq_fd_, [this] { on_irq(); });

  releases_.resize(kMaxReleases);
  for (uint32_t id = kMaxReleases - 1; id >= 1; --id) free_ids_.push_back(id);  // id 0: none
  for (uint32_t i = 0; i < kMaxReleases; ++i) release_bytes_[i].store(0);
  if (opt_.shadow) shadow_.assign(size_t(opt_.width) * size_t(opt_.height), 0);
}

QxlDevice::~QxlDevice() { ::close(irq_fd_); }

// ---------------------------------------------------------------- setup (main thread)

void QxlDevice::attach(SpiceServer* server, bool replay) {
  if (spice_server_add_interface(server, &qxl_.base) != 0) {
    std::fprintf(stderr, "spiceflow-qxl-player: spice_server_add_interface(qxl) failed\n");
    std::exit(1);
  }
  // QEMU's qemu_spice_create_host_memslot: group 0, slot 0, the whole address space.
  QXLDevMemSlot host{};
  host.slot_group_id = kGroupHost;
  host.slot_id = 0;
  host.generation = 0;
  host.virt_start = 0;
  host.virt_end = ~uintptr_t{0};
  host.addr_delta = 0;
  spice_qxl_add_memslot(&qxl_, &host);
  spice_server_vm_start(server);
  if (replay) return;

  // The guest driver's memslots (QXL_IO_MEMSLOT_ADD_ASYNC), one per BAR, as QEMU's
  // qxl_add_memslot computes them: addr_delta maps the guest-physical address back.
  for (Bar* bar : {&mem_.bar0(), &mem_.bar1()}) {
    QXLDevMemSlot s{};
    s.slot_group_id = kGroupGuest;
    s.slot_id = bar->slot_id;
    s.generation = bar->generation;
    s.virt_start = reinterpret_cast<uintptr_t>(bar->host);
    s.virt_end = s.virt_start + bar->size;
    s.addr_delta = uint64_t(s.virt_start) - bar->guest_base;
    s.qxl_ram_size = uint32_t(std::min<uint64_t>(bar->size, UINT32_MAX));
    const uint64_t cookie = next_cookie();
    spice_qxl_add_memslot_async(&qxl_, &s, cookie);
    wait_async(cookie, "add_memslot_async");
  }

  // QXL_IO_CREATE_PRIMARY_ASYNC: 32-bit xRGB, top-down, at the start of BAR0.
  QXLDevSurfaceCreate surface{};
  surface.width = uint32_t(opt_.width);
  surface.height = uint32_t(opt_.height);
  surface.stride = opt_.width * 4;
  surface.format = SPICE_SURFACE_FMT_32_xRGB;
  surface.position = 0;
  surface.mouse_mode = 1;
  surface.flags = 0;
  surface.type = 0;
  surface.mem = mem_.bar0().phys(uint64_t{0});
  surface.group_id = kGroupGuest;
  const uint64_t cookie = next_cookie();
  spice_qxl_create_primary_surface_async(&qxl_, 0, &surface, cookie);
  wait_async(cookie, "create_primary_surface_async");
}

void QxlDevice::set_external_source(std::function<bool(QXLCommandExt*)> display,
                                    std::function<bool(QXLCommandExt*)> cursor,
                                    std::function<bool()> display_empty,
                                    std::function<bool()> cursor_empty,
                                    std::function<void(QXLReleaseInfoExt)> release) {
  ext_display_ = std::move(display);
  ext_cursor_ = std::move(cursor);
  ext_display_empty_ = std::move(display_empty);
  ext_cursor_empty_ = std::move(cursor_empty);
  ext_release_ = std::move(release);
}

void QxlDevice::detach() { detached_ = true; }

// ---------------------------------------------------------------- QXLInterface (worker)

QxlDevice* QxlDevice::from(QXLInstance* qin) {
  return reinterpret_cast<Instance*>(qin)->device;
}

void QxlDevice::cb_attached_worker(QXLInstance*) {}

void QxlDevice::cb_set_compression_level(QXLInstance*, int) {}

void QxlDevice::cb_set_mm_time(QXLInstance* qin, uint32_t mm_time) {
  QxlDevice* d = from(qin);
  d->mm_time_.store(mm_time);
  d->mm_time_set_ms_.store(monotonic_ms());
}

void QxlDevice::cb_get_init_info(QXLInstance* qin, QXLDevInitInfo* info) {
  QxlDevice* d = from(qin);
  std::memset(info, 0, sizeof *info);
  info->num_memslots_groups = kNumGroups;
  info->num_memslots = kNumMemslots;
  info->memslot_gen_bits = kGenerationBits;
  info->memslot_id_bits = kSlotBits;
  info->qxl_ram_size = uint32_t(std::min<uint64_t>(d->mem_.struct_heap().size(), UINT32_MAX));
  info->internal_groupslot_id = 0;
  info->n_surfaces = kNumSurfaces;
}

bool QxlDevice::fetch(Ring<QxlCommandItem, 32>& ring, QXLCommandExt* ext) {
  if (detached_ || ring.empty()) return false;
  const QxlCommandItem item = ring.at(ring.cons.load());
  ext->cmd.data = item.data;
  ext->cmd.type = item.type;
  ext->cmd.padding = 0;
  ext->group_id = kGroupGuest;
  ext->flags = 0;
  if (ring.pop()) raise_irq();
  ++stats_.fetched;
  return true;
}

int QxlDevice::fetch_external(const std::function<bool(QXLCommandExt*)>& source,
                              QXLCommandExt* ext) {
  if (detached_ || !source(ext)) return 0;
  ++stats_.fetched;
  return 1;
}

int QxlDevice::cb_get_command(QXLInstance* qin, QXLCommandExt* ext) {
  QxlDevice* d = from(qin);
  if (d->ext_display_) return d->fetch_external(d->ext_display_, ext);
  return d->fetch(d->mem_.rings().cmd_ring, ext) ? 1 : 0;
}

int QxlDevice::cb_req_cmd_notification(QXLInstance* qin) {
  QxlDevice* d = from(qin);
  if (d->ext_display_empty_) return d->ext_display_empty_() ? 1 : 0;
  return d->mem_.rings().cmd_ring.cons_wait() ? 1 : 0;
}

int QxlDevice::cb_get_cursor_command(QXLInstance* qin, QXLCommandExt* ext) {
  QxlDevice* d = from(qin);
  if (d->ext_cursor_) return d->fetch_external(d->ext_cursor_, ext);
  return d->fetch(d->mem_.rings().cursor_ring, ext) ? 1 : 0;
}

int QxlDevice::cb_req_cursor_notification(QXLInstance* qin) {
  QxlDevice* d = from(qin);
  if (d->ext_cursor_empty_) return d->ext_cursor_empty_() ? 1 : 0;
  return d->mem_.rings().cursor_ring.cons_wait() ? 1 : 0;
}

void QxlDevice::cb_release_resource(QXLInstance* qin, QXLReleaseInfoExt ext) {
  QxlDevice* d = from(qin);
  ++d->stats_.released;
  if (ext.group_id == kGroupHost) {
    if (d->ext_release_) d->ext_release_(ext);
    return;
  }
  // QEMU's interface_release_resource: chain the release infos (id in, next out: the
  // same field) of a bunch, the bunch's head in the release ring's producer slot.
  std::lock_guard lock(d->release_mu_);
  auto& ring = d->mem_.rings().release_ring;
  uint64_t& item = ring.at(ring.prod.load());
  const uint64_t id = ext.info->id;
  if (item == 0) {
    ext.info->next = 0;
    item = id;
  } else {
    d->last_release_->next = id;
    ext.info->next = 0;
  }
  d->last_release_ = ext.info;
  ++d->num_free_res_;
  if (id < kMaxReleases) d->bunch_bytes_ += d->release_bytes_[id].load();
  d->push_free_res(false);
}

void QxlDevice::push_free_res(bool flush) {
  auto& ring = mem_.rings().release_ring;
  // The producer slot holds the bunch being built: the ring is full one item early.
  if (ring.prod.load() - ring.cons.load() + 1 == 8) return;
  // QEMU pushes a bunch of 32 resources; the player also pushes once a bunch holds an
  // eighth of the image heap, so scenes of a few huge images do not wait for an OOM round
  // trip every few frames.
  if (!flush && num_free_res_ < kFreeBunch && bunch_bytes_ < mem_.image_heap().size() / 8) {
    return;
  }
  if (ring.push()) raise_irq();
  ring.at(ring.prod.load()) = 0;
  num_free_res_ = 0;
  bunch_bytes_ = 0;
  last_release_ = nullptr;
}

int QxlDevice::cb_flush_resources(QXLInstance* qin) {
  QxlDevice* d = from(qin);
  ++d->stats_.flush_resources;
  std::lock_guard lock(d->release_mu_);
  const int n = int(d->num_free_res_);
  if (n) d->push_free_res(true);
  return n;
}

void QxlDevice::cb_notify_update(QXLInstance*, uint32_t) {}

void QxlDevice::cb_async_complete(QXLInstance* qin, uint64_t cookie) {
  QxlDevice* d = from(qin);
  ++d->stats_.async_completions;
  {
    std::lock_guard lock(d->async_mu_);
    d->completed_.insert(cookie);
  }
  d->raise_irq();
}

void QxlDevice::cb_update_area_complete(QXLInstance* qin, uint32_t, QXLRect*, uint32_t) {
  ++from(qin)->stats_.update_area_completions;
}

void QxlDevice::cb_set_client_capabilities(QXLInstance* qin, uint8_t present, uint8_t*) {
  if (present) ++from(qin)->stats_.client_present;
}

int QxlDevice::cb_client_monitors_config(QXLInstance*, VDAgentMonitorsConfig*) {
  return 0;  // like QEMU for a guest that does not take monitor configs
}

void QxlDevice::raise_irq() {
  uint64_t one = 1;
  [[maybe_unused]] auto n = ::write(irq_fd_, &one, sizeof one);
}

// ---------------------------------------------------------------- guest side (main thread)

void QxlDevice::on_irq() {
  uint64_t v;
  [[maybe_unused]] auto n = ::read(irq_fd_, &v, sizeof v);
  collect_releases();
}

void QxlDevice::collect_releases() {
  auto& ring = mem_.rings().release_ring;
  while (!ring.empty()) {
    uint64_t id = ring.at(ring.cons.load());
    while (id) {
      if (id >= kMaxReleases || !releases_[id].live) {
        std::fprintf(stderr, "spiceflow-qxl-player: the library released unknown id %llu\n",
                     static_cast<unsigned long long>(id));
        std::abort();
      }
      const uint64_t next = releases_[id].info->next;
      free_release(uint32_t(id));
      id = next;
    }
    ring.pop();
  }
}

void QxlDevice::free_release(uint32_t id) {
  Release& r = releases_[id];
  for (const Alloc& a : r.allocs) {
    if (a.image_heap) {
      mem_.image_heap().free(a.offset);
    } else {
      mem_.struct_heap().free(a.offset);
    }
  }
  r = Release{};
  release_bytes_[id].store(0);
  free_ids_.push_back(id);
}

void QxlDevice::wait(const char* what, const std::function<bool()>& done) {
  while (!done()) {
    const int64_t now = monotonic_ms();
    if (now >= deadline_ms_ || stop_) throw Stalled{what};
    loop_.run_once(std::min<int64_t>(deadline_ms_ - now, 100));
  }
}

void QxlDevice::wait_async(uint64_t cookie, const char* what) {
  wait(what, [&] {
    std::lock_guard lock(async_mu_);
    return completed_.erase(cookie) > 0;
  });
}

/// Waits for the library to give memory back, as a guest driver does: collect the release
/// ring, and when it is empty ask for a notification and tell the device it is out of
/// memory (QXL_IO_NOTIFY_OOM), at most every 100 ms.
void QxlDevice::wait_for_memory(const char* what, const std::function<bool()>& fits) {
  collect_releases();
  if (fits()) return;
  ++stats_.memory_waits;
  auto& ring = mem_.rings().release_ring;
  while (!fits()) {
    if (ring.cons_wait()) {
      ++stats_.oom_notifies;
      spice_qxl_oom(&qxl_);
      const int64_t until = monotonic_ms() + 100;
      wait(what, [&] { return !ring.empty() || monotonic_ms() >= until; });
    }
    collect_releases();
  }
}

uint32_t QxlDevice::new_release() {
  if (free_ids_.empty()) wait_for_memory("release ids", [&] { return !free_ids_.empty(); });
  const uint32_t id = free_ids_.back();
  free_ids_.pop_back();
  releases_[id].live = true;
  return id;
}

void* QxlDevice::alloc_struct(uint32_t release, uint64_t bytes) {
  std::optional<uint64_t> off = mem_.struct_heap().alloc(bytes);
  if (!off) {
    wait_for_memory("guest memory (structures)", [&] {
      off = mem_.struct_heap().alloc(bytes);
      return off.has_value();
    });
  }
  releases_[release].allocs.push_back({false, *off});
  uint8_t* p = mem_.bar0().host + mem_.struct_base() + *off;
  std::memset(p, 0, bytes);
  return p;
}

uint8_t* QxlDevice::alloc_image(uint32_t release, uint64_t bytes) {
  if (bytes > mem_.image_heap().size()) {
    std::fprintf(stderr, "spiceflow-qxl-player: an image of %llu bytes exceeds the image heap\n",
                 static_cast<unsigned long long>(bytes));
    std::exit(1);
  }
  std::optional<uint64_t> off = mem_.image_heap().alloc(bytes);
  if (!off) {
    wait_for_memory("guest memory (images)", [&] {
      off = mem_.image_heap().alloc(bytes);
      return off.has_value();
    });
  }
  releases_[release].allocs.push_back({true, *off});
  release_bytes_[release].fetch_add(bytes);
  return mem_.bar1().host + *off;
}

uint32_t QxlDevice::mm_time() const {
  const int64_t set_at = mm_time_set_ms_.load();
  if (!set_at) return 0;
  return mm_time_.load() + uint32_t(monotonic_ms() - set_at);
}

QXLDrawable* QxlDevice::new_drawable(uint32_t release, uint8_t type, const Rect& bbox) {
  auto* d = static_cast<QXLDrawable*>(alloc_struct(release, sizeof(QXLDrawable)));
  // release_info is the first member: its address is the drawable's.
  auto* info = reinterpret_cast<QXLReleaseInfo*>(d);
  info->id = release;
  releases_[release].info = info;
  d->surface_id = 0;
  d->effect = QXL_EFFECT_OPAQUE;
  d->type = type;
  d->self_bitmap = 0;
  d->bbox = to_qxl(bbox);
  d->clip.type = SPICE_CLIP_TYPE_NONE;
  d->clip.data = 0;
  d->mm_time = mm_time();
  for (int i = 0; i < 3; ++i) d->surfaces_dest[i] = -1;
  return d;
}

void QxlDevice::push(Ring<QxlCommandItem, 32>& ring, uint32_t type, uint64_t phys, bool cursor) {
  if (ring.full()) {
    ++stats_.ring_full_waits;
    wait(cursor ? "cursor ring" : "command ring", [&] { return !ring.prod_wait(); });
  }
  ring.at(ring.prod.load()) = QxlCommandItem{phys, type, 0};
  if (cursor) {
    ++stats_.cursor_commands;
  } else {
    ++stats_.display_commands;
  }
  if (ring.push()) {
    ++stats_.wakeups;
    spice_qxl_wakeup(&qxl_);  // QXL_IO_NOTIFY_CMD / QXL_IO_NOTIFY_CURSOR
  }
}

void QxlDevice::fill(const Rect& r, uint32_t xrgb) {
  const uint32_t rel = new_release();
  QXLDrawable* d = new_drawable(rel, QXL_DRAW_FILL, r);
  d->u.fill.brush.type = SPICE_BRUSH_TYPE_SOLID;
  d->u.fill.brush.u.color = xrgb;
  d->u.fill.rop_descriptor = SPICE_ROPD_OP_PUT;
  push(mem_.rings().cmd_ring, QXL_CMD_DRAW, mem_.bar0().phys(d), false);
  if (!shadow_.empty()) {
    for (int y = r.top; y < r.bottom; ++y) {
      std::fill_n(&shadow_[size_t(y) * size_t(opt_.width) + size_t(r.left)], r.width(), xrgb);
    }
  }
}

Bitmap QxlDevice::alloc_bitmap(int w, int h) {
  Bitmap bm;
  bm.w_ = w;
  bm.h_ = h;
  bm.release_ = new_release();
  const uint64_t stride = uint64_t(w) * 4;
  bm.rows_per_chunk_ = int(std::max<uint64_t>(1, kChunkBytes / stride));
  auto* image = static_cast<QXLImage*>(alloc_struct(bm.release_, sizeof(QXLImage)));
  QXL_SET_IMAGE_ID(image, QXL_IMAGE_GROUP_DRIVER, ++image_unique_);
  image->descriptor.type = SPICE_IMAGE_TYPE_BITMAP;
  image->descriptor.flags = 0;
  image->descriptor.width = uint32_t(w);
  image->descriptor.height = uint32_t(h);
  image->bitmap.format = SPICE_BITMAP_FMT_32BIT;
  image->bitmap.flags = QXL_BITMAP_TOP_DOWN;
  image->bitmap.x = uint32_t(w);
  image->bitmap.y = uint32_t(h);
  image->bitmap.stride = uint32_t(stride);
  image->bitmap.palette = 0;
  bm.image_phys_ = mem_.bar0().phys(image);

  QXLDataChunk* prev = nullptr;
  for (int y = 0; y < h; y += bm.rows_per_chunk_) {
    const int rows = std::min(bm.rows_per_chunk_, h - y);
    const uint64_t payload = uint64_t(rows) * stride;
    auto* chunk = reinterpret_cast<QXLDataChunk*>(
        alloc_image(bm.release_, sizeof(QXLDataChunk) + payload));
    chunk->data_size = uint32_t(payload);
    chunk->next_chunk = 0;
    const uint64_t phys = mem_.bar1().phys(chunk);
    if (prev) {
      chunk->prev_chunk = mem_.bar1().phys(prev);
      prev->next_chunk = phys;
    } else {
      chunk->prev_chunk = 0;
      image->bitmap.data = phys;
    }
    bm.chunks_.push_back(reinterpret_cast<uint8_t*>(chunk) + sizeof(QXLDataChunk));
    prev = chunk;
  }
  stats_.image_bytes += uint64_t(h) * stride;
  return bm;
}

void QxlDevice::copy(Bitmap&& bm, int x, int y) {
  const Rect dst{x, y, x + bm.w_, y + bm.h_};
  QXLDrawable* d = new_drawable(bm.release_, QXL_DRAW_COPY, dst);
  d->u.copy.src_bitmap = bm.image_phys_;
  d->u.copy.src_area = to_qxl(Rect{0, 0, bm.w_, bm.h_});
  d->u.copy.rop_descriptor = SPICE_ROPD_OP_PUT;
  d->u.copy.scale_mode = SPICE_IMAGE_SCALE_MODE_NEAREST;
  push(mem_.rings().cmd_ring, QXL_CMD_DRAW, mem_.bar0().phys(d), false);
  if (!shadow_.empty()) {
    for (int row = 0; row < bm.h_; ++row) {
      std::memcpy(&shadow_[size_t(y + row) * size_t(opt_.width) + size_t(x)], bm.row(row),
                  size_t(bm.w_) * 4);
    }
  }
}

void QxlDevice::copy_bits(int src_x, int src_y, const Rect& dst) {
  const uint32_t rel = new_release();
  QXLDrawable* d = new_drawable(rel, QXL_COPY_BITS, dst);
  d->u.copy_bits.src_pos.x = src_x;
  d->u.copy_bits.src_pos.y = src_y;
  push(mem_.rings().cmd_ring, QXL_CMD_DRAW, mem_.bar0().phys(d), false);
  if (!shadow_.empty()) {
    const size_t w = size_t(opt_.width);
    const size_t bytes = size_t(dst.width()) * 4;
    auto move_row = [&](int row) {
      std::memmove(&shadow_[size_t(dst.top + row) * w + size_t(dst.left)],
                   &shadow_[size_t(src_y + row) * w + size_t(src_x)], bytes);
    };
    // Overlapping areas: copy rows away from the direction of the move.
    if (dst.top > src_y) {
      for (int row = dst.height() - 1; row >= 0; --row) move_row(row);
    } else {
      for (int row = 0; row < dst.height(); ++row) move_row(row);
    }
  }
}

void QxlDevice::cursor_set(const uint32_t* argb, int hot_x, int hot_y, int x, int y) {
  constexpr int kSide = 32;
  constexpr uint32_t kBytes = kSide * kSide * 4;
  const uint32_t rel = new_release();
  auto* cmd = static_cast<QXLCursorCmd*>(alloc_struct(rel, sizeof(QXLCursorCmd)));
  auto* info = reinterpret_cast<QXLReleaseInfo*>(cmd);
  info->id = rel;
  releases_[rel].info = info;
  auto* shape = static_cast<QXLCursor*>(alloc_struct(rel, sizeof(QXLCursor) + kBytes));
  shape->header.unique = 0;  // not cached: the shape is sent once anyway
  shape->header.type = SPICE_CURSOR_TYPE_ALPHA;
  shape->header.width = kSide;
  shape->header.height = kSide;
  shape->header.hot_spot_x = uint16_t(hot_x);
  shape->header.hot_spot_y = uint16_t(hot_y);
  shape->data_size = kBytes;
  shape->chunk.data_size = kBytes;
  shape->chunk.prev_chunk = 0;
  shape->chunk.next_chunk = 0;
  std::memcpy(reinterpret_cast<uint8_t*>(shape) + sizeof(QXLCursor), argb, kBytes);
  cmd->type = QXL_CURSOR_SET;
  cmd->u.set.position.x = int16_t(x);
  cmd->u.set.position.y = int16_t(y);
  cmd->u.set.visible = 1;
  cmd->u.set.shape = mem_.bar0().phys(shape);
  push(mem_.rings().cursor_ring, QXL_CMD_CURSOR, mem_.bar0().phys(cmd), true);
}

void QxlDevice::cursor_move(int x, int y) {
  const uint32_t rel = new_release();
  auto* cmd = static_cast<QXLCursorCmd*>(alloc_struct(rel, sizeof(QXLCursorCmd)));
  auto* info = reinterpret_cast<QXLReleaseInfo*>(cmd);
  info->id = rel;
  releases_[rel].info = info;
  cmd->type = QXL_CURSOR_MOVE;
  cmd->u.position.x = int16_t(x);
  cmd->u.position.y = int16_t(y);
  push(mem_.rings().cursor_ring, QXL_CMD_CURSOR, mem_.bar0().phys(cmd), true);
}

void QxlDevice::update_area() {
  QXLRect area = to_qxl(Rect{0, 0, opt_.width, opt_.height});
  spice_qxl_update_area(&qxl_, 0, &area, nullptr, 0, 1);
}

}  // namespace spiceflow::player
