#include "harness.hpp"

#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <openssl/evp.h>
#include <openssl/rsa.h>
#include <openssl/x509.h>
#include <poll.h>
#include <signal.h>
#include <spawn.h>
#include <spice/protocol.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cmath>
#include <regex>
#include <cctype>
#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <memory>
#include <sstream>
#include <stdexcept>
#include <thread>

extern char** environ;

namespace spiceflow::interop {

// ---------------------------------------------------------------------------------------
// Paths and environment

std::string server_bin() {
#ifdef SPICEFLOW_BIN
  return SPICEFLOW_BIN;
#else
  return "spiceflow";
#endif
}

std::string client_script() {
#ifdef SPICEFLOW_CLIENT_PY
  return SPICEFLOW_CLIENT_PY;
#else
  return "spice_client.py";
#endif
}

std::string test_io() {
  const char* io = std::getenv("SPICEFLOW_TEST_IO");
  return io ? io : "";
}

namespace {

std::string sanitize(std::string s) {
  for (char& c : s) {
    if (!std::isalnum(static_cast<unsigned char>(c)) && c != '-' && c != '_') c = '_';
  }
  return s;
}

bool current_test_failed() {
  const auto* info = ::testing::UnitTest::GetInstance()->current_test_info();
  return info != nullptr && info->result() != nullptr && info->result()->Failed();
}

}  // namespace

TempDir::TempDir() {
  std::string name = "spiceflow-interop";
  if (const auto* info = ::testing::UnitTest::GetInstance()->current_test_info()) {
    name += "-" + sanitize(std::string(info->test_suite_name()) + "." + info->name());
  }
  const char* base = std::getenv("TMPDIR");
  std::string templ = (fs::path(base && *base ? base : "/tmp") / (name + "-XXXXXX")).string();
  std::vector<char> buf(templ.begin(), templ.end());
  buf.push_back('\0');
  if (mkdtemp(buf.data()) == nullptr) {
    throw std::runtime_error("mkdtemp " + templ + ": " + std::strerror(errno));
  }
  path_ = buf.data();
}

TempDir::~TempDir() {
  if (current_test_failed() || std::getenv("SPICEFLOW_TEST_KEEP")) {
    std::fprintf(stderr, "[interop] kept test directory %s\n", path_.c_str());
    return;
  }
  std::error_code ec;
  fs::remove_all(path_, ec);
}

std::string read_text(const fs::path& path) {
  std::ifstream in(path, std::ios::binary);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

std::string tail_of(const fs::path& path, size_t max_chars) {
  std::string s = read_text(path);
  return s.size() > max_chars ? "..." + s.substr(s.size() - max_chars) : s;
}

bool wait_until(const std::function<bool()>& pred, std::chrono::milliseconds timeout,
                std::chrono::milliseconds poll) {
  const auto deadline = Clock::now() + timeout;
  while (true) {
    if (pred()) return true;
    if (Clock::now() >= deadline) return pred();
    std::this_thread::sleep_for(poll);
  }
}

// ---------------------------------------------------------------------------------------
// Processes

Process Process::spawn(const std::vector<std::string>& argv, const fs::path& stdout_path,
                       const fs::path& stderr_path) {
  if (argv.empty()) throw std::runtime_error("Process::spawn: empty argv");
  posix_spawn_file_actions_t actions;
  posix_spawn_file_actions_init(&actions);
  posix_spawn_file_actions_addopen(&actions, 0, "/dev/null", O_RDONLY, 0);
  posix_spawn_file_actions_addopen(&actions, 1, stdout_path.c_str(),
                                   O_WRONLY | O_CREAT | O_TRUNC, 0644);
  posix_spawn_file_actions_addopen(&actions, 2, stderr_path.c_str(),
                                   O_WRONLY | O_CREAT | O_TRUNC, 0644);
  posix_spawnattr_t attr;
  posix_spawnattr_init(&attr);
  // Own process group (so the whole tree can be signalled), default signal handling and
  // an empty mask whatever the test runner set up (tshark must see SIGINT).
  sigset_t all, none;
  sigfillset(&all);
  sigemptyset(&none);
  posix_spawnattr_setpgroup(&attr, 0);
  posix_spawnattr_setsigdefault(&attr, &all);
  posix_spawnattr_setsigmask(&attr, &none);
  posix_spawnattr_setflags(&attr, POSIX_SPAWN_SETPGROUP | POSIX_SPAWN_SETSIGDEF |
                                      POSIX_SPAWN_SETSIGMASK);
  std::vector<char*> args;
  for (const auto& a : argv) args.push_back(const_cast<char*>(a.c_str()));
  args.push_back(nullptr);
  pid_t pid = -1;
  int rc = posix_spawnp(&pid, args[0], &actions, &attr, args.data(), environ);
  posix_spawn_file_actions_destroy(&actions);
  posix_spawnattr_destroy(&attr);
  if (rc != 0) {
    throw std::runtime_error("posix_spawnp " + argv[0] + ": " + std::strerror(rc));
  }
  return Process(pid, stdout_path, stderr_path);
}

Process::Process(Process&& other) noexcept
    : pid_(other.pid_), exit_code_(other.exit_code_), out_(other.out_), err_(other.err_) {
  other.pid_ = -1;
}

Process& Process::operator=(Process&& other) noexcept {
  if (this != &other) {
    if (pid_ > 0) stop(1s);
    pid_ = other.pid_;
    exit_code_ = other.exit_code_;
    out_ = other.out_;
    err_ = other.err_;
    other.pid_ = -1;
  }
  return *this;
}

Process::~Process() {
  if (pid_ > 0) stop(2s);
}

void Process::reap(int status) {
  if (WIFEXITED(status)) {
    exit_code_ = WEXITSTATUS(status);
  } else if (WIFSIGNALED(status)) {
    exit_code_ = 128 + WTERMSIG(status);
  } else {
    exit_code_ = -1;
  }
}

bool Process::running() {
  if (pid_ <= 0 || exit_code_) return false;
  int status = 0;
  pid_t r = waitpid(pid_, &status, WNOHANG);
  if (r == pid_) {
    reap(status);
    return false;
  }
  return r == 0;
}

std::optional<int> Process::wait_for(std::chrono::milliseconds timeout) {
  if (pid_ <= 0) return exit_code_;
  wait_until([this] { return !running(); }, timeout, 10ms);
  return exit_code_;
}

void Process::signal_group(int sig) const {
  if (pid_ > 0) ::kill(-pid_, sig);
}

int Process::stop(std::chrono::milliseconds grace) {
  if (pid_ <= 0) return exit_code_.value_or(-1);
  if (running()) {
    signal_group(SIGTERM);
    if (!wait_for(grace)) {
      signal_group(SIGKILL);
      int status = 0;
      if (waitpid(pid_, &status, 0) == pid_) reap(status);
    }
  }
  // Helpers the child started (tshark's dumpcap) may outlive it: the group goes too.
  signal_group(SIGKILL);
  int code = exit_code_.value_or(-1);
  pid_ = -1;
  return code;
}

namespace {
long proc_status_kib(pid_t pid, const char* key) {
  std::ifstream in("/proc/" + std::to_string(pid) + "/status");
  std::string line;
  const size_t n = std::strlen(key);
  while (std::getline(in, line)) {
    if (line.compare(0, n, key) == 0 && line.size() > n && line[n] == ':') {
      return std::strtol(line.c_str() + n + 1, nullptr, 10);
    }
  }
  return -1;
}
}  // namespace

long Process::status_kib(const char* key) const {
  return pid_ > 0 && !exit_code_ ? proc_status_kib(pid_, key) : -1;
}

std::string RunResult::describe() const {
  std::ostringstream os;
  if (timed_out) {
    os << "timed out";
  } else {
    os << "exit " << exit_code;
  }
  auto tail = [](const std::string& s) {
    return s.size() > 1500 ? "..." + s.substr(s.size() - 1500) : s;
  };
  os << "\n--- stdout:\n" << tail(out) << "\n--- stderr:\n" << tail(err);
  return os.str();
}

RunResult run_with_timeout(const std::vector<std::string>& argv, std::chrono::milliseconds timeout,
                           const fs::path& dir, const std::string& name) {
  RunResult r;
  const fs::path out = dir / (name + ".out"), err = dir / (name + ".err");
  try {
    Process p = Process::spawn(argv, out, err);
    if (auto code = p.wait_for(timeout)) {
      r.exit_code = *code;
    } else {
      r.timed_out = true;
      r.exit_code = p.stop(1s);
    }
  } catch (const std::exception& e) {
    r.err = e.what();
    return r;
  }
  r.out = read_text(out);
  r.err = read_text(err);
  return r;
}

// ---------------------------------------------------------------------------------------
// Ports

namespace {
int bind_loopback(uint16_t port) {
  int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0) return -1;
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_port = htons(port);
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  if (::bind(fd, reinterpret_cast<sockaddr*>(&a), sizeof a) != 0) {
    ::close(fd);
    return -1;
  }
  return fd;
}

uint16_t bound_port(int fd) {
  sockaddr_in a{};
  socklen_t len = sizeof a;
  ::getsockname(fd, reinterpret_cast<sockaddr*>(&a), &len);
  return ntohs(a.sin_port);
}
}  // namespace

uint16_t free_port() { return free_port_range(1); }

uint16_t free_port_range(int n) {
  for (int attempt = 0; attempt < 200; ++attempt) {
    int fd = bind_loopback(0);
    if (fd < 0) continue;
    const uint16_t first = bound_port(fd);
    std::vector<int> held{fd};
    bool ok = static_cast<int>(first) + n - 1 <= 65535;
    for (int i = 1; ok && i < n; ++i) {
      int more = bind_loopback(static_cast<uint16_t>(first + i));
      if (more < 0) ok = false; else held.push_back(more);
    }
    for (int h : held) ::close(h);
    if (ok) return first;
  }
  throw std::runtime_error("no free port range on 127.0.0.1");
}

bool port_open(uint16_t port) {
  Socket s = Socket::connect_loopback(port);
  return s.valid();
}

// ---------------------------------------------------------------------------------------
// Images

std::optional<Image> read_ppm(const fs::path& path, std::string* error) {
  auto fail = [&](const std::string& why) -> std::optional<Image> {
    if (error) *error = path.string() + ": " + why;
    return std::nullopt;
  };
  std::string data = read_text(path);
  if (data.empty()) return fail("missing or empty");
  if (data.compare(0, 2, "P6") != 0) return fail("not a binary PPM (P6)");
  size_t pos = 2;
  long fields[3] = {0, 0, 0};
  for (long& field : fields) {
    while (pos < data.size()) {  // whitespace and comments
      if (std::isspace(static_cast<unsigned char>(data[pos]))) {
        ++pos;
      } else if (data[pos] == '#') {
        while (pos < data.size() && data[pos] != '\n') ++pos;
      } else {
        break;
      }
    }
    size_t start = pos;
    while (pos < data.size() && std::isdigit(static_cast<unsigned char>(data[pos]))) ++pos;
    if (start == pos) return fail("truncated header");
    field = std::strtol(data.c_str() + start, nullptr, 10);
  }
  if (pos >= data.size() || !std::isspace(static_cast<unsigned char>(data[pos]))) {
    return fail("truncated header");
  }
  ++pos;  // the single whitespace byte before the raster
  if (fields[0] <= 0 || fields[1] <= 0 || fields[0] > 16384 || fields[1] > 16384) {
    return fail("bad size");
  }
  if (fields[2] != 255) return fail("maxval " + std::to_string(fields[2]) + " != 255");
  Image img;
  img.width = static_cast<int>(fields[0]);
  img.height = static_cast<int>(fields[1]);
  const size_t need = static_cast<size_t>(img.width) * img.height * 3;
  if (data.size() - pos < need) {
    return fail("raster truncated: " + std::to_string(data.size() - pos) + " of " +
                std::to_string(need) + " bytes");
  }
  const auto raster = data.begin() + static_cast<long>(pos);
  img.rgb.assign(raster, raster + static_cast<long>(need));
  return img;
}

std::optional<Image> wait_for_ppm(const fs::path& path, std::chrono::milliseconds timeout) {
  std::optional<Image> img;
  wait_until([&] { return (img = read_ppm(path)).has_value(); }, timeout, 50ms);
  return img;
}

ImageDiff compare_images(const Image& a, const Image& b) {
  ImageDiff d;
  d.a_size = std::to_string(a.width) + "x" + std::to_string(a.height);
  d.b_size = std::to_string(b.width) + "x" + std::to_string(b.height);
  if (a.width != b.width || a.height != b.height) {
    d.size_mismatch = true;
    return d;
  }
  d.total = static_cast<size_t>(a.width) * a.height;
  d.min_x = a.width;
  d.min_y = a.height;
  for (int y = 0; y < a.height; ++y) {
    for (int x = 0; x < a.width; ++x) {
      const uint8_t* pa = a.at(x, y);
      const uint8_t* pb = b.at(x, y);
      if (std::memcmp(pa, pb, 3) == 0) continue;
      if (d.differing++ == 0) {
        d.first_x = x;
        d.first_y = y;
        std::memcpy(d.first_a, pa, 3);
        std::memcpy(d.first_b, pb, 3);
      }
      d.min_x = std::min(d.min_x, x);
      d.min_y = std::min(d.min_y, y);
      d.max_x = std::max(d.max_x, x);
      d.max_y = std::max(d.max_y, y);
    }
  }
  return d;
}

std::string ImageDiff::describe() const {
  std::ostringstream os;
  if (size_mismatch) {
    os << "size differs: " << a_size << " vs " << b_size;
    return os.str();
  }
  os << differing << " of " << total << " pixels differ";
  if (differing) {
    auto rgb = [](const uint8_t* p) {
      std::ostringstream o;
      o << "(" << int(p[0]) << "," << int(p[1]) << "," << int(p[2]) << ")";
      return o.str();
    };
    os << "; first at (" << first_x << "," << first_y << "): " << rgb(first_a) << " vs "
       << rgb(first_b) << "; bounding box x " << min_x << ".." << max_x << ", y " << min_y
       << ".." << max_y;
  }
  return os.str();
}

size_t differing_near(const Image& a, const Image& b, int cx, int cy, int radius) {
  if (a.width != b.width || a.height != b.height) return 0;
  size_t n = 0;
  for (int y = std::max(0, cy - radius); y <= std::min(a.height - 1, cy + radius); ++y) {
    for (int x = std::max(0, cx - radius); x <= std::min(a.width - 1, cx + radius); ++x) {
      if (std::memcmp(a.at(x, y), b.at(x, y), 3) != 0) ++n;
    }
  }
  return n;
}

// ---------------------------------------------------------------------------------------
// The server under test

std::string Server::command_line() const {
  std::string s;
  for (const auto& a : argv_) s += (s.empty() ? "" : " ") + a;
  return s;
}

std::string Server::log_tail() const {
  return process_ ? tail_of(process_->stderr_path(), 3000) : std::string();
}

namespace {
std::string lower(std::string s) {
  for (char& c : s) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return s;
}

/// True when a log says an io_uring request could not be honoured.
bool log_says_uring_unavailable(const std::string& log) {
  std::istringstream in(lower(log));
  std::string line;
  while (std::getline(in, line)) {
    const bool about_uring = line.find("uring") != std::string::npos;
    const bool fell_back = line.find("fall") != std::string::npos ||
                           line.find("fell back") != std::string::npos;
    const bool unavailable = line.find("unavailable") != std::string::npos ||
                             line.find("not available") != std::string::npos ||
                             line.find("not supported") != std::string::npos;
    if (about_uring && (fell_back || unavailable)) return true;
  }
  return false;
}
/// True when a failed start's log blames io_uring.
bool log_refuses_uring(const std::string& log) {
  static const char* const kWhy[] = {"unavailable", "not available", "not supported",
                                     "failed",      "error",         "cannot",
                                     "enosys",      "eperm",         "not permitted",
                                     "not implemented"};
  std::istringstream in(lower(log));
  std::string line;
  while (std::getline(in, line)) {
    if (line.find("uring") == std::string::npos) continue;
    for (const char* why : kWhy) {
      if (line.find(why) != std::string::npos) return true;
    }
  }
  return false;
}
}  // namespace

StartStatus Server::start(const ServerOptions& o, std::string* message) {
  const std::string io = test_io();
  for (int attempt = 0; attempt < 3; ++attempt) {
    port_ = o.desktops > 1 ? free_port_range(o.desktops) : free_port();
    argv_ = {server_bin(), "serve", "--addr", "127.0.0.1", "--port", std::to_string(port_)};
    if (!io.empty()) argv_.insert(argv_.end(), {"--io", io});
    if (!o.synthetic.empty()) argv_.insert(argv_.end(), {"--synthetic", o.synthetic});
    if (!o.size.empty()) argv_.insert(argv_.end(), {"--size", o.size});
    if (o.frozen) argv_.push_back("--frozen");
    dump_.clear();
    if (o.dump_frame) {
      dump_ = dir_ / ("dump-" + std::to_string(port_) + ".ppm");
      argv_.insert(argv_.end(), {"--dump-frame", dump_.string()});
    }
    if (!o.password.empty()) argv_.insert(argv_.end(), {"--password", o.password});
    if (o.disable_ticketing) argv_.push_back("--disable-ticketing");
    if (!o.compression.empty()) argv_.insert(argv_.end(), {"--image-compression", o.compression});
    if (o.desktops != 1) argv_.insert(argv_.end(), {"--desktops", std::to_string(o.desktops)});
    if (o.fps > 0) argv_.insert(argv_.end(), {"--fps", std::to_string(o.fps)});
    if (o.password_expires >= 0) {
      argv_.insert(argv_.end(), {"--password-expires", std::to_string(o.password_expires)});
    }
    if (o.link_timeout >= 0) {
      argv_.insert(argv_.end(), {"--link-timeout", std::to_string(o.link_timeout)});
    }
    argv_.insert(argv_.end(), o.extra.begin(), o.extra.end());

    const std::string tag = "server-" + std::to_string(port_);
    process_.reset();
    process_.emplace(Process::spawn(argv_, dir_ / (tag + ".out"), dir_ / (tag + ".log")));
    const bool up = wait_until(
        [&] {
          if (!process_->running()) return true;
          for (int d = 0; d < o.desktops; ++d) {
            if (!port_open(port(d))) return false;
          }
          return true;
        },
        20s, 20ms);
    if (!process_->running()) {
      const std::string log = log_tail();
      const int code = process_->exit_code().value_or(-1);
      if (io == "uring" && (code == 1 || code == 2) && log_refuses_uring(log)) {
        *message = "io_uring unavailable: `" + command_line() + "` exited with " +
                   std::to_string(process_->exit_code().value_or(-1)) + ":\n" + log;
        return StartStatus::kSkip;
      }
      const std::string l = lower(log);
      if (l.find("in use") != std::string::npos || l.find("eaddrinuse") != std::string::npos) {
        continue;  // lost the race for the port: try another
      }
      *message = "`" + command_line() + "` exited with " +
                 std::to_string(process_->exit_code().value_or(-1)) + " before listening:\n" + log;
      return StartStatus::kFail;
    }
    if (!up) {
      *message = "`" + command_line() + "` is not listening after 20 s:\n" + log_tail();
      return StartStatus::kFail;
    }
    if (io == "uring" && log_says_uring_unavailable(process_->stderr_text())) {
      *message = "io_uring unavailable, the server fell back:\n" + log_tail();
      return StartStatus::kSkip;
    }
    if (o.dump_frame) {
      auto img = wait_for_ppm(dump_, 20s);
      if (!img) {
        std::string why;
        read_ppm(dump_, &why);
        *message = "`" + command_line() + "`: no complete --dump-frame after 20 s (" + why +
                   "):\n" + log_tail();
        return StartStatus::kFail;
      }
      dump_image_ = std::move(*img);
    }
    return StartStatus::kOk;
  }
  *message = "could not bind a free port in 3 attempts:\n" + log_tail();
  return StartStatus::kFail;
}

// ---------------------------------------------------------------------------------------
// Real clients

RunResult spicy_screenshot(uint16_t port, const fs::path& out, const fs::path& dir,
                           const std::string& password, std::chrono::milliseconds timeout) {
  std::vector<std::string> argv = {"spicy-screenshot", "-h", "127.0.0.1", "-p",
                                   std::to_string(port), "-o", out.string()};
  if (!password.empty()) argv.insert(argv.end(), {"-w", password});
  return run_with_timeout(argv, timeout, dir, "spicy-screenshot-" + out.stem().string());
}

std::vector<std::string> spice_client_argv(const std::vector<std::string>& args) {
  std::vector<std::string> argv = {kPython, client_script()};
  argv.insert(argv.end(), args.begin(), args.end());
  return argv;
}

RunResult spice_client(const std::vector<std::string>& args, const fs::path& dir,
                       const std::string& name, std::chrono::milliseconds timeout) {
  return run_with_timeout(spice_client_argv(args), timeout, dir, name);
}

bool make_certificates(const fs::path& dir, std::string* why) {
  const std::string d = dir.string();
  const std::vector<std::vector<std::string>> steps = {
      {"openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "2", "-subj",
       "/CN=spiceflow test CA", "-keyout", d + "/ca-key.pem", "-out", d + "/ca-cert.pem"},
      {"openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "2", "-subj",
       "/CN=some other CA", "-keyout", d + "/other-key.pem", "-out", d + "/other-ca.pem"},
      {"openssl", "req", "-newkey", "rsa:2048", "-nodes", "-subj", "/CN=127.0.0.1", "-keyout",
       d + "/server-key.pem", "-out", d + "/server.csr"},
      {"openssl", "x509", "-req", "-days", "2", "-in", d + "/server.csr", "-CA",
       d + "/ca-cert.pem", "-CAkey", d + "/ca-key.pem", "-CAcreateserial", "-extfile",
       d + "/san.cnf", "-out", d + "/server-cert.pem"},
  };
  {
    std::ofstream san(dir / "san.cnf");
    san << "subjectAltName=IP:127.0.0.1,DNS:localhost\n";
  }
  int i = 0;
  for (const auto& argv : steps) {
    RunResult r = run_with_timeout(argv, 60s, dir, "openssl" + std::to_string(i++));
    if (r.exit_code != 0) {
      *why = "openssl failed: " + r.describe();
      return false;
    }
  }
  return true;
}

std::optional<double> json_number(const std::string& json, const std::string& key) {
  const std::string needle = "\"" + key + "\":";
  size_t pos = json.find(needle);
  if (pos == std::string::npos) return std::nullopt;
  pos += needle.size();
  while (pos < json.size() && json[pos] == ' ') ++pos;
  const char* start = json.c_str() + pos;
  char* end = nullptr;
  double v = std::strtod(start, &end);
  if (end == start) return std::nullopt;
  return v;
}

bool json_empty_list(const std::string& json, const std::string& key) {
  const std::string needle = "\"" + key + "\":";
  size_t pos = json.find(needle);
  if (pos == std::string::npos) return false;
  pos += needle.size();
  while (pos < json.size() && json[pos] == ' ') ++pos;
  return json.compare(pos, 2, "[]") == 0;
}

double psnr_in(const Image& a, const Image& b, long x0, long y0, long w, long h, PixelBox skip) {
  double se = 0;
  size_t n = 0;
  for (long y = std::max(0L, y0); y < y0 + h && y < a.height && y < b.height; ++y) {
    for (long x = std::max(0L, x0); x < x0 + w && x < a.width && x < b.width; ++x) {
      if (skip.has(x, y)) continue;
      for (int c = 0; c < 3; ++c) {
        const double d = double(a.at(int(x), int(y))[c]) - double(b.at(int(x), int(y))[c]);
        se += d * d;
        ++n;
      }
    }
  }
  if (n == 0) return 0;
  const double mse = se / double(n);
  return mse == 0 ? 99.0 : 10.0 * std::log10(255.0 * 255.0 / mse);
}

long number_before(const std::string& log, const std::string& suffix) {
  const std::regex re("(\\d+)" + suffix);
  long best = -1;
  for (std::sregex_iterator it(log.begin(), log.end(), re), end; it != end; ++it) {
    best = std::max(best, std::stol((*it)[1].str()));
  }
  return best;
}

bool largest_top_rect(const std::string& json, long out[5]) {
  static const std::regex re(R"(\[(\d+), (\d+), (\d+), (\d+), (\d+)\])");
  const auto at = json.find("\"top_rects\"");
  if (at == std::string::npos) return false;
  const std::string list = json.substr(at, json.find("]]", at) + 2 - at);
  bool found = false;
  for (std::sregex_iterator it(list.begin(), list.end(), re), end; it != end; ++it) {
    long v[5];
    for (int i = 0; i < 5; ++i) v[i] = std::stol((*it)[i + 1].str());
    if (v[4] < 10) continue;
    if (!found || v[2] * v[3] > out[2] * out[3]) std::copy(v, v + 5, out);
    found = true;
  }
  return found;
}

std::string last_line(const std::string& text) {
  std::istringstream in(text);
  std::string line, last;
  while (std::getline(in, line)) {
    if (!line.empty()) last = line;
  }
  return last;
}

// ---------------------------------------------------------------------------------------
// Raw sockets and the SPICE link

Socket& Socket::operator=(Socket&& o) noexcept {
  if (this != &o) {
    close();
    fd_ = o.fd_;
    o.fd_ = -1;
  }
  return *this;
}

Socket::~Socket() { close(); }

void Socket::close() {
  if (fd_ >= 0) ::close(fd_);
  fd_ = -1;
}

Socket Socket::connect_loopback(uint16_t port) {
  int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0) return Socket();
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_port = htons(port);
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  if (::connect(fd, reinterpret_cast<sockaddr*>(&a), sizeof a) != 0) {
    ::close(fd);
    return Socket();
  }
  return Socket(fd);
}

