#include "agent_port.hpp"

#include <spice/vd_agent.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>

#include "spiceflow/core/log.hpp"

namespace spiceflow::compat {

namespace {
// The reference's CHAR_DEVICE_WRITE_TO_TIMEOUT: how often a device that took only part of
// a write (and does not say when it can take more) is tried again.
constexpr uint32_t kWriteRetryMs = 100;
}  // namespace

Result<std::unique_ptr<AgentPort>> AgentPort::create(const SpiceCoreInterface* core) {
  if (!core || !core->watch_add || !core->watch_remove || !core->timer_add ||
      !core->timer_start || !core->timer_cancel || !core->timer_remove) {
    return make_error("the core interface lacks watches or timers");
  }
  int fd = ::eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
  if (fd < 0) return make_error(std::string("eventfd: ") + std::strerror(errno));
  std::unique_ptr<AgentPort> p(new AgentPort(core, fd));
  p->watch_ = core->watch_add(fd, SPICE_WATCH_EVENT_READ, &AgentPort::on_ready, p.get());
  if (!p->watch_) return make_error("the host refused the agent port's watch");
  return p;
}

AgentPort::~AgentPort() {
  if (timer_) core_->timer_remove(timer_);
  if (watch_) core_->watch_remove(watch_);
  if (fd_ >= 0) ::close(fd_);
}

net::AgentHooks AgentPort::hooks() {
  net::AgentHooks h;
  h.to_device = [this](net::AgentChunk c) { post(Posted(std::move(c))); };
  h.clients_gone = [this] { post(Posted(ClientsGone{})); };
  h.room = [this] { post(std::nullopt); };
  h.started = [this] { post(Posted(Started{})); };
  return h;
}

void AgentPort::post(std::optional<Posted> item) {
  if (item) {
    std::lock_guard lock(mu_);
    posted_.push_back(std::move(*item));
  }
  const uint64_t one = 1;
  // EAGAIN: the counter is already non-zero and the main loop will wake anyway.
  [[maybe_unused]] ssize_t n = ::write(fd_, &one, sizeof one);
}

void AgentPort::on_ready(int fd, int, void* opaque) {
  uint64_t count = 0;
  [[maybe_unused]] ssize_t n = ::read(fd, &count, sizeof count);
  static_cast<AgentPort*>(opaque)->drain();
}

void AgentPort::on_timer(void* opaque) { static_cast<AgentPort*>(opaque)->pump(); }

void AgentPort::drain() {
  std::deque<Posted> items;
  {
    std::lock_guard lock(mu_);
    items.swap(posted_);
  }
  for (auto& item : items) {
    if (auto* c = std::get_if<net::AgentChunk>(&item)) {
      // For an earlier connection of the agent (or none): dropped, as the reference's
      // write filter discards what was sent before the agent went away.
      if (!sin_ || c->generation != generation_) continue;
      writes_.push_back(Write{net::agent::chunk(VDP_CLIENT_PORT, c->data), 0, false, c->session});
    } else if (std::holds_alternative<Started>(item)) {
      send_device_info();
    } else if (sin_) {
      // The last client left: the agent drops what it held for it (clipboard, transfers).
      writes_.push_back(Write{net::agent::server_message(VD_AGENT_CLIENT_DISCONNECTED, {}), 0,
                              false, std::nullopt});
    }
  }
  pump();
}

const SpiceCharDeviceInterface* AgentPort::sif() const {
  return reinterpret_cast<const SpiceCharDeviceInterface*>(sin_->base.sif);
}

void AgentPort::attach(SpiceCharDeviceInstance* sin) {
  sin_ = sin;
  ++generation_;
  device_info_cap_ = false;
  writes_.clear();
  reader_.reset();
  read_filter_.reset(false);
  read_filter_.configure(filter_);
  const auto* s = sif();
  // A device that calls wakeup when it can take more data (QEMU) needs no retry timer.
  if (s->base.minor_version <= 2 || !(s->flags & SPICE_CHAR_DEVICE_NOTIFY_WRITABLE)) {
    timer_ = core_->timer_add(&AgentPort::on_timer, this);
  }
  log::info("spiceflow compat: guest agent device attached");
  if (server_) server_->set_agent_attached(true);
  if (s->state) s->state(sin_, 1);
  if (on_attach_change_) on_attach_change_();
  pump();
}

void AgentPort::detach() {
  if (!sin_) return;
  log::info("spiceflow compat: guest agent device detached");
  disconnect_device();
}

void AgentPort::disconnect_device() {
  SpiceCharDeviceInstance* sin = sin_;
  const auto* s = sif();
  writes_.clear();
  reader_.reset();
  read_filter_.reset(false);
  if (timer_) {
    core_->timer_remove(timer_);
    timer_ = nullptr;
  }
  sin_ = nullptr;
  ++generation_;
  device_info_cap_ = false;
  if (s->state) s->state(sin, 0);
  if (server_) server_->set_agent_attached(false);
  if (on_attach_change_) on_attach_change_();
}

void AgentPort::fail(const std::string& why) {
  log::warn("spiceflow compat: guest agent: {}; detached until the host registers it again", why);
  disconnect_device();
}

void AgentPort::wakeup() { pump(); }

void AgentPort::set_running(bool running) {
  running_ = running;
  if (running) {
    pump();
  } else if (timer_) {
    core_->timer_cancel(timer_);
  }
}

void AgentPort::set_filter(net::agent::FilterConfig filter) {
  filter_ = filter;
  read_filter_.configure(filter);
}

void AgentPort::mouse(uint32_t x, uint32_t y, uint32_t agent_buttons, uint8_t display_id) {
  if (!sin_) return;
  auto bytes = net::agent::server_message(VD_AGENT_MOUSE_STATE,
                                          net::agent::mouse_state(x, y, agent_buttons, display_id));
  if (!writes_.empty() && writes_.back().mouse && writes_.back().pos == 0) {
    writes_.back().bytes = std::move(bytes);  // not started: the newer state replaces it
  } else {
    writes_.push_back(Write{std::move(bytes), 0, true, std::nullopt});
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
  if (!sin_ || !device_info_cap_) return;
  std::vector<net::agent::DisplayDevice> all;
  for (const auto& d : devices_) all.insert(all.end(), d.second.begin(), d.second.end());
  writes_.push_back(Write{net::agent::server_message(VD_AGENT_GRAPHICS_DEVICE_INFO,
                                                     net::agent::graphics_device_info(all)),
                          0, false, std::nullopt});
}

void AgentPort::pump() {
  if (pumping_) {
    again_ = true;  // called back from inside a device callback: the running pass repeats
    return;
  }
  pumping_ = true;
  do {
    again_ = false;
    write_some();
    read_some();
  } while (again_);
  pumping_ = false;
  if (timer_) {
    if (running_ && sin_ && !writes_.empty()) {
      core_->timer_start(timer_, kWriteRetryMs);
    } else {
      core_->timer_cancel(timer_);
    }
  }
}

bool AgentPort::write_some() {
  bool progress = false;
  while (running_ && sin_ && !writes_.empty()) {
    const uint64_t gen = generation_;
    Write& w = writes_.front();
    const int n = sif()->write(sin_, w.bytes.data() + w.pos, int(w.bytes.size() - w.pos));
    if (generation_ != gen) return true;  // detached from inside write: `w` is gone
    if (n <= 0) break;
    progress = true;
    w.pos += std::min(size_t(n), w.bytes.size() - w.pos);
    if (w.pos < w.bytes.size()) continue;  // the device took part: offer it the rest
    if (w.session && server_) server_->agent_consumed(*w.session, generation_);
    writes_.pop_front();
  }
  return progress;
}

bool AgentPort::read_some() {
  bool progress = false;
  while (running_ && sin_ && server_ && server_->agent_has_room()) {
    const uint64_t gen = generation_;
    auto buf = reader_.next();
    const int n = sif()->read(sin_, buf.data(), int(buf.size()));
    if (generation_ != gen) return true;
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
