// spice_server_add_interface / remove_interface and the per-interface calls: keyboard,
// mouse, tablet (through the InputBridge), QXL (one QxlWorker each), character devices,
// audio playback/record (audio.cpp), migration. Version checks follow the reference: the
// major version must match and the minor may not be newer than the header's.
#include <spice/enums.h>

#include <algorithm>
#include <cstring>
#include <string_view>

#include "abi.hpp"
#include "agent_port.hpp"
#include "qxl_worker.hpp"
#include "reds.hpp"
#include "smartcard.hpp"
#include "spiceflow/core/log.hpp"
#include "stream_port.hpp"
#include "vmc_port.hpp"

using namespace spiceflow;

namespace {

// The streaming agent's port (spice-streaming-agent; stream_port.hpp).
constexpr std::string_view kStreamPortName = "org.spice-space.stream.0";

bool version_ok(const SpiceBaseInterface* sif, uint32_t major, uint32_t minor) {
  return sif->major_version == major && sif->minor_version <= minor;
}

int refuse(RedsState* s, std::string_view type, const char* why) {
  log::warn("spiceflow compat: {} interface refused: {}", type, why);
  return -1;
}

int add_qxl(RedsState* s, SpiceBaseInstance* sin) {
  auto* qin = reinterpret_cast<QXLInstance*>(sin);
  // Only the first QXL device ever registered is shown (desktop 0).
  const bool first = s->workers.empty();
  engine::Desktop* desktop = first && s->engine ? &s->engine->desktop(0) : nullptr;
  auto worker = std::make_unique<compat::QxlWorker>(*s, qin, first ? s->source : nullptr, desktop);
  if (auto st = worker->attach(); !st) {
    log::error("spiceflow compat: {}", st.error().message);
    return -1;
  }
  compat::QxlWorker* w = worker.get();
  s->workers.push_back(std::move(worker));
  update_guest_client_caps(s);  // the clients already connected, for when it runs
  if (s->vm_running) w->start();
  return 0;
}

}  // namespace

