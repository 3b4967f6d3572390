#include "smartcard.hpp"

#include <spice/enums.h>

#include <algorithm>
#include <cstring>

#include "spiceflow/core/log.hpp"

namespace spiceflow::compat {

namespace {
// libcacard's vscard_common.h (protocol 0.0.2), which the reference includes.
enum VscType : uint32_t {
  kVscInit = 1,
  kVscError = 2,
  kVscReaderAdd = 3,
  kVscReaderRemove = 4,
  kVscAtr = 5,
  kVscCardRemove = 6,
  kVscApdu = 7,
};
enum VscError : uint32_t { kVscGeneralError = 1, kVscCannotAddMoreReaders = 2 };
constexpr uint32_t kUndefinedReader = 0xffffffff;
constexpr size_t kHeader = 12;  // VSCMsgHeader: type, reader_id, length
constexpr uint8_t kChannelId = 0;

uint32_t le32(const uint8_t* p) {
  return uint32_t(p[0]) | uint32_t(p[1]) << 8 | uint32_t(p[2]) << 16 | uint32_t(p[3]) << 24;
}
uint32_t be32(const uint8_t* p) {
  return uint32_t(p[3]) | uint32_t(p[2]) << 8 | uint32_t(p[1]) << 16 | uint32_t(p[0]) << 24;
}
void put_le32(std::vector<uint8_t>& out, uint32_t v) {
  for (int i = 0; i < 4; ++i) out.push_back(uint8_t(v >> (8 * i)));
}
void put_be32(std::vector<uint8_t>& out, uint32_t v) {
  for (int i = 3; i >= 0; --i) out.push_back(uint8_t(v >> (8 * i)));
}
}  // namespace

// ---- a reader

SmartcardReader::SmartcardReader(const SpiceCoreInterface* core, Smartcard& owner,
                                 SpiceCharDeviceInstance* sin, uint32_t reader_id)
    : CharDevice(core), owner_(owner), instance_(sin), reader_id_(reader_id), buf_(kReadSize) {
  attach_device(sin);
}

SmartcardReader::~SmartcardReader() {
  if (!attached()) return;
  SpiceCharDeviceInstance* sin = detach_device();
  const auto* s = reinterpret_cast<const SpiceCharDeviceInterface*>(sin->base.sif);
  if (client_ && s->state) s->state(sin, 0);
}

void SmartcardReader::set_client(bool attached_client) {
  if (client_ == attached_client) return;
  client_ = attached_client;
  if (!attached_client) reader_added = false;
  if (attached() && sif()->state) sif()->state(device(), attached_client ? 1 : 0);
  pump();
}

void SmartcardReader::write_message(uint32_t type, const uint8_t* payload, uint32_t length,
                                    std::function<void()> written) {
  std::vector<uint8_t> out;
  out.reserve(kHeader + length);
  put_be32(out, type);  // the protocol's network order on the device's side
  put_be32(out, reader_id_);
  put_be32(out, length);
  if (length) out.insert(out.end(), payload, payload + length);
  queue_write(std::move(out), 0, std::move(written));
  pump();
}

bool SmartcardReader::read_some() {
  bool progress = false;
  while (running() && attached() && owner_.has_room()) {
    const uint64_t gen = generation();
    const int n = sif()->read(device(), buf_.data(), int(buf_.size()));
    if (generation() != gen) return true;
    if (n <= 0) break;
    progress = true;
    in_.insert(in_.end(), buf_.begin(), buf_.begin() + long(std::min(size_t(n), buf_.size())));
    while (in_.size() >= kHeader) {
      const uint32_t length = be32(in_.data() + 8);
      if (length > Smartcard::kMaxMessage - kHeader) {
        log::warn("spiceflow compat: smartcard reader {}: a {}-byte message from the device; "
                  "detached until the host registers it again", reader_id_, length);
        in_.clear();
        SpiceCharDeviceInstance* sin = detach_device();
        const auto* s = reinterpret_cast<const SpiceCharDeviceInterface*>(sin->base.sif);
        if (client_ && s->state) s->state(sin, 0);
        return true;
      }
      if (in_.size() < kHeader + length) break;
      const uint32_t type = be32(in_.data());
      std::vector<uint8_t> payload(in_.begin() + kHeader, in_.begin() + long(kHeader + length));
      in_.erase(in_.begin(), in_.begin() + long(kHeader + length));
      owner_.from_device(*this, type, std::move(payload));
    }
  }
  return progress;
}

// ---- the channel

Smartcard::Smartcard(const SpiceCoreInterface* core, net::Server& server)
    : core_(core), server_(server) {
  server_.add_vmc_channel(SPICE_CHANNEL_SMARTCARD, kChannelId, "", false);
  log::info("spiceflow compat: smartcard channel served");
}

Smartcard::~Smartcard() {
  server_.remove_vmc_channel(SPICE_CHANNEL_SMARTCARD, kChannelId);
  for (auto& r : readers_) r.reset();
}

bool Smartcard::add_reader(SpiceCharDeviceInstance* sin, bool running) {
  auto slot = std::find(readers_.begin(), readers_.end(), nullptr);
  if (slot == readers_.end()) return false;
  *slot = std::make_unique<SmartcardReader>(core_, *this, sin, uint32_t(slot - readers_.begin()));
  (*slot)->set_running(running);
  log::info("spiceflow compat: smartcard reader {} registered", (*slot)->reader_id());
  // As the reference's on_connect, a client already there takes a reader when it has none.
  if (connection_ && !attached_) attach_free_reader();
  return true;
}

bool Smartcard::remove_reader(SpiceCharDeviceInstance* sin) {
  for (auto& r : readers_) {
    if (r && r->instance() == sin) {
      if (attached_ == r.get()) attached_ = nullptr;
      r.reset();
      return true;
    }
  }
  return false;
}

bool Smartcard::empty() const {
  return std::all_of(readers_.begin(), readers_.end(), [](const auto& r) { return !r; });
}

bool Smartcard::has_free_slot() const {
  return std::any_of(readers_.begin(), readers_.end(), [](const auto& r) { return !r; });
}

void Smartcard::set_running(bool running) {
  for (auto& r : readers_) {
    if (r) r->set_running(running);
  }
}

SmartcardReader* Smartcard::reader_of(SpiceCharDeviceInstance* sin) {
  for (auto& r : readers_) {
    if (r && r->instance() == sin) return r.get();
  }
  return nullptr;
}

bool Smartcard::attach_free_reader() {
  for (auto& r : readers_) {
    if (r && r->attached() && !r->client_attached()) {
      attached_ = r.get();
      r->set_client(true);
      return true;
    }
  }
  return false;
}

void Smartcard::remove_reader_message(SmartcardReader& reader) {
  reader.reader_added = false;
  reader.write_message(kVscReaderRemove, nullptr, 0);
}

void Smartcard::client(uint64_t connection) {
  if (connection) {
    connection_ = connection;
    attach_free_reader();  // as the reference's on_connect
    return;
  }
  connection_ = 0;
  if (SmartcardReader* r = attached_) {
    attached_ = nullptr;
    const bool added = r->reader_added;
    r->set_client(false);
    if (added) remove_reader_message(*r);
  }
}

void Smartcard::from_client(const net::VmcChunk& chunk) {
  const uint64_t conn = chunk.connection;
  auto consumed = [this, conn] { server_.vmc_consumed(SPICE_CHANNEL_SMARTCARD, kChannelId, conn); };
  if (conn != connection_) return consumed();  // from a client that has left
  const auto& d = chunk.data;
  if (d.size() < kHeader || le32(d.data() + 8) != d.size() - kHeader) {
    log::warn("spiceflow compat: smartcard: a malformed VSC message from the client ({} bytes); "
              "dropped", d.size());
    return consumed();
  }
  const uint32_t type = le32(d.data()), reader_id = le32(d.data() + 4);
  const uint32_t length = uint32_t(d.size() - kHeader);
  log::debug("spiceflow compat: smartcard: client message type {} reader {} ({} bytes)", type,
             reader_id, length);
  switch (type) {
    case kVscReaderAdd:
      if (!attached_ && !attach_free_reader()) {
        send_error(kUndefinedReader, kVscCannotAddMoreReaders);
      } else {
        // The name is not passed on (as the reference); the device answers with VSC_Error.
        attached_->reader_added = true;
        attached_->write_message(kVscReaderAdd, nullptr, 0);
      }
      return consumed();
    case kVscReaderRemove: {
      SmartcardReader* r = reader_id < kMaxReaders ? readers_[reader_id].get() : nullptr;
      if (!r || !r->reader_added) {
        send_error(reader_id, kVscGeneralError);
      } else {
        remove_reader_message(*r);
      }
      return consumed();
    }
    case kVscError:
    case kVscAtr:
    case kVscCardRemove:
    case kVscApdu: {
      SmartcardReader* r = reader_id < kMaxReaders ? readers_[reader_id].get() : nullptr;
      if (!r || !r->attached()) {
        log::warn("spiceflow compat: smartcard: a message for reader {}, which does not exist; "
                  "dropped", reader_id);
        return consumed();
      }
      r->write_message(type, d.data() + kHeader, length, consumed);
      return;
    }
    default:  // VSC_Init ("should never get this") and unknown types: ignored
      return consumed();
  }
}

void Smartcard::from_device(SmartcardReader& reader, uint32_t type, std::vector<uint8_t> payload) {
  log::debug("spiceflow compat: smartcard reader {}: device message type {} ({} bytes)",
             reader.reader_id(), type, payload.size());
  if (type == kVscInit) return;  // as the reference: not for the client
  if (!connection_ || attached_ != &reader) return;
  send(type, reader.reader_id(), payload.data(), uint32_t(payload.size()));
}

void Smartcard::send(uint32_t type, uint32_t reader_id, const uint8_t* payload, uint32_t length) {
  std::vector<uint8_t> out;
  out.reserve(kHeader + length);
  put_le32(out, type);
  put_le32(out, reader_id);
  put_le32(out, length);
  if (length) out.insert(out.end(), payload, payload + length);
  in_flight_ += out.size();
  server_.vmc_send(SPICE_CHANNEL_SMARTCARD, kChannelId, std::move(out));
}

void Smartcard::sent(size_t bytes) {
  const bool was_full = !has_room();
  in_flight_ -= std::min(bytes, in_flight_);
  if (!was_full || !has_room()) return;
  for (auto& r : readers_) {
    if (r) r->wakeup();  // read what waited in the devices
  }
}

void Smartcard::send_error(uint32_t reader_id, uint32_t code) {
  std::vector<uint8_t> body;
  put_le32(body, code);  // VSCMsgError
  send(kVscError, reader_id, body.data(), uint32_t(body.size()));
}

}  // namespace spiceflow::compat
