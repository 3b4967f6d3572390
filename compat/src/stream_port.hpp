#pragma once
// StreamPort: the streaming agent's port (a "port" char device named
// org.spice-space.stream.0; spice-streaming-agent in the guest encodes the screen with the
// guest's GPU and writes frames there), served as the reference's StreamDevice does:
//
// - When the guest opens the port (spice_server_port_event OPENED) the parser starts over,
//   the server sends CAPABILITIES, calls state(1), and the extra display and cursor
//   channels (net::GuestStream, id 1) are registered with net from then on (a guest without
//   an agent never shows a second display: clients keep the QXL picture on display 0).
// - Agent -> clients: the device is read (64 KiB at a time) while the port is open and every
//   client is less than GuestStream::kMaxQueuedFrames frames behind (else the agent waits;
//   GuestStream's room hook reads again); FORMAT starts a stream, DATA frames go out as
//   STREAM_DATA unchanged. CURSOR_SET (ALPHA shapes) and CURSOR_MOVE go to cursor channel 1.
// - Clients -> agent: whenever a client joins or leaves the stream channel, START_STOP with
//   the codecs every connected client decodes (none: stop), as the reference.
// - A malformed message (streamdev::Parser) is logged, answered with NOTIFY_ERROR, ends the
//   stream for the clients, and the device is drained and closed (state(0), from the main
//   loop) until the agent opens it again: never a crash, never a half-parsed frame shown.
//
// Threading: host thread only (CharDevice); net's hooks arrive through the HostMailbox.
#include <memory>
#include <string>
#include <vector>

#include "char_device.hpp"
#include "host_mailbox.hpp"
#include "stream_protocol.hpp"
#include "spiceflow/net/guest_stream.hpp"
#include "spiceflow/net/server.hpp"

namespace spiceflow::compat {

class StreamPort final : public CharDevice {
 public:
  /// The display channel id the stream is served on: the one after the QXL display (the
  /// reference takes the first free display id; spiceflow shows one QXL display).
  static constexpr uint8_t kChannelId = 1;

  StreamPort(const SpiceCoreInterface* core, net::Server& server, HostMailbox& mailbox,
             SpiceCharDeviceInstance* sin);
  /// Unregisters the channel (its clients are disconnected).
  ~StreamPort() override;

  /// spice_server_port_event (host thread).
  void port_event(uint8_t event);

 private:
  bool read_some() override;
  void handle(streamdev::Message& m);
  void protocol_error(const std::string& why);
  void clients_changed(std::vector<uint8_t> codecs);
  void send_start_stop();
  void set_cursor(const streamdev::CursorSet& c);

  net::Server& server_;
  HostMailbox& mailbox_;
  std::shared_ptr<net::GuestStream> stream_;
  /// Cleared by the destructor: net's hooks, posted through the mailbox, find no port.
  std::shared_ptr<StreamPort*> self_;
  streamdev::Parser parser_;
  std::vector<uint8_t> buf_;
  std::vector<streamdev::Message> parsed_;
  std::vector<uint8_t> codecs_;  // what the connected clients decode (empty: none)
  bool registered_ = false;      // the channel is served (since the first OPENED)
  bool opened_ = false;          // the guest has the port open
  bool error_ = false;           // a malformed message: drain until the agent reopens
  bool have_format_ = false;     // a FORMAT started the current stream
  uint64_t frames_ = 0, bytes_ = 0;
  uint64_t cursor_shapes_ = 0;       // ids of the shapes sent (CursorShape::id)
  bool cursor_type_logged_ = false;
};

}  // namespace spiceflow::compat