SPICEFLOW_EXPORT int spice_server_add_interface(SpiceServer* s, SpiceBaseInstance* sin) {
  if (!s || !sin || !sin->sif || !sin->sif->type) return -1;
  const SpiceBaseInterface* sif = sin->sif;
  const std::string_view type = sif->type;
  if (!s->initialised && type != SPICE_INTERFACE_MIGRATION) {
    return refuse(s, type, "spice_server_init has not been called");
  }
  if (type == SPICE_INTERFACE_KEYBOARD) {
    if (!version_ok(sif, SPICE_INTERFACE_KEYBOARD_MAJOR, SPICE_INTERFACE_KEYBOARD_MINOR)) {
      return refuse(s, type, "unsupported version");
    }
    if (s->input->keyboard()) return refuse(s, type, "a keyboard is already registered");
    auto* kbd = reinterpret_cast<SpiceKbdInstance*>(sin);
    kbd->st = &s->kbd_state;
    s->input->set_keyboard(kbd);
    return 0;
  }
  if (type == SPICE_INTERFACE_MOUSE) {
    if (!version_ok(sif, SPICE_INTERFACE_MOUSE_MAJOR, SPICE_INTERFACE_MOUSE_MINOR)) {
      return refuse(s, type, "unsupported version");
    }
    if (s->input->mouse()) return refuse(s, type, "a mouse is already registered");
    auto* mouse = reinterpret_cast<SpiceMouseInstance*>(sin);
    mouse->st = &s->mouse_state;
    s->input->set_mouse(mouse);
    return 0;
  }
  if (type == SPICE_INTERFACE_TABLET) {
    if (!version_ok(sif, SPICE_INTERFACE_TABLET_MAJOR, SPICE_INTERFACE_TABLET_MINOR)) {
      return refuse(s, type, "unsupported version");
    }
    if (s->input->tablet()) return refuse(s, type, "a tablet is already registered");
    auto* tablet = reinterpret_cast<SpiceTabletInstance*>(sin);
    tablet->st = &s->tablet_state;
    s->input->set_tablet(tablet);
    update_client_mouse(s);
    log::info("spiceflow compat: tablet registered: client mouse mode available");
    return 0;
  }
  if (type == SPICE_INTERFACE_QXL) {
    if (!version_ok(sif, SPICE_INTERFACE_QXL_MAJOR, SPICE_INTERFACE_QXL_MINOR)) {
      return refuse(s, type, "unsupported version");
    }
    return add_qxl(s, sin);
  }
  if (type == SPICE_INTERFACE_CHAR_DEVICE) {
    if (!version_ok(sif, SPICE_INTERFACE_CHAR_DEVICE_MAJOR, SPICE_INTERFACE_CHAR_DEVICE_MINOR)) {
      return refuse(s, type, "unsupported version");
    }
    auto* dev = reinterpret_cast<SpiceCharDeviceInstance*>(sin);
    auto st = std::make_unique<SpiceCharDeviceState>();
    st->reds = s;
    st->instance = dev;
    st->subtype = dev->subtype ? dev->subtype : "";
    const bool vdagent = st->subtype == "vdagent";
    // As the reference: ports are SPICE_CHANNEL_PORT channels, but the WebDAV port (folder
    // sharing) is a SPICE_CHANNEL_WEBDAV one and the streaming agent's is a display stream.
    const std::string_view port_name = dev->portname ? dev->portname : "";
    const bool stream = st->subtype == "port" && port_name == kStreamPortName && !s->stream_port;
    const bool port = st->subtype == "port" && port_name != kStreamPortName;
    // USB redirection is a plain spicevmc byte pipe (SPICE_CHANNEL_USBREDIR), as a port.
    const bool usbredir = st->subtype == "usbredir";
    const bool smartcard = st->subtype == "smartcard";  // a reader of the smartcard channel
    if (vdagent && s->agent->attached()) return refuse(s, type, "a vdagent is already attached");
    if (smartcard && s->smartcard && !s->smartcard->has_free_slot()) {
      return refuse(s, type, "all smartcard readers are taken");
    }
    if (!vdagent && !port && !stream && !usbredir && !smartcard) {
      // Registered but not opened: we never call state(1), so the host treats the port as
      // closed (guest writes are discarded by QEMU) until pass-through exists for it.
      s->once.warn("char device " + st->subtype + " " + std::string(port_name),
                   "registered; data pass-through is not implemented yet (port stays closed)");
    }
    SpiceCharDeviceState* state = st.get();
    dev->st = state;
    s->char_devices.push_back(std::move(st));
    if (vdagent) {
      state->device = s->agent.get();
      s->agent->attach(dev);
    } else if (stream) {
      s->stream_port = std::make_unique<compat::StreamPort>(s->core, *s->server, *s->mailbox, dev);
      s->stream_port->set_running(s->vm_running);
      state->device = s->stream_port.get();
    } else if (smartcard) {
      if (!s->smartcard) s->smartcard = std::make_unique<compat::Smartcard>(s->core, *s->server);
      s->smartcard->add_reader(dev, s->vm_running);
      state->device = s->smartcard->reader_of(dev);
    } else if (port || usbredir) {
      const uint8_t channel = usbredir ? SPICE_CHANNEL_USBREDIR
                              : port_name == "org.spice-space.webdav.0" ? SPICE_CHANNEL_WEBDAV
                                                                        : SPICE_CHANNEL_PORT;
      // The lowest id of that channel type not in use (the reference's free channel id).
      uint8_t id = 0;
      while (std::any_of(s->vmc_ports.begin(), s->vmc_ports.end(), [&](const auto& p) {
        return p->type() == channel && p->id() == id;
      })) {
        ++id;
      }
      auto p = std::make_unique<compat::VmcPort>(s->core, *s->server, dev, channel, id);
      p->set_running(s->vm_running);
      state->device = p.get();
      s->vmc_ports.push_back(std::move(p));
    }
    return 0;
  }
  if (type == SPICE_INTERFACE_PLAYBACK) {
    if (!version_ok(sif, SPICE_INTERFACE_PLAYBACK_MAJOR, SPICE_INTERFACE_PLAYBACK_MINOR)) {
      return refuse(s, type, "unsupported version");
    }
    return compat::add_playback(s, reinterpret_cast<SpicePlaybackInstance*>(sin));
  }
  if (type == SPICE_INTERFACE_RECORD) {
    if (!version_ok(sif, SPICE_INTERFACE_RECORD_MAJOR, SPICE_INTERFACE_RECORD_MINOR)) {
      return refuse(s, type, "unsupported version");
    }
    return compat::add_record(s, reinterpret_cast<SpiceRecordInstance*>(sin));
  }
  if (type == SPICE_INTERFACE_MIGRATION) {
    if (!version_ok(sif, SPICE_INTERFACE_MIGRATION_MAJOR, SPICE_INTERFACE_MIGRATION_MINOR)) {
      return refuse(s, type, "unsupported version");
    }
    if (s->migration) return refuse(s, type, "already registered");
    s->migration = reinterpret_cast<SpiceMigrateInstance*>(sin);
    s->migration->st = &s->migrate_state;
    return 0;
  }
  return refuse(s, type, "unknown interface type");
}