bool Socket::send_all(std::span<const uint8_t> bytes) {
  size_t done = 0;
  while (done < bytes.size()) {
    ssize_t n = ::send(fd_, bytes.data() + done, bytes.size() - done, MSG_NOSIGNAL);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) return false;
    done += static_cast<size_t>(n);
  }
  return true;
}

std::optional<std::vector<uint8_t>> Socket::recv_exact(size_t n,
                                                       std::chrono::milliseconds timeout) {
  std::vector<uint8_t> buf(n);
  size_t got = 0;
  const auto deadline = Clock::now() + timeout;
  while (got < n) {
    auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - Clock::now());
    if (left.count() <= 0) return std::nullopt;
    pollfd p{fd_, POLLIN, 0};
    int pr = ::poll(&p, 1, static_cast<int>(left.count()));
    if (pr < 0 && errno == EINTR) continue;
    if (pr <= 0) return std::nullopt;
    ssize_t r = ::recv(fd_, buf.data() + got, n - got, 0);
    if (r < 0 && errno == EINTR) continue;
    if (r <= 0) return std::nullopt;
    got += static_cast<size_t>(r);
  }
  return buf;
}

Socket::Closed Socket::wait_closed(std::chrono::milliseconds timeout, std::vector<uint8_t>* data) {
  const auto deadline = Clock::now() + timeout;
  uint8_t buf[65536];
  while (true) {
    auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - Clock::now());
    if (left.count() <= 0) return Closed::kTimeout;
    pollfd p{fd_, POLLIN, 0};
    int pr = ::poll(&p, 1, static_cast<int>(left.count()));
    if (pr < 0 && errno == EINTR) continue;
    if (pr == 0) return Closed::kTimeout;
    ssize_t r = ::recv(fd_, buf, sizeof buf, 0);
    if (r < 0 && errno == EINTR) continue;
    if (r <= 0) return Closed::kClosed;  // EOF or reset
    if (data && data->size() < (1u << 20)) data->insert(data->end(), buf, buf + r);
  }
}

