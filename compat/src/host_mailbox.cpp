#include "host_mailbox.hpp"

#include <sys/eventfd.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <string>

namespace spiceflow::compat {

Result<std::unique_ptr<HostMailbox>> HostMailbox::create(const SpiceCoreInterface* core) {
  if (!core || !core->watch_add || !core->watch_remove) {
    return make_error("the core interface has no watch_add/watch_remove");
  }
  int fd = ::eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
  if (fd < 0) return make_error(std::string("eventfd: ") + std::strerror(errno));
  std::unique_ptr<HostMailbox> m(new HostMailbox(core, fd));
  m->watch_ = core->watch_add(fd, SPICE_WATCH_EVENT_READ, &HostMailbox::on_ready, m.get());
  if (!m->watch_) return make_error("the host refused the mailbox's watch");
  return m;
}

HostMailbox::~HostMailbox() {
  if (watch_) core_->watch_remove(watch_);
  if (fd_ >= 0) ::close(fd_);
}

void HostMailbox::post(std::function<void()> fn) {
  {
    std::lock_guard lock(mu_);
    queue_.push_back(std::move(fn));
  }
  const uint64_t one = 1;
  // EAGAIN: the counter is already non-zero and the main loop will wake anyway.
  [[maybe_unused]] ssize_t n = ::write(fd_, &one, sizeof one);
}

void HostMailbox::on_ready(int fd, int, void* opaque) {
  uint64_t count = 0;
  [[maybe_unused]] ssize_t n = ::read(fd, &count, sizeof count);
  auto* self = static_cast<HostMailbox*>(opaque);
  std::deque<std::function<void()>> work;
  {
    std::lock_guard lock(self->mu_);
    work.swap(self->queue_);
  }
  for (auto& fn : work) fn();
}

}  // namespace spiceflow::compat
