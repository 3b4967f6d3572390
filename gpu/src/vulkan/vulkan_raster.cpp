#include "vulkan_raster.hpp"

#include <array>
#include <cstdlib>
#include <cstring>
#include <set>
#include <unordered_map>

#include "../cpu_raster.hpp"
#include "../raster_util.hpp"
#include "../tile_hash.hpp"
#include "compute_jobs.hpp"
#include "device.hpp"
#include "plan.hpp"
#include "spiceflow/core/log.hpp"

namespace spiceflow::gpu::vulkan {
namespace {

// The largest surface side we accept (as the CPU backend).
constexpr int32_t kMaxSurfaceSide = 16384;
// Per-batch memory comes in chunks of at least this many bytes.
constexpr size_t kChunkBytes = size_t(4) << 20;
// Pixels one workgroup of draw.comp covers (64 invocations, 8 rows each).
constexpr uint32_t kGroupW = 64, kGroupH = 8;

// Growable per-batch memory: a list of buffers, bump-allocated, reset when the batch that
// used them has completed. Buffers never move, so addresses handed out stay valid.
struct Arena {
  std::vector<Buffer> chunks;
  size_t current = 0;
  size_t used = 0;
  void reset() {
    current = 0;
    used = 0;
  }
};

// A command buffer with its fence and the per-batch memory its commands read. Two slots
// alternate, so the host plans the next batch while the device runs the previous one.
struct Slot {
  VkCommandBuffer cmd = VK_NULL_HANDLE;
  VkFence fence = VK_NULL_HANDLE;
  bool recording = false;
  bool in_flight = false;
  VkPipeline bound = VK_NULL_HANDLE;
  Arena upload;   // host-visible: uploaded bitmaps, masks, sampling maps
  Arena scratch;  // device-local: snapshots
};

struct Surface {
  DeviceSurface dev;
  Buffer buffer;
  Buffer mirror;  // host copy for view() when the surface memory cannot be mapped
};

// The surfaces a command reads besides its destination.
std::vector<uint32_t> source_surfaces(const DrawOp& op) {
  std::vector<uint32_t> ids;
  auto add = [&](const ImageSource& s) {
    if (s.surface_id) ids.push_back(*s.surface_id);
  };
  std::visit(
      [&](const auto& o) {
        if constexpr (requires { o.src.surface_id; }) add(o.src);
        if constexpr (requires { o.brush.pattern; }) add(o.brush.pattern);
        if constexpr (requires { o.mask.surface_id; }) add(o.mask);
        if constexpr (requires { o.fore_brush.pattern; }) add(o.fore_brush.pattern);
        if constexpr (requires { o.back_brush.pattern; }) add(o.back_brush.pattern);
      },
      op);
  return ids;
}

// The destination pixels a general command may change: its box inside the clip and surface.
Rect reach(const DrawCommand& cmd, Size surface) {
  const Rect whole = Rect::from_size(surface);
  if (!edges_fit(cmd.clip)) return Rect{};
  const Rect bounds = cmd.clip.empty() ? whole : intersect(cmd.clip, whole);
  return std::visit(
      [&](const auto& o) -> Rect {
        if constexpr (std::is_same_v<std::decay_t<decltype(o)>, StrokeOp>) {
          // Lines stay inside the bounds of their points (28.4; a Bezier inside its control
          // points), a pixel of rounding either way: much less than a guest's box may be.
          if (!edges_fit(o.box)) return Rect{};
          int64_t x0 = INT64_MAX, y0 = INT64_MAX, x1 = INT64_MIN, y1 = INT64_MIN;
          for (const PathSegment& seg : o.path) {
            for (const Point& p : seg.points) {
              x0 = std::min<int64_t>(x0, p.x >> 4);
              y0 = std::min<int64_t>(y0, p.y >> 4);
              x1 = std::max<int64_t>(x1, p.x >> 4);
              y1 = std::max<int64_t>(y1, p.y >> 4);
            }
          }
          if (x0 > x1) return Rect{};
          const Rect inked = Rect::from_ltrb(int32_t(x0 - 1), int32_t(y0 - 1), int32_t(x1 + 2), int32_t(y1 + 2));
          return intersect(intersect(o.box, bounds), inked);
        } else if constexpr (requires { o.box; }) {
          return edges_fit(o.box) ? intersect(o.box, bounds) : Rect{};
        } else {
          return bounds;
        }
      },
      cmd.op);
}

class VulkanRaster final : public RasterBackend, private Recorder {
 public:
  VulkanRaster(std::unique_ptr<Device> dev, bool staging_readback)
      : dev_(std::move(dev)), staging_readback_(staging_readback) {}

