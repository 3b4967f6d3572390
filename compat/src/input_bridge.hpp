#pragma once
// InputBridge: delivers client input to the guest's input devices on the host's main loop.
//
// QEMU's SpiceKbdInterface/SpiceMouseInterface/SpiceTabletInterface callbacks must run on
// its main-loop thread with the big QEMU lock held (the reference server calls them from
// its socket handlers, which run on that loop). spiceflow's sockets run on their own event
// loop thread, and input reaches us on the engine's ingest stage, so the bridge queues each
// event (bounded) and wakes the main loop through an eventfd registered with the host's
// SpiceCoreInterface::watch_add; the watch callback, on the main loop, drains the queue
// into the registered devices.
//
// Mouse modes: with a tablet registered the client's absolute positions go to
// SpiceTabletInterface::position (client mouse mode); without one they become relative
// SpiceMouseInterface::motion deltas from the previous position (server mouse mode).
//
// The same queue carries channel life-cycle events to SpiceCoreInterface::channel_event, which
// the reference also calls on the main loop (QEMU turns them into QMP SPICE_* events).
//
// Threading: post()/set_logical_size()/post_channel_event() from any thread; device
// registration and the dispatch from the host's main-loop thread only.
#include <atomic>
#include <cstdint>
#include <deque>
#include <functional>
#include <memory>
#include <mutex>
#include <unordered_map>
#include <variant>

#include "abi.hpp"
#include "spiceflow/core/input.hpp"
#include "spiceflow/core/result.hpp"

namespace spiceflow::compat {

class InputBridge {
 public:
  static constexpr size_t kMaxQueued = 1024;

  /// Creates the eventfd and registers it with `core` (call on the main-loop thread).
  static Result<std::unique_ptr<InputBridge>> create(const SpiceCoreInterface* core);
  ~InputBridge();
  InputBridge(const InputBridge&) = delete;
  InputBridge& operator=(const InputBridge&) = delete;

  /// Device registration (main-loop thread). Null clears.
  void set_keyboard(SpiceKbdInstance* kbd) { kbd_ = kbd; }
  void set_mouse(SpiceMouseInstance* mouse) { mouse_ = mouse; }
  void set_tablet(SpiceTabletInstance* tablet);
  SpiceKbdInstance* keyboard() const { return kbd_; }
  SpiceMouseInstance* mouse() const { return mouse_; }
  SpiceTabletInstance* tablet() const { return tablet_; }
  /// True when a tablet is registered (client mouse mode). Any thread.
  bool has_tablet() const { return has_tablet_.load(); }
  /// Agent mouse mode (main-loop thread): while `fn` takes them (returns true), absolute
  /// positions and, after one, buttons go to the guest agent instead of the tablet, as the
  /// reference sends VD_AGENT_MOUSE_STATE. Arguments: x, y, SPICE button mask, wheel
  /// (-1 up, 1 down, 0 none).
  using AgentMouse = std::function<bool(int32_t x, int32_t y, uint32_t buttons, int wheel)>;
  void set_agent_mouse(AgentMouse fn) { agent_mouse_ = std::move(fn); }

  /// Queues a client input event for the guest. Any thread. When full, the oldest pointer
  /// motion is dropped first; if there is none, the new event is dropped.
  void post(const InputEvent& ev);
  /// The primary surface's size, for the tablet's coordinate scaling. Any thread.
  void set_logical_size(int32_t width, int32_t height);
  /// Queues SpiceCoreInterface::channel_event(event, info) for the main loop. Any thread.
  /// Never dropped for pointer motion; refused only when the queue is full of other items.
  /// `key` identifies the channel: the host gets the same SpiceChannelEventInfo pointer for
  /// all events of one channel (QEMU keeps it from INITIALIZED to DISCONNECTED and matches
  /// on it), valid until after the DISCONNECTED call.
  void post_channel_event(uint64_t key, int event, const SpiceChannelEventInfo& info);

 private:
  struct LogicalSize {
    int32_t width = 0;
    int32_t height = 0;
  };
  struct ChannelEventItem {
    uint64_t key = 0;
    int event = 0;
    SpiceChannelEventInfo info{};
  };
  using Item = std::variant<InputEvent, LogicalSize, ChannelEventItem>;

  InputBridge(const SpiceCoreInterface* core, int fd) : core_(core), fd_(fd) {}
  void enqueue(Item item);
  static void on_ready(int fd, int event, void* opaque);
  void drain();  // main-loop thread
  void deliver(const InputEvent& ev);

  const SpiceCoreInterface* core_;
  int fd_ = -1;
  SpiceWatch* watch_ = nullptr;

  std::mutex mu_;
  std::deque<Item> queue_;  // guarded by mu_, at most kMaxQueued

  // Main-loop thread only.
  std::unordered_map<uint64_t, std::unique_ptr<SpiceChannelEventInfo>> channel_infos_;
  SpiceKbdInstance* kbd_ = nullptr;
  SpiceMouseInstance* mouse_ = nullptr;
  SpiceTabletInstance* tablet_ = nullptr;
  LogicalSize size_;
  bool have_pos_ = false;
  int32_t last_x_ = 0, last_y_ = 0;
  uint32_t buttons_ = 0;  // SPICE_MOUSE_BUTTON_MASK_* as the client last reported
  bool absolute_ = false;  // the client last sent a position (client mouse mode)
  AgentMouse agent_mouse_;
  std::atomic<bool> has_tablet_{false};
};

}  // namespace spiceflow::compat
