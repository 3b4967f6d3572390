#include "device.hpp"

#include <dlfcn.h>

#include <algorithm>
#include <cstddef>
#include <cstring>
#include <filesystem>
#include <vector>

#include "spiceflow/core/log.hpp"
#include "spiceflow_shaders.hpp"
#include "vulkan_raster.hpp"

namespace spiceflow::gpu::vulkan {
namespace {

constexpr const char* kLoaderName = "libvulkan.so.1";
constexpr const char* kValidationLayer = "VK_LAYER_KHRONOS_validation";

std::string vk_error(const char* what, VkResult r) {
  const char* name = "";
  switch (r) {
    case VK_ERROR_OUT_OF_HOST_MEMORY: name = ": VK_ERROR_OUT_OF_HOST_MEMORY"; break;
    case VK_ERROR_OUT_OF_DEVICE_MEMORY: name = ": VK_ERROR_OUT_OF_DEVICE_MEMORY"; break;
    case VK_ERROR_INITIALIZATION_FAILED: name = ": VK_ERROR_INITIALIZATION_FAILED"; break;
    case VK_ERROR_DEVICE_LOST: name = ": VK_ERROR_DEVICE_LOST"; break;
    case VK_ERROR_LAYER_NOT_PRESENT: name = ": VK_ERROR_LAYER_NOT_PRESENT"; break;
    case VK_ERROR_EXTENSION_NOT_PRESENT: name = ": VK_ERROR_EXTENSION_NOT_PRESENT"; break;
    case VK_ERROR_FEATURE_NOT_PRESENT: name = ": VK_ERROR_FEATURE_NOT_PRESENT"; break;
    case VK_ERROR_INCOMPATIBLE_DRIVER: name = ": VK_ERROR_INCOMPATIBLE_DRIVER, no usable Vulkan driver (ICD) installed"; break;
    default: break;
  }
  return std::string(what) + " failed (VkResult " + std::to_string(int(r)) + name + ")";
}

const char* type_name(VkPhysicalDeviceType t) {
  switch (t) {
    case VK_PHYSICAL_DEVICE_TYPE_DISCRETE_GPU: return "discrete GPU";
    case VK_PHYSICAL_DEVICE_TYPE_INTEGRATED_GPU: return "integrated GPU";
    case VK_PHYSICAL_DEVICE_TYPE_VIRTUAL_GPU: return "virtual GPU";
    case VK_PHYSICAL_DEVICE_TYPE_CPU: return "software (CPU)";
    default: return "other";
  }
}

// Lower is better: hardware first, software last.
int rank(VkPhysicalDeviceType t) {
  switch (t) {
    case VK_PHYSICAL_DEVICE_TYPE_DISCRETE_GPU: return 0;
    case VK_PHYSICAL_DEVICE_TYPE_INTEGRATED_GPU: return 1;
    case VK_PHYSICAL_DEVICE_TYPE_VIRTUAL_GPU: return 2;
    case VK_PHYSICAL_DEVICE_TYPE_OTHER: return 3;
    default: return 4;
  }
}

VKAPI_ATTR VkBool32 VKAPI_CALL on_debug_message(VkDebugUtilsMessageSeverityFlagBitsEXT severity,
                                                VkDebugUtilsMessageTypeFlagsEXT,
                                                const VkDebugUtilsMessengerCallbackDataEXT* data,
                                                void* user) {
  if (severity & VK_DEBUG_UTILS_MESSAGE_SEVERITY_ERROR_BIT_EXT) {
    static_cast<std::atomic<uint64_t>*>(user)->fetch_add(1);
    log::error("vulkan validation: {}", data && data->pMessage ? data->pMessage : "(no message)");
  } else if (severity & VK_DEBUG_UTILS_MESSAGE_SEVERITY_WARNING_BIT_EXT) {
    log::warn("vulkan validation: {}", data && data->pMessage ? data->pMessage : "(no message)");
  }
  return VK_FALSE;
}

// The loader's vkGetInstanceProcAddr: injected, or from libvulkan.so.1. `library` receives
// the dlopen handle to close later (null when injected).
Result<PFN_vkGetInstanceProcAddr> load_loader(const RasterOptions& options, void** library) {
  *library = nullptr;
  if (options.vulkan_get_instance_proc_addr) {
    return reinterpret_cast<PFN_vkGetInstanceProcAddr>(options.vulkan_get_instance_proc_addr);
  }
  void* lib = dlopen(kLoaderName, RTLD_NOW | RTLD_LOCAL);
  if (!lib) {
    const char* why = dlerror();
    return make_error(std::string("no Vulkan loader (") + kLoaderName + ": " + (why ? why : "not found") + ")");
  }
  auto gipa = reinterpret_cast<PFN_vkGetInstanceProcAddr>(dlsym(lib, "vkGetInstanceProcAddr"));
  if (!gipa) {
    dlclose(lib);
    return make_error(std::string(kLoaderName) + " has no vkGetInstanceProcAddr");
  }
  *library = lib;
  return gipa;
}

}  // namespace

Status probe_loader(const RasterOptions& options) {
  void* lib = nullptr;
  auto gipa = load_loader(options, &lib);
  if (lib) dlclose(lib);
  if (!gipa) return gipa.error();
  return Status::success();
}

namespace {
// Whether the machine has a device node a hardware Vulkan driver could drive. Without one
// only a software device (lavapipe) can exist, which "auto" declines anyway; creating an
// instance just to see that maps every driver and LLVM (~50 MB of resident memory).
bool has_gpu_device_node() {
  std::error_code ec;
  for (const auto& e : std::filesystem::directory_iterator("/dev/dri", ec)) {
    if (e.path().filename().string().starts_with("renderD")) return true;
  }
  for (const char* node : {"/dev/nvidia0", "/dev/dxg"}) {
    if (std::filesystem::exists(node, ec)) return true;
  }
  return false;
}
}  // namespace

Result<std::unique_ptr<Device>> Device::create(const RasterOptions& options, bool automatic) {
  if (automatic && !options.vulkan_get_instance_proc_addr && !has_gpu_device_node()) {
    return make_error("no GPU device node (/dev/dri/renderD*, /dev/nvidia0, /dev/dxg): only a "
                      "software Vulkan device could be here, slower than the CPU backend "
                      "(--raster vulkan takes it)");
  }
  std::unique_ptr<Device> d(new Device());
  if (auto st = d->init(options, automatic); !st) return st.error();
  return d;
}

Status Device::init(const RasterOptions& options, bool automatic) {
  auto gipa = load_loader(options, &library_);
  if (!gipa) return gipa.error();
  fn_.vkGetInstanceProcAddr = *gipa;
  auto global = [&](const char* name) { return fn_.vkGetInstanceProcAddr(VK_NULL_HANDLE, name); };
  fn_.vkEnumerateInstanceVersion = reinterpret_cast<PFN_vkEnumerateInstanceVersion>(global("vkEnumerateInstanceVersion"));
  fn_.vkEnumerateInstanceLayerProperties =
      reinterpret_cast<PFN_vkEnumerateInstanceLayerProperties>(global("vkEnumerateInstanceLayerProperties"));
  fn_.vkEnumerateInstanceExtensionProperties =
      reinterpret_cast<PFN_vkEnumerateInstanceExtensionProperties>(global("vkEnumerateInstanceExtensionProperties"));
  fn_.vkCreateInstance = reinterpret_cast<PFN_vkCreateInstance>(global("vkCreateInstance"));
  if (!fn_.vkCreateInstance || !fn_.vkEnumerateInstanceVersion) {
    return make_error("the Vulkan loader is older than Vulkan 1.1 (no vkEnumerateInstanceVersion)");
  }
  uint32_t version = 0;
  fn_.vkEnumerateInstanceVersion(&version);
  if (version < VK_API_VERSION_1_2) {
    return make_error("the Vulkan loader offers " + std::to_string(VK_API_VERSION_MAJOR(version)) + "." +
                      std::to_string(VK_API_VERSION_MINOR(version)) + ", 1.2 is needed");
  }

  std::vector<const char*> layers;
  std::vector<const char*> extensions;
  VkDebugUtilsMessengerCreateInfoEXT messenger_info{VK_STRUCTURE_TYPE_DEBUG_UTILS_MESSENGER_CREATE_INFO_EXT};
  messenger_info.messageSeverity = VK_DEBUG_UTILS_MESSAGE_SEVERITY_ERROR_BIT_EXT |
                                   VK_DEBUG_UTILS_MESSAGE_SEVERITY_WARNING_BIT_EXT;
  messenger_info.messageType = VK_DEBUG_UTILS_MESSAGE_TYPE_GENERAL_BIT_EXT |
                               VK_DEBUG_UTILS_MESSAGE_TYPE_VALIDATION_BIT_EXT |
                               VK_DEBUG_UTILS_MESSAGE_TYPE_PERFORMANCE_BIT_EXT;
  messenger_info.pfnUserCallback = on_debug_message;
  messenger_info.pUserData = validation_errors_.get();
  if (options.vulkan_validation) {
    uint32_t n = 0;
    if (fn_.vkEnumerateInstanceLayerProperties) fn_.vkEnumerateInstanceLayerProperties(&n, nullptr);
    std::vector<VkLayerProperties> props(n);
    if (n) fn_.vkEnumerateInstanceLayerProperties(&n, props.data());
    bool found = false;
    for (const auto& p : props) found = found || std::strcmp(p.layerName, kValidationLayer) == 0;
    if (!found) {
      return make_error(std::string("validation asked for but ") + kValidationLayer +
                        " is not installed (Debian: vulkan-validationlayers)");
    }
    layers.push_back(kValidationLayer);
    extensions.push_back(VK_EXT_DEBUG_UTILS_EXTENSION_NAME);
  }
  VkApplicationInfo app{VK_STRUCTURE_TYPE_APPLICATION_INFO};
  app.pApplicationName = "spiceflow";
  app.pEngineName = "spiceflow";
  app.apiVersion = VK_API_VERSION_1_2;
  VkInstanceCreateInfo ici{VK_STRUCTURE_TYPE_INSTANCE_CREATE_INFO};
  ici.pApplicationInfo = &app;
  ici.enabledLayerCount = uint32_t(layers.size());
  ici.ppEnabledLayerNames = layers.data();
  ici.enabledExtensionCount = uint32_t(extensions.size());
  ici.ppEnabledExtensionNames = extensions.data();
  if (options.vulkan_validation) ici.pNext = &messenger_info;  // instance creation is checked too
  if (VkResult r = fn_.vkCreateInstance(&ici, nullptr, &instance_); r != VK_SUCCESS) {
    instance_ = VK_NULL_HANDLE;
    return make_error(vk_error("vkCreateInstance", r));
  }
#define SPICEFLOW_VK_LOAD(name) \
  fn_.name = reinterpret_cast<PFN_##name>(fn_.vkGetInstanceProcAddr(instance_, #name));
  SPICEFLOW_VK_INSTANCE_FNS(SPICEFLOW_VK_LOAD)
#undef SPICEFLOW_VK_LOAD
  if (!fn_.vkDestroyInstance || !fn_.vkEnumeratePhysicalDevices || !fn_.vkCreateDevice ||
      !fn_.vkGetDeviceProcAddr || !fn_.vkGetPhysicalDeviceFeatures2) {
    return make_error("the Vulkan instance lacks core 1.2 entry points");
  }
  if (options.vulkan_validation) {
    fn_.vkCreateDebugUtilsMessengerEXT = reinterpret_cast<PFN_vkCreateDebugUtilsMessengerEXT>(
        fn_.vkGetInstanceProcAddr(instance_, "vkCreateDebugUtilsMessengerEXT"));
    fn_.vkDestroyDebugUtilsMessengerEXT = reinterpret_cast<PFN_vkDestroyDebugUtilsMessengerEXT>(
        fn_.vkGetInstanceProcAddr(instance_, "vkDestroyDebugUtilsMessengerEXT"));
    if (!fn_.vkCreateDebugUtilsMessengerEXT ||
        fn_.vkCreateDebugUtilsMessengerEXT(instance_, &messenger_info, nullptr, &messenger_) != VK_SUCCESS) {
      return make_error("cannot create the debug-utils messenger for validation");
    }
  }
  if (auto st = pick_device(automatic); !st) return st;
  if (auto st = create_device(); !st) return st;
  return create_pipeline();
}

Status Device::pick_device(bool automatic) {
  uint32_t n = 0;
  if (VkResult r = fn_.vkEnumeratePhysicalDevices(instance_, &n, nullptr); r != VK_SUCCESS) {
    return make_error(vk_error("vkEnumeratePhysicalDevices", r));
  }
  std::vector<VkPhysicalDevice> devices(n);
  if (n) fn_.vkEnumeratePhysicalDevices(instance_, &n, devices.data());
  devices.resize(n);
  if (devices.empty()) return make_error("no Vulkan device (no ICD installed?)");
  std::string skipped;
  auto skip = [&](const VkPhysicalDeviceProperties& props, const std::string& why) {
    skipped += std::string(skipped.empty() ? "" : "; ") + "'" + props.deviceName + "' (" +
               type_name(props.deviceType) + "): " + why;
  };
  struct Candidate {
    VkPhysicalDevice pd;
    VkPhysicalDeviceProperties props;
    uint32_t family;
  };
  std::vector<Candidate> usable;
  for (VkPhysicalDevice pd : devices) {
    VkPhysicalDeviceProperties props;
    fn_.vkGetPhysicalDeviceProperties(pd, &props);
    if (props.apiVersion < VK_API_VERSION_1_2) {
      skip(props, "Vulkan 1.2 needed");
      continue;
    }
    VkPhysicalDeviceVulkan12Features f12{VK_STRUCTURE_TYPE_PHYSICAL_DEVICE_VULKAN_1_2_FEATURES};
    VkPhysicalDeviceFeatures2 f2{VK_STRUCTURE_TYPE_PHYSICAL_DEVICE_FEATURES_2};
    f2.pNext = &f12;
    fn_.vkGetPhysicalDeviceFeatures2(pd, &f2);
    if (!f12.bufferDeviceAddress) {
      skip(props, "no bufferDeviceAddress");
      continue;
    }
    uint32_t qn = 0;
    fn_.vkGetPhysicalDeviceQueueFamilyProperties(pd, &qn, nullptr);
    std::vector<VkQueueFamilyProperties> qprops(qn);
    fn_.vkGetPhysicalDeviceQueueFamilyProperties(pd, &qn, qprops.data());
    int32_t family = -1;
    for (uint32_t i = 0; i < qn && family < 0; ++i) {
      if (qprops[i].queueFlags & VK_QUEUE_COMPUTE_BIT) family = int32_t(i);
    }
    if (family < 0) {
      skip(props, "no compute queue");
      continue;
    }
    if (automatic && props.deviceType == VK_PHYSICAL_DEVICE_TYPE_CPU) {
      skip(props, "a software rasterizer, slower than the CPU backend (--raster vulkan takes it)");
      continue;
    }
    usable.push_back({pd, props, uint32_t(family)});
  }
  // Hardware first (discrete, integrated, virtual), in enumeration order within a kind.
  std::stable_sort(usable.begin(), usable.end(), [](const Candidate& a, const Candidate& b) {
    return rank(a.props.deviceType) < rank(b.props.deviceType);
  });
  for (size_t i = 1; i < usable.size(); ++i) skip(usable[i].props, "a better device was chosen");
  if (!usable.empty()) {
    physical_ = usable[0].pd;
    queue_family_ = usable[0].family;
  }
  const VkPhysicalDeviceProperties best_props = usable.empty() ? VkPhysicalDeviceProperties{} : usable[0].props;
  if (physical_ == VK_NULL_HANDLE) return make_error("no usable Vulkan device: " + skipped);
  name_ = std::string(best_props.deviceName) + " (" + type_name(best_props.deviceType) + ")";
  fn_.vkGetPhysicalDeviceMemoryProperties(physical_, &memory_props_);
  log::info("vulkan raster: using '{}', {}, Vulkan {}.{}{}{}", best_props.deviceName,
            type_name(best_props.deviceType), VK_API_VERSION_MAJOR(best_props.apiVersion),
            VK_API_VERSION_MINOR(best_props.apiVersion), skipped.empty() ? "" : "; skipped ", skipped);
  return Status::success();
}

Status Device::create_device() {
  const float priority = 1.0f;
  VkDeviceQueueCreateInfo qci{VK_STRUCTURE_TYPE_DEVICE_QUEUE_CREATE_INFO};
  qci.queueFamilyIndex = queue_family_;
  qci.queueCount = 1;
  qci.pQueuePriorities = &priority;
  VkPhysicalDeviceVulkan12Features f12{VK_STRUCTURE_TYPE_PHYSICAL_DEVICE_VULKAN_1_2_FEATURES};
  f12.bufferDeviceAddress = VK_TRUE;
  VkDeviceCreateInfo dci{VK_STRUCTURE_TYPE_DEVICE_CREATE_INFO};
  dci.pNext = &f12;
  dci.queueCreateInfoCount = 1;
  dci.pQueueCreateInfos = &qci;
  if (VkResult r = fn_.vkCreateDevice(physical_, &dci, nullptr, &device_); r != VK_SUCCESS) {
    device_ = VK_NULL_HANDLE;
    return make_error(vk_error("vkCreateDevice", r));
  }
  bool missing = false;
#define SPICEFLOW_VK_LOAD(name)                                                              \
  fn_.name = reinterpret_cast<PFN_##name>(fn_.vkGetDeviceProcAddr(device_, #name));         \
  missing = missing || !fn_.name;
  SPICEFLOW_VK_DEVICE_FNS(SPICEFLOW_VK_LOAD)
#undef SPICEFLOW_VK_LOAD
  if (missing) return make_error("the Vulkan device lacks core 1.2 entry points");
  fn_.vkGetDeviceQueue(device_, queue_family_, 0, &queue_);
  return Status::success();
}

Status Device::create_pipeline() {
  VkShaderModuleCreateInfo smci{VK_STRUCTURE_TYPE_SHADER_MODULE_CREATE_INFO};
  smci.codeSize = sizeof(shaders::kDrawSpv);
  smci.pCode = shaders::kDrawSpv;
  if (VkResult r = fn_.vkCreateShaderModule(device_, &smci, nullptr, &module_); r != VK_SUCCESS) {
    module_ = VK_NULL_HANDLE;
    return make_error(vk_error("vkCreateShaderModule", r));
  }
  VkPushConstantRange range{VK_SHADER_STAGE_COMPUTE_BIT, 0, sizeof(GpuOp)};
  VkPipelineLayoutCreateInfo plci{VK_STRUCTURE_TYPE_PIPELINE_LAYOUT_CREATE_INFO};
  plci.pushConstantRangeCount = 1;
  plci.pPushConstantRanges = &range;
  if (VkResult r = fn_.vkCreatePipelineLayout(device_, &plci, nullptr, &layout_); r != VK_SUCCESS) {
    layout_ = VK_NULL_HANDLE;
    return make_error(vk_error("vkCreatePipelineLayout", r));
  }
  // Build the most common pipeline now, so a broken driver fails here, not mid-batch.
  GpuOp fill;
  fill.kind = kSolid;
  fill.rop = 3;
  if (auto p = pipeline(fill); !p) return p.error();
  return Status::success();
}

Result<VkPipeline> Device::pipeline(const GpuOp& op) {
  // draw.comp's specialization constants: kind, combiner, rop (the binary rop for kRop, the
  // 8-bit ternary code for kRop3), mask.
  // kComposite: rop packs the operator, repeats and formats (15 bits), and its mask is an
  // image read by the combiner, not the 1-bit mask test.
  const bool has_rop = op.combine == kRop || op.combine == kRop3 || op.combine == kRop3Pattern ||
                       op.combine == kComposite;
  struct Spec {
    uint32_t kind, combine, rop;
    VkBool32 mask, list;
  } spec{op.kind & ~kListed, op.combine, has_rop ? (op.rop & 0xffffu) : 3u,
         op.mask_w > 0 && op.combine != kComposite ? VK_TRUE : VK_FALSE, (op.kind & kListed) ? VK_TRUE : VK_FALSE};
  const uint32_t key = spec.kind | spec.combine << 4 | spec.rop << 8 | spec.mask << 24 | spec.list << 25;
  if (auto it = pipelines_.find(key); it != pipelines_.end()) return it->second;
  const VkSpecializationMapEntry entries[] = {
      {0, offsetof(Spec, kind), sizeof(uint32_t)},
      {1, offsetof(Spec, combine), sizeof(uint32_t)},
      {2, offsetof(Spec, rop), sizeof(uint32_t)},
      {3, offsetof(Spec, mask), sizeof(VkBool32)},
      {4, offsetof(Spec, list), sizeof(VkBool32)},
  };
  VkSpecializationInfo si{5, entries, sizeof(spec), &spec};
  VkComputePipelineCreateInfo cpci{VK_STRUCTURE_TYPE_COMPUTE_PIPELINE_CREATE_INFO};
  cpci.stage = {VK_STRUCTURE_TYPE_PIPELINE_SHADER_STAGE_CREATE_INFO};
  cpci.stage.stage = VK_SHADER_STAGE_COMPUTE_BIT;
  cpci.stage.module = module_;
  cpci.stage.pName = "main";
  cpci.stage.pSpecializationInfo = &si;
  cpci.layout = layout_;
  VkPipeline p = VK_NULL_HANDLE;
  if (VkResult r = fn_.vkCreateComputePipelines(device_, VK_NULL_HANDLE, 1, &cpci, nullptr, &p); r != VK_SUCCESS) {
    return make_error(vk_error("creating a draw pipeline", r));
  }
  pipelines_.emplace(key, p);
  return p;
}

Result<VkPipeline> Device::compute_pipeline(std::span<const uint32_t> spirv) {
  if (auto it = extra_.find(spirv.data()); it != extra_.end()) return it->second.pipeline;
  Extra e;
  VkShaderModuleCreateInfo smci{VK_STRUCTURE_TYPE_SHADER_MODULE_CREATE_INFO};
  smci.codeSize = spirv.size_bytes();
  smci.pCode = spirv.data();
  if (VkResult r = fn_.vkCreateShaderModule(device_, &smci, nullptr, &e.module); r != VK_SUCCESS) {
    return make_error(vk_error("vkCreateShaderModule", r));
  }
  VkComputePipelineCreateInfo cpci{VK_STRUCTURE_TYPE_COMPUTE_PIPELINE_CREATE_INFO};
  cpci.stage = {VK_STRUCTURE_TYPE_PIPELINE_SHADER_STAGE_CREATE_INFO};
  cpci.stage.stage = VK_SHADER_STAGE_COMPUTE_BIT;
  cpci.stage.module = e.module;
  cpci.stage.pName = "main";
  cpci.layout = layout_;
  if (VkResult r = fn_.vkCreateComputePipelines(device_, VK_NULL_HANDLE, 1, &cpci, nullptr, &e.pipeline);
      r != VK_SUCCESS) {
    fn_.vkDestroyShaderModule(device_, e.module, nullptr);
    return make_error(vk_error("creating a compute pipeline", r));
  }
  extra_.emplace(spirv.data(), e);
  return e.pipeline;
}

int32_t Device::memory_type(uint32_t bits, VkMemoryPropertyFlags required,
                            VkMemoryPropertyFlags preferred) const {
  int32_t fallback = -1;
  for (uint32_t i = 0; i < memory_props_.memoryTypeCount; ++i) {
    if (!(bits & (1u << i))) continue;
    const VkMemoryPropertyFlags f = memory_props_.memoryTypes[i].propertyFlags;
    if ((f & required) != required) continue;
    if ((f & preferred) == preferred) return int32_t(i);
    if (fallback < 0) fallback = int32_t(i);
  }
  return fallback;
}

Result<Buffer> Device::create_buffer(size_t size, Memory memory) {
  Buffer b;
  b.size = size;
  VkBufferCreateInfo bci{VK_STRUCTURE_TYPE_BUFFER_CREATE_INFO};
  bci.size = size;
  bci.usage = VK_BUFFER_USAGE_STORAGE_BUFFER_BIT | VK_BUFFER_USAGE_SHADER_DEVICE_ADDRESS_BIT |
              VK_BUFFER_USAGE_TRANSFER_SRC_BIT | VK_BUFFER_USAGE_TRANSFER_DST_BIT;
  bci.sharingMode = VK_SHARING_MODE_EXCLUSIVE;
  if (VkResult r = fn_.vkCreateBuffer(device_, &bci, nullptr, &b.buffer); r != VK_SUCCESS) {
    return make_error(vk_error("vkCreateBuffer", r));
  }
  VkMemoryRequirements req;
  fn_.vkGetBufferMemoryRequirements(device_, b.buffer, &req);
  constexpr VkMemoryPropertyFlags kHost = VK_MEMORY_PROPERTY_HOST_VISIBLE_BIT | VK_MEMORY_PROPERTY_HOST_COHERENT_BIT;
  int32_t type = -1;
  switch (memory) {
    case Memory::device: type = memory_type(req.memoryTypeBits, 0, VK_MEMORY_PROPERTY_DEVICE_LOCAL_BIT); break;
    case Memory::upload: type = memory_type(req.memoryTypeBits, kHost, 0); break;
    case Memory::readback: type = memory_type(req.memoryTypeBits, kHost, VK_MEMORY_PROPERTY_HOST_CACHED_BIT); break;
  }
  if (type < 0) {
    fn_.vkDestroyBuffer(device_, b.buffer, nullptr);
    return make_error("no Vulkan memory type for a " + std::to_string(size) + "-byte buffer");
  }
  VkMemoryAllocateFlagsInfo flags{VK_STRUCTURE_TYPE_MEMORY_ALLOCATE_FLAGS_INFO};
  flags.flags = VK_MEMORY_ALLOCATE_DEVICE_ADDRESS_BIT;
  VkMemoryAllocateInfo mai{VK_STRUCTURE_TYPE_MEMORY_ALLOCATE_INFO};
  mai.pNext = &flags;
  mai.allocationSize = req.size;
  mai.memoryTypeIndex = uint32_t(type);
  if (VkResult r = fn_.vkAllocateMemory(device_, &mai, nullptr, &b.memory); r != VK_SUCCESS) {
    fn_.vkDestroyBuffer(device_, b.buffer, nullptr);
    return make_error(vk_error("vkAllocateMemory", r) + " for " + std::to_string(size) + " bytes");
  }
  fn_.vkBindBufferMemory(device_, b.buffer, b.memory, 0);
  const VkMemoryPropertyFlags props = memory_props_.memoryTypes[type].propertyFlags;
  // Host-visible memory is mapped for its whole life: uploads and readbacks always, and
  // surfaces when their memory is host-visible, coherent and cached (UMA, lavapipe), so
  // view() can read them without a copy.
  const bool host = (props & kHost) == kHost;
  b.host_cached = host && (props & VK_MEMORY_PROPERTY_HOST_CACHED_BIT);
  if (host && (memory != Memory::device || b.host_cached)) {
    void* p = nullptr;
    if (VkResult r = fn_.vkMapMemory(device_, b.memory, 0, VK_WHOLE_SIZE, 0, &p); r != VK_SUCCESS) {
      destroy(b);
      return make_error(vk_error("vkMapMemory", r));
    }
    b.mapped = static_cast<uint8_t*>(p);
  }
  VkBufferDeviceAddressInfo bdai{VK_STRUCTURE_TYPE_BUFFER_DEVICE_ADDRESS_INFO};
  bdai.buffer = b.buffer;
  b.address = fn_.vkGetBufferDeviceAddress(device_, &bdai);
  return b;
}

void Device::destroy(Buffer& b) {
  if (b.mapped) fn_.vkUnmapMemory(device_, b.memory);
  if (b.buffer) fn_.vkDestroyBuffer(device_, b.buffer, nullptr);
  if (b.memory) fn_.vkFreeMemory(device_, b.memory, nullptr);
  b = Buffer{};
}

Device::~Device() {
  if (device_) {
    fn_.vkDeviceWaitIdle(device_);
    for (auto& [key, p] : pipelines_) fn_.vkDestroyPipeline(device_, p, nullptr);
    for (auto& [key, e] : extra_) {
      fn_.vkDestroyPipeline(device_, e.pipeline, nullptr);
      fn_.vkDestroyShaderModule(device_, e.module, nullptr);
    }
    if (layout_) fn_.vkDestroyPipelineLayout(device_, layout_, nullptr);
    if (module_) fn_.vkDestroyShaderModule(device_, module_, nullptr);
    fn_.vkDestroyDevice(device_, nullptr);
  }
  if (messenger_) fn_.vkDestroyDebugUtilsMessengerEXT(instance_, messenger_, nullptr);
  if (instance_) fn_.vkDestroyInstance(instance_, nullptr);
  if (library_) dlclose(library_);
}

}  // namespace spiceflow::gpu::vulkan
