#include "qxl_worker.hpp"

#include <algorithm>
#include <cstring>
#include <future>

#include "qxl_source.hpp"
#include "record.hpp"
#include "reds.hpp"
#include "spiceflow/core/log.hpp"
#include "spiceflow/engine/desktop.hpp"

namespace spiceflow::compat {

namespace {
constexpr auto kPipelineTimeout = std::chrono::milliseconds(2000);
namespace msg = dev_message;

// SPICE_WORKER_RECORD_FILENAME: a device message, on the worker in the device's order.
void record_event(RedsState& reds, uint32_t message) {
  if (reds.record) reds.record->event(message);
}

size_t bytes_of(const ImageSource& s) {
  return s.image ? size_t(s.image->stride()) * size_t(s.image->height()) : 0;
}

// The pixel memory a command owns (decoded guest images), for the queue's byte bound.
size_t image_bytes(const DrawCommand& cmd) {
  return std::visit(
      [](const auto& op) -> size_t {
        using T = std::decay_t<decltype(op)>;
        size_t n = 0;
        if constexpr (std::is_same_v<T, BlitOp>) {
          if (op.src) n += size_t(op.src->stride()) * size_t(op.src->height());
        }
        if constexpr (requires { op.src.image; }) n += bytes_of(op.src);
        if constexpr (requires { op.mask.image; }) n += bytes_of(op.mask);
        if constexpr (requires { op.brush.pattern; }) n += bytes_of(op.brush.pattern);
        if constexpr (requires { op.mask.bits; }) n += op.mask.bits.size();
        return n;
      },
      cmd.op);
}
}  // namespace

QxlWorker::QxlWorker(RedsState& reds, QXLInstance* qin, QxlSource* source,
                     engine::Desktop* desktop)
    : reds_(reds), qin_(qin), source_(source), desktop_(desktop) {
  state_ = new QXLState{&reds, this};
  qin_->st = state_;
}

QxlWorker::~QxlWorker() {
  {
    std::lock_guard lock(mu_);
    quit_ = true;
  }
  cv_.notify_all();
  if (thread_.joinable()) thread_.join();
  if (source_) source_->set_room_callback(nullptr);
  qin_->st = nullptr;
  delete state_;
}

const QXLInterface* QxlWorker::qif() const {
  return reinterpret_cast<const QXLInterface*>(qin_->base.sif);
}

Status QxlWorker::attach() {
  QXLDevInitInfo info{};
  qif()->get_init_info(qin_, &info);
  qxl::MemSlotsConfig cfg;
  cfg.num_groups = info.num_memslots_groups;
  cfg.num_slots = info.num_memslots;
  // Xspice announces 8 slots with 1 id bit. The reference accepts that (it never checks);
  // only the slots an address can name are usable, so keep those.
  if (info.memslot_id_bits < 32 && cfg.num_slots > (uint32_t{1} << info.memslot_id_bits)) {
    log::info("spiceflow compat: QXL device {} announces {} memslots but {} slot id bits; "
              "using {}", qin_->id, cfg.num_slots, int(info.memslot_id_bits),
              uint32_t{1} << info.memslot_id_bits);
    cfg.num_slots = uint32_t{1} << info.memslot_id_bits;
  }
  cfg.generation_bits = info.memslot_gen_bits;
  cfg.id_bits = info.memslot_id_bits;
  cfg.internal_group_id = info.internal_groupslot_id;
  cfg.qxl_ram_size = info.qxl_ram_size;
  auto slots = qxl::MemSlots::create(cfg);
  if (!slots) return make_error("QXL device " + std::to_string(qin_->id) + ": " + slots.error().message);
  memslots_.emplace(std::move(*slots));
  if (info.n_surfaces > 0) limits_.max_surfaces = info.n_surfaces;
  log::info("spiceflow compat: QXL device {} attached: {} memslot groups x {} slots, {} surfaces{}",
            qin_->id, info.num_memslots_groups, info.num_memslots, limits_.max_surfaces,
            source_ ? "" : " (not shown: only the first QXL device is served)");
  // The worker handle is opaque in this ABI; QEMU only records it. Hand it our state.
  if (qif()->attache_worker) qif()->attache_worker(qin_, reinterpret_cast<QXLWorker*>(state_));
  if (source_) source_->set_room_callback([this] { cv_.notify_all(); });
  std::lock_guard lock(mu_);  // run() starts by taking mu_: thread_id_ is set before
  thread_ = std::thread([this] { run(); });
  thread_id_ = thread_.get_id();
  return {};
}

// ---- task plumbing

void QxlWorker::call(std::function<void()> fn, std::optional<uint64_t> cookie) {
  if (std::this_thread::get_id() == thread_id_) {
    // Re-entered from a device callback on the worker itself: run inline.
    fn();
    if (cookie) qif()->async_complete(qin_, *cookie);
    return;
  }
  if (!thread_.joinable()) {
    // Not attached (no thread yet): nothing else can be touching the state.
    fn();
    if (cookie && qif()->async_complete) qif()->async_complete(qin_, *cookie);
    return;
  }
  std::promise<void> done;
  auto fut = done.get_future();
  std::function<void()> task;
  if (cookie) {
    task = [this, fn = std::move(fn), c = *cookie] {
      fn();
      qif()->async_complete(qin_, c);
    };
  } else {
    task = [&fn, &done] {
      fn();
      done.set_value();
    };
  }
  {
    std::unique_lock lock(mu_);
    room_cv_.wait(lock, [&] { return tasks_.size() < kMaxTasks || quit_; });
    if (quit_) return;
    tasks_.push_back(std::move(task));
  }
  cv_.notify_all();
  if (!cookie) fut.wait();
}

void QxlWorker::post(std::function<void()> fn) {
  if (std::this_thread::get_id() == thread_id_ || !thread_.joinable()) {
    fn();  // on the worker already, or no thread yet: nothing else touches the state
    return;
  }
  {
    std::unique_lock lock(mu_);
    room_cv_.wait(lock, [&] { return tasks_.size() < kMaxTasks || quit_; });
    if (quit_) return;
    tasks_.push_back(std::move(fn));
  }
  cv_.notify_all();
}

void QxlWorker::run() {
  std::unique_lock lock(mu_);
  while (!quit_) {
    while (!tasks_.empty()) {
      auto task = std::move(tasks_.front());
      tasks_.pop_front();
      room_cv_.notify_all();
      lock.unlock();
      task();
      lock.lock();
    }
    const bool running = running_;
    wakeup_ = false;
    lock.unlock();
    RingState ring = RingState::idle;
    if (running) ring = process_rings();
    push_outbox();
    kick_if_idle(ring);
    lock.lock();
    if (quit_ || !tasks_.empty() || wakeup_) continue;
    if (ring == RingState::more) continue;
    // Blocked: the pipeline's room callback wakes us; the timeout is a safety net. Idle:
    // the device calls spice_qxl_wakeup when its rings get commands.
    cv_.wait_for(lock, ring == RingState::blocked ? std::chrono::milliseconds(10)
                                                  : std::chrono::milliseconds(100));
  }
}

// ---- the rings

QxlWorker::RingState QxlWorker::process_rings() {
  constexpr int kBudget = 128;  // commands per ring per round, so tasks are not starved
  RingState state = RingState::idle;
  bool display_idle = false;
  for (int n = 0; n < kBudget; ++n) {
    if (outbox_.size() >= kMaxOutbox) return RingState::blocked;
    QXLCommandExt ext{};
    if (qif()->get_command(qin_, &ext)) {
      handle(ext);
      continue;
    }
    flush_batch();  // the ring is empty: hand over what we have
    if (!qif()->req_cmd_notification(qin_)) continue;  // more arrived meanwhile
    display_idle = true;
    break;
  }
  if (!display_idle) state = RingState::more;
  bool cursor_idle = false;
  for (int n = 0; n < kBudget; ++n) {
    QXLCommandExt ext{};
    if (qif()->get_cursor_command(qin_, &ext)) {
      handle(ext);
      continue;
    }
    if (!qif()->req_cursor_notification(qin_)) continue;
    cursor_idle = true;
    break;
  }
  if (!cursor_idle) state = RingState::more;
  flush_batch();
  if (state == RingState::idle && released_since_flush_ > 0 && qif()->flush_resources) {
    // Give the guest its released memory back now rather than when it runs out.
    qif()->flush_resources(qin_);
    released_since_flush_ = 0;
  }
  return state;
}

void QxlWorker::release(const QXLReleaseInfoExt& info) {
  if (!info.info) return;
  qif()->release_resource(qin_, info);
  ++released_since_flush_;
}

void QxlWorker::handle(const QXLCommandExt& ext) {
  if (reds_.record) reds_.record->command(*memslots_, ext);  // before parsing, as the reference
  qxl::ParsedCommand parsed = qxl::parse_command(*memslots_, ext, limits_);
  if (!parsed.ok()) {
    reds_.once.warn("QXL command type " + std::to_string(ext.cmd.type) + " rejected",
                    parsed.command.error().message);
    release(parsed.release);
    return;
  }
  auto& cmd = *parsed.command;
  if (auto* draw = std::get_if<qxl::ParsedDraw>(&cmd)) {
    log::trace("spiceflow compat: QXL device {}: draw type {} op {}", qin_->id,
               int(draw->qxl_type), draw->command ? int(draw->command->op.index()) : -1);
    if (draw->command) {
      // End the batch before a command that would overflow it, not after: a large image
      // then opens the next batch together with what the guest draws on top of it, so a
      // published frame never shows the image without its overlays.
      const size_t bytes = image_bytes(*draw->command);
      if (!batch_.commands.empty() && (batch_.commands.size() >= kMaxBatchCommands ||
                                       batch_bytes_ + bytes > kMaxBatchBytes)) {
        flush_batch();
      }
      batch_bytes_ += bytes;
      batch_.commands.push_back(std::move(*draw->command));
    }
    release(parsed.release);
  } else if (auto* update = std::get_if<qxl::ParsedUpdate>(&cmd)) {
    write_back(update->surface_id, update->area);
    if (qif()->notify_update) qif()->notify_update(qin_, update->update_id);
    release(parsed.release);
  } else if (auto* create = std::get_if<qxl::ParsedSurfaceCreate>(&cmd)) {
    const uint32_t id = create->create.surface_id;
    if (id == 0 || surfaces_.count(id)) {
      reds_.once.warn("QXL surface create", "surface " + std::to_string(id) +
                                                " already exists; command ignored");
      release(parsed.release);
      return;
    }
    if (!batch_.commands.empty() || !batch_.destroys.empty()) flush_batch();
    batch_.creates.push_back(create->create);
    if (create->flags & QXL_SURF_FLAG_KEEP_DATA) {
      blit_guest_content(id, create->memory, create->create.size);
    }
    // As the reference: the create command stays with the device until the surface dies.
    surfaces_[id] = HeldSurface{create->memory, create->create.size, parsed.release};
  } else if (auto* destroy = std::get_if<qxl::ParsedSurfaceDestroy>(&cmd)) {
    drop_surface(destroy->destroy.surface_id);
    release(parsed.release);
  } else if (auto* cursor = std::get_if<qxl::ParsedCursor>(&cmd)) {
    for (auto& c : cursor->commands) batch_.cursor.push_back(std::move(c));
    release(parsed.release);
  } else if (auto* message = std::get_if<qxl::ParsedMessage>(&cmd)) {
    log::debug("spiceflow compat: QXL device {} message: {}", qin_->id, message->text);
    release(parsed.release);
  }
}

void QxlWorker::drop_surface(uint32_t surface_id) {
  auto it = surfaces_.find(surface_id);
  if (it == surfaces_.end()) return;
  batch_.destroys.push_back(SurfaceDestroy{surface_id});
  flush_batch();
  release(it->second.release);
  surfaces_.erase(it);
}

void QxlWorker::blit_guest_content(uint32_t surface_id, const qxl::GuestSurface& mem, Size size) {
  if (mem.bits_per_pixel != 32 || !mem.line0) {
    reds_.once.warn("QXL surface content", "keeping the content of non-32-bit surfaces is not "
                                           "supported yet; the surface starts black");
    return;
  }
  auto img = std::make_shared<Image>(size.width, size.height);
  for (int32_t y = 0; y < size.height; ++y) {
    std::memcpy(img->row(y), mem.line0 + int64_t(y) * mem.stride, size_t(size.width) * 4);
  }
  DrawCommand dc;
  dc.surface_id = surface_id;
  batch_bytes_ += size_t(img->stride()) * size_t(img->height());
  dc.op = BlitOp{Rect::from_size(size), std::move(img), Point{0, 0}};
  batch_.commands.push_back(std::move(dc));
}

void QxlWorker::flush_batch() {
  if (batch_.creates.empty() && batch_.commands.empty() && batch_.destroys.empty() &&
      batch_.cursor.empty()) {
    return;
  }
  outbox_.emplace_back(std::move(batch_), batch_bytes_);
  batch_ = DrawBatch{};
  batch_bytes_ = 0;
}

void QxlWorker::push_outbox() {
  if (!source_) {
    outbox_.clear();  // a device that is not shown: its commands were parsed and released
    return;
  }
  while (!outbox_.empty() && source_->try_push(outbox_.front().first, outbox_.front().second)) {
    outbox_.pop_front();
    unkicked_ = true;
  }
}

void QxlWorker::kick_if_idle(RingState ring) {
  // Drawn once the guest has stopped drawing (its ring ran dry: the end of a frame, most
  // likely), not at the next 30 Hz tick: what it drew reaches clients sooner, and a frame
  // made of several batches is not split over passes.
  if (ring != RingState::idle || !unkicked_ || !outbox_.empty() || !desktop_) return;
  unkicked_ = false;
  desktop_->kick();
}

void QxlWorker::drain_display_ring() {
  {
    std::lock_guard lock(mu_);
    if (!running_) return;  // a stopped device's ring is not touched
  }
  if (draining_) return;  // a QXL_CMD_UPDATE met while draining
  draining_ = true;
  const auto deadline = std::chrono::steady_clock::now() + kPipelineTimeout;
  // Bounded by the deadline: a guest that keeps filling its ring cannot hold us here.
  while (std::chrono::steady_clock::now() < deadline) {
    push_outbox();
    if (outbox_.size() >= kMaxOutbox) {
      std::unique_lock lock(mu_);
      cv_.wait_for(lock, std::chrono::milliseconds(2));
      continue;
    }
    QXLCommandExt ext{};
    if (!qif()->get_command(qin_, &ext)) break;
    handle(ext);
  }
  flush_batch();
  draining_ = false;
}

bool QxlWorker::sync_pipeline() {
  if (!source_ || !desktop_) return false;
  // As the reference (flush_display_commands): what the device queued before asking for the
  // area is part of it.
  drain_display_ring();
  flush_batch();
  const auto deadline = std::chrono::steady_clock::now() + kPipelineTimeout;
  while (true) {
    push_outbox();
    if (outbox_.empty()) break;
    if (std::chrono::steady_clock::now() > deadline) return false;
    std::unique_lock lock(mu_);
    cv_.wait_for(lock, std::chrono::milliseconds(5));
  }
  // Run a pass now rather than at the next scheduler tick (update_area is synchronous for
  // the device: X servers call it for every software-rendering fallback). tick() refuses
  // while a pass is in flight; then that pass ends first and we try again.
  const uint64_t seq = source_->pushed();
  while (!source_->wait_taken(seq, std::chrono::milliseconds(0))) {
    if (std::chrono::steady_clock::now() > deadline) return false;
    if (!desktop_->tick()) desktop_->wait_idle();
  }
  desktop_->wait_idle();
  return true;
}

void QxlWorker::write_back(uint32_t surface_id, const Rect& area) {
  log::debug("spiceflow compat: QXL device {}: update_area surface {} ({},{} {}x{})", qin_->id,
             surface_id, area.x, area.y, area.width, area.height);
  if (surface_id != 0) {
    write_back_offscreen(surface_id, area);
    return;
  }
  if (!primary_ || !primary_->line0) return;
  if (!sync_pipeline()) {
    reds_.once.warn("update_area", "the pipeline did not render in time; guest memory not updated");
    return;
  }
  auto frame = desktop_->latest();
  if (!frame || frame->size != primary_size_) return;
  if (primary_->bits_per_pixel != 32) {
    reds_.once.warn("update_area", "only 32-bit primary surfaces are written back");
    return;
  }
  const Rect want = intersect(area.empty() ? Rect::from_size(primary_size_) : area,
                              Rect::from_size(primary_size_));
  for (const auto& tile : frame->tiles) {
    if (!tile || !tile->pixels) continue;
    const Rect r = intersect(tile->rect, want);
    if (r.empty()) continue;
    for (int32_t y = r.y; y < r.bottom(); ++y) {
      const uint32_t* src = tile->pixels->row(y - tile->rect.y) + (r.x - tile->rect.x);
      uint8_t* dst = primary_->line0 + int64_t(y) * primary_->stride + int64_t(r.x) * 4;
      std::memcpy(dst, src, size_t(r.width) * 4);
    }
  }
}

void QxlWorker::write_back_offscreen(uint32_t surface_id, const Rect& area) {
  if (!desktop_) return;  // a device that is not shown has no rendered surfaces
  // First what the device queued (the surface's creation may be among it), rendered.
  if (!sync_pipeline()) {
    reds_.once.warn("update_area", "the pipeline did not render in time; guest memory not updated");
    return;
  }
  auto it = surfaces_.find(surface_id);
  if (it == surfaces_.end() || !it->second.memory.line0) return;
  const qxl::GuestSurface& mem = it->second.memory;
  if (mem.bits_per_pixel != 32) {
    reds_.once.warn("update_area", "only 32-bit off-screen surfaces are written back");
    return;
  }
  const Size size = it->second.size;
  const Rect want = intersect(area.empty() ? Rect::from_size(size) : area, Rect::from_size(size));
  if (want.empty()) return;
  // Between passes: the raster holds the surface as the commands so far left it.
  desktop_->read_surface(surface_id, want, [&](const ImageView& view) {
    if (view.width < size.width || view.height < size.height) return;
    for (int32_t y = want.y; y < want.bottom(); ++y) {
      uint8_t* dst = mem.line0 + int64_t(y) * mem.stride + int64_t(want.x) * 4;
      std::memcpy(dst, view.row(y) + want.x, size_t(want.width) * 4);
    }
  });
}

// ---- spice_qxl_* entry points

void QxlWorker::wakeup() {
  {
    std::lock_guard lock(mu_);
    wakeup_ = true;
  }
  cv_.notify_all();
}

void QxlWorker::oom() {
  call(
      [this] {
        record_event(reds_, msg::kOom);
        process_rings();
        push_outbox();
        if (qif()->flush_resources) qif()->flush_resources(qin_);
        released_since_flush_ = 0;
      },
      std::nullopt);
}

void QxlWorker::start() {
  bool was_running;
  {
    std::lock_guard lock(mu_);
    was_running = running_;
    running_ = true;
    wakeup_ = true;
  }
  record_event(reds_, msg::kStart);
  cv_.notify_all();
  // As the reference's handle_dev_start: a device that starts hears the clients' capabilities.
  if (!was_running) post([this] { push_client_capabilities(); });
}

void QxlWorker::stop() {
  // As the reference: stop fetching, then leave the true picture in guest memory (QEMU
  // saves it with the VM).
  call(
      [this] {
        record_event(reds_, msg::kStop);
        {
          std::lock_guard lock(mu_);
          running_ = false;
        }
        write_back(0, Rect::from_size(primary_size_));
      },
      std::nullopt);
}

void QxlWorker::update_area(uint32_t surface_id, QXLRect area, QXLRect* dirty_rects,
                            uint32_t num_dirty, std::optional<uint64_t> cookie) {
  call(
      [=, this] {
        record_event(reds_, cookie ? msg::kUpdateAsync : msg::kUpdate);
        const Rect r = Rect::from_ltrb(area.left, area.top, area.right, area.bottom);
        write_back(surface_id, r);
        if (dirty_rects && num_dirty > 0) {
          std::memset(dirty_rects, 0, sizeof(QXLRect) * num_dirty);
          dirty_rects[0] = area;
        }
        if (cookie && qif()->update_area_complete) {
          QXLRect done = area;
          qif()->update_area_complete(qin_, surface_id, &done, 1);
        }
      },
      cookie);
}

void QxlWorker::add_memslot(const QXLDevMemSlot& slot, std::optional<uint64_t> cookie) {
  call(
      [this, slot, async = cookie.has_value()] {
        record_event(reds_, async ? msg::kAddMemslotAsync : msg::kAddMemslot);
        if (!memslots_) return;
        qxl::MemSlot s;
        s.group_id = slot.slot_group_id;
        s.slot_id = slot.slot_id;
        s.generation = slot.generation;
        s.virt_start = slot.virt_start;
        s.virt_end = slot.virt_end;
        s.addr_delta = slot.addr_delta;
        s.qxl_ram_size = slot.qxl_ram_size;
        if (auto st = memslots_->add(s); !st) {
          log::warn("spiceflow compat: QXL device {}: add_memslot: {}", qin_->id, st.error().message);
        }
      },
      cookie);
}

void QxlWorker::del_memslot(uint32_t group_id, uint32_t slot_id) {
  call(
      [=, this] {
        record_event(reds_, msg::kDelMemslot);
        if (!memslots_) return;
        if (auto st = memslots_->remove(group_id, slot_id); !st) {
          log::warn("spiceflow compat: QXL device {}: del_memslot: {}", qin_->id, st.error().message);
        }
      },
      std::nullopt);
}

void QxlWorker::reset_memslots() {
  call(
      [this] {
        record_event(reds_, msg::kResetMemslots);
        if (memslots_) memslots_->reset();
      },
      std::nullopt);
}

void QxlWorker::destroy_surfaces(std::optional<uint64_t> cookie) {
  call(
      [this, async = cookie.has_value()] {
        record_event(reds_, async ? msg::kDestroySurfacesAsync : msg::kDestroySurfaces);
        while (!surfaces_.empty()) drop_surface(surfaces_.begin()->first);
        if (primary_) {
          batch_.destroys.push_back(SurfaceDestroy{0});
          flush_batch();
          primary_.reset();
        }
      },
      cookie);
}

void QxlWorker::destroy_primary(uint32_t surface_id, std::optional<uint64_t> cookie) {
  call(
      [this, surface_id, async = cookie.has_value()] {
        record_event(reds_, async ? msg::kDestroyPrimarySurfaceAsync : msg::kDestroyPrimarySurface);
        if (surface_id != 0) {
          reds_.once.warn("destroy_primary_surface", "surface id " + std::to_string(surface_id) +
                                                         " is not the primary (0); ignored");
          return;
        }
        batch_.destroys.push_back(SurfaceDestroy{0});
        flush_batch();
        primary_.reset();
      },
      cookie);
}

void QxlWorker::create_primary(uint32_t surface_id, const QXLDevSurfaceCreate& s,
                               std::optional<uint64_t> cookie) {
  call(
      [this, surface_id, s, async = cookie.has_value()] {
        if (surface_id != 0 || !memslots_) {
          reds_.once.warn("create_primary_surface",
                          "surface id " + std::to_string(surface_id) + " is not 0; ignored");
          return;
        }
        auto mem = qxl::map_surface(*memslots_, s.group_id, s.mem, s.width, s.height, s.stride,
                                    s.format, limits_);
        if (!mem) {
          log::warn("spiceflow compat: QXL device {}: primary surface {}x{} rejected: {}",
                    qin_->id, s.width, s.height, mem.error().message);
          return;
        }
        if (reds_.record) {
          reds_.record->primary_surface(
              async ? msg::kCreatePrimarySurfaceAsync : msg::kCreatePrimarySurface, *memslots_, s);
        }
        primary_ = *mem;
        primary_size_ = Size{int32_t(s.width), int32_t(s.height)};
        if (!batch_.commands.empty() || !batch_.destroys.empty()) flush_batch();
        SurfaceCreate create;
        create.surface_id = 0;
        create.size = primary_size_;
        create.format = s.format == SPICE_SURFACE_FMT_32_xRGB ? 0 : s.format;
        batch_.creates.push_back(create);
        if (s.flags & QXL_SURF_FLAG_KEEP_DATA) blit_guest_content(0, *primary_, primary_size_);
        flush_batch();
        // A driver that never sent a monitors configuration: one head covers the surface.
        if (!driver_monitors_config_) publish_monitors(std::nullopt);
        if (source_ && reds_.input) reds_.input->set_logical_size(int32_t(s.width), int32_t(s.height));
        log::info("spiceflow compat: QXL device {}: primary surface {}x{} format {}", qin_->id,
                  s.width, s.height, s.format);
      },
      cookie);
}

void QxlWorker::reset_image_cache() {
  record_event(reds_, msg::kResetImageCache);
  // spiceflow keeps no cache of guest images (commands own their pixels): nothing to drop.
}

void QxlWorker::reset_cursor() {
  call(
      [this] {
        record_event(reds_, msg::kResetCursor);
        batch_.cursor.push_back(CursorHide{});
      },
      std::nullopt);
}

void QxlWorker::destroy_surface(uint32_t surface_id, std::optional<uint64_t> cookie) {
  call(
      [this, surface_id, async = cookie.has_value()] {
        record_event(reds_, async ? msg::kDestroySurfaceWaitAsync : msg::kDestroySurfaceWait);
        if (surface_id == 0) {
          batch_.destroys.push_back(SurfaceDestroy{0});
          flush_batch();
          primary_.reset();
          return;
        }
        drop_surface(surface_id);
      },
      cookie);
}

void QxlWorker::loadvm_commands(const QXLCommandExt* ext, uint32_t count) {
  std::vector<QXLCommandExt> cmds(ext, ext + count);
  call(
      [this, cmds = std::move(cmds)] {
        record_event(reds_, msg::kLoadvmCommands);
        for (const auto& c : cmds) handle(c);
        flush_batch();
      },
      std::nullopt);
}

void QxlWorker::flush_surfaces(uint64_t cookie) {
  call(
      [this] {
        record_event(reds_, msg::kFlushSurfacesAsync);
        // Everything the device queued is rendered, then left in guest memory.
        for (int i = 0; i < 64 && process_rings() == RingState::more; ++i) push_outbox();
        write_back(0, Rect::from_size(primary_size_));
      },
      cookie);
}

void QxlWorker::monitors_config(QXLPHYSICAL config, int group_id, uint64_t cookie) {
  call(
      [this, config, group_id] {
        record_event(reds_, msg::kMonitorsConfigAsync);
        if (!memslots_) return;
        // As the reference (handle_dev_monitors_config_async): the header and one head must
        // be in a memory slot, then all `count` heads; a bad configuration is ignored.
        constexpr uint64_t kHeader = sizeof(QXLMonitorsConfig);
        auto first = memslots_->translate(uint32_t(group_id), config, kHeader + sizeof(QXLHead));
        if (!first) {
          reds_.once.warn("monitors_config", "the driver's configuration is not in guest "
                                             "memory (" + first.error().message + "); ignored");
          return;
        }
        driver_monitors_config_ = true;
        QXLMonitorsConfig header;  // read once: the guest may change it meanwhile
        std::memcpy(&header, *first, sizeof header);
        if (header.count == 0 || header.count > header.max_allowed) {
          reds_.once.warn("monitors_config", "the driver sent " + std::to_string(header.count) +
                                                 " heads, at most " +
                                                 std::to_string(header.max_allowed) + "; ignored");
          return;
        }
        auto all = memslots_->translate(uint32_t(group_id), config,
                                        kHeader + sizeof(QXLHead) * header.count);
        if (!all) {
          reds_.once.warn("monitors_config", "the driver's heads are not in guest memory (" +
                                                 all.error().message + "); ignored");
          return;
        }
        const uint32_t count = std::min<uint32_t>(header.count, max_monitors_);
        net::GuestMonitors monitors;
        monitors.max_allowed = uint16_t(std::min<uint32_t>(header.max_allowed, max_monitors_));
        for (uint32_t i = 0; i < count; ++i) {
          QXLHead h;
          std::memcpy(&h, *all + kHeader + sizeof(QXLHead) * i, sizeof h);
          monitors.heads.push_back({h.id, h.surface_id, h.width, h.height, h.x, h.y, h.flags});
        }
        log::debug("spiceflow compat: QXL device {}: {} monitors (max {})", qin_->id, count,
                   monitors.max_allowed);
        publish_monitors(std::move(monitors));
      },
      cookie);
}

void QxlWorker::publish_monitors(std::optional<net::GuestMonitors> monitors) {
  // Only the device that is shown (desktop 0) has clients.
  if (source_ && reds_.server) reds_.server->set_guest_monitors(0, std::move(monitors));
}

void QxlWorker::client_capabilities(bool present, const GuestClientCaps& caps) {
  post([this, present, caps] {
    clients_present_ = present;
    client_caps_ = caps;
    push_client_capabilities();
  });
}

void QxlWorker::push_client_capabilities() {
  {
    std::lock_guard lock(mu_);
    if (!running_) return;  // as the reference's red_qxl_set_client_capabilities
  }
  const QXLInterface* q = qif();
  if (q->base.minor_version < 2 || !q->set_client_capabilities) return;  // 3.2+
  GuestClientCaps caps = client_caps_;  // the callee takes a mutable array
  q->set_client_capabilities(qin_, clients_present_ ? 1 : 0, caps.data());
}

bool QxlWorker::client_monitors_config(VDAgentMonitorsConfig* config) {
  const QXLInterface* q = qif();
  if (q->base.minor_version < 3 || !q->client_monitors_config) return false;  // 3.3+
  return q->client_monitors_config(qin_, config) != 0;
}

void QxlWorker::driver_unload() {
  call(
      [this] {
        record_event(reds_, msg::kDriverUnload);
        driver_monitors_config_ = false;  // as the reference: the next driver starts over
      },
      std::nullopt);
}

void QxlWorker::set_max_monitors(unsigned max) {
  call([this, max] { max_monitors_ = max; }, std::nullopt);
}

void QxlWorker::set_device_info(const char* address, uint32_t start, uint32_t count) {
  std::string addr = address ? address : "";
  call(
      [this, addr = std::move(addr), start, count] {
        device_address_ = addr;
        log::info("spiceflow compat: QXL device {}: device address '{}', display ids {}..{}",
                  qin_->id, device_address_, start, start + count);
      },
      std::nullopt);
}

void QxlWorker::gl_draw(uint64_t cookie) {
  call(
      [this] {
        record_event(reds_, msg::kGlDrawAsync);
        reds_.once.warn("spice_qxl_gl_draw_async", "GL scanout is not supported");
      },
      cookie);
}

}  // namespace spiceflow::compat
