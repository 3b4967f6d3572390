// Tickets: the exact link result a wrong, expired or right password gets (checked with a
// raw-socket client doing the real RSA-OAEP exchange), refusals that do not disturb a
// connected client, and the refusal to serve a non-loopback address without a password.
#include <spice/protocol.h>

#include <thread>

#include "harness.hpp"

namespace spiceflow::interop {
namespace {

/// Links the main channel with `password`; returns the outcome.
LinkOutcome link_main(uint16_t port, const std::string& password) {
  Socket s = Socket::connect_loopback(port);
  if (!s.valid()) {
    LinkOutcome o;
    o.failure = "connect failed";
    return o;
  }
  return raw_link(s, SPICE_CHANNEL_MAIN, 0, password);
}

std::string describe(const LinkOutcome& o) {
  std::string s = "reply " + (o.got_reply ? std::to_string(o.reply_error) : "none") +
                  ", result " + (o.got_result ? std::to_string(o.result) : "none");
  if (!o.failure.empty()) s += " (" + o.failure + ")";
  return s;
}

TEST(Auth, RightPasswordLinks) {
  TempDir dir;
  Server server(dir);
  ServerOptions o;
  o.password = "open-sesame";
  SPICEFLOW_START_SERVER(server, o);
  LinkOutcome r = link_main(server.port(), "open-sesame");
  ASSERT_TRUE(r.got_reply) << describe(r);
  EXPECT_EQ(r.reply_error, static_cast<uint32_t>(SPICE_LINK_ERR_OK)) << describe(r);
  ASSERT_TRUE(r.got_result) << describe(r);
  EXPECT_EQ(r.result, static_cast<uint32_t>(SPICE_LINK_ERR_OK)) << describe(r);
}

TEST(Auth, LoopbackWithoutPasswordAcceptsAnyTicket) {
  TempDir dir;
  Server server(dir);
  SPICEFLOW_START_SERVER(server, ServerOptions{});
  for (const std::string ticket : {"", "anything", "x"}) {
    LinkOutcome r = link_main(server.port(), ticket);
    ASSERT_TRUE(r.got_result) << "ticket '" << ticket << "': " << describe(r);
    EXPECT_EQ(r.result, static_cast<uint32_t>(SPICE_LINK_ERR_OK))
        << "ticket '" << ticket << "': " << describe(r);
  }
}

// Wrong passwords are refused with PERMISSION_DENIED and the connection is closed, while a
// client that did authenticate keeps getting frames of a moving desktop.
TEST(Auth, WrongPasswordRefusedWhileGoodClientStreams) {
  TempDir dir;
  Server server(dir);
  ServerOptions o;
  o.password = "good-one";
  o.frozen = false;
  o.synthetic = "video";
  o.size = "640x480";
  SPICEFLOW_START_SERVER(server, o);

  constexpr double kWatchSecs = 4.0;
  Process watcher = Process::spawn(
      spice_client_argv({"watch", "127.0.0.1", std::to_string(server.port()),
                         std::to_string(kWatchSecs), "--password", "good-one"}),
      dir / "watch.out", dir / "watch.err");

  int attempts = 0;
  const auto until = Clock::now() + 2500ms;
  std::this_thread::sleep_for(500ms);
  while (Clock::now() < until) {
    for (const std::string wrong : {"good-on", "good-one ", "GOOD-ONE", ""}) {
      Socket s = Socket::connect_loopback(server.port());
      ASSERT_TRUE(s.valid()) << "server stopped accepting:\n" << server.log_tail();
      LinkOutcome r = raw_link(s, SPICE_CHANNEL_MAIN, 0, wrong);
      ASSERT_TRUE(r.got_reply) << "'" << wrong << "': " << describe(r);
      EXPECT_EQ(r.reply_error, static_cast<uint32_t>(SPICE_LINK_ERR_OK)) << describe(r);
      ASSERT_TRUE(r.got_result) << "'" << wrong << "': " << describe(r);
      EXPECT_EQ(r.result, static_cast<uint32_t>(SPICE_LINK_ERR_PERMISSION_DENIED))
          << "'" << wrong << "': " << describe(r);
      EXPECT_EQ(s.wait_closed(3s), Socket::Closed::kClosed)
          << "the refused connection was left open";
      ++attempts;
    }
  }
  EXPECT_GE(attempts, 4);

  auto code = watcher.wait_for(20s);
  ASSERT_TRUE(code) << "watch client hung";
  const std::string json = last_line(watcher.stdout_text());
  ASSERT_EQ(*code, 0) << json << "\n" << tail_of(watcher.stderr_path()) << "\nserver log:\n"
                      << server.log_tail();
  EXPECT_TRUE(json_empty_list(json, "errors")) << json;
  const double frames = json_number(json, "frames").value_or(0);
  EXPECT_GE(frames, 10) << "the good client got too few frames: " << json;
  // Updates kept coming until the end, not just before the refusals.
  const double last = json_number(json, "t_last_invalidate").value_or(0);
  EXPECT_GE(last, kWatchSecs - 1.0) << json;
}

TEST(Auth, PasswordExpires) {
  TempDir dir;
  Server server(dir);
  ServerOptions o;
  o.password = "short-lived";
  o.password_expires = 1;
  SPICEFLOW_START_SERVER(server, o);
  // The lifetime counts from the server start, which was before the port opened.
  std::this_thread::sleep_for(2s);
  LinkOutcome r = link_main(server.port(), "short-lived");
  ASSERT_TRUE(r.got_result) << describe(r);
  EXPECT_EQ(r.result, static_cast<uint32_t>(SPICE_LINK_ERR_PERMISSION_DENIED)) << describe(r);
  RunResult shot = spicy_screenshot(server.port(), dir / "shot.ppm", dir.path(), "short-lived");
  EXPECT_FALSE(shot.timed_out) << shot.describe();
  EXPECT_NE(shot.exit_code, 0) << "spicy-screenshot got in with an expired password";
  EXPECT_TRUE(server.running()) << server.log_tail();
}

TEST(Auth, PasswordBeforeExpiryWorks) {
  TempDir dir;
  Server server(dir);
  ServerOptions o;
  o.password = "long-lived";
  o.password_expires = 120;
  SPICEFLOW_START_SERVER(server, o);
  LinkOutcome r = link_main(server.port(), "long-lived");
  ASSERT_TRUE(r.got_result) << describe(r);
  EXPECT_EQ(r.result, static_cast<uint32_t>(SPICE_LINK_ERR_OK)) << describe(r);
  RunResult shot = spicy_screenshot(server.port(), dir / "shot.ppm", dir.path(), "long-lived");
  EXPECT_EQ(shot.exit_code, 0) << shot.describe() << "\nserver log:\n" << server.log_tail();
}

// Serving every interface without a password would open the desktop to the network:
// the server must refuse to start (usage error) and say why.
TEST(Auth, NonLoopbackWithoutPasswordRefused) {
  TempDir dir;
  const uint16_t port = free_port();
  Process p = Process::spawn({server_bin(), "serve", "--addr", "0.0.0.0", "--port",
                              std::to_string(port), "--frozen", "--size", "320x240"},
                             dir / "srv.out", dir / "srv.err");
  bool listened = false;
  const bool exited = wait_until(
      [&] {
        if (port_open(port)) listened = true;
        return !p.running();
      },
      10s, 10ms);
  EXPECT_FALSE(listened) << "it accepted a connection on port " << port;
  ASSERT_TRUE(exited) << "still running after 10 s (it is serving 0.0.0.0 without a password)";
  EXPECT_EQ(p.exit_code().value_or(-1), 2) << p.stderr_text();
  std::string err = p.stderr_text();
  for (char& c : err) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  EXPECT_TRUE(err.find("password") != std::string::npos ||
              err.find("ticketing") != std::string::npos)
      << "the message does not say why: " << p.stderr_text();
}

}  // namespace
}  // namespace spiceflow::interop
