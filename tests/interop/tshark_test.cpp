// An independent reading of our bytes: Wireshark's SPICE dissector must decode a whole
// plaintext session (link, ticket, main and display messages, inputs) without a malformed
// packet or a SPICE-level warning. TCP flow-control notes (zero window, window full, a
// client's RST on exit) are the kernel's and the clients' doing and are allowed.
#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <set>
#include <sstream>
#include <thread>

#include "harness.hpp"

namespace spiceflow::interop {
namespace {

constexpr uint32_t kExpertSeverityWarning = 0x00600000;  // PI_WARN
constexpr uint32_t kExpertGroupSequence = 0x02000000;    // PI_SEQUENCE (TCP analysis)

std::vector<std::string> split(const std::string& s, char sep) {
  std::vector<std::string> out;
  std::string item;
  std::istringstream in(s);
  while (std::getline(in, item, sep)) out.push_back(item);
  return out;
}

/// A listening socket on a free loopback port (the capture probe's peer).
class Listener {
 public:
  Listener() {
    fd_ = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    sockaddr_in a{};
    a.sin_family = AF_INET;
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    socklen_t len = sizeof a;
    if (fd_ < 0 || ::bind(fd_, reinterpret_cast<sockaddr*>(&a), sizeof a) != 0 ||
        ::listen(fd_, 16) != 0 || ::getsockname(fd_, reinterpret_cast<sockaddr*>(&a), &len) != 0) {
      if (fd_ >= 0) ::close(fd_);
      fd_ = -1;
      return;
    }
    port_ = ntohs(a.sin_port);
  }
  ~Listener() {
    if (fd_ >= 0) ::close(fd_);
  }
  Listener(const Listener&) = delete;
  Listener& operator=(const Listener&) = delete;
  bool valid() const { return fd_ >= 0; }
  uint16_t port() const { return port_; }
  void accept_and_close() {
    pollfd p{fd_, POLLIN, 0};
    if (::poll(&p, 1, 1000) == 1) {
      int c = ::accept4(fd_, nullptr, nullptr, SOCK_CLOEXEC);
      if (c >= 0) ::close(c);
    }
  }

 private:
  int fd_ = -1;
  uint16_t port_ = 0;
};

/// A tshark capture of loopback traffic to one port, stopped on destruction.
class Capture {
 public:
  Capture(const TempDir& dir, uint16_t port) : dir_(dir.path()), port_(port) {
    file_ = dir_ / "cap.pcapng";
  }

  /// Starts tshark and waits until it is capturing. false (with *why) when it cannot.
  /// "Capturing on" comes before the filter is really attached, so the capture is only
  /// trusted once a probe connection to a port of our own shows up in the file.
  bool start(std::string* why) {
    Listener probe;
    if (!probe.valid()) {
      *why = "cannot listen for the capture probe";
      return false;
    }
    const std::string filter = "tcp port " + std::to_string(port_) + " or tcp port " +
                               std::to_string(probe.port());
    // -B: a 64 MiB kernel buffer, so a burst of raw bitmaps over loopback is not dropped.
    // -l -P: a summary line per packet on stdout right away (the file is written in
    // blocks), which shows when the probe was seen.
    proc_.emplace(Process::spawn({"tshark", "-i", "lo", "-B", "64", "-f", filter, "-l", "-P",
                                  "-w", file_.string()},
                                 dir_ / "tshark.out", dir_ / "tshark.err"));
    const bool up = wait_until(
        [&] {
          return !proc_->running() ||
                 proc_->stderr_text().find("Capturing on") != std::string::npos;
        },
        20s, 50ms);
    if (!up || !proc_->running()) {
      *why = "tshark is not capturing: " + tail_of(dir_ / "tshark.err");
      return false;
    }
    const std::string probe_port = std::to_string(probe.port());
    const bool live = wait_until(
        [&] {
          Socket s = Socket::connect_loopback(probe.port());
          probe.accept_and_close();
          std::this_thread::sleep_for(200ms);
          return proc_->stdout_text().find(probe_port) != std::string::npos;
        },
        15s, 100ms);
    if (!live) {
      *why = "tshark captured no probe packet in 15 s: " + tail_of(dir_ / "tshark.err");
      return false;
    }
    return true;
  }

  /// Stops the capture (SIGINT, as at a terminal) and waits for the file.
  bool stop(std::string* why) {
    std::this_thread::sleep_for(500ms);  // let the last segments reach the capture
    proc_->signal_group(SIGINT);
    if (!proc_->wait_for(15s)) {
      *why = "tshark did not stop on SIGINT";
      return false;
    }
    return true;
  }