  Status init() {
    const Fns& f = dev_->fn();
    VkCommandPoolCreateInfo pci{VK_STRUCTURE_TYPE_COMMAND_POOL_CREATE_INFO};
    pci.flags = VK_COMMAND_POOL_CREATE_RESET_COMMAND_BUFFER_BIT;
    pci.queueFamilyIndex = dev_->queue_family();
    if (f.vkCreateCommandPool(dev_->device(), &pci, nullptr, &pool_) != VK_SUCCESS) {
      return make_error("vkCreateCommandPool failed");
    }
    for (Slot& s : slots_) {
      VkCommandBufferAllocateInfo cai{VK_STRUCTURE_TYPE_COMMAND_BUFFER_ALLOCATE_INFO};
      cai.commandPool = pool_;
      cai.level = VK_COMMAND_BUFFER_LEVEL_PRIMARY;
      cai.commandBufferCount = 1;
      VkFenceCreateInfo fci{VK_STRUCTURE_TYPE_FENCE_CREATE_INFO};
      if (f.vkAllocateCommandBuffers(dev_->device(), &cai, &s.cmd) != VK_SUCCESS ||
          f.vkCreateFence(dev_->device(), &fci, nullptr, &s.fence) != VK_SUCCESS) {
        return make_error("cannot allocate Vulkan command buffers");
      }
    }
    return Status::success();
  }

  ~VulkanRaster() override {
    wait_all();
    const Fns& f = dev_->fn();
    for (auto& [id, s] : surfaces_) release(s);
    dev_->destroy(yuv_out_);
    for (auto& [id, t] : tile_state_) dev_->destroy(t.buffer);
    for (Slot& s : slots_) {
      for (Buffer& b : s.upload.chunks) dev_->destroy(b);
      for (Buffer& b : s.scratch.chunks) dev_->destroy(b);
      if (s.fence) f.vkDestroyFence(dev_->device(), s.fence, nullptr);
    }
    if (pool_) f.vkDestroyCommandPool(dev_->device(), pool_, nullptr);
  }

  std::string_view name() const override { return "vulkan"; }

  Status create_surface(uint32_t id, Size size) override {
    if (size.empty() || size.width > kMaxSurfaceSide || size.height > kMaxSurfaceSide) {
      return make_error("surface " + std::to_string(id) + ": bad size " + std::to_string(size.width) +
                        "x" + std::to_string(size.height));
    }
    // Made before the old one goes, so a failure leaves surface `id` as it was.
    auto buf = dev_->create_buffer(size_t(size.width) * size_t(size.height) * 4, Device::Memory::device);
    if (!buf) return make_error("surface " + std::to_string(id) + ": " + buf.error().message);
    destroy_surface(id);
    Surface s;
    s.buffer = *buf;
    s.dev = DeviceSurface{size, buf->address};
    // Surfaces start opaque black.
    Slot& slot = open();
    barrier(slot);
    dev_->fn().vkCmdFillBuffer(slot.cmd, s.buffer.buffer, 0, VK_WHOLE_SIZE, 0xff000000u);
    need_barrier_ = true;
    surfaces_.emplace(id, s);
    return Status::success();
  }

  void destroy_surface(uint32_t id) override {
    auto it = surfaces_.find(id);
    if (it == surfaces_.end()) return;
    wait_all();  // the device may still be using it (rare: surfaces live long)
    release(it->second);
    surfaces_.erase(it);

    if (twin_) twin_->destroy_surface(id);
    twin_sizes_.erase(id);
  }

  Result<Rect> apply(const DrawCommand& cmd) override {
    return std::move(apply_batch(std::span<const DrawCommand>(&cmd, 1))[0]);
  }

  std::vector<Result<Rect>> apply_batch(std::span<const DrawCommand> cmds) override {
    std::vector<Result<Rect>> out;
    out.reserve(cmds.size());
    for (const DrawCommand& cmd : cmds) {
      Planned p = plan_command(cmd, *this);
      out.push_back(p.fallback ? fallback(cmd, p.fallback) : std::move(p.result));
    }
    submit();
    return out;
  }

  ImageView view(uint32_t id) const override {
    auto it = surfaces_.find(id);
    if (it == surfaces_.end()) return ImageView{};
    const Rect whole = Rect::from_size(it->second.dev.size);
    return const_cast<VulkanRaster*>(this)->read(id, std::span<const Rect>(&whole, 1));
  }

