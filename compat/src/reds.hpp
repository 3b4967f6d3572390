#pragma once
// The state behind the opaque handles of the libspice-server ABI. A SpiceServer (struct
// RedsState in spice.h) owns everything: configuration, the engine with its one Desktop
// (fed by the QXL worker through a QxlSource), the net::Server and its event-loop thread,
// the input bridge, and one state object per registered interface instance (their `st`
// pointers point at these). No globals: every call reaches its server through its handle.
//
// Threading: configuration calls, add/remove_interface, init/destroy and vm_start/stop come
// from the host's main-loop thread (QEMU holds its big lock) and are not otherwise
// synchronised, as in the reference. See compat/README.md for the whole thread model.
#include <array>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "abi.hpp"
#include "audio.hpp"
#include "input_bridge.hpp"
#include "log_once.hpp"
#include "spiceflow/engine/engine.hpp"
#include "spiceflow/net/server.hpp"

namespace spiceflow::compat {
class AgentPort;
class CharDevice;
class HostMailbox;
class VmcPort;
class Smartcard;
class QxlSource;
class StreamPort;
class QxlWorker;
class Recorder;
}  // namespace spiceflow::compat

struct RedsState;

struct SpiceKbdState {
  RedsState* reds = nullptr;
};
struct SpiceMouseState {
  RedsState* reds = nullptr;
};
struct SpiceTabletState {
  RedsState* reds = nullptr;
};
struct SpiceMigrateState {
  RedsState* reds = nullptr;
};
struct SpiceCharDeviceState {
  RedsState* reds = nullptr;
  SpiceCharDeviceInstance* instance = nullptr;
  std::string subtype;
  /// What drives the device (the agent's port, a VmcPort); null: registered but closed.
  spiceflow::compat::CharDevice* device = nullptr;
};

struct RedsState {
  // ---- configuration (before spice_server_init; later changes are logged and ignored)
  spiceflow::net::ServerOptions opts;
  int port = -1;  ///< -1: not set (reference default 5900 is QEMU's business)
  std::string addr;
  int addr_flags = 0;
  bool ticketing = true;  ///< off after spice_server_set_noauth
  bool password_set = false;
  SpiceImageCompression image_compression = SPICE_IMAGE_COMPRESSION_AUTO_GLZ;
  spice_wan_compression_t jpeg = SPICE_WAN_COMPRESSION_AUTO;
  spice_wan_compression_t zlib_glz = SPICE_WAN_COMPRESSION_AUTO;
  int streaming_video = SPICE_STREAM_VIDEO_FILTER;
  std::string video_codecs = "spice:mjpeg;gstreamer:h264;gstreamer:vp8;gstreamer:vp9";
  bool playback_compression = true;
  bool agent_mouse = true;
  bool agent_copypaste = true;
  bool agent_file_xfer = true;
  bool seamless_migration = false;
  bool exit_on_disconnect = false;
  std::array<uint8_t, 16> uuid{};
  bool uuid_set = false;  ///< unset: net's default UUID

  // ---- runtime
  const SpiceCoreInterface* core = nullptr;
  bool initialised = false;
  bool vm_running = false;
  std::unique_ptr<spiceflow::compat::InputBridge> input;
  std::unique_ptr<spiceflow::engine::Engine> engine;
  spiceflow::compat::QxlSource* source = nullptr;  ///< owned by the engine's desktop 0
  std::unique_ptr<spiceflow::net::Server> server;
  std::thread server_thread;  ///< runs server->run()
  /// QXL devices; the first one feeds desktop 0, others run (so their guests never stall)
  /// but are not shown yet.
  std::vector<std::unique_ptr<spiceflow::compat::QxlWorker>> workers;
  std::vector<std::unique_ptr<SpiceCharDeviceState>> char_devices;
  /// The net loop's calls for the char devices, run on the host main loop.
  std::unique_ptr<spiceflow::compat::HostMailbox> mailbox;
  /// The guest agent's port: the "vdagent" char device, when one is registered.
  std::unique_ptr<spiceflow::compat::AgentPort> agent;
  /// "port" char devices, each a SPICE_CHANNEL_PORT (or _WEBDAV) channel.
  std::vector<std::unique_ptr<spiceflow::compat::VmcPort>> vmc_ports;
  /// The streaming agent's port (org.spice-space.stream.0), when one is registered: its
  /// stream is display channel 1.
  std::unique_ptr<spiceflow::compat::StreamPort> stream_port;
  /// The smartcard channel and its readers ("smartcard" char devices); null: none yet.
  std::unique_ptr<spiceflow::compat::Smartcard> smartcard;
  std::vector<std::unique_ptr<SpicePlaybackState>> playbacks;
  std::vector<std::unique_ptr<SpiceRecordState>> records;
  SpiceMigrateInstance* migration = nullptr;
  /// The display channels connected now and the channel capabilities each announced
  /// (main thread; from net's channel events through the mailbox).
  std::map<uint64_t, spiceflow::net::Caps> display_clients;
  SpiceKbdState kbd_state{this};
  SpiceMouseState mouse_state{this};
  SpiceTabletState tablet_state{this};
  SpiceMigrateState migrate_state{this};
  spiceflow::compat::LogOnce once;
  /// SPICE_WORKER_RECORD_FILENAME (opened by spice_server_new), shared by the QXL workers;
  /// null when not recording (record.hpp).
  std::shared_ptr<spiceflow::compat::Recorder> record;
};

/// The display clients' common capabilities for the guest's QXL devices (the reference's
/// guest_set_client_capabilities), given to every worker. Main loop.
void update_guest_client_caps(RedsState* s);
/// Whether the client's monitors configuration goes to the QXL devices (every one takes
/// it: QXLInterface::client_monitors_config) rather than to the agent; with a config,
/// hands it to each device. The reference's reds_use_client_monitors_config /
/// reds_client_monitors_config. Main loop.
bool client_monitors_config(RedsState* s, VDAgentMonitorsConfig* config);

/// Offers client mouse mode when something takes absolute positions: a tablet, or the
/// guest agent with agent mouse on (the reference's reds_update_mouse_mode). Main loop.
void update_client_mouse(RedsState* s);

