#pragma once
/// The guest's input devices, as QEMU registers them with the library: a PS/2 keyboard, a
/// relative mouse and an absolute tablet (the tablet makes the library offer client mouse
/// mode). The player only counts what arrives.
#include <spice.h>

#include <atomic>
#include <cstdint>

namespace spiceflow::player {

struct InputCounts {
  std::atomic<uint64_t> scancodes{0};
  std::atomic<uint64_t> mouse_motions{0};
  std::atomic<uint64_t> mouse_buttons{0};
  std::atomic<uint64_t> tablet_positions{0};
  std::atomic<uint64_t> tablet_wheels{0};
  std::atomic<uint64_t> tablet_buttons{0};
  /// Changes of the tablet's button state, whichever callback carried them (the reference
  /// passes a press as wheel(0, buttons) and a release as buttons(buttons)).
  std::atomic<uint64_t> tablet_button_changes{0};
  std::atomic<uint32_t> tablet_button_state{0};
  std::atomic<int> tablet_width{0};
  std::atomic<int> tablet_height{0};
};

class InputDevices {
 public:
  InputDevices();
  /// spice_server_add_interface for the three devices; false if the library refused one.
  bool attach(SpiceServer* server);
  const InputCounts& counts() const { return counts_; }

 private:
  static InputDevices* owner(const void* instance, size_t offset);
  static void push_scan_freg(SpiceKbdInstance* sin, uint8_t frag);
  static uint8_t get_leds(SpiceKbdInstance* sin);
  static void motion(SpiceMouseInstance* sin, int dx, int dy, int dz, uint32_t buttons);
  static void buttons(SpiceMouseInstance* sin, uint32_t buttons);
  static void set_logical_size(SpiceTabletInstance* sin, int width, int height);
  static void position(SpiceTabletInstance* sin, int x, int y, uint32_t buttons);
  static void wheel(SpiceTabletInstance* sin, int motion, uint32_t buttons);
  static void tablet_buttons(SpiceTabletInstance* sin, uint32_t buttons);
  void tablet_state(uint32_t buttons);

  SpiceKbdInterface kbd_if_{};
  SpiceMouseInterface mouse_if_{};
  SpiceTabletInterface tablet_if_{};
  SpiceKbdInstance kbd_{};
  SpiceMouseInstance mouse_{};
  SpiceTabletInstance tablet_{};
  InputCounts counts_;
};

}  // namespace spiceflow::player