  /// tshark -r cap.pcapng -d tcp.port==PORT,spice ARGS...
  RunResult read(const std::vector<std::string>& args, const std::string& name) {
    // Packets captured on different CPUs can land in the file out of order; without
    // out-of-order reassembly a reordered segment hides the message it belongs to.
    std::vector<std::string> argv = {"tshark", "-r", file_.string(), "-o",
                                     "tcp.reassemble_out_of_order:TRUE", "-d",
                                     "tcp.port==" + std::to_string(port_) + ",spice"};
    argv.insert(argv.end(), args.begin(), args.end());
    return run_with_timeout(argv, 60s, dir_, name);
  }

  /// Expert items of warning level or above that are not TCP sequence analysis, and
  /// malformed packets, one line each. With `lz4_undecoded_ok`, the two items Wireshark
  /// 4.0 raises for every LZ4 image (it has no LZ4 decoder: "Unknown image type - cannot
  /// dissect", "... not fully dissected") are allowed on frames whose images are all LZ4.
  std::vector<std::string> problems(bool lz4_undecoded_ok = false) {
    RunResult r = read({"-Y", "_ws.malformed || _ws.expert.severity >= warning", "-T", "fields",
                        "-E", "aggregator=|", "-e", "frame.number", "-e", "_ws.expert.message",
                        "-e", "_ws.expert.severity", "-e", "_ws.expert.group", "-e",
                        "_ws.malformed", "-e", "spice.image_type"},
                       "problems");
    std::vector<std::string> out;
    if (r.exit_code != 0) {
      out.push_back("tshark -r failed: " + r.describe());
      return out;
    }
    for (const std::string& line : split(r.out, '\n')) {
      if (line.empty()) continue;
      auto cols = split(line, '\t');
      cols.resize(6);
      bool all_lz4 = !cols[5].empty();
      for (const std::string& t : split(cols[5], '|')) all_lz4 = all_lz4 && t == "109";
      if (!cols[4].empty()) {
        out.push_back("frame " + cols[0] + ": malformed: " + cols[1]);
        continue;
      }
      auto msgs = split(cols[1], '|'), sev = split(cols[2], '|'), grp = split(cols[3], '|');
      for (size_t i = 0; i < msgs.size() && i < sev.size() && i < grp.size(); ++i) {
        if (sev[i].empty() || grp[i].empty()) continue;
        const auto s = std::stoul(sev[i]), g = std::stoul(grp[i]);
        const bool lz4_gap = msgs[i] == "Unknown image type - cannot dissect" ||
                             msgs[i].find("not fully dissected") != std::string::npos;
        if (lz4_undecoded_ok && all_lz4 && lz4_gap) continue;
        if (s >= kExpertSeverityWarning && g != kExpertGroupSequence) {
          out.push_back("frame " + cols[0] + ": " + msgs[i]);
        }
      }
    }
    return out;
  }

  /// Frames where TCP analysis saw a gap (a drop, or reordering in the capture).
  size_t lost_segments() {
    RunResult r = read({"-Y", "tcp.analysis.lost_segment", "-T", "fields", "-e", "frame.number"},
                       "lost");
    return split(r.out, '\n').size();
  }

  /// The Info column of every SPICE frame.
  std::string spice_infos() {
    return read({"-Y", "spice", "-T", "fields", "-e", "_ws.col.Info"}, "infos").out;
  }

  /// Every value of a field over the capture.
  std::set<std::string> values(const std::string& field) {
    RunResult r = read({"-Y", field, "-T", "fields", "-E", "aggregator=,", "-e", field}, "values");
    std::set<std::string> out;
    for (const std::string& line : split(r.out, '\n')) {
      for (const std::string& v : split(line, ',')) {
        if (!v.empty()) out.insert(v);
      }
    }
    return out;
  }

