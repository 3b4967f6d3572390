#include "peer.hpp"

#include <sys/socket.h>
#include <sys/uio.h>
#include <unistd.h>

#include <openssl/err.h>
#include <openssl/ssl.h>

#include <algorithm>
#include <cerrno>
#include <cstring>

#include "spiceflow/core/log.hpp"
#include "spiceflow/net/tls.hpp"

namespace spiceflow::net {

namespace {
constexpr size_t kReadChunk = 64 * 1024;
// Bound the work done for one readiness event so one busy client cannot starve others.
constexpr size_t kMaxReadPerEvent = 512 * 1024;
constexpr int kMaxIov = 64;
// Plaintext per TLS record written (TLS's largest record).
constexpr size_t kTlsRecord = 16 * 1024;
}  // namespace

Peer::Peer(EventLoop& loop, int fd, std::string name, SSL* tls)
    : loop_(loop), fd_(fd), name_(std::move(name)), ssl_(tls) {
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
  // While paused only a hang-up is read (to its end: the connection is going anyway).
  const bool readable =
      read_paused_ ? (ready & kHangup) != 0 : (ready & (kReadable | kHangup)) != 0;
  if (readable || (!read_paused_ && (ready & kWritable) && tls_read_wants_write_)) {
    read_some();
  }
}

bool Peer::append_input(const uint8_t* data, size_t n) {
  in_.insert(in_.end(), data, data + n);
  bytes_received_ += uint64_t(n);
  if (in_.size() - in_head_ > input_limit_) {
    close("input buffer limit exceeded");
    return false;
  }
  return true;
}

void Peer::read_some() {
  if (ssl_) {
    read_some_tls();
    return;
  }
  size_t total = 0;
  // Received into a scratch buffer and appended: growing in_ first would zero-fill a whole
  // chunk for every read, and most reads (ACKs, input events) are a few bytes.
  uint8_t chunk[kReadChunk];
  while (!closed() && total < kMaxReadPerEvent) {
    const ssize_t n = ::recv(fd_, chunk, kReadChunk, 0);
    if (n > 0) {
      total += size_t(n);
      if (!append_input(chunk, size_t(n))) return;
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

void Peer::read_some_tls() {
  tls_read_wants_write_ = false;
  size_t total = 0;
  uint8_t chunk[kReadChunk];
  while (!closed() && total < kMaxReadPerEvent) {
    ERR_clear_error();
    errno = 0;
    // A record's plaintext (<= 16 KiB) always fits: nothing stays decrypted inside OpenSSL
    // when this stops, so the socket's readiness tells the whole story.
    const int n = SSL_read(ssl_, chunk, int(kReadChunk));
    if (n > 0) {
      total += size_t(n);
      if (!append_input(chunk, size_t(n))) return;
      continue;
    }
    const int err = SSL_get_error(ssl_, n);
    if (err == SSL_ERROR_WANT_READ) break;
    if (err == SSL_ERROR_WANT_WRITE) {
      tls_read_wants_write_ = true;
      update_interest();
      break;
    }
    if (on_input_ && total > 0) on_input_();
    if (closed()) return;
    if (err == SSL_ERROR_ZERO_RETURN || (err == SSL_ERROR_SYSCALL && ERR_peek_error() == 0 &&
                                         (errno == 0 || errno == ECONNRESET))) {
      close("peer closed the connection");
    } else if (err == SSL_ERROR_SYSCALL && ERR_peek_error() == 0) {
      close(std::string("TLS recv: ") + std::strerror(errno));
    } else {
      close("TLS: " + tls_error_string());
    }
    return;
  }
  if (tls_write_wants_read_ && !closed()) {
    tls_write_wants_read_ = false;
    flush(true);
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

void Peer::flush_tls(bool notify) {
  while (!closed()) {
    if (tls_stage_.empty()) {
      while (!out_.empty() && tls_stage_.size() < kTlsRecord) {
        const auto& front = out_.front();
        const size_t take = std::min(front.size() - out_head_, kTlsRecord - tls_stage_.size());
        tls_stage_.insert(tls_stage_.end(), front.begin() + std::ptrdiff_t(out_head_),
                          front.begin() + std::ptrdiff_t(out_head_ + take));
        out_head_ += take;
        if (out_head_ == front.size()) {
          out_.pop_front();
          out_head_ = 0;
        }
      }
      if (tls_stage_.empty()) break;
    }
    ERR_clear_error();
    errno = 0;
    const int n = SSL_write(ssl_, tls_stage_.data(), int(tls_stage_.size()));
    if (n > 0) {  // without partial writes: the whole record
      bytes_sent_ += uint64_t(n);
      queued_ -= size_t(n);
      tls_stage_.clear();
      continue;
    }
    const int err = SSL_get_error(ssl_, n);
    if (err == SSL_ERROR_WANT_WRITE) break;
    if (err == SSL_ERROR_WANT_READ) {
      tls_write_wants_read_ = true;
      break;
    }
    if (err == SSL_ERROR_SYSCALL && ERR_peek_error() == 0) {
      close(std::string("TLS send: ") + (errno ? std::strerror(errno) : "connection closed"));
    } else {
      close("TLS: " + tls_error_string());
    }
    return;
  }
  if (closed()) return;
  after_flush(notify);
}

void Peer::flush(bool notify) {
  if (ssl_) {
    flush_tls(notify);
    return;
  }
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
  after_flush(notify);
}

void Peer::after_flush(bool notify) {
  if (output_empty() && closing_after_flush_) {
    close(close_reason_);
    return;
  }
  update_interest();
  if (notify && queued_ < kLowWater && on_drain_ && !closing_after_flush_) on_drain_();
}

void Peer::pause_reading(bool paused) {
  if (paused == read_paused_) return;
  read_paused_ = paused;
  update_interest();
}

void Peer::update_interest() {
  if (closed()) return;
  const uint32_t want = (read_paused_ ? 0u : kReadable) |
                        (output_empty() && !tls_read_wants_write_ ? 0u : kWritable);
  if (want != interest_) {
    interest_ = want;
    loop_.modify(watch_, interest_);
  }
}

void Peer::close_after_flush(const std::string& reason) {
  if (closed()) return;
  if (output_empty()) {
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
  if (ssl_) {
    // Best effort close_notify on a non-blocking socket; the peer may be gone already.
    ERR_clear_error();
    SSL_shutdown(ssl_);
    SSL_free(ssl_);
    ssl_ = nullptr;
    ERR_clear_error();
  }
  ::close(fd_);
  fd_ = -1;
  out_.clear();
  tls_stage_.clear();
  queued_ = 0;
  if (auto cb = std::move(on_close_)) {
    on_close_ = nullptr;
    cb(reason);
  }
}

}  // namespace spiceflow::net
