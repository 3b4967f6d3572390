// spicevmc channels (SPICE_CHANNEL_PORT): a byte pipe between one client and one of the
// host's char devices, as the reference's spicevmc.cpp serves it. On link: PORT_INIT (name,
// opened) for a port; then SPICEVMC_DATA both ways and PORT_EVENT both ways. One client per
// channel: a second connection is closed after its link, as the reference does. No LZ4:
// SPICE_SPICEVMC_CAP_DATA_COMPRESS_LZ4 is not offered, so clients send plain data too (a
// COMPRESSED_DATA message is a protocol violation here).
// Flow control: device -> client, the host reads at most Server::kVmcInFlight bytes ahead of
// this socket (queued here while the socket is full); client -> device, at most
// Server::kVmcWrites messages are with the host at once, beyond that this channel stops
// reading its socket (the reference's block_read) until the host has written some.
#include <spice/enums.h>
#include <spice/protocol.h>

#include <deque>

#include "channel.hpp"
#include "spiceflow/core/bytes.hpp"
#include "spiceflow/core/log.hpp"
#include "vmc_registry.hpp"

namespace spiceflow::net {

namespace {

class VmcChannel final : public ChannelClient, public VmcEndpoint {
 public:
  VmcChannel(ServerContext& ctx, std::unique_ptr<Peer> peer, const LinkMess& link,
             uint32_t session_id, int desktop)
      : ChannelClient(ctx, std::move(peer), link, session_id, desktop), registry_(*ctx.vmc()) {}
  ~VmcChannel() override {
    if (connection_) registry_.detach(link_.channel_type, link_.channel_id, this);
    size_t dropped = 0;
    for (const auto& d : out_) dropped += d.size();
    if (dropped) registry_.sent(link_.channel_type, link_.channel_id, dropped);
  }

  // VmcEndpoint
  void vmc_data(std::vector<uint8_t> data) override {
    out_.push_back(std::move(data));
    flush();
  }
  void vmc_event(uint8_t event) override {
    if (link_.channel_type != SPICE_CHANNEL_PORT) return;
    msg::Bytes body{event};
    send(SPICE_MSG_PORT_EVENT, body);
  }
  void vmc_consumed() override {
    if (pending_ > 0) --pending_;
    if (paused_ && pending_ < Server::kVmcWrites) {
      paused_ = false;
      peer_->pause_reading(false);
      resume_input();
    }
  }
  void vmc_removed() override {
    connection_ = 0;  // the entry is gone: nothing to detach from
    disconnect("the host removed the channel");
  }

 protected:
  void start() override {
    const uint8_t type = link_.channel_type, id = link_.channel_id;
    connection_ = registry_.attach(type, id, this);
    if (!connection_) {
      log::warn("{}: channel {}:{} already has a client; closing this one", name(), int(type),
                int(id));
      peer_->close_after_flush("channel in use");
      return;
    }
    if (type == SPICE_CHANNEL_PORT) {
      const auto* e = registry_.find(type, id);
      // PORT_INIT: name_size, name (an offset: it follows the fixed part), opened, name + NUL.
      msg::Bytes body;
      ByteWriter w(body);
      w.u32(uint32_t(e->port_name.size() + 1));
      w.u32(9);
      w.u8(e->opened ? 1 : 0);
      w.bytes(e->port_name.data(), e->port_name.size());
      w.u8(0);
      send(SPICE_MSG_PORT_INIT, body);
    }
  }

  bool handle(uint16_t type, std::span<const uint8_t> body) override {
    switch (type) {
      case SPICE_MSGC_SPICEVMC_DATA:
        if (!connection_) return true;
        registry_.to_device(VmcChunk{link_.channel_type, link_.channel_id, connection_,
                                     std::vector<uint8_t>(body.begin(), body.end())});
        if (++pending_ >= Server::kVmcWrites && !paused_) {
          paused_ = true;  // the host is behind: stop reading this socket
          peer_->pause_reading(true);
        }
        return true;
      case SPICE_MSGC_PORT_EVENT:
        if (link_.channel_type != SPICE_CHANNEL_PORT || body.size() != 1) return false;
        if (connection_) registry_.client_event(link_.channel_type, link_.channel_id, body[0]);
        return true;
      default:
        // SPICEVMC_COMPRESSED_DATA included: LZ4 was never offered.
        log::warn("{}: unexpected spicevmc message type {}", name(), type);
        return false;
    }
  }

  bool input_paused() const override { return paused_; }
  void on_room() override { flush(); }

 private:
  void flush() {
    while (!out_.empty() && can_send()) {
      const size_t n = out_.front().size();
      send(SPICE_MSG_SPICEVMC_DATA, out_.front());
      out_.pop_front();
      registry_.sent(link_.channel_type, link_.channel_id, n);
    }
  }

  VmcRegistry& registry_;
  uint64_t connection_ = 0;
  std::deque<std::vector<uint8_t>> out_;  // ≤ Server::kVmcInFlight bytes (the host's limit)
  uint32_t pending_ = 0;                  // chunks with the host, not yet written
  bool paused_ = false;
};

}  // namespace

std::unique_ptr<ChannelClient> make_vmc_channel(ServerContext& ctx, std::unique_ptr<Peer> peer,
                                                const LinkMess& link, uint32_t session_id,
                                                int desktop) {
  return std::make_unique<VmcChannel>(ctx, std::move(peer), link, session_id, desktop);
}

}  // namespace spiceflow::net
