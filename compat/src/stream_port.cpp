#include "stream_port.hpp"

#include <spice/enums.h>
#include <spice/protocol.h>

#include <algorithm>
#include <cstring>

#include "spiceflow/core/log.hpp"

namespace spiceflow::compat {

namespace {
// One read from the device: the size other ports use (the reference's BUF_SIZE region).
constexpr size_t kReadSize = 64 * 1024;

template <class... F>
struct Overloaded : F... {
  using F::operator()...;
};
template <class... F>
Overloaded(F...) -> Overloaded<F...>;
}  // namespace

StreamPort::StreamPort(const SpiceCoreInterface* core, net::Server& server, HostMailbox& mailbox,
                       SpiceCharDeviceInstance* sin)
    : CharDevice(core),
      server_(server),
      mailbox_(mailbox),
      stream_(std::make_shared<net::GuestStream>(kChannelId)),
      self_(std::make_shared<StreamPort*>(this)),
      buf_(kReadSize) {
  attach_device(sin);
  net::GuestStream::Hooks hooks;
  hooks.clients = [&mailbox, self = self_](std::vector<uint8_t> codecs) {
    mailbox.post([self, codecs = std::move(codecs)]() mutable {
      if (*self) (*self)->clients_changed(std::move(codecs));
    });
  };
  hooks.room = [&mailbox, self = self_] {
    mailbox.post([self] {
      if (*self) (*self)->pump();
    });
  };
  stream_->set_hooks(std::move(hooks));
  log::info("spiceflow compat: streaming agent port '{}' registered (display channel {} once "
            "the guest opens it)",
            sin->portname ? sin->portname : "", int(kChannelId));
}

StreamPort::~StreamPort() {
  *self_ = nullptr;
  stream_->set_hooks({});
  if (registered_) server_.set_guest_stream(nullptr);
  detach_device();
  log::info("spiceflow compat: streaming agent port: {} frames, {} bytes read", frames_, bytes_);
}

void StreamPort::port_event(uint8_t event) {
  if (event != SPICE_PORT_EVENT_OPENED && event != SPICE_PORT_EVENT_CLOSED) return;
  opened_ = event == SPICE_PORT_EVENT_OPENED;
  log::info("spiceflow compat: streaming agent port {}", opened_ ? "opened" : "closed");
  // Either way the agent starts over at a message boundary.
  parser_.reset();
  error_ = false;
  have_format_ = false;
  writes().clear();
  stream_->stop();
  if (!opened_) return;
  if (!registered_) {
    server_.set_guest_stream(stream_);
    registered_ = true;
  }
  queue_write(streamdev::capabilities());
  if (!codecs_.empty()) send_start_stop();  // clients already wait for a stream
  if (attached() && sif()->state) sif()->state(device(), 1);
  pump();
}

void StreamPort::clients_changed(std::vector<uint8_t> codecs) {
  codecs_ = std::move(codecs);
  if (!opened_ || error_) return;
  send_start_stop();
  pump();
}

void StreamPort::send_start_stop() {
  std::string names;
  for (uint8_t c : codecs_) names += (names.empty() ? "" : ",") + std::to_string(c);
  log::info("spiceflow compat: streaming agent: START_STOP codecs [{}]", names);
  queue_write(streamdev::start_stop(codecs_));
}

void StreamPort::protocol_error(const std::string& why) {
  log::error("spiceflow compat: streaming agent: malformed message: {}; stream ended, port "
             "closed until the agent opens it again",
             why);
  error_ = true;
  have_format_ = false;
  stream_->stop();
  queue_write(streamdev::notify_error(why));
  // state(0) from the main loop, not from inside the device's read (the reference defers it
  // the same way: QEMU may not expect it there).
  mailbox_.post([self = self_] {
    StreamPort* p = *self;
    if (p && p->error_ && p->attached() && p->sif()->state) p->sif()->state(p->device(), 0);
  });
}

void StreamPort::handle(streamdev::Message& m) {
  std::visit(Overloaded{
                 [&](streamdev::Format& f) {
                   log::info("spiceflow compat: streaming agent: FORMAT {}x{} codec {}", f.width,
                             f.height, int(f.codec));
                   have_format_ = true;
                   stream_->set_format({f.codec, f.width, f.height});
                 },
                 [&](streamdev::Data& d) {
                   ++frames_;
                   if (!have_format_) return;  // no stream to put it in (as the reference)
                   stream_->push_frame(std::move(d.frame));
                 },
                 [&](streamdev::Capabilities&) {},
                 [&](streamdev::CursorSet& c) { set_cursor(c); },
                 [&](streamdev::CursorMove& m) {
                   // CURSOR_MOVE carries 16-bit coordinates on the wire.
                   stream_->move_cursor({std::clamp(m.x, -32768, 32767),
                                         std::clamp(m.y, -32768, 32767)});
                 },
                 [&](streamdev::DeviceDisplayInfo& d) {
                   log::info("spiceflow compat: streaming agent: stream {} is display {} of {}",
                             d.stream_id, d.device_display_id, d.device_address);
                 },
                 [&](streamdev::QualityIndicator& q) {
                   log::debug("spiceflow compat: streaming agent: quality {}", q.text);
                 },
             },
             m);
}

// ALPHA shapes are 0xAARRGGBB words, exactly core::Image's pixels. The masked types
// (COLOR24/32 with an AND mask) are checked by the parser but not converted: the streaming
// agent sends ALPHA (X's cursors are ARGB).
void StreamPort::set_cursor(const streamdev::CursorSet& c) {
  if (c.type != SPICE_CURSOR_TYPE_ALPHA || c.width == 0 || c.height == 0) {
    if (!cursor_type_logged_) {
      log::warn("spiceflow compat: streaming agent: cursor type {} ({}x{}) is not shown",
                int(c.type), c.width, c.height);
      cursor_type_logged_ = true;
    }
    stream_->set_cursor_shape(nullptr);
    return;
  }
  auto img = std::make_shared<Image>(c.width, c.height);
  for (int y = 0; y < c.height; ++y) {
    std::memcpy(img->row(y), c.data.data() + size_t(y) * c.width * 4, size_t(c.width) * 4);
  }
  auto shape = std::make_shared<CursorShape>();
  shape->id = ++cursor_shapes_;
  shape->hotspot = {std::min<int>(c.hot_x, c.width - 1), std::min<int>(c.hot_y, c.height - 1)};
  shape->pixels = std::move(img);
  stream_->set_cursor_shape(std::move(shape));
}

bool StreamPort::read_some() {
  bool progress = false;
  while (running() && attached() && opened_) {
    // Behind clients make the agent wait (its port fills); GuestStream's room hook resumes.
    if (!error_ && !stream_->has_room()) break;
    const uint64_t gen = generation();
    const int n = sif()->read(device(), buf_.data(), int(buf_.size()));
    if (generation() != gen) return true;
    if (n <= 0) break;
    progress = true;
    const size_t len = std::min(size_t(n), buf_.size());
    bytes_ += len;
    if (error_) continue;  // drained: the guest is not blocked while the port closes
    parsed_.clear();
    const bool ok = parser_.feed({buf_.data(), len}, parsed_);
    for (auto& m : parsed_) handle(m);
    if (!ok) protocol_error(parser_.error());
  }
  return progress;
}

}  // namespace spiceflow::compat