  ImageView view(uint32_t id, std::span<const Rect> regions) const override {
    return const_cast<VulkanRaster*>(this)->read(id, regions);
  }

  // The conversion runs on the device after everything recorded so far, into a host-visible
  // buffer kept for the next conversions; only the YUV bytes cross to the host.
  Result<YuvImage> convert(uint32_t id, const Rect& region, YuvFormat format) override {
    auto it = surfaces_.find(id);
    if (it == surfaces_.end()) return make_error("convert: no surface " + std::to_string(id));
    const DeviceSurface& s = it->second.dev;
    const Rect r = intersect(region, Rect::from_size(s.size));
    if (r.empty()) return make_error("convert: empty region");
    YuvImage out = YuvImage::make(format, r.width, r.height);
    if (yuv_out_.size < out.byte_size()) {
      wait_all();  // the old buffer may still be written by a conversion in flight
      dev_->destroy(yuv_out_);
      auto b = dev_->create_buffer(out.byte_size(), Device::Memory::readback);
      if (!b) return make_error("convert: " + b.error().message);
      yuv_out_ = *b;
    }
    Slot& slot = open();
    barrier(slot);
    if (auto st = record_yuv(*dev_, slot.cmd, s.address, s.size.width, r, out, yuv_out_.address); !st) {
      return st.error();
    }
    finish_for_host(slot);
    std::memcpy(out.data.data(), yuv_out_.mapped, out.byte_size());
    readback_bytes_ += out.byte_size();
    return out;
  }

  // Tile tracking on the device: the state lives in a host-visible buffer per surface that
  // only tilehash.comp writes; the flags of this update go up with the batch memory.
  Result<TileHashes> update_tile_hashes(uint32_t id, std::span<const Rect> damage) override {
    auto it = surfaces_.find(id);
    if (it == surfaces_.end()) return make_error("tile hashes: no surface " + std::to_string(id));
    const DeviceSurface& s = it->second.dev;
    const int32_t cols = hash_columns(s.size), rows = hash_rows(s.size);
    const size_t tiles = size_t(cols) * size_t(rows);
    TileState& st = tile_state_[id];
    std::vector<uint32_t> flags = tiles_meeting(s.size, damage);
    if (!st.buffer.buffer || st.size != s.size) {
      if (st.buffer.buffer) {
        wait_all();
        dev_->destroy(st.buffer);
      }
      auto b = dev_->create_buffer(tiles * 2 * sizeof(uint32_t), Device::Memory::readback);
      if (!b) return make_error("tile hashes: " + b.error().message);
      st.buffer = *b;
      st.size = s.size;
      std::fill(flags.begin(), flags.end(), 2u);  // first hash of every tile
    }
    const uint64_t flag_address = upload_bytes(flags.data(), flags.size() * sizeof(uint32_t));
    Slot& slot = open();
    barrier(slot);
    if (auto r = record_tile_hash(*dev_, slot.cmd, s.address, s.size, cols, rows, st.buffer.address, flag_address);
        !r) {
      return r.error();
    }
    finish_for_host(slot);
    TileHashes out;
    out.columns = cols;
    out.rows = rows;
    out.hash.resize(tiles);
    out.history.resize(tiles);
    const auto* words = reinterpret_cast<const uint32_t*>(st.buffer.mapped);
    for (size_t t = 0; t < tiles; ++t) {
      out.hash[t] = words[2 * t];
      out.history[t] = words[2 * t + 1];
    }
    return out;
  }

  RasterStats stats() const override {
    RasterStats s;
    s.submissions = submissions_;
    s.fallbacks = fallbacks_;
    s.validation_errors = dev_->validation_errors();
    s.readback_bytes = readback_bytes_;
    return s;
  }

 private:
  // ---- Recorder (plan.cpp records through these).

  const DeviceSurface* surface(uint32_t id) const override {
    auto it = surfaces_.find(id);
    return it == surfaces_.end() ? nullptr : &it->second.dev;
  }

  uint64_t upload(const ImageView& img, const Rect& part) override {
    uint64_t address = 0;
    const size_t row = size_t(part.width) * 4;
    uint8_t* p = alloc(open().upload, row * size_t(part.height), Device::Memory::upload, &address);
    for (int32_t y = 0; y < part.height; ++y) {
      std::memcpy(p + size_t(y) * row, img.row(part.y + y) + part.x, row);
    }
    return address;
  }

