#pragma once
/// Harness for the interop tests: processes that always die with their owner, loopback
/// ports, PPM images, the spiceflow server under test, the real clients (spicy-screenshot,
/// spice_client.py) and a raw-socket SPICE link client for hostile and exact-code checks.
/// Everything here runs on the test's thread; nothing is shared between tests.
#include <gtest/gtest.h>
#include <sys/types.h>

#include <chrono>
#include <cstdint>
#include <filesystem>
#include <functional>
#include <optional>
#include <span>
#include <string>
#include <vector>

namespace spiceflow::interop {

using namespace std::chrono_literals;
using Clock = std::chrono::steady_clock;
namespace fs = std::filesystem;

// ---------------------------------------------------------------------------------------
// Paths and environment

/// The spiceflow binary under test (compile definition SPICEFLOW_BIN).
std::string server_bin();
/// tests/interop/spice_client.py in the source tree (compile definition SPICEFLOW_CLIENT_PY).
std::string client_script();
/// The python that sees Debian's `gi` module.
inline constexpr const char* kPython = "/usr/bin/python3";
/// SPICEFLOW_TEST_IO ("uring", "epoll"), or "" to let the server choose.
std::string test_io();

/// A fresh directory for one test, named after it. Removed when the test passed, kept
/// (and its path printed) when it failed so the logs can be read.
class TempDir {
 public:
  TempDir();
  ~TempDir();
  TempDir(const TempDir&) = delete;
  TempDir& operator=(const TempDir&) = delete;
  const fs::path& path() const { return path_; }
  fs::path operator/(const std::string& name) const { return path_ / name; }

 private:
  fs::path path_;
};

std::string read_text(const fs::path& path);
/// The last `max_chars` characters of a file (for failure messages).
std::string tail_of(const fs::path& path, size_t max_chars = 2000);

/// Polls `pred` every `poll` until it is true or `timeout` passed; returns its last value.
bool wait_until(const std::function<bool()>& pred, std::chrono::milliseconds timeout,
                std::chrono::milliseconds poll = 20ms);

// ---------------------------------------------------------------------------------------
// Processes

/// A child process in its own process group, stdin from /dev/null, stdout and stderr to
/// files. The destructor stops the whole group (SIGTERM, then SIGKILL) and reaps the
/// child, so a test can never leave a process behind. Not copyable; movable.
class Process {
 public:
  /// Spawns argv[0] (searched in PATH). Throws std::runtime_error when it cannot start.
  static Process spawn(const std::vector<std::string>& argv, const fs::path& stdout_path,
                       const fs::path& stderr_path);
  Process(Process&& other) noexcept;
  Process& operator=(Process&& other) noexcept;
  Process(const Process&) = delete;
  Process& operator=(const Process&) = delete;
  ~Process();

  pid_t pid() const { return pid_; }
  /// True while the child has not exited (reaps it when it has).
  bool running();
  /// Waits for the exit; returns the exit code (128 + signal for a signal death), or
  /// nullopt after `timeout`.
  std::optional<int> wait_for(std::chrono::milliseconds timeout);
  /// The exit code once the child was reaped.
  std::optional<int> exit_code() const { return exit_code_; }
  /// Sends `sig` to the whole process group.
  void signal_group(int sig) const;
  /// SIGTERM to the group, up to `grace` for the exit, then SIGKILL. Returns the exit code.
  int stop(std::chrono::milliseconds grace = 3s);
  const fs::path& stdout_path() const { return out_; }
  const fs::path& stderr_path() const { return err_; }
  std::string stdout_text() const { return read_text(out_); }
  std::string stderr_text() const { return read_text(err_); }
  /// A "Vm*" line of /proc/PID/status in KiB ("VmPeak": peak virtual size, "VmHWM": peak
  /// resident set), or -1 if unreadable.
  long status_kib(const char* key) const;

