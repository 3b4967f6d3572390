#include "peer.hpp"

#include <sys/socket.h>
#include <sys/uio.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

#include "spiceflow/core/log.hpp"

namespace spiceflow::net {

namespace {
constexpr size_t kReadChunk = 64 * 1024;
// Bound the work done for one readiness event so one busy client cannot starve others.
constexpr size_t kMaxReadPerEvent = 512 * 1024;
constexpr int kMaxIov = 64;
}  // namespace

Peer::Peer(EventLoop& loop, int fd, std::string name)
    : loop_(loop), fd_(fd), name_(std::move(name)) {
  interest_ = kReadable;
  watch_ = loop_.watch(fd_, interest_, [this](uint32_t ready) { handle(ready); });
}

Peer::~Peer() {
  on_close_ = nullptr;
  close("destroyed");
}

void Peer::consume(size_t n) {
  in_head_ += n;
  if (in_head_ == in_.size()) {
    in_.clear();
    in_head_ = 0;
  } else if (in_head_ > 64 * 1024 && in_head_ * 2 > in_.size()) {
    in_.erase(in_.begin(), in_.begin() + std::ptrdiff_t(in_head_));
    in_head_ = 0;
  }
}

void Peer::handle(uint32_t ready) {
  if (closed()) return;
  if (ready & kWritable) flush(true);
  if (closed()) return;
  if (ready & (kReadable | kHangup)) read_some();
}

void Peer::read_some() {
  size_t total = 0;
  // Received into a scratch buffer and appended: growing in_ first would zero-fill a whole
  // chunk for every read, and most reads (ACKs, input events) are a few bytes.
  uint8_t chunk[kReadChunk];
  while (!closed() && total < kMaxReadPerEvent) {
    const ssize_t n = ::recv(fd_, chunk, kReadChunk, 0);
    if (n > 0) {
      in_.insert(in_.end(), chunk, chunk + n);
      total += size_t(n);
      bytes_received_ += uint64_t(n);
      if (in_.size() - in_head_ > input_limit_) {
        close("input buffer limit exceeded");
        return;
      }
      if (size_t(n) < kReadChunk) break;
      continue;
    }
    if (n == 0) {
      if (on_input_ && total > 0) on_input_();
      close("peer closed the connection");
      return;
    }
    if (errno == EINTR) continue;
    if (errno == EAGAIN || errno == EWOULDBLOCK) break;
    close(std::string("recv: ") + std::strerror(errno));
    return;
  }
  if (total > 0 && on_input_ && !closed()) on_input_();
}

void Peer::send(std::vector<uint8_t> bytes) {
  if (closed() || closing_after_flush_ || bytes.empty()) return;
  queued_ += bytes.size();
  out_.push_back(std::move(bytes));
  if (out_.size() == 1) flush(false);
  else update_interest();
}

void Peer::flush(bool notify) {
  while (!out_.empty() && !closed()) {
    iovec iov[kMaxIov];
    int cnt = 0;
    size_t skip = out_head_;
    for (auto it = out_.begin(); it != out_.end() && cnt < kMaxIov; ++it, ++cnt) {
      iov[cnt].iov_base = it->data() + skip;
      iov[cnt].iov_len = it->size() - skip;
      skip = 0;
    }
    msghdr mh{};
    mh.msg_iov = iov;
    mh.msg_iovlen = size_t(cnt);
    const ssize_t n = ::sendmsg(fd_, &mh, MSG_NOSIGNAL);
    if (n < 0) {
      if (errno == EINTR) continue;
      if (errno == EAGAIN || errno == EWOULDBLOCK) break;
      close(std::string("send: ") + std::strerror(errno));
      return;
    }
    bytes_sent_ += uint64_t(n);
    queued_ -= size_t(n);
    size_t left = size_t(n);
    while (left > 0) {
      const size_t avail = out_.front().size() - out_head_;
      if (left >= avail) {
        left -= avail;
        out_.pop_front();
        out_head_ = 0;
      } else {
        out_head_ += left;
        left = 0;
      }
    }
  }
  if (closed()) return;
  if (out_.empty() && closing_after_flush_) {
    close(close_reason_);
    return;
  }
  update_interest();
  if (notify && queued_ < kLowWater && on_drain_ && !closing_after_flush_) on_drain_();
}

void Peer::update_interest() {
  if (closed()) return;
  const uint32_t want = kReadable | (out_.empty() ? 0u : kWritable);
  if (want != interest_) {
    interest_ = want;
    loop_.modify(watch_, interest_);
  }
}

void Peer::close_after_flush(const std::string& reason) {
  if (closed()) return;
  if (out_.empty()) {
    close(reason);
    return;
  }
  closing_after_flush_ = true;
  close_reason_ = reason;
  update_interest();
}

void Peer::close(const std::string& reason) {
  if (closed()) return;
  loop_.unwatch(watch_);
  ::close(fd_);
  fd_ = -1;
  out_.clear();
  queued_ = 0;
  if (auto cb = std::move(on_close_)) {
    on_close_ = nullptr;
    cb(reason);
  }
}

}  // namespace spiceflow::net