 private:
  fs::path dir_;
  uint16_t port_;
  fs::path file_;
  std::optional<Process> proc_;
};

bool tshark_installed(const TempDir& dir) {
  RunResult r = run_with_timeout({"tshark", "--version"}, 20s, dir.path(), "tshark-version");
  return r.exit_code == 0;
}

std::string join(const std::vector<std::string>& v) {
  std::string s;
  for (const auto& x : v) s += x + "\n";
  return s;
}

TEST(Tshark, PlaintextSessionDissectsCleanly) {
  TempDir dir;
  if (!tshark_installed(dir)) GTEST_SKIP() << "tshark is not installed";
  Server server(dir);
  ServerOptions o;
  o.password = "wire-pass";
  o.compression = "off";
  o.size = "320x240";
  SPICEFLOW_START_SERVER(server, o);
  const std::string port = std::to_string(server.port());

  Capture cap(dir, server.port());
  std::string why;
  if (!cap.start(&why)) GTEST_SKIP() << why;

  RunResult shot = spicy_screenshot(server.port(), dir / "shot.ppm", dir.path(), "wire-pass");
  EXPECT_EQ(shot.exit_code, 0) << shot.describe();
  RunResult watch = spice_client({"watch", "127.0.0.1", port, "2", "--password", "wire-pass"},
                                 dir.path(), "watch");
  EXPECT_EQ(watch.exit_code, 0) << watch.describe();
  RunResult input = spice_client({"input", "127.0.0.1", port, "--password", "wire-pass",
                                  "--keys", "0x1e,0x30", "--click", "100,100"},
                                 dir.path(), "input");
  EXPECT_EQ(input.exit_code, 0) << input.describe();
  RunResult refused = spicy_screenshot(server.port(), dir / "refused.ppm", dir.path(), "nope");
  EXPECT_NE(refused.exit_code, 0) << refused.describe();
  ASSERT_TRUE(cap.stop(&why)) << why;

  auto problems = cap.problems();
  EXPECT_TRUE(problems.empty()) << "the SPICE dissector objects:\n" << join(problems);

  const std::string infos = cap.spice_infos();
  const size_t gaps = cap.lost_segments();
  for (const char* want :
       {"Client link message", "Server link message", "Client ticket", "Server ticket",
        "Server INIT", "Client ATTACH_CHANNELS", "Server CHANNELS_LIST", "Client INIT",
        "SURFACE_CREATE", "DRAW_COPY", "KEY_DOWN", "KEY_UP", "MOUSE_PRESS", "MOUSE_RELEASE"}) {
    EXPECT_NE(infos.find(want), std::string::npos)
        << "no '" << want << "' decoded (TCP analysis saw " << gaps << " capture gaps)";
  }
  // Raw bitmaps with --image-compression off.
  auto types = cap.values("spice.image_type");
  EXPECT_EQ(types, std::set<std::string>{"0"}) << "image types seen: " << types.size();
  // The good links got result 0, the wrong password PERMISSION_DENIED (7).
  auto results = cap.values("spice.ticket_server");
  EXPECT_TRUE(results.count("0")) << "no successful link result decoded";
  EXPECT_TRUE(results.count("7")) << "no PERMISSION_DENIED link result decoded";
  EXPECT_EQ(results.size(), 2u);
}

TEST(Tshark, Lz4SessionUsesLz4Images) {
  TempDir dir;
  if (!tshark_installed(dir)) GTEST_SKIP() << "tshark is not installed";
  Server server(dir);
  ServerOptions o;
  o.compression = "lz4";
  o.size = "320x240";
  SPICEFLOW_START_SERVER(server, o);
  Capture cap(dir, server.port());
  std::string why;
  if (!cap.start(&why)) GTEST_SKIP() << why;
  RunResult shot = spicy_screenshot(server.port(), dir / "shot.ppm", dir.path());
  EXPECT_EQ(shot.exit_code, 0) << shot.describe();
  ASSERT_TRUE(cap.stop(&why)) << why;

  auto problems = cap.problems(/*lz4_undecoded_ok=*/true);
  EXPECT_TRUE(problems.empty()) << "the SPICE dissector objects:\n" << join(problems);
  auto types = cap.values("spice.image_type");
  EXPECT_TRUE(types.count("109")) << "no LZ4 image (type 109) although the client has the cap"
                                  << " (TCP analysis saw " << cap.lost_segments()
                                  << " capture gaps)";
  EXPECT_TRUE(cap.spice_infos().find("DRAW_COPY") != std::string::npos);
}

// GLZ (102) and ZLIB_GLZ (107) images, a watcher through a small GLZ window (its images copy
// from earlier ones and slide the window) plus a screenshot: dissected without complaint.
TEST(Tshark, GlzSessionDissectsCleanly) {
  TempDir dir;
  if (!tshark_installed(dir)) GTEST_SKIP() << "tshark is not installed";
  Server server(dir);
  ServerOptions o;
  o.compression = "glz";
  o.synthetic = "scroll-text";
  o.size = "320x240";
  o.frozen = false;
  o.fps = 20;
  o.extra = {"--streaming-video", "off", "--zlib-glz-wan-compression", "always"};
  SPICEFLOW_START_SERVER(server, o);
  Capture cap(dir, server.port());
  std::string why;
  if (!cap.start(&why)) GTEST_SKIP() << why;
  RunResult watch = spice_client({"watch", "127.0.0.1", std::to_string(server.port()), "1.5",
                                  "--glz-window", std::to_string(4 * 100000)},
                                 dir.path(), "watch");
  EXPECT_EQ(watch.exit_code, 0) << watch.describe();
  RunResult shot = spicy_screenshot(server.port(), dir / "shot.ppm", dir.path());
  EXPECT_EQ(shot.exit_code, 0) << shot.describe();
  ASSERT_TRUE(cap.stop(&why)) << why;

  auto problems = cap.problems();
  EXPECT_TRUE(problems.empty()) << "the SPICE dissector objects:\n" << join(problems);
  auto types = cap.values("spice.image_type");
  EXPECT_TRUE(types.count("102") || types.count("107"))
      << "no GLZ image (TCP analysis saw " << cap.lost_segments() << " capture gaps)";
  EXPECT_TRUE(server.running()) << server.log_tail();
}

}  // namespace
}  // namespace spiceflow::interop