 private:
  Process(pid_t pid, fs::path out, fs::path err)
      : pid_(pid), out_(std::move(out)), err_(std::move(err)) {}
  void reap(int status);
  pid_t pid_ = -1;
  std::optional<int> exit_code_;
  fs::path out_, err_;
};

struct RunResult {
  int exit_code = -1;
  bool timed_out = false;
  std::string out;
  std::string err;
  /// "exit N" / "timed out", plus the tails of stdout and stderr.
  std::string describe() const;
};

/// Runs argv to completion (or kills its group after `timeout`). Output goes to
/// dir/name.out and dir/name.err and is returned.
RunResult run_with_timeout(const std::vector<std::string>& argv, std::chrono::milliseconds timeout,
                           const fs::path& dir, const std::string& name);

// ---------------------------------------------------------------------------------------
// Ports

/// A TCP port on 127.0.0.1 that was free a moment ago (bind to port 0).
uint16_t free_port();
/// The first of `n` consecutive free ports.
uint16_t free_port_range(int n);
/// True when something accepts connections on 127.0.0.1:port.
bool port_open(uint16_t port);

// ---------------------------------------------------------------------------------------
// Images

struct Image {
  int width = 0;
  int height = 0;
  std::vector<uint8_t> rgb;  // width * height * 3, rows top-down
  const uint8_t* at(int x, int y) const { return &rgb[(static_cast<size_t>(y) * width + x) * 3]; }
};

/// Reads a binary PPM (P6, maxval 255). nullopt (and *error) when the file is absent,
/// not a PPM or shorter than its header says (e.g. still being written).
std::optional<Image> read_ppm(const fs::path& path, std::string* error = nullptr);
/// Polls until `path` holds a complete PPM.
std::optional<Image> wait_for_ppm(const fs::path& path, std::chrono::milliseconds timeout);

struct ImageDiff {
  bool size_mismatch = false;
  size_t differing = 0;
  size_t total = 0;
  int first_x = -1, first_y = -1;
  uint8_t first_a[3] = {0, 0, 0}, first_b[3] = {0, 0, 0};
  int min_x = 0, min_y = 0, max_x = -1, max_y = -1;  // bounding box of the differences
  std::string a_size, b_size;
  bool same() const { return !size_mismatch && differing == 0; }
  std::string describe() const;
};
ImageDiff compare_images(const Image& a, const Image& b);
/// PSNR (dB, RGB) of b against a over the w x h box at (x0, y0), leaving out `skip` (a box,
/// w or h 0 for none); 99 when they are equal there, 0 when the box is empty.
struct PixelBox {
  long x = 0, y = 0, w = 0, h = 0;
  bool has(long px, long py) const { return px >= x && px < x + w && py >= y && py < y + h; }
};
double psnr_in(const Image& a, const Image& b, long x0, long y0, long w, long h,
               PixelBox skip = {});
/// Differing pixels within `radius` (Chebyshev distance) of (cx, cy).
size_t differing_near(const Image& a, const Image& b, int cx, int cy, int radius);

// ---------------------------------------------------------------------------------------
// The server under test

struct ServerOptions {
  std::string synthetic;         // --synthetic (empty: server default)
  std::string size = "800x600";  // --size
  bool frozen = true;            // --frozen
  bool dump_frame = false;       // --dump-frame DIR/dump.ppm
  std::string password;          // --password (empty: none)
  bool disable_ticketing = false;
  std::string compression;       // --image-compression (empty: server default)
  int desktops = 1;              // --desktops
  int fps = 0;                   // --fps (0: server default)
  int password_expires = -1;     // --password-expires (-1: not given)
  int link_timeout = -1;         // --link-timeout (-1: not given)
  std::vector<std::string> extra;
};

enum class StartStatus { kOk, kSkip, kFail };

/// One `spiceflow serve` on 127.0.0.1 with free ports and --io from SPICEFLOW_TEST_IO.
class Server {
 public:
  explicit Server(const TempDir& dir) : dir_(dir.path()) {}
  /// Starts the server and waits until every desktop's port accepts connections and,
  /// with dump_frame, until the dump is complete. kSkip when --io uring was asked for
  /// and io_uring is unavailable (the server refused it or fell back).
  StartStatus start(const ServerOptions& options, std::string* message);
  uint16_t port(int desktop = 0) const { return static_cast<uint16_t>(port_ + desktop); }
  const fs::path& dump_path() const { return dump_; }
  const Image& dump() const { return dump_image_; }
  Process& process() { return *process_; }
  bool running() { return process_ && process_->running(); }
  std::string log() const { return process_ ? process_->stderr_text() : std::string(); }
  std::string log_tail() const;
  /// The argv it was started with (for messages).
  std::string command_line() const;

