#pragma once
// One non-blocking TCP connection driven by the event loop: a bounded input buffer that
// the protocol layer consumes from the front, and an output queue flushed with writev as
// the socket allows. With a TLS session (OpenSSL, server side) the same interface carries
// plaintext: input is decrypted as it arrives, output is encrypted in records of up to
// 16 KiB. Threading: loop thread only.
#include <cstdint>
#include <deque>
#include <functional>
#include <span>
#include <string>
#include <vector>

#include "spiceflow/net/event_loop.hpp"

typedef struct ssl_st SSL;

namespace spiceflow::net {

class Peer {
 public:
  /// Takes ownership of `fd` (non-blocking, connected) and of `tls` (an accept-state
  /// session, or null for plaintext); the TLS handshake runs as the client's bytes arrive.
  Peer(EventLoop& loop, int fd, std::string name, SSL* tls = nullptr);
  ~Peer();
  Peer(const Peer&) = delete;
  Peer& operator=(const Peer&) = delete;

  const std::string& name() const { return name_; }
  int fd() const { return fd_; }
  /// Whether the connection is TLS.
  bool secure() const { return ssl_ != nullptr; }

  /// Received bytes not yet consumed.
  std::span<const uint8_t> input() const {
    return {in_.data() + in_head_, in_.size() - in_head_};
  }
  void consume(size_t n);
  /// Unconsumed input beyond this closes the connection (a peer announcing a huge
  /// message cannot make us buffer it).
  void set_input_limit(size_t bytes) { input_limit_ = bytes; }

  /// Called after new input arrived (the handler consumes what it can).
  void on_input(std::function<void()> cb) { on_input_ = std::move(cb); }
  /// Called when queued output drops below the low-water mark after a flush.
  void on_drain(std::function<void()> cb) { on_drain_ = std::move(cb); }
  /// Called once when the connection closes (by the peer, an error, or close()).
  void on_close(std::function<void(const std::string& reason)> cb) { on_close_ = std::move(cb); }

  /// Stops (true) or resumes (false) reading the socket: unread data stays with the kernel
  /// and TCP's window holds the sender back. A hang-up is still noticed.
  void pause_reading(bool paused);

  void send(std::vector<uint8_t> bytes);
  size_t queued_bytes() const { return queued_; }
  /// Stops all I/O and closes the socket; on_close runs once. Safe inside callbacks.
  void close(const std::string& reason);
  /// Sends what is queued (best effort, bounded wait-free) then closes.
  void close_after_flush(const std::string& reason);
  bool closed() const { return fd_ < 0; }
  /// Closed, or closing once the queued output is out: accept no more input.
  bool closing() const { return closed() || closing_after_flush_; }

  uint64_t bytes_sent() const { return bytes_sent_; }
  uint64_t bytes_received() const { return bytes_received_; }

  static constexpr size_t kLowWater = 256 * 1024;

 private:
  void handle(uint32_t ready);
  void read_some();
  /// Writes what the socket takes. `notify` reports room via on_drain (not when called
  /// from send(): the sender is already running and must not be re-entered).
  void flush(bool notify);
  void update_interest();
  void read_some_tls();
  /// Appends received (plaintext) bytes; false after closing for the input limit.
  bool append_input(const uint8_t* data, size_t n);
  void flush_tls(bool notify);
  bool output_empty() const { return out_.empty() && tls_stage_.empty(); }
  /// After writing: close when asked to once flushed, update interest, report room.
  void after_flush(bool notify);

  EventLoop& loop_;
  int fd_;
  std::string name_;
  WatchId watch_ = 0;
  uint32_t interest_ = 0;
  std::vector<uint8_t> in_;
  size_t in_head_ = 0;
  size_t input_limit_ = 1 << 20;
  std::deque<std::vector<uint8_t>> out_;
  size_t out_head_ = 0;  // bytes of out_.front() already sent
  size_t queued_ = 0;
  bool closing_after_flush_ = false;
  bool read_paused_ = false;
  std::string close_reason_;
  uint64_t bytes_sent_ = 0;
  uint64_t bytes_received_ = 0;
  std::function<void()> on_input_;
  std::function<void()> on_drain_;
  std::function<void(const std::string&)> on_close_;
  // TLS: the session, the plaintext of the record being written (kept unchanged until
  // SSL_write takes it: a retried SSL_write must see the same bytes), and which direction
  // OpenSSL waits on for the other one.
  SSL* ssl_ = nullptr;
  std::vector<uint8_t> tls_stage_;
  bool tls_read_wants_write_ = false;
  bool tls_write_wants_read_ = false;
};

}  // namespace spiceflow::net
