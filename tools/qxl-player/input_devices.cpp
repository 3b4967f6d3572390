#include "input_devices.hpp"

#include <cstddef>

namespace spiceflow::player {

InputDevices::InputDevices() {
  kbd_if_.base.type = SPICE_INTERFACE_KEYBOARD;
  kbd_if_.base.description = "spiceflow-qxl-player keyboard";
  kbd_if_.base.major_version = SPICE_INTERFACE_KEYBOARD_MAJOR;
  kbd_if_.base.minor_version = SPICE_INTERFACE_KEYBOARD_MINOR;
  kbd_if_.push_scan_freg = &InputDevices::push_scan_freg;
  kbd_if_.get_leds = &InputDevices::get_leds;
  kbd_.base.sif = &kbd_if_.base;

  mouse_if_.base.type = SPICE_INTERFACE_MOUSE;
  mouse_if_.base.description = "spiceflow-qxl-player mouse";
  mouse_if_.base.major_version = SPICE_INTERFACE_MOUSE_MAJOR;
  mouse_if_.base.minor_version = SPICE_INTERFACE_MOUSE_MINOR;
  mouse_if_.motion = &InputDevices::motion;
  mouse_if_.buttons = &InputDevices::buttons;
  mouse_.base.sif = &mouse_if_.base;

  tablet_if_.base.type = SPICE_INTERFACE_TABLET;
  tablet_if_.base.description = "spiceflow-qxl-player tablet";
  tablet_if_.base.major_version = SPICE_INTERFACE_TABLET_MAJOR;
  tablet_if_.base.minor_version = SPICE_INTERFACE_TABLET_MINOR;
  tablet_if_.set_logical_size = &InputDevices::set_logical_size;
  tablet_if_.position = &InputDevices::position;
  tablet_if_.wheel = &InputDevices::wheel;
  tablet_if_.buttons = &InputDevices::tablet_buttons;
  tablet_.base.sif = &tablet_if_.base;
}

bool InputDevices::attach(SpiceServer* server) {
  return spice_server_add_interface(server, &kbd_.base) == 0 &&
         spice_server_add_interface(server, &mouse_.base) == 0 &&
         spice_server_add_interface(server, &tablet_.base) == 0;
}

InputDevices* InputDevices::owner(const void* instance, size_t offset) {
  return reinterpret_cast<InputDevices*>(
      const_cast<char*>(static_cast<const char*>(instance)) - offset);
}

void InputDevices::push_scan_freg(SpiceKbdInstance* sin, uint8_t) {
  ++owner(sin, offsetof(InputDevices, kbd_))->counts_.scancodes;
}

uint8_t InputDevices::get_leds(SpiceKbdInstance*) { return 0; }

void InputDevices::motion(SpiceMouseInstance* sin, int, int, int, uint32_t) {
  ++owner(sin, offsetof(InputDevices, mouse_))->counts_.mouse_motions;
}

void InputDevices::buttons(SpiceMouseInstance* sin, uint32_t) {
  ++owner(sin, offsetof(InputDevices, mouse_))->counts_.mouse_buttons;
}

void InputDevices::set_logical_size(SpiceTabletInstance* sin, int width, int height) {
  auto* d = owner(sin, offsetof(InputDevices, tablet_));
  d->counts_.tablet_width = width;
  d->counts_.tablet_height = height;
}

void InputDevices::tablet_state(uint32_t buttons) {
  if (counts_.tablet_button_state.exchange(buttons) != buttons) ++counts_.tablet_button_changes;
}

void InputDevices::position(SpiceTabletInstance* sin, int, int, uint32_t buttons) {
  auto* d = owner(sin, offsetof(InputDevices, tablet_));
  ++d->counts_.tablet_positions;
  d->tablet_state(buttons);
}

void InputDevices::wheel(SpiceTabletInstance* sin, int, uint32_t buttons) {
  auto* d = owner(sin, offsetof(InputDevices, tablet_));
  ++d->counts_.tablet_wheels;
  d->tablet_state(buttons);
}

void InputDevices::tablet_buttons(SpiceTabletInstance* sin, uint32_t buttons) {
  auto* d = owner(sin, offsetof(InputDevices, tablet_));
  ++d->counts_.tablet_buttons;
  d->tablet_state(buttons);
}

}  // namespace spiceflow::player
