// TLS (--tls-port, --x509-*): a real spice-client-glib client that verifies the server's
// certificate against the test CA gets the same picture over TLS as the server renders;
// the ticket still works inside TLS; a client that does not trust the CA, and a client that
// speaks plaintext to the TLS port, are each refused without disturbing the server; a bad
// certificate stops `serve` with a clear message. Certificates come from the `openssl`
// command (a throw-away CA and a server certificate for 127.0.0.1) in each test's TempDir.
#include <spice/protocol.h>

#include <thread>

#include "harness.hpp"

namespace spiceflow::interop {
namespace {

class Tls : public ::testing::Test {
 protected:
  void SetUp() override {
    std::string why;
    if (!make_certificates(dir_.path(), &why)) GTEST_SKIP() << why;
    tls_port_ = free_port();
  }
  /// Server options with the TLS port and certificates added.
  ServerOptions options() const {
    ServerOptions o;
    o.dump_frame = true;
    o.extra = {"--tls-port", std::to_string(tls_port_), "--x509-dir", dir_.path().string()};
    return o;
  }
  /// spice_client.py watch over TLS, trusting `ca`; its exit code and JSON line.
  RunResult watch_tls(const fs::path& ca, const std::string& name,
                      const std::vector<std::string>& extra = {}) {
    std::vector<std::string> args = {"--tls-port", std::to_string(tls_port_), "--ca-file",
                                     ca.string(), "watch", "127.0.0.1", "0", "2", "--out",
                                     (dir_.path() / (name + ".ppm")).string()};
    args.insert(args.end(), extra.begin(), extra.end());
    return spice_client(args, dir_.path(), name);
  }

