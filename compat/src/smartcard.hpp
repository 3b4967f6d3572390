#pragma once
// Smartcard: the "smartcard" char devices (QEMU's -chardev spicevmc,name=smartcard with
// -device usb-ccid and ccid-card-passthru) served as the reference's smartcard channel
// (SPICE_CHANNEL_SMARTCARD id 0, one for every reader; smartcard.cpp and
// smartcard-channel-client.cpp there). Each device is a reader, reader_id = its slot (at
// most kMaxReaders). The channel's messages (SMARTCARD_DATA, 101 both ways, as spicevmc's
// DATA) carry VSC messages (libcacard's vscard_common.h: a 12-byte header type, reader_id,
// length, then `length` bytes); the client's header is little-endian, the device's in
// network order, and the server translates between them:
// - a client that links (net allows one at a time) is attached to the first free reader
//   (state(1)); VSC_ReaderAdd attaches one if needed and writes ReaderAdd (no payload, the
//   reader's id) to the device; none free: VSC_Error CANNOT_ADD_MORE_READERS back.
//   VSC_ReaderRemove writes ReaderRemove to the device after a ReaderAdd, else GENERAL_ERROR
//   back. VSC_Error, ATR, CardRemove and APDU go to the reader their reader_id names (none:
//   the message is dropped and logged; the reference disconnects the client). VSC_Init and
//   unknown types are ignored.
// - the client leaving detaches its reader (state(0)) and writes ReaderRemove.
// - device -> client: whole VSC messages, VSC_Init dropped, the rest sent with the reader's
//   id when a client is attached to that reader (dropped otherwise), at most
//   net::Server::kVmcInFlight bytes ahead of the client's socket (the devices are not read
//   meanwhile). A device message longer than kMaxMessage detaches that reader's device
//   until the host registers it again.
//
// Threading: host thread only (CharDevice); net's calls arrive through the HostMailbox.
#include <array>
#include <cstdint>
#include <memory>
#include <vector>

#include "char_device.hpp"
#include "vmc_port.hpp"

namespace spiceflow::compat {

class Smartcard;

/// One "smartcard" char device: a reader.
class SmartcardReader final : public CharDevice {
 public:
  SmartcardReader(const SpiceCoreInterface* core, Smartcard& owner,
                  SpiceCharDeviceInstance* sin, uint32_t reader_id);
  ~SmartcardReader() override;
  uint32_t reader_id() const { return reader_id_; }
  /// The device it was made for (device() is null once a misbehaving one was detached).
  SpiceCharDeviceInstance* instance() const { return instance_; }
  /// A VSC message (header fields in host order) for the device, in network order.
  void write_message(uint32_t type, const uint8_t* payload, uint32_t length,
                     std::function<void()> written = {});
  void set_client(bool attached);
  bool client_attached() const { return client_; }
  bool reader_added = false;  // a ReaderAdd was written since the client attached

 private:
  bool read_some() override;

  Smartcard& owner_;
  SpiceCharDeviceInstance* const instance_;
  const uint32_t reader_id_;
  bool client_ = false;
  /// One read from the device (the reference's spicevmc read size).
  static constexpr size_t kReadSize = 64 * 1024;
  std::vector<uint8_t> buf_;
  std::vector<uint8_t> in_;  // device bytes not yet a whole message
};

class Smartcard final : public VmcEndpoint {
 public:
  /// The reference's SMARTCARD_MAX_READERS.
  static constexpr size_t kMaxReaders = 10;
  /// The largest VSC message taken from either side (a header and a payload of 64 KiB:
  /// APDUs are at most 64 KiB + a few bytes).
  static constexpr uint32_t kMaxMessage = 12 + 65536 + 16;

  /// Registers SPICE_CHANNEL_SMARTCARD:0 with `server` (host thread).
  Smartcard(const SpiceCoreInterface* core, net::Server& server);
  /// Unregisters the channel; readers are detached.
  ~Smartcard() override;

  /// add_interface: a reader in the first free slot; false when all are taken.
  bool add_reader(SpiceCharDeviceInstance* sin, bool running);
  /// remove_interface; true when it was one of ours.
  bool remove_reader(SpiceCharDeviceInstance* sin);
  bool empty() const;
  /// A slot for another reader.
  bool has_free_slot() const;
  void set_running(bool running);
  SmartcardReader* reader_of(SpiceCharDeviceInstance* sin);

  // ---- VmcEndpoint (net's calls, on the host thread)
  void client(uint64_t connection) override;
  void from_client(const net::VmcChunk& chunk) override;
  void sent(size_t bytes) override;
  /// Whether the client's socket can take more device messages (at most
  /// net::Server::kVmcInFlight bytes ahead of it; the readers stop reading meanwhile).
  bool has_room() const { return in_flight_ < net::Server::kVmcInFlight; }

  /// A whole device message from `reader` (header in host order, payload after it).
  void from_device(SmartcardReader& reader, uint32_t type, std::vector<uint8_t> payload);

 private:
  bool attach_free_reader();
  void send(uint32_t type, uint32_t reader_id, const uint8_t* payload, uint32_t length);
  void send_error(uint32_t reader_id, uint32_t code);
  void remove_reader_message(SmartcardReader& reader);

  const SpiceCoreInterface* core_;
  net::Server& server_;
  std::array<std::unique_ptr<SmartcardReader>, kMaxReaders> readers_;
  uint64_t connection_ = 0;              // the client's (0: none)
  size_t in_flight_ = 0;                 // bytes given to net::Server::vmc_send, not yet sent
  SmartcardReader* attached_ = nullptr;  // the client's reader
};

}  // namespace spiceflow::compat