void put_u8(std::vector<uint8_t>& v, uint8_t x) { v.push_back(x); }
void put_u16(std::vector<uint8_t>& v, uint16_t x) {
  for (int i = 0; i < 2; ++i) v.push_back(static_cast<uint8_t>(x >> (8 * i)));
}
void put_u32(std::vector<uint8_t>& v, uint32_t x) {
  for (int i = 0; i < 4; ++i) v.push_back(static_cast<uint8_t>(x >> (8 * i)));
}
void put_u64(std::vector<uint8_t>& v, uint64_t x) {
  for (int i = 0; i < 8; ++i) v.push_back(static_cast<uint8_t>(x >> (8 * i)));
}
uint32_t get_u32(std::span<const uint8_t> v, size_t offset) {
  uint32_t x = 0;
  for (int i = 3; i >= 0; --i) x = (x << 8) | v[offset + static_cast<size_t>(i)];
  return x;
}

std::vector<uint8_t> link_header(uint32_t size, uint32_t major, uint32_t minor, uint32_t magic) {
  std::vector<uint8_t> v;
  put_u32(v, magic);
  put_u32(v, major);
  put_u32(v, minor);
  put_u32(v, size);
  return v;
}

std::vector<uint8_t> link_mess(uint8_t channel_type, uint8_t channel_id,
                               const std::vector<uint32_t>& common_caps,
                               const std::vector<uint32_t>& channel_caps, uint32_t connection_id) {
  std::vector<uint8_t> v;
  put_u32(v, connection_id);
  put_u8(v, channel_type);
  put_u8(v, channel_id);
  put_u32(v, static_cast<uint32_t>(common_caps.size()));
  put_u32(v, static_cast<uint32_t>(channel_caps.size()));
  put_u32(v, sizeof(SpiceLinkMess));
  for (uint32_t c : common_caps) put_u32(v, c);
  for (uint32_t c : channel_caps) put_u32(v, c);
  return v;
}

