// spice_qxl_*: the QXL device's calls into the server, forwarded to the device's QxlWorker
// (see qxl_worker.hpp for what runs where). A call on an instance that was never added (or
// was removed) is logged and ignored; its async variant cannot complete either, exactly as
// with the reference, which would crash on it.
#include <unistd.h>

#include <cstring>

#include "abi.hpp"
#include "agent_port.hpp"
#include "qxl_worker.hpp"
#include "reds.hpp"
#include "spiceflow/core/log.hpp"

using spiceflow::compat::QxlWorker;

namespace {

QxlWorker* worker_of(QXLInstance* qin, const char* call) {
  if (qin && qin->st && qin->st->worker) return qin->st->worker;
  spiceflow::log::warn("spiceflow compat: {} on a QXL instance that is not registered", call);
  return nullptr;
}

}  // namespace

SPICEFLOW_EXPORT void spice_qxl_wakeup(QXLInstance* instance) {
  if (auto* w = worker_of(instance, __func__)) w->wakeup();
}

SPICEFLOW_EXPORT void spice_qxl_oom(QXLInstance* instance) {
  if (auto* w = worker_of(instance, __func__)) w->oom();
}

SPICEFLOW_EXPORT void spice_qxl_start(QXLInstance* instance) {
  if (auto* w = worker_of(instance, __func__)) w->start();
}

SPICEFLOW_EXPORT void spice_qxl_stop(QXLInstance* instance) {
  if (auto* w = worker_of(instance, __func__)) w->stop();
}

SPICEFLOW_EXPORT void spice_qxl_update_area(QXLInstance* instance, uint32_t surface_id,
                                            struct QXLRect* area, struct QXLRect* dirty_rects,
                                            uint32_t num_dirty_rects,
                                            uint32_t clear_dirty_region) {
  if (!area) return;
  if (auto* w = worker_of(instance, __func__)) {
    w->update_area(surface_id, *area, dirty_rects, num_dirty_rects, std::nullopt);
  }
}

SPICEFLOW_EXPORT void spice_qxl_add_memslot(QXLInstance* instance, QXLDevMemSlot* slot) {
  if (!slot) return;
  if (auto* w = worker_of(instance, __func__)) w->add_memslot(*slot, std::nullopt);
}

SPICEFLOW_EXPORT void spice_qxl_del_memslot(QXLInstance* instance, uint32_t slot_group_id,
                                            uint32_t slot_id) {
  if (auto* w = worker_of(instance, __func__)) w->del_memslot(slot_group_id, slot_id);
}

SPICEFLOW_EXPORT void spice_qxl_reset_memslots(QXLInstance* instance) {
  if (auto* w = worker_of(instance, __func__)) w->reset_memslots();
}

SPICEFLOW_EXPORT void spice_qxl_destroy_surfaces(QXLInstance* instance) {
  if (auto* w = worker_of(instance, __func__)) w->destroy_surfaces(std::nullopt);
}

SPICEFLOW_EXPORT void spice_qxl_destroy_primary_surface(QXLInstance* instance,
                                                        uint32_t surface_id) {
  if (auto* w = worker_of(instance, __func__)) w->destroy_primary(surface_id, std::nullopt);
}

SPICEFLOW_EXPORT void spice_qxl_create_primary_surface(QXLInstance* instance, uint32_t surface_id,
                                                       QXLDevSurfaceCreate* surface) {
  if (!surface) return;
  if (auto* w = worker_of(instance, __func__)) {
    w->create_primary(surface_id, *surface, std::nullopt);
  }
}

SPICEFLOW_EXPORT void spice_qxl_reset_image_cache(QXLInstance* instance) {
  if (auto* w = worker_of(instance, __func__)) w->reset_image_cache();
}

SPICEFLOW_EXPORT void spice_qxl_reset_cursor(QXLInstance* instance) {
  if (auto* w = worker_of(instance, __func__)) w->reset_cursor();
}

SPICEFLOW_EXPORT void spice_qxl_destroy_surface_wait(QXLInstance* instance, uint32_t surface_id) {
  if (auto* w = worker_of(instance, __func__)) w->destroy_surface(surface_id, std::nullopt);
}

SPICEFLOW_EXPORT void spice_qxl_loadvm_commands(QXLInstance* instance, struct QXLCommandExt* ext,
                                                uint32_t count) {
  if (!ext && count) return;
  if (auto* w = worker_of(instance, __func__)) w->loadvm_commands(ext, count);
}