  TempDir dir_;
  uint16_t tls_port_ = 0;
};

TEST_F(Tls, VerifiedClientSeesTheServersPicture) {
  Server server(dir_);
  SPICEFLOW_START_SERVER(server, options());
  RunResult r = watch_tls(dir_.path() / "ca-cert.pem", "tls");
  ASSERT_EQ(r.exit_code, 0) << r.describe() << "\nserver log:\n" << server.log_tail();
  EXPECT_NE(r.out.find("tls-port="), std::string::npos) << r.out;
  std::string why;
  auto seen = read_ppm(dir_.path() / "tls.ppm", &why);
  ASSERT_TRUE(seen) << why;
  ImageDiff d = compare_images(server.dump(), *seen);
  EXPECT_TRUE(d.same()) << d.describe();
  // The plaintext port keeps working beside it.
  const auto plain = dir_.path() / "plain.ppm";
  RunResult p = spicy_screenshot(server.port(), plain, dir_.path());
  ASSERT_EQ(p.exit_code, 0) << p.describe();
  auto shot = read_ppm(plain, &why);
  ASSERT_TRUE(shot) << why;
  EXPECT_TRUE(compare_images(server.dump(), *shot).same());
}

TEST_F(Tls, TicketIsCheckedInsideTls) {
  Server server(dir_);
  ServerOptions o = options();
  o.password = "s3cret";
  SPICEFLOW_START_SERVER(server, o);
  RunResult good = watch_tls(dir_.path() / "ca-cert.pem", "good", {"--password", "s3cret"});
  EXPECT_EQ(good.exit_code, 0) << good.describe();
  RunResult bad = watch_tls(dir_.path() / "ca-cert.pem", "bad", {"--password", "wrong"});
  EXPECT_NE(bad.exit_code, 0) << bad.describe();
  EXPECT_TRUE(server.running()) << server.log_tail();
}

TEST_F(Tls, UntrustedClientAndPlaintextOnTlsPortAreRefused) {
  Server server(dir_);
  SPICEFLOW_START_SERVER(server, options());
  // The client does not trust the server's CA: the handshake fails on its side.
  RunResult r = watch_tls(dir_.path() / "other-ca.pem", "untrusted");
  EXPECT_NE(r.exit_code, 0) << r.describe();
  // A plaintext SPICE link sent to the TLS port is not a TLS handshake.
  {
    Socket s = Socket::connect_loopback(tls_port_);
    ASSERT_TRUE(s.valid());
    LinkOutcome o = raw_link(s, SPICE_CHANNEL_MAIN, 0, "");
    EXPECT_FALSE(o.got_result) << "a plaintext link succeeded on the TLS port";
  }
  // Each refusal is logged with OpenSSL's reason and the server still serves over TLS.
  std::this_thread::sleep_for(200ms);
  const std::string log = server.log();
  EXPECT_NE(log.find("TLS"), std::string::npos) << log;
  RunResult ok = watch_tls(dir_.path() / "ca-cert.pem", "after");
  EXPECT_EQ(ok.exit_code, 0) << ok.describe() << "\nserver log:\n" << server.log_tail();
  EXPECT_TRUE(server.running());
}

// --tls-channel display: the client starts on the plain-text port, its display link is
// answered NEED_SECURED, and spice-gtk relinks that channel over TLS.
TEST_F(Tls, SecureOnlyChannelMovesToTls) {
  Server server(dir_);
  ServerOptions o = options();
  o.extra.push_back("--tls-channel");
  o.extra.push_back("display");
  SPICEFLOW_START_SERVER(server, o);
  RunResult r = spice_client({"--tls-port", std::to_string(tls_port_), "--ca-file",
                              (dir_.path() / "ca-cert.pem").string(), "watch", "127.0.0.1",
                              std::to_string(server.port()), "2", "--out",
                              (dir_.path() / "mixed.ppm").string()},
                             dir_.path(), "mixed");
  ASSERT_EQ(r.exit_code, 0) << r.describe() << "\nserver log:\n" << server.log_tail();
  std::string why;
  auto seen = read_ppm(dir_.path() / "mixed.ppm", &why);
  ASSERT_TRUE(seen) << why;
  EXPECT_TRUE(compare_images(server.dump(), *seen).same());
  EXPECT_NE(server.log().find("served over TLS only"), std::string::npos) << server.log_tail();
  // A client that cannot use TLS gets no display at all.
  RunResult plain = spice_client({"watch", "127.0.0.1", std::to_string(server.port()), "2"},
                                 dir_.path(), "plain");
  EXPECT_NE(plain.exit_code, 0) << plain.describe();
  EXPECT_EQ(plain.out.find("sha256"), std::string::npos) << plain.describe();
}

TEST_F(Tls, TlsOnlyServerHasNoPlaintextPort) {
  const uint16_t plain = free_port();
  Process p = Process::spawn({SPICEFLOW_BIN, "serve", "--port", "0", "--tls-port",
                              std::to_string(tls_port_), "--x509-dir", dir_.path().string(),
                              "--frozen", "--size", "640x480"},
                             dir_.path() / "serve.out", dir_.path() / "serve.err");
  for (int i = 0; i < 100 && !port_open(tls_port_); ++i) std::this_thread::sleep_for(50ms);
  ASSERT_TRUE(port_open(tls_port_)) << p.stderr_text();
  EXPECT_FALSE(port_open(plain));
  RunResult r = watch_tls(dir_.path() / "ca-cert.pem", "tlsonly");
  EXPECT_EQ(r.exit_code, 0) << r.describe() << "\nserver log:\n" << p.stderr_text();
  p.stop();
}

TEST_F(Tls, BadCertificateStopsServeWithAReason) {
  RunResult r = run_with_timeout(
      {SPICEFLOW_BIN, "serve", "--port", std::to_string(free_port()), "--tls-port",
       std::to_string(tls_port_), "--x509-cert-file", (dir_.path() / "ca-cert.pem").string(),
       "--x509-key-file", (dir_.path() / "server-key.pem").string()},
      20s, dir_.path(), "badcert");
  EXPECT_NE(r.exit_code, 0) << r.describe();
  // OpenSSL's reason, with the file it concerns.
  EXPECT_NE(r.err.find("server-key.pem"), std::string::npos) << r.describe();
  EXPECT_NE(r.err.find("mismatch"), std::string::npos) << r.describe();
}

}  // namespace
}  // namespace spiceflow::interop