 private:
  fs::path dir_;
  uint16_t port_ = 0;
  fs::path dump_;
  Image dump_image_;
  std::vector<std::string> argv_;
  std::optional<Process> process_;
};

/// Starts `server` with `options` in a test body: skips or fails the test when it cannot.
#define SPICEFLOW_START_SERVER(server, options)                                \
  do {                                                                         \
    std::string start_message_;                                                \
    auto start_status_ = (server).start((options), &start_message_);           \
    if (start_status_ == ::spiceflow::interop::StartStatus::kSkip) {           \
      GTEST_SKIP() << start_message_;                                          \
    }                                                                          \
    ASSERT_EQ(start_status_, ::spiceflow::interop::StartStatus::kOk) << start_message_; \
  } while (0)

// ---------------------------------------------------------------------------------------
// Real clients

/// spicy-screenshot -h 127.0.0.1 -p PORT [-w PASSWORD] -o OUT.
RunResult spicy_screenshot(uint16_t port, const fs::path& out, const fs::path& dir,
                           const std::string& password = {},
                           std::chrono::milliseconds timeout = 20s);
/// spice_client.py ARGS... (the subcommand's HOST PORT come from the caller).
std::vector<std::string> spice_client_argv(const std::vector<std::string>& args);
RunResult spice_client(const std::vector<std::string>& args, const fs::path& dir,
                       const std::string& name, std::chrono::milliseconds timeout = 30s);

/// Makes ca-cert.pem, server-cert.pem and server-key.pem (QEMU's x509-dir names) in `dir`,
/// plus other-ca.pem, a CA that did not sign the server's certificate, with the `openssl`
/// command (a throw-away CA and a server certificate for 127.0.0.1). False with `why` set
/// when openssl fails.
bool make_certificates(const fs::path& dir, std::string* why);

/// A number from a flat JSON line (`"key": 12`); nullopt when absent or not a number.
std::optional<double> json_number(const std::string& json, const std::string& key);
/// True when the JSON line has `"key": []`.
bool json_empty_list(const std::string& json, const std::string& key);
/// The largest number written just before `suffix` in a server log (e.g. " stream frames"),
/// or -1 when there is none.
long number_before(const std::string& log, const std::string& suffix);
/// From spice_client.py watch's `"top_rects": [[x, y, w, h, n], ...]`: the rectangle with the
/// largest area among those invalidated at least 10 times (not the one full-picture draw of
/// the start). False when there is none.
bool largest_top_rect(const std::string& json, long out[5]);
/// The last non-empty line of `text`.
std::string last_line(const std::string& text);

// ---------------------------------------------------------------------------------------
// Raw sockets and the SPICE link

/// An owned, connected TCP socket to 127.0.0.1.
class Socket {
 public:
  Socket() = default;
  explicit Socket(int fd) : fd_(fd) {}
  Socket(Socket&& o) noexcept : fd_(o.fd_) { o.fd_ = -1; }
  Socket& operator=(Socket&& o) noexcept;
  Socket(const Socket&) = delete;
  Socket& operator=(const Socket&) = delete;
  ~Socket();
  static Socket connect_loopback(uint16_t port);
  int fd() const { return fd_; }
  bool valid() const { return fd_ >= 0; }
  /// Writes all bytes; false on error (e.g. the peer already closed).
  bool send_all(std::span<const uint8_t> bytes);
  /// Reads exactly n bytes; nullopt on EOF, error or timeout.
  std::optional<std::vector<uint8_t>> recv_exact(size_t n, std::chrono::milliseconds timeout);
  enum class Closed { kClosed, kTimeout };
  /// Reads until the peer closes or resets, appending what came (up to 1 MiB) to *data.
  Closed wait_closed(std::chrono::milliseconds timeout, std::vector<uint8_t>* data = nullptr);
  void close();