SPICEFLOW_EXPORT void spice_qxl_update_area_async(QXLInstance* instance, uint32_t surface_id,
                                                  QXLRect* qxl_area, uint32_t clear_dirty_region,
                                                  uint64_t cookie) {
  if (auto* w = worker_of(instance, __func__)) {
    QXLRect area{};
    if (qxl_area) area = *qxl_area;
    w->update_area(surface_id, area, nullptr, 0, cookie);
  }
}

SPICEFLOW_EXPORT void spice_qxl_add_memslot_async(QXLInstance* instance, QXLDevMemSlot* slot,
                                                  uint64_t cookie) {
  if (auto* w = worker_of(instance, __func__)) {
    QXLDevMemSlot s{};
    if (slot) s = *slot;
    w->add_memslot(s, cookie);
  }
}

SPICEFLOW_EXPORT void spice_qxl_destroy_surfaces_async(QXLInstance* instance, uint64_t cookie) {
  if (auto* w = worker_of(instance, __func__)) w->destroy_surfaces(cookie);
}

SPICEFLOW_EXPORT void spice_qxl_destroy_primary_surface_async(QXLInstance* instance,
                                                              uint32_t surface_id,
                                                              uint64_t cookie) {
  if (auto* w = worker_of(instance, __func__)) w->destroy_primary(surface_id, cookie);
}

SPICEFLOW_EXPORT void spice_qxl_create_primary_surface_async(QXLInstance* instance,
                                                             uint32_t surface_id,
                                                             QXLDevSurfaceCreate* surface,
                                                             uint64_t cookie) {
  if (auto* w = worker_of(instance, __func__)) {
    QXLDevSurfaceCreate s{};
    if (surface) s = *surface;
    w->create_primary(surface_id, s, cookie);
  }
}

SPICEFLOW_EXPORT void spice_qxl_destroy_surface_async(QXLInstance* instance, uint32_t surface_id,
                                                      uint64_t cookie) {
  if (auto* w = worker_of(instance, __func__)) w->destroy_surface(surface_id, cookie);
}

SPICEFLOW_EXPORT void spice_qxl_flush_surfaces_async(QXLInstance* instance, uint64_t cookie) {
  if (auto* w = worker_of(instance, __func__)) w->flush_surfaces(cookie);
}

SPICEFLOW_EXPORT void spice_qxl_monitors_config_async(QXLInstance* instance,
                                                      QXLPHYSICAL monitors_config, int group_id,
                                                      uint64_t cookie) {
  if (auto* w = worker_of(instance, __func__)) w->monitors_config(monitors_config, group_id, cookie);
}

SPICEFLOW_EXPORT void spice_qxl_driver_unload(QXLInstance* instance) {
  if (auto* w = worker_of(instance, __func__)) w->driver_unload();
}

SPICEFLOW_EXPORT void spice_qxl_set_max_monitors(QXLInstance* instance,
                                                 unsigned int max_monitors) {
  if (auto* w = worker_of(instance, __func__)) w->set_max_monitors(max_monitors);
}

SPICEFLOW_EXPORT void spice_qxl_gl_scanout(QXLInstance* qxl, int fd, uint32_t width,
                                           uint32_t height, uint32_t stride, uint32_t format,
                                           int y_0_top) {
  if (qxl && qxl->st) {
    qxl->st->reds->once.warn("spice_qxl_gl_scanout", "GL scanout is not supported");
  }
  // The reference takes ownership of the dma-buf fd; do not leak it.
  if (fd >= 0) ::close(fd);
}

SPICEFLOW_EXPORT void spice_qxl_gl_draw_async(QXLInstance* qxl, uint32_t x, uint32_t y,
                                              uint32_t w, uint32_t h, uint64_t cookie) {
  if (auto* worker = worker_of(qxl, __func__)) worker->gl_draw(cookie);
}

SPICEFLOW_EXPORT void spice_qxl_set_device_info(QXLInstance* instance, const char* device_address,
                                                uint32_t device_display_id_start,
                                                uint32_t device_display_id_count) {
  // For the guest agent, as the reference checks and keeps it (display-limits.h).
  if (instance && instance->st && device_address && std::strlen(device_address) < 256 &&
      device_display_id_count <= 16 && instance->st->reds->agent) {
    std::vector<spiceflow::net::agent::DisplayDevice> displays;
    for (uint32_t i = 0; i < device_display_id_count; ++i) {
      displays.push_back({uint32_t(instance->id), i, device_display_id_start + i, device_address});
    }
    if (!*device_address) displays.clear();  // no address: nothing to map
    instance->st->reds->agent->set_device_info(instance, std::move(displays));
  }
  if (auto* w = worker_of(instance, __func__)) {
    w->set_device_info(device_address, device_display_id_start, device_display_id_count);
  }
}