  uint64_t upload_bytes(const void* data, size_t bytes) override {
    uint64_t address = 0;
    uint8_t* p = alloc(open().upload, bytes, Device::Memory::upload, &address);
    std::memcpy(p, data, bytes);
    return address;
  }

  uint64_t scratch(size_t bytes) override {
    uint64_t address = 0;
    alloc(open().scratch, bytes, Device::Memory::device, &address);
    return address;
  }

  void dispatch(const GpuOp& op) override {
    auto pipeline = dev_->pipeline(op);
    if (!pipeline) {
      log::error("vulkan raster: {}", pipeline.error().message);
      std::abort();
    }
    Slot& slot = open();
    barrier(slot);
    const Fns& f = dev_->fn();
    if (slot.bound != *pipeline) {
      f.vkCmdBindPipeline(slot.cmd, VK_PIPELINE_BIND_POINT_COMPUTE, *pipeline);
      slot.bound = *pipeline;
    }
    f.vkCmdPushConstants(slot.cmd, dev_->layout(), VK_SHADER_STAGE_COMPUTE_BIT, 0, sizeof(GpuOp), &op);
    f.vkCmdDispatch(slot.cmd, (uint32_t(op.region[2]) + kGroupW - 1) / kGroupW,
                    (uint32_t(op.region[3]) + kGroupH - 1) / kGroupH, 1);
    need_barrier_ = true;
  }

  // ---- Command buffers.

  // Ends a compute job recorded into `slot` whose output the host reads next: makes its
  // writes visible to the host, submits and waits.
  void finish_for_host(Slot& slot) {
    slot.bound = VK_NULL_HANDLE;  // the draw pipeline is bound again before the next op
    VkMemoryBarrier mb{VK_STRUCTURE_TYPE_MEMORY_BARRIER};
    mb.srcAccessMask = VK_ACCESS_SHADER_WRITE_BIT;
    mb.dstAccessMask = VK_ACCESS_HOST_READ_BIT;
    dev_->fn().vkCmdPipelineBarrier(slot.cmd, VK_PIPELINE_STAGE_COMPUTE_SHADER_BIT, VK_PIPELINE_STAGE_HOST_BIT,
                                    0, 1, &mb, 0, nullptr, 0, nullptr);
    need_barrier_ = true;
    wait_all();
  }

  // The slot being recorded, begun (after its previous batch completed) if need be.
  Slot& open() {
    Slot& s = slots_[current_];
    if (s.recording) return s;
    wait(s);
    s.upload.reset();
    s.scratch.reset();
    VkCommandBufferBeginInfo bi{VK_STRUCTURE_TYPE_COMMAND_BUFFER_BEGIN_INFO};
    bi.flags = VK_COMMAND_BUFFER_USAGE_ONE_TIME_SUBMIT_BIT;
    dev_->fn().vkBeginCommandBuffer(s.cmd, &bi);
    s.bound = VK_NULL_HANDLE;
    s.recording = true;
    need_barrier_ = true;  // earlier submissions' writes
    return s;
  }

  // Orders the next command after everything recorded or submitted before it. Ops are
  // drawn in order and usually touch the surface the previous one wrote, so every command
  // gets one.
  void barrier(Slot& s) {
    if (!need_barrier_) return;
    VkMemoryBarrier mb{VK_STRUCTURE_TYPE_MEMORY_BARRIER};
    mb.srcAccessMask = VK_ACCESS_SHADER_WRITE_BIT | VK_ACCESS_TRANSFER_WRITE_BIT;
    mb.dstAccessMask = VK_ACCESS_SHADER_READ_BIT | VK_ACCESS_SHADER_WRITE_BIT |
                       VK_ACCESS_TRANSFER_READ_BIT | VK_ACCESS_TRANSFER_WRITE_BIT;
    const VkPipelineStageFlags stages = VK_PIPELINE_STAGE_COMPUTE_SHADER_BIT | VK_PIPELINE_STAGE_TRANSFER_BIT;
    dev_->fn().vkCmdPipelineBarrier(s.cmd, stages, stages, 0, 1, &mb, 0, nullptr, 0, nullptr);
    need_barrier_ = false;
  }

