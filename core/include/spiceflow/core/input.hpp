#pragma once
/// Input events as the inputs channel delivers them to a desktop source.
#include <cstdint>
#include <variant>

namespace spiceflow {

/// A PC/XT (set 1) scancode as SPICE sends it: extended keys carry 0xe0 in the low byte
/// and the code in the next one; a release has bit 0x80 set on the code byte.
struct KeyEvent {
  uint32_t scancode = 0;
  bool down = true;
};

/// Absolute pointer position (client mouse mode) with the button mask
/// (SPICE_MOUSE_BUTTON_MASK_*).
struct PointerEvent {
  int32_t x = 0;
  int32_t y = 0;
  uint32_t buttons = 0;
};

/// Relative motion (server mouse mode).
struct MotionEvent {
  int32_t dx = 0;
  int32_t dy = 0;
  uint32_t buttons = 0;
};

/// A button press or release (SPICE_MOUSE_BUTTON_*), with the mask after it.
struct ButtonEvent {
  uint32_t button = 0;
  bool down = true;
  uint32_t buttons = 0;
};

using InputEvent = std::variant<KeyEvent, PointerEvent, MotionEvent, ButtonEvent>;

}  // namespace spiceflow