std::vector<uint8_t> client_link_message(uint8_t channel_type, uint8_t channel_id) {
  const uint32_t common = (1u << SPICE_COMMON_CAP_PROTOCOL_AUTH_SELECTION) |
                          (1u << SPICE_COMMON_CAP_AUTH_SPICE) |
                          (1u << SPICE_COMMON_CAP_MINI_HEADER);
  std::vector<uint8_t> body = link_mess(channel_type, channel_id, {common}, {});
  std::vector<uint8_t> msg = link_header(static_cast<uint32_t>(body.size()));
  msg.insert(msg.end(), body.begin(), body.end());
  return msg;
}

bool LinkReply::has_common_cap(uint32_t bit) const {
  return bit / 32 < common_caps.size() && (common_caps[bit / 32] >> (bit % 32)) & 1u;
}

std::optional<LinkReply> read_link_reply(Socket& s, std::chrono::milliseconds timeout,
                                         std::string* error) {
  auto fail = [&](const std::string& why) -> std::optional<LinkReply> {
    if (error) *error = why;
    return std::nullopt;
  };
  auto head = s.recv_exact(sizeof(SpiceLinkHeader), timeout);
  if (!head) return fail("no SpiceLinkHeader in reply (connection closed or timed out)");
  if (get_u32(*head, 0) != SPICE_MAGIC) return fail("reply magic is not REDQ");
  const uint32_t major = get_u32(*head, 4), size = get_u32(*head, 12);
  if (major != SPICE_VERSION_MAJOR) {
    return fail("reply major version " + std::to_string(major));
  }
  if (size < sizeof(SpiceLinkReply) || size > 65536) {
    return fail("reply size " + std::to_string(size) + " out of range");
  }
  auto body = s.recv_exact(size, timeout);
  if (!body) return fail("reply body truncated");
  LinkReply r;
  r.error = get_u32(*body, 0);
  r.pub_key.assign(body->begin() + 4, body->begin() + 4 + SPICE_TICKET_PUBKEY_BYTES);
  const size_t base = 4 + SPICE_TICKET_PUBKEY_BYTES;
  const uint32_t n_common = get_u32(*body, base), n_channel = get_u32(*body, base + 4);
  const uint32_t caps_offset = get_u32(*body, base + 8);
  if (n_common + n_channel > 0) {
    if (caps_offset < sizeof(SpiceLinkReply) ||
        static_cast<uint64_t>(caps_offset) + 4ull * (n_common + n_channel) > size) {
      return fail("reply caps out of range");
    }
    for (uint32_t i = 0; i < n_common + n_channel; ++i) {
      uint32_t word = get_u32(*body, caps_offset + 4 * i);
      (i < n_common ? r.common_caps : r.channel_caps).push_back(word);
    }
  }
  return r;
}

