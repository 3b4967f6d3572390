#include "agent_port.hpp"

#include <spice/vd_agent.h>

#include <algorithm>
#include <cstring>

#include "spiceflow/core/log.hpp"

namespace spiceflow::compat {

net::AgentHooks AgentPort::hooks() {
  net::AgentHooks h;
  h.to_device = [this](net::AgentChunk c) {
    mailbox_.post([this, c = std::move(c)] { to_device(c); });
  };
  // The last client left: the agent drops what it held for it (clipboard, transfers).
  h.clients_gone = [this] {
    mailbox_.post([this] {
      if (!attached()) return;
      queue_write(net::agent::server_message(VD_AGENT_CLIENT_DISCONNECTED, {}));
      pump();
    });
  };
  h.room = [this] { mailbox_.post([this] { pump(); }); };
  h.started = [this] {
    mailbox_.post([this] {
      send_device_info();
      pump();
    });
  };
  return h;
}

void AgentPort::to_device(const net::AgentChunk& c) {
  // For an earlier connection of the agent (or none): dropped, as the reference's write
  // filter discards what was sent before the agent went away. The generations match
  // net's: both count attaches and detaches.
  if (!attached() || c.generation != generation()) return;
  if (take_for_qxl(c)) {
    if (server_) server_->agent_consumed(c.session, c.generation);
    return;
  }
  queue_write(net::agent::chunk(VDP_CLIENT_PORT, c.data), kClient,
              [this, session = c.session, gen = c.generation] {
                if (server_) server_->agent_consumed(session, gen);
              });
  pump();
}

bool AgentPort::take_for_qxl(const net::AgentChunk& c) {
  // net checked the framing already; this copy only follows message boundaries and types.
  if (write_track_.process(c.data) == net::agent::MessageFilter::Verdict::protocol_error) {
    write_track_.reset(false);
    to_qxl_ = false;
    monitors_msg_.clear();
    return false;
  }
  if (write_track_.started_message()) {
    monitors_msg_.clear();
    to_qxl_ = write_track_.message_type() == VD_AGENT_MONITORS_CONFIG && client_monitors_ &&
              client_monitors_(nullptr);
  }
  if (!to_qxl_) return false;
  if (monitors_msg_.size() + c.data.size() > kMaxMonitorsMessage) {
    log::warn("spiceflow compat: a client's monitors configuration is larger than {} bytes; "
              "dropped", kMaxMonitorsMessage);
    to_qxl_ = false;  // the rest of the message is dropped too
    monitors_msg_.clear();
    monitors_msg_.shrink_to_fit();
    return true;
  }
  monitors_msg_.insert(monitors_msg_.end(), c.data.begin(), c.data.end());
  if (write_track_.remaining() == 0) deliver_monitors_config();
  return true;
}

void AgentPort::deliver_monitors_config() {
  // As the reference's agent_check_message for VD_AGENT_MONITORS_CONFIG: the monitors (and
  // their physical sizes when flagged) lie inside the message, at most kMaxMonitors.
  std::vector<uint8_t> body(monitors_msg_.begin() + sizeof(VDAgentMessage), monitors_msg_.end());
  monitors_msg_.clear();
  VDAgentMonitorsConfig head{};
  bool ok = body.size() >= sizeof head;
  if (ok) {
    std::memcpy(&head, body.data(), sizeof head);
    size_t need = sizeof head + size_t(head.num_of_monitors) * sizeof(VDAgentMonConfig);
    if (head.flags & VD_AGENT_CONFIG_MONITORS_FLAG_PHYSICAL_SIZE) {
      need += size_t(head.num_of_monitors) * sizeof(VDAgentMonitorMM);
    }
    ok = head.num_of_monitors <= kMaxMonitors && body.size() >= need;
  }
  if (!ok) {
    log::warn("spiceflow compat: a client's monitors configuration is malformed; dropped");
    return;
  }
  log::debug("spiceflow compat: a client's monitors configuration ({} monitors) to the QXL "
             "devices", uint32_t(head.num_of_monitors));
  client_monitors_(reinterpret_cast<VDAgentMonitorsConfig*>(body.data()));
}

void AgentPort::attach(SpiceCharDeviceInstance* sin) {
  attach_device(sin);
  write_track_.reset(false);
  to_qxl_ = false;
  monitors_msg_.clear();
  reader_.reset();
  read_filter_.reset(false);
  read_filter_.configure(filter_);
  device_info_cap_ = false;
  log::info("spiceflow compat: guest agent device attached");
  if (server_) server_->set_agent_attached(true);
  if (sif()->state) sif()->state(sin, 1);
  if (on_attach_change_) on_attach_change_();
  pump();
}

void AgentPort::detach() {
  if (!attached()) return;
  log::info("spiceflow compat: guest agent device detached");
  disconnect_device();
}

void AgentPort::disconnect_device() {
  SpiceCharDeviceInstance* sin = detach_device();
  reader_.reset();
  read_filter_.reset(false);
  device_info_cap_ = false;
  const auto* s = reinterpret_cast<const SpiceCharDeviceInterface*>(sin->base.sif);
  if (s->state) s->state(sin, 0);
  if (server_) server_->set_agent_attached(false);
  if (on_attach_change_) on_attach_change_();
}

void AgentPort::fail(const std::string& why) {
  log::warn("spiceflow compat: guest agent: {}; detached until the host registers it again", why);
  disconnect_device();
}

void AgentPort::set_filter(net::agent::FilterConfig filter) {
  filter_ = filter;
  read_filter_.configure(filter);
}

void AgentPort::mouse(uint32_t x, uint32_t y, uint32_t agent_buttons, uint8_t display_id) {
  if (!attached()) return;
  auto bytes = net::agent::server_message(VD_AGENT_MOUSE_STATE,
                                          net::agent::mouse_state(x, y, agent_buttons, display_id));
  auto& w = writes();
  if (!w.empty() && w.back().tag == kMouse && w.back().pos == 0) {
    w.back().bytes = std::move(bytes);  // not started: the newer state replaces it
  } else {
    queue_write(std::move(bytes), kMouse);
  }
  pump();
}

void AgentPort::set_device_info(const void* device,
                                std::vector<net::agent::DisplayDevice> displays) {
  auto it = std::find_if(devices_.begin(), devices_.end(),
                         [device](const auto& d) { return d.first == device; });
  if (it == devices_.end()) {
    devices_.emplace_back(device, std::move(displays));
  } else {
    it->second = std::move(displays);
  }
  send_device_info();
  pump();
}

void AgentPort::send_device_info() {
  if (!attached() || !device_info_cap_) return;
  std::vector<net::agent::DisplayDevice> all;
  for (const auto& d : devices_) all.insert(all.end(), d.second.begin(), d.second.end());
  queue_write(net::agent::server_message(VD_AGENT_GRAPHICS_DEVICE_INFO,
                                         net::agent::graphics_device_info(all)));
}

bool AgentPort::read_some() {
  bool progress = false;
  while (running() && attached() && server_ && server_->agent_has_room()) {
    const uint64_t gen = generation();
    auto buf = reader_.next();
    const int n = sif()->read(device(), buf.data(), int(buf.size()));
    if (generation() != gen) return true;
    if (n <= 0) break;
    progress = true;
    if (auto piece = reader_.commit(std::min(size_t(n), buf.size()))) handle(std::move(*piece));
  }
  return progress;
}

void AgentPort::handle(net::agent::ChunkReader::Piece piece) {
  if (piece.port == VDP_SERVER_PORT) return;  // for the server: nothing is expected there
  if (piece.port != VDP_CLIENT_PORT) {
    fail("it wrote to port " + std::to_string(piece.port));
    return;
  }
  switch (read_filter_.process(piece.data)) {
    case net::agent::MessageFilter::Verdict::forward: {
      const bool start = read_filter_.started_message();
      if (start) {
        net::agent::adjust_capabilities(piece.data, filter_);
        if (auto cap = net::agent::announced_capability(piece.data,
                                                        VD_AGENT_CAP_GRAPHICS_DEVICE_INFO)) {
          device_info_cap_ = *cap;
          send_device_info();
        }
      }
      server_->agent_send(std::move(piece.data), start);
      break;
    }
    case net::agent::MessageFilter::Verdict::discard:
      break;
    case net::agent::MessageFilter::Verdict::protocol_error:
      fail("invalid message: " + read_filter_.error());
      break;
  }
}

}  // namespace spiceflow::compat
