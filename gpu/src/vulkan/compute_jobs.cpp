#include "compute_jobs.hpp"

#include <span>

#include "spiceflow_shaders.hpp"

namespace spiceflow::gpu::vulkan {

namespace {

// yuv.comp's push constants, byte for byte (std430).
struct YuvJob {
  uint64_t src = 0, dst = 0;
  int32_t region[4] = {};
  int32_t src_stride = 0, y_stride = 0, u_offset = 0, v_offset = 0;
  uint32_t nv12 = 0;
};
static_assert(sizeof(YuvJob) <= sizeof(GpuOp), "push constants exceed the shared layout's range");

// yuv.comp: 64 invocations per workgroup along x, each covering 8 columns x 2 rows.
constexpr uint32_t kGroupWidth = 64, kColumnsPerInvocation = 8;

}  // namespace

Status record_yuv(Device& dev, VkCommandBuffer cmd, uint64_t surface, int32_t stride, const Rect& region,
                  const YuvImage& layout, uint64_t out) {
  auto pipeline = dev.compute_pipeline(std::span<const uint32_t>(shaders::kYuvSpv));
  if (!pipeline) return pipeline.error();
  YuvJob job;
  job.src = surface;
  job.dst = out;
  job.region[0] = region.x;
  job.region[1] = region.y;
  job.region[2] = region.width;
  job.region[3] = region.height;
  job.src_stride = stride;
  job.y_stride = layout.y_stride();
  job.u_offset = int32_t(layout.y_size());
  job.v_offset = int32_t(layout.y_size() + layout.uv_plane_size());
  job.nv12 = layout.format == YuvFormat::nv12 ? 1u : 0u;
  const Fns& f = dev.fn();
  f.vkCmdBindPipeline(cmd, VK_PIPELINE_BIND_POINT_COMPUTE, *pipeline);
  f.vkCmdPushConstants(cmd, dev.layout(), VK_SHADER_STAGE_COMPUTE_BIT, 0, sizeof job, &job);
  const uint32_t invocations = uint32_t(layout.y_stride()) / kColumnsPerInvocation;
  f.vkCmdDispatch(cmd, (invocations + kGroupWidth - 1) / kGroupWidth, uint32_t(layout.chroma_height()), 1);
  return Status::success();
}

namespace {

// tilehash.comp's push constants, byte for byte (std430).
struct TileHashJob {
  uint64_t src = 0, state = 0, flags = 0;
  int32_t width = 0, height = 0, columns = 0;
};
static_assert(sizeof(TileHashJob) <= sizeof(GpuOp), "push constants exceed the shared layout's range");

}  // namespace

Status record_tile_hash(Device& dev, VkCommandBuffer cmd, uint64_t surface, Size size, int32_t columns,
                        int32_t rows, uint64_t state, uint64_t flags) {
  auto pipeline = dev.compute_pipeline(std::span<const uint32_t>(shaders::kTilehashSpv));
  if (!pipeline) return pipeline.error();
  TileHashJob job{surface, state, flags, size.width, size.height, columns};
  const Fns& f = dev.fn();
  f.vkCmdBindPipeline(cmd, VK_PIPELINE_BIND_POINT_COMPUTE, *pipeline);
  f.vkCmdPushConstants(cmd, dev.layout(), VK_SHADER_STAGE_COMPUTE_BIT, 0, sizeof job, &job);
  f.vkCmdDispatch(cmd, uint32_t(columns), uint32_t(rows), 1);  // one workgroup per tile
  return Status::success();
}

}  // namespace spiceflow::gpu::vulkan