std::optional<uint32_t> link_reply_error(std::span<const uint8_t> bytes) {
  if (bytes.size() < sizeof(SpiceLinkHeader) + 4 || get_u32(bytes, 0) != SPICE_MAGIC) {
    return std::nullopt;
  }
  return get_u32(bytes, sizeof(SpiceLinkHeader));
}

std::optional<std::vector<uint8_t>> encrypt_ticket(std::span<const uint8_t> pub_key_der,
                                                   const std::string& password) {
  const unsigned char* p = pub_key_der.data();
  std::unique_ptr<EVP_PKEY, decltype(&EVP_PKEY_free)> key(
      d2i_PUBKEY(nullptr, &p, static_cast<long>(pub_key_der.size())), &EVP_PKEY_free);
  if (!key) return std::nullopt;
  std::unique_ptr<EVP_PKEY_CTX, decltype(&EVP_PKEY_CTX_free)> ctx(
      EVP_PKEY_CTX_new(key.get(), nullptr), &EVP_PKEY_CTX_free);
  if (!ctx || EVP_PKEY_encrypt_init(ctx.get()) <= 0 ||
      EVP_PKEY_CTX_set_rsa_padding(ctx.get(), RSA_PKCS1_OAEP_PADDING) <= 0) {
    return std::nullopt;
  }
  const auto* in = reinterpret_cast<const unsigned char*>(password.c_str());
  const size_t in_len = password.size() + 1;  // the NUL goes too, as spice-gtk sends it
  size_t out_len = 0;
  if (EVP_PKEY_encrypt(ctx.get(), nullptr, &out_len, in, in_len) <= 0) return std::nullopt;
  std::vector<uint8_t> out(out_len);
  if (EVP_PKEY_encrypt(ctx.get(), out.data(), &out_len, in, in_len) <= 0) return std::nullopt;
  out.resize(out_len);
  return out;
}

