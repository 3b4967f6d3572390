#include "replay_feed.hpp"

#include <sys/eventfd.h>
#include <unistd.h>

#include <cstdio>
#include <cstdlib>

#include "qxl_device.hpp"

namespace spiceflow::player {

ReplayFeed::ReplayFeed(CoreLoop& loop, QxlDevice& dev, SpiceReplay* replay)
    : dev_(dev), replay_(replay) {
  refill_fd_ = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
  if (refill_fd_ < 0) {
    std::perror("spiceflow-qxl-player: eventfd");
    std::exit(1);
  }
  loop.add_fd(refill_fd_, [this] {
    uint64_t v;
    [[maybe_unused]] auto n = ::read(refill_fd_, &v, sizeof v);
    fill();
  });
  dev_.set_external_source([this](QXLCommandExt* ext) { return get(display_, ext); },
                           [this](QXLCommandExt* ext) { return get(cursor_, ext); },
                           [this] { return empty(display_); },
                           [this] { return empty(cursor_); },
                           [this](QXLReleaseInfoExt info) { release(info); });
}

ReplayFeed::~ReplayFeed() {
  // The library is gone (the server was destroyed first): what is still queued was never
  // handed out, so it goes straight back to the replay.
  for (auto* q : {&display_, &cursor_}) {
    for (QXLCommandExt* cmd : *q) spice_replay_free_cmd(replay_, cmd);
    q->clear();
  }
  spice_replay_free(replay_);
  ::close(refill_fd_);
}

void ReplayFeed::fill() {
  bool added = false;
  while (!end_) {
    {
      std::lock_guard lock(mu_);
      if (display_.size() + cursor_.size() >= kDepth) break;
    }
    // Not under mu_: reading may call spice_qxl_create_primary_surface, which waits for
    // the worker, which may be in get().
    QXLCommandExt* cmd = spice_replay_next_cmd(replay_, dev_.instance());
    if (!cmd) {
      end_ = true;
      break;
    }
    ++commands_;
    added = true;
    std::lock_guard lock(mu_);
    (cmd->cmd.type == QXL_CMD_CURSOR ? cursor_ : display_).push_back(cmd);
  }
  if (added) spice_qxl_wakeup(dev_.instance());
}

bool ReplayFeed::drained() {
  std::lock_guard lock(mu_);
  return end_ && display_.empty() && cursor_.empty();
}

bool ReplayFeed::get(std::deque<QXLCommandExt*>& queue, QXLCommandExt* ext) {
  std::lock_guard lock(mu_);
  if (queue.size() + (&queue == &display_ ? cursor_.size() : display_.size()) < kDepth / 2) {
    uint64_t one = 1;
    [[maybe_unused]] auto n = ::write(refill_fd_, &one, sizeof one);
  }
  if (queue.empty()) return false;
  *ext = *queue.front();
  queue.pop_front();
  return true;
}

bool ReplayFeed::empty(std::deque<QXLCommandExt*>& queue) {
  std::lock_guard lock(mu_);
  return queue.empty();
}

void ReplayFeed::release(QXLReleaseInfoExt info) {
  // The replay put the command's own address in its release info.
  spice_replay_free_cmd(replay_, reinterpret_cast<QXLCommandExt*>(uintptr_t(info.info->id)));
}

}  // namespace spiceflow::player