 private:
  int fd_ = -1;
};

/// Little-endian writers for building messages.
void put_u8(std::vector<uint8_t>& v, uint8_t x);
void put_u16(std::vector<uint8_t>& v, uint16_t x);
void put_u32(std::vector<uint8_t>& v, uint32_t x);
void put_u64(std::vector<uint8_t>& v, uint64_t x);
uint32_t get_u32(std::span<const uint8_t> v, size_t offset);

/// SpiceLinkHeader.
std::vector<uint8_t> link_header(uint32_t size, uint32_t major = 2, uint32_t minor = 2,
                                 uint32_t magic = 0x51444552 /* "REDQ" */);
/// SpiceLinkMess + caps words (caps_offset = 18, right after the struct).
std::vector<uint8_t> link_mess(uint8_t channel_type, uint8_t channel_id,
                               const std::vector<uint32_t>& common_caps,
                               const std::vector<uint32_t>& channel_caps,
                               uint32_t connection_id = 0);
/// Header + SpiceLinkMess as spice-gtk sends it: common caps AUTH_SELECTION, AUTH_SPICE,
/// MINI_HEADER.
std::vector<uint8_t> client_link_message(uint8_t channel_type, uint8_t channel_id = 0);

struct LinkReply {
  uint32_t error = 0;
  std::vector<uint8_t> pub_key;  // SPICE_TICKET_PUBKEY_BYTES
  std::vector<uint32_t> common_caps, channel_caps;
  bool has_common_cap(uint32_t bit) const;
};
/// Reads SpiceLinkHeader + SpiceLinkReply (a body above 64 KiB is refused, not read).
std::optional<LinkReply> read_link_reply(Socket& s, std::chrono::milliseconds timeout,
                                         std::string* error);
/// The error field of a link reply at the start of `bytes` (SpiceLinkHeader with magic
/// REDQ followed by at least the u32 error), or nullopt.
std::optional<uint32_t> link_reply_error(std::span<const uint8_t> bytes);
/// RSA-OAEP (SHA-1) encryption of `password` plus its NUL with the reply's DER key.
std::optional<std::vector<uint8_t>> encrypt_ticket(std::span<const uint8_t> pub_key_der,
                                                   const std::string& password);

struct LinkOutcome {
  bool got_reply = false;
  uint32_t reply_error = 0;
  bool got_result = false;
  uint32_t result = 0;
  bool server_mini_header = false;
  std::string failure;  // why the exchange stopped early (no reply, no result, ...)
};
/// The whole client side of a link: message, reply, auth mechanism (when both sides
/// have AUTH_SELECTION), the ticket (encrypted `password`, or `raw_ticket` when given)
/// and the u32 result. The socket stays open for the caller.
LinkOutcome raw_link(Socket& s, uint8_t channel_type, uint8_t channel_id,
                     const std::string& password,
                     const std::optional<std::vector<uint8_t>>& raw_ticket = std::nullopt,
                     std::chrono::milliseconds timeout = 10s);
/// A message after the link: mini header (type u16, size u32) or the full SpiceDataHeader.
std::vector<uint8_t> data_message(uint16_t type, uint32_t size_field,
                                  std::span<const uint8_t> body, bool mini_header,
                                  uint64_t serial = 1);

}  // namespace spiceflow::interop