  // Ends and submits the slot being recorded (if any); the next one is recorded next.
  void submit() {
    Slot& s = slots_[current_];
    if (!s.recording) return;
    const Fns& f = dev_->fn();
    f.vkEndCommandBuffer(s.cmd);
    VkSubmitInfo si{VK_STRUCTURE_TYPE_SUBMIT_INFO};
    si.commandBufferCount = 1;
    si.pCommandBuffers = &s.cmd;
    if (VkResult r = f.vkQueueSubmit(dev_->queue(), 1, &si, s.fence); r != VK_SUCCESS) {
      // A lost device cannot be recovered from here; its surfaces are gone.
      log::error("vulkan raster: vkQueueSubmit failed (VkResult {})", int(r));
      std::abort();
    }
    s.recording = false;
    s.in_flight = true;
    ++submissions_;
    current_ = (current_ + 1) % slots_.size();
  }

  void wait(Slot& s) {
    if (!s.in_flight) return;
    const Fns& f = dev_->fn();
    if (VkResult r = f.vkWaitForFences(dev_->device(), 1, &s.fence, VK_TRUE, UINT64_MAX); r != VK_SUCCESS) {
      log::error("vulkan raster: vkWaitForFences failed (VkResult {})", int(r));
      std::abort();
    }
    f.vkResetFences(dev_->device(), 1, &s.fence);
    s.in_flight = false;
  }

  void wait_all() {
    submit();
    for (Slot& s : slots_) wait(s);
  }

  // `bytes` of per-batch memory (16-byte aligned) from `arena`; its host pointer (upload
  // memory) and device address.
  uint8_t* alloc(Arena& arena, size_t bytes, Device::Memory memory, uint64_t* address) {
    bytes = (std::max<size_t>(bytes, 1) + 15) & ~size_t(15);
    while (arena.current < arena.chunks.size() && arena.used + bytes > arena.chunks[arena.current].size) {
      ++arena.current;
      arena.used = 0;
    }
    if (arena.current == arena.chunks.size()) {
      auto b = dev_->create_buffer(std::max(kChunkBytes, bytes), memory);
      if (!b) {
        // Out of memory for one batch's operands: nothing sensible to draw instead.
        log::error("vulkan raster: {}", b.error().message);
        std::abort();
      }
      arena.chunks.push_back(*b);
    }
    Buffer& c = arena.chunks[arena.current];
    *address = c.address + arena.used;
    uint8_t* p = c.mapped ? c.mapped + arena.used : nullptr;
    arena.used += bytes;
    return p;
  }

  // ---- Reading back.

  // Makes `regions` of surface `id` current in the host view and returns it.
  ImageView read(uint32_t id, std::span<const Rect> regions) {
    auto it = surfaces_.find(id);
    if (it == surfaces_.end()) return ImageView{};
    Surface& s = it->second;
    const Size size = s.dev.size;
    const int32_t stride = size.width * 4;
    if (s.buffer.mapped && !staging_readback_) {
      // Host-cached surface memory (UMA, lavapipe): waiting is all it takes.
      wait_all();
      return ImageView{s.buffer.mapped, size.width, size.height, stride};
    }
    if (!s.mirror.buffer) {
      auto m = dev_->create_buffer(size_t(stride) * size_t(size.height), Device::Memory::readback);
      if (!m) {
        log::error("vulkan raster: no readback buffer for surface {}: {}", id, m.error().message);
        return ImageView{};
      }
      s.mirror = *m;
    }
    std::vector<VkBufferCopy> copies;
    const Rect whole = Rect::from_size(size);
    for (const Rect& region : regions) {
      const Rect r = intersect(region, whole);
      if (r.empty()) continue;
      readback_bytes_ += uint64_t(r.area()) * 4;
      if (r.x == 0 && r.width == size.width) {  // whole rows: one contiguous copy
        const VkDeviceSize off = VkDeviceSize(r.y) * VkDeviceSize(stride);
        copies.push_back({off, off, VkDeviceSize(r.height) * VkDeviceSize(stride)});
        continue;
      }
      for (int32_t y = r.y; y < r.bottom(); ++y) {
        const VkDeviceSize off = VkDeviceSize(y) * VkDeviceSize(stride) + VkDeviceSize(r.x) * 4;
        copies.push_back({off, off, VkDeviceSize(r.width) * 4});
      }
    }
    if (!copies.empty()) {
      Slot& slot = open();
      barrier(slot);
      const Fns& f = dev_->fn();
      f.vkCmdCopyBuffer(slot.cmd, s.buffer.buffer, s.mirror.buffer, uint32_t(copies.size()), copies.data());
      VkMemoryBarrier mb{VK_STRUCTURE_TYPE_MEMORY_BARRIER};
      mb.srcAccessMask = VK_ACCESS_TRANSFER_WRITE_BIT;
      mb.dstAccessMask = VK_ACCESS_HOST_READ_BIT;
      f.vkCmdPipelineBarrier(slot.cmd, VK_PIPELINE_STAGE_TRANSFER_BIT, VK_PIPELINE_STAGE_HOST_BIT, 0, 1, &mb,
                             0, nullptr, 0, nullptr);
      need_barrier_ = true;
    }
    wait_all();
    return ImageView{s.mirror.mapped, size.width, size.height, stride};
  }