SPICEFLOW_EXPORT int spice_server_remove_interface(SpiceBaseInstance* sin) {
  if (!sin || !sin->sif || !sin->sif->type) return -1;
  const std::string_view type = sin->sif->type;
  if (type == SPICE_INTERFACE_KEYBOARD) {
    auto* kbd = reinterpret_cast<SpiceKbdInstance*>(sin);
    if (!kbd->st) return -1;
    RedsState* s = kbd->st->reds;
    if (s->input && s->input->keyboard() == kbd) s->input->set_keyboard(nullptr);
    kbd->st = nullptr;
    return 0;
  }
  if (type == SPICE_INTERFACE_MOUSE) {
    auto* mouse = reinterpret_cast<SpiceMouseInstance*>(sin);
    if (!mouse->st) return -1;
    RedsState* s = mouse->st->reds;
    if (s->input && s->input->mouse() == mouse) s->input->set_mouse(nullptr);
    mouse->st = nullptr;
    return 0;
  }
  if (type == SPICE_INTERFACE_TABLET) {
    auto* tablet = reinterpret_cast<SpiceTabletInstance*>(sin);
    if (!tablet->st) return -1;
    RedsState* s = tablet->st->reds;
    if (s->input && s->input->tablet() == tablet) s->input->set_tablet(nullptr);
    update_client_mouse(s);
    tablet->st = nullptr;
    log::info("spiceflow compat: tablet removed: server mouse mode");
    return 0;
  }
  if (type == SPICE_INTERFACE_QXL) {
    auto* qin = reinterpret_cast<QXLInstance*>(sin);
    if (!qin->st) return -1;
    RedsState* s = qin->st->reds;
    auto it = std::find_if(s->workers.begin(), s->workers.end(),
                           [qin](const auto& w) { return w && w->instance() == qin; });
    if (it == s->workers.end()) return -1;
    // Keep the slot (null) so a later device does not take over desktop 0 mid-session.
    it->reset();
    return 0;
  }
  if (type == SPICE_INTERFACE_CHAR_DEVICE) {
    auto* dev = reinterpret_cast<SpiceCharDeviceInstance*>(sin);
    if (!dev->st) return -1;
    RedsState* s = dev->st->reds;
    if (s->agent && s->agent->device() == dev) s->agent->detach();
    std::erase_if(s->vmc_ports, [dev](const auto& p) { return p->device() == dev; });
    if (s->stream_port && s->stream_port->device() == dev) s->stream_port.reset();
    if (s->smartcard && s->smartcard->remove_reader(dev) && s->smartcard->empty()) {
      s->smartcard.reset();
    }
    std::erase_if(s->char_devices, [dev](const auto& st) { return st->instance == dev; });
    dev->st = nullptr;
    return 0;
  }
  if (type == SPICE_INTERFACE_PLAYBACK) {
    return compat::remove_playback(reinterpret_cast<SpicePlaybackInstance*>(sin));
  }
  if (type == SPICE_INTERFACE_RECORD) {
    return compat::remove_record(reinterpret_cast<SpiceRecordInstance*>(sin));
  }
  if (type == SPICE_INTERFACE_MIGRATION) {
    auto* mig = reinterpret_cast<SpiceMigrateInstance*>(sin);
    if (!mig->st) return -1;
    mig->st->reds->migration = nullptr;
    mig->st = nullptr;
    return 0;
  }
  return -1;
}

// ---- keyboard

SPICEFLOW_EXPORT int spice_server_kbd_leds(SpiceKbdInstance* sin, int leds) {
  // QEMU passes SPICE_KEYBOARD_MODIFIER_FLAGS_*; clients get INPUTS_KEY_MODIFIERS.
  log::debug("spiceflow compat: keyboard LEDs {:#x}", leds);
  if (sin && sin->st && sin->st->reds->server) {
    sin->st->reds->server->set_keyboard_leds(uint16_t(leds));
  }
  return 0;
}

// ---- character devices

SPICEFLOW_EXPORT void spice_server_char_device_wakeup(SpiceCharDeviceInstance* sin) {
  if (!sin || !sin->st) return;
  // On the caller's thread, as the reference: QEMU expects the guest's data to be read
  // before this returns. Other ports were never opened (no state(1)): nothing to do.
  if (auto* d = sin->st->device; d && d->device() == sin) d->wakeup();
}

SPICEFLOW_EXPORT void spice_server_port_event(SpiceCharDeviceInstance* sin, uint8_t event) {
  if (!sin || !sin->st) return;  // the reference too ignores an unregistered port's events
  for (auto& p : sin->st->reds->vmc_ports) {
    if (p->device() == sin) p->port_event(event);
  }
  if (auto& sp = sin->st->reds->stream_port; sp && sp->device() == sin) sp->port_event(event);
}

SPICEFLOW_EXPORT const char** spice_server_char_device_recognized_subtypes(void) {
  // The reference's list (a static table there too); QEMU validates -chardev spicevmc names
  // against it.
  static const char* subtypes[] = {"vdagent", "smartcard", "usbredir", "port", nullptr};
  return subtypes;
}