LinkOutcome raw_link(Socket& s, uint8_t channel_type, uint8_t channel_id,
                     const std::string& password,
                     const std::optional<std::vector<uint8_t>>& raw_ticket,
                     std::chrono::milliseconds timeout) {
  LinkOutcome o;
  if (!s.send_all(client_link_message(channel_type, channel_id))) {
    o.failure = "sending the link message failed";
    return o;
  }
  std::string why;
  auto reply = read_link_reply(s, timeout, &why);
  if (!reply) {
    o.failure = why;
    return o;
  }
  o.got_reply = true;
  o.reply_error = reply->error;
  o.server_mini_header = reply->has_common_cap(SPICE_COMMON_CAP_MINI_HEADER);
  if (reply->error != SPICE_LINK_ERR_OK) return o;
  std::vector<uint8_t> out;
  if (reply->has_common_cap(SPICE_COMMON_CAP_PROTOCOL_AUTH_SELECTION)) {
    put_u32(out, SPICE_COMMON_CAP_AUTH_SPICE);
  }
  if (raw_ticket) {
    out.insert(out.end(), raw_ticket->begin(), raw_ticket->end());
  } else {
    auto ticket = encrypt_ticket(reply->pub_key, password);
    if (!ticket) {
      o.failure = "the server's public key does not load as DER SubjectPublicKeyInfo/RSA";
      return o;
    }
    out.insert(out.end(), ticket->begin(), ticket->end());
  }
  if (!s.send_all(out)) {
    o.failure = "sending the ticket failed";
    return o;
  }
  auto result = s.recv_exact(4, timeout);
  if (!result) {
    o.failure = "no link result after the ticket";
    return o;
  }
  o.got_result = true;
  o.result = get_u32(*result, 0);
  return o;
}

std::vector<uint8_t> data_message(uint16_t type, uint32_t size_field, std::span<const uint8_t> body,
                                  bool mini_header, uint64_t serial) {
  std::vector<uint8_t> v;
  if (mini_header) {
    put_u16(v, type);
    put_u32(v, size_field);
  } else {
    put_u64(v, serial);
    put_u16(v, type);
    put_u32(v, size_field);
    put_u32(v, 0);  // sub_list
  }
  v.insert(v.end(), body.begin(), body.end());
  return v;
}

}  // namespace spiceflow::interop