  // ---- The CPU twin.

  // Draws `cmd` with the CPU backend on a mirrored copy: the destination area and the
  // source surfaces it reads are downloaded into the twin, the twin draws, and what it
  // changed is uploaded back. Correct for any op; slow (it waits for the device).
  Result<Rect> fallback(const DrawCommand& cmd, const char* what) {
    ++fallbacks_;
    if (logged_.insert(what).second) {
      log::warn("vulkan raster: {} commands are drawn by the CPU backend on a mirrored copy "
                "(logged once per kind)", what);
    }
    if (!twin_) twin_ = make_cpu_raster();
    auto dst = surfaces_.find(cmd.surface_id);
    if (dst == surfaces_.end()) return make_error("no surface " + std::to_string(cmd.surface_id));
    if (auto st = sync_twin(cmd.surface_id, reach(cmd, dst->second.dev.size)); !st) return st.error();
    for (uint32_t src : source_surfaces(cmd.op)) {
      auto it = surfaces_.find(src);
      if (it == surfaces_.end()) continue;  // the twin reports it
      if (auto st = sync_twin(src, Rect::from_size(it->second.dev.size)); !st) return st.error();
    }
    auto r = twin_->apply(cmd);
    if (r && !r->empty()) {
      const uint64_t pixels = upload(twin_->view(cmd.surface_id), *r);
      GpuOp op;
      op.dst = dst->second.dev.address;
      op.dst_stride = dst->second.dev.size.width;
      std::memcpy(op.region, &*r, sizeof op.region);
      std::memcpy(op.frame, &*r, sizeof op.frame);
      op.src = pixels;
      op.src_stride = r->width;
      op.kind = kOffset;
      op.combine = kRaw;
      dispatch(op);
    }
    return r;
  }

  // Makes `area` of the twin's surface `id` equal to the device's.
  Status sync_twin(uint32_t id, const Rect& area) {
    const Size size = surfaces_.at(id).dev.size;
    auto known = twin_sizes_.find(id);
    if (known == twin_sizes_.end() || known->second != size) {
      if (auto st = twin_->create_surface(id, size); !st) return st;
      twin_sizes_[id] = size;
    }
    if (area.empty()) return Status::success();
    const ImageView now = read(id, std::span<const Rect>(&area, 1));
    auto pixels = std::make_shared<Image>(Image::copy_of(now, area));
    auto r = twin_->apply(DrawCommand{id, {}, BlitOp{area, std::move(pixels), {0, 0}}, {}});
    if (!r) return r.error();
    return Status::success();
  }

  void release(Surface& s) {
    dev_->destroy(s.buffer);
    dev_->destroy(s.mirror);
  }

  std::unique_ptr<Device> dev_;
  const bool staging_readback_;
  // Everything below is owned by the desktop's render stage (one thread at a time).
  VkCommandPool pool_ = VK_NULL_HANDLE;
  std::array<Slot, 2> slots_;
  size_t current_ = 0;
  bool need_barrier_ = false;
  std::unordered_map<uint32_t, Surface> surfaces_;
  std::unique_ptr<RasterBackend> twin_;
  std::unordered_map<uint32_t, Size> twin_sizes_;
  std::set<std::string> logged_;
  uint64_t submissions_ = 0;
  uint64_t fallbacks_ = 0;
  uint64_t readback_bytes_ = 0;
  Buffer yuv_out_;  // host-visible destination of convert()
  struct TileState {
    Buffer buffer;  // host-visible: per tile hash, history (written by tilehash.comp only)
    Size size;      // of the surface it was made for
  };
  std::unordered_map<uint32_t, TileState> tile_state_;
};

}  // namespace

Result<std::unique_ptr<RasterBackend>> make_vulkan_raster(const RasterOptions& options, bool automatic) {
  auto dev = Device::create(options, automatic);
  if (!dev) return dev.error();
  auto r = std::make_unique<VulkanRaster>(std::move(*dev), options.vulkan_staging_readback);
  if (auto st = r->init(); !st) return st.error();
  return std::unique_ptr<RasterBackend>(std::move(r));
}

}  // namespace spiceflow::gpu::vulkan
