#include "input_bridge.hpp"

#include <spice/enums.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>

#include "spiceflow/core/log.hpp"

namespace spiceflow::compat {

namespace {

// SPICE's button mask (left 1, middle 2, right 4) to the devices' (left 1, right 2,
// middle 4), as the reference's RED_MOUSE_STATE_TO_LOCAL.
uint32_t to_local_buttons(uint32_t spice) {
  return (spice & SPICE_MOUSE_BUTTON_MASK_LEFT) | ((spice & SPICE_MOUSE_BUTTON_MASK_MIDDLE) << 1) |
         ((spice & SPICE_MOUSE_BUTTON_MASK_RIGHT) >> 1);
}

}  // namespace

Result<std::unique_ptr<InputBridge>> InputBridge::create(const SpiceCoreInterface* core) {
  if (!core || !core->watch_add || !core->watch_remove) {
    return make_error("the core interface has no watch_add/watch_remove");
  }
  int fd = ::eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
  if (fd < 0) return make_error(std::string("eventfd: ") + std::strerror(errno));
  std::unique_ptr<InputBridge> b(new InputBridge(core, fd));
  b->watch_ = core->watch_add(fd, SPICE_WATCH_EVENT_READ, &InputBridge::on_ready, b.get());
  if (!b->watch_) return make_error("the host refused the input watch");
  return b;
}

InputBridge::~InputBridge() {
  if (watch_) core_->watch_remove(watch_);
  if (fd_ >= 0) ::close(fd_);
}

void InputBridge::set_tablet(SpiceTabletInstance* tablet) {
  tablet_ = tablet;
  has_tablet_ = tablet != nullptr;
  if (tablet_ && size_.width > 0) {
    auto* sif = reinterpret_cast<const SpiceTabletInterface*>(tablet_->base.sif);
    if (sif->set_logical_size) sif->set_logical_size(tablet_, size_.width, size_.height);
  }
}

void InputBridge::post(const InputEvent& ev) { enqueue(ev); }

void InputBridge::set_logical_size(int32_t width, int32_t height) {
  enqueue(LogicalSize{width, height});
}

void InputBridge::post_channel_event(uint64_t key, int event, const SpiceChannelEventInfo& info) {
  ChannelEventItem item;
  item.key = key;
  item.event = event;
  item.info = info;
  enqueue(std::move(item));
}

void InputBridge::enqueue(Item item) {
  {
    std::lock_guard lock(mu_);
    if (queue_.size() >= kMaxQueued) {
      auto it = std::find_if(queue_.begin(), queue_.end(), [](const Item& i) {
        const auto* ev = std::get_if<InputEvent>(&i);
        return ev && (std::holds_alternative<PointerEvent>(*ev) ||
                      std::holds_alternative<MotionEvent>(*ev));
      });
      if (it == queue_.end()) return;
      queue_.erase(it);
    }
    queue_.push_back(std::move(item));
  }
  const uint64_t one = 1;
  // EAGAIN means the counter is already non-zero: the main loop will wake anyway.
  [[maybe_unused]] ssize_t n = ::write(fd_, &one, sizeof one);
}

void InputBridge::on_ready(int fd, int, void* opaque) {
  uint64_t count = 0;
  [[maybe_unused]] ssize_t n = ::read(fd, &count, sizeof count);
  static_cast<InputBridge*>(opaque)->drain();
}

void InputBridge::drain() {
  std::deque<Item> items;
  {
    std::lock_guard lock(mu_);
    items.swap(queue_);
  }
  for (const auto& item : items) {
    if (const auto* ce = std::get_if<ChannelEventItem>(&item)) {
      auto it = channel_infos_.find(ce->key);
      if (it == channel_infos_.end()) {
        if (ce->event == SPICE_CHANNEL_EVENT_DISCONNECTED) continue;  // never announced
        it = channel_infos_.emplace(ce->key, std::make_unique<SpiceChannelEventInfo>(ce->info)).first;
      }
      if (core_->channel_event) core_->channel_event(ce->event, it->second.get());
      if (ce->event == SPICE_CHANNEL_EVENT_DISCONNECTED) channel_infos_.erase(it);
    } else if (const auto* size = std::get_if<LogicalSize>(&item)) {
      size_ = *size;
      if (tablet_) {
        auto* sif = reinterpret_cast<const SpiceTabletInterface*>(tablet_->base.sif);
        if (sif->set_logical_size) sif->set_logical_size(tablet_, size_.width, size_.height);
      }
    } else {
      deliver(std::get<InputEvent>(item));
    }
  }
}

void InputBridge::deliver(const InputEvent& ev) {
  // Kinds: 0 key, 1 position, 2 motion, 3 button (spiceflow::InputEvent's order).
  log::trace("spiceflow compat: input event of kind {}", ev.index());
  auto* kbd_sif = kbd_ ? reinterpret_cast<const SpiceKbdInterface*>(kbd_->base.sif) : nullptr;
  auto* mouse_sif =
      mouse_ ? reinterpret_cast<const SpiceMouseInterface*>(mouse_->base.sif) : nullptr;
  auto* tablet_sif =
      tablet_ ? reinterpret_cast<const SpiceTabletInterface*>(tablet_->base.sif) : nullptr;

  if (const auto* key = std::get_if<KeyEvent>(&ev)) {
    if (!kbd_sif) return;
    // The scancode's bytes, low first, up to the first zero (extended keys: 0xe0, code).
    uint32_t code = key->scancode;
    for (int i = 0; i < 4 && (code & 0xff); ++i, code >>= 8) {
      kbd_sif->push_scan_freg(kbd_, uint8_t(code & 0xff));
    }
  } else if (const auto* pos = std::get_if<PointerEvent>(&ev)) {
    buttons_ = pos->buttons;
    absolute_ = true;
    if (agent_mouse_ && agent_mouse_(pos->x, pos->y, pos->buttons, 0)) {
      // The guest agent moves the pointer (agent mouse mode).
    } else if (tablet_sif) {
      tablet_sif->position(tablet_, pos->x, pos->y, to_local_buttons(pos->buttons));
    } else if (mouse_sif) {
      // No tablet: the guest has a relative mouse only; move it by the client's delta.
      if (have_pos_ && (pos->x != last_x_ || pos->y != last_y_)) {
        mouse_sif->motion(mouse_, pos->x - last_x_, pos->y - last_y_, 0,
                          to_local_buttons(pos->buttons));
      }
    }
    have_pos_ = true;
    last_x_ = pos->x;
    last_y_ = pos->y;
  } else if (const auto* mot = std::get_if<MotionEvent>(&ev)) {
    buttons_ = mot->buttons;
    absolute_ = false;
    if (mouse_sif) mouse_sif->motion(mouse_, mot->dx, mot->dy, 0, to_local_buttons(mot->buttons));
  } else if (const auto* btn = std::get_if<ButtonEvent>(&ev)) {
    buttons_ = btn->buttons;
    if (absolute_ && agent_mouse_) {
      // As the reference in client mode with the agent: the state at the last position,
      // a wheel press as the U/D bits (its release clears them).
      const int wheel = !btn->down ? 0
                        : btn->button == SPICE_MOUSE_BUTTON_UP   ? -1
                        : btn->button == SPICE_MOUSE_BUTTON_DOWN ? 1
                                                                 : 0;
      if (agent_mouse_(last_x_, last_y_, btn->buttons, wheel)) return;
    }
    const uint32_t local = to_local_buttons(btn->buttons);
    if (btn->button == SPICE_MOUSE_BUTTON_UP || btn->button == SPICE_MOUSE_BUTTON_DOWN) {
      if (!btn->down) return;  // the wheel acts on press, as in the reference
      const int dz = btn->button == SPICE_MOUSE_BUTTON_UP ? -1 : 1;
      if (tablet_sif) {
        tablet_sif->wheel(tablet_, dz, local);
      } else if (mouse_sif) {
        mouse_sif->motion(mouse_, 0, 0, dz, local);
      }
      return;
    }
    if (tablet_sif) {
      tablet_sif->buttons(tablet_, local);
    } else if (mouse_sif) {
      mouse_sif->buttons(mouse_, local);
    }
  }
}

}  // namespace spiceflow::compat
