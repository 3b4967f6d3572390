#pragma once
/// The Vulkan device of one raster backend: loader, instance (with the validation layer and a
/// debug messenger counting its errors when asked), the chosen physical device, one compute
/// queue, the draw pipeline, and buffers with device addresses. Every Vulkan call goes through
/// the function table loaded from vkGetInstanceProcAddr (no link-time dependency on the
/// loader). Private to gpu/src/vulkan/.
#define VK_NO_PROTOTYPES
#include <vulkan/vulkan.h>

#include <atomic>
#include <cstdint>
#include <memory>
#include <span>
#include <string>
#include <unordered_map>

#include "spiceflow/core/result.hpp"
#include "plan.hpp"
#include "spiceflow/gpu/raster.hpp"

namespace spiceflow::gpu::vulkan {

#define SPICEFLOW_VK_INSTANCE_FNS(X)                                                          \
  X(vkDestroyInstance) X(vkEnumeratePhysicalDevices) X(vkGetPhysicalDeviceProperties)        \
  X(vkGetPhysicalDeviceFeatures2) X(vkGetPhysicalDeviceQueueFamilyProperties)                \
  X(vkGetPhysicalDeviceMemoryProperties) X(vkCreateDevice) X(vkGetDeviceProcAddr)

#define SPICEFLOW_VK_DEVICE_FNS(X)                                                            \
  X(vkDestroyDevice) X(vkGetDeviceQueue) X(vkCreateBuffer) X(vkDestroyBuffer)                 \
  X(vkGetBufferMemoryRequirements) X(vkAllocateMemory) X(vkFreeMemory) X(vkBindBufferMemory)  \
  X(vkMapMemory) X(vkUnmapMemory) X(vkGetBufferDeviceAddress) X(vkCreateShaderModule)         \
  X(vkDestroyShaderModule) X(vkCreatePipelineLayout) X(vkDestroyPipelineLayout)               \
  X(vkCreateComputePipelines) X(vkDestroyPipeline) X(vkCreateCommandPool)                     \
  X(vkDestroyCommandPool) X(vkAllocateCommandBuffers) X(vkBeginCommandBuffer)                 \
  X(vkEndCommandBuffer) X(vkCmdBindPipeline) X(vkCmdPushConstants) X(vkCmdDispatch)           \
  X(vkCmdPipelineBarrier) X(vkCmdCopyBuffer) X(vkCmdFillBuffer) X(vkQueueSubmit)              \
  X(vkCreateFence) X(vkDestroyFence) X(vkWaitForFences) X(vkResetFences) X(vkDeviceWaitIdle)

/// The Vulkan entry points this backend uses.
struct Fns {
  PFN_vkGetInstanceProcAddr vkGetInstanceProcAddr = nullptr;
  PFN_vkEnumerateInstanceVersion vkEnumerateInstanceVersion = nullptr;
  PFN_vkEnumerateInstanceLayerProperties vkEnumerateInstanceLayerProperties = nullptr;
  PFN_vkEnumerateInstanceExtensionProperties vkEnumerateInstanceExtensionProperties = nullptr;
  PFN_vkCreateInstance vkCreateInstance = nullptr;
  PFN_vkCreateDebugUtilsMessengerEXT vkCreateDebugUtilsMessengerEXT = nullptr;
  PFN_vkDestroyDebugUtilsMessengerEXT vkDestroyDebugUtilsMessengerEXT = nullptr;
#define SPICEFLOW_VK_DECLARE(name) PFN_##name name = nullptr;
  SPICEFLOW_VK_INSTANCE_FNS(SPICEFLOW_VK_DECLARE)
  SPICEFLOW_VK_DEVICE_FNS(SPICEFLOW_VK_DECLARE)
#undef SPICEFLOW_VK_DECLARE
};

/// A buffer with its own memory and device address; `mapped` when host-visible.
struct Buffer {
  VkBuffer buffer = VK_NULL_HANDLE;
  VkDeviceMemory memory = VK_NULL_HANDLE;
  uint64_t address = 0;
  size_t size = 0;
  uint8_t* mapped = nullptr;
  bool host_cached = false;  // mapped memory that is cheap for the CPU to read
};

class Device {
 public:
  /// Loads the loader, creates the instance and picks a device (see make_vulkan_raster).
  static Result<std::unique_ptr<Device>> create(const RasterOptions& options, bool automatic);
  ~Device();
  Device(const Device&) = delete;
  Device& operator=(const Device&) = delete;

  const Fns& fn() const { return fn_; }
  VkDevice device() const { return device_; }
  VkQueue queue() const { return queue_; }
  uint32_t queue_family() const { return queue_family_; }
  /// The draw pipeline specialised for `op`'s kind, combiner, rop and mask (built on first
  /// use; each is a few milliseconds of shader compilation).
  Result<VkPipeline> pipeline(const GpuOp& op);
  /// The pipeline of another compute shader of gpu/shaders/ (yuv.comp, ...), which takes
  /// only push constants (at most sizeof(GpuOp) bytes) through layout(); built on first use.
  Result<VkPipeline> compute_pipeline(std::span<const uint32_t> spirv);
  VkPipelineLayout layout() const { return layout_; }
  const std::string& name() const { return name_; }
  uint64_t validation_errors() const { return validation_errors_->load(); }

  enum class Memory { device, upload, readback };
  /// A storage buffer of `size` bytes with a device address: device-local, or host-visible
  /// and mapped (upload: written by the host; readback: read by the host, cached if possible).
  Result<Buffer> create_buffer(size_t size, Memory memory);
  void destroy(Buffer& b);

 private:
  Device() = default;
  Status init(const RasterOptions& options, bool automatic);
  Status pick_device(bool automatic);
  Status create_device();
  Status create_pipeline();
  int32_t memory_type(uint32_t bits, VkMemoryPropertyFlags required, VkMemoryPropertyFlags preferred) const;

  void* library_ = nullptr;  // dlopen handle of libvulkan.so.1 (null when injected)
  Fns fn_;
  VkInstance instance_ = VK_NULL_HANDLE;
  VkDebugUtilsMessengerEXT messenger_ = VK_NULL_HANDLE;
  VkPhysicalDevice physical_ = VK_NULL_HANDLE;
  VkPhysicalDeviceMemoryProperties memory_props_{};
  VkDevice device_ = VK_NULL_HANDLE;
  VkQueue queue_ = VK_NULL_HANDLE;
  uint32_t queue_family_ = 0;
  VkShaderModule module_ = VK_NULL_HANDLE;
  VkPipelineLayout layout_ = VK_NULL_HANDLE;
  std::unordered_map<uint32_t, VkPipeline> pipelines_;
  struct Extra {
    VkShaderModule module = VK_NULL_HANDLE;
    VkPipeline pipeline = VK_NULL_HANDLE;
  };
  std::unordered_map<const uint32_t*, Extra> extra_;  // compute_pipeline(), by SPIR-V
  std::string name_;
  // Written by the messenger callback (any thread the driver calls it on).
  std::unique_ptr<std::atomic<uint64_t>> validation_errors_ = std::make_unique<std::atomic<uint64_t>>(0);
};

}  // namespace spiceflow::gpu::vulkan
