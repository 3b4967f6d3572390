#pragma once
// A real Server + Engine on a free loopback port for the in-process server tests, run once
// per I/O backend (io_uring is skipped where the kernel or sandbox refuses it), and the step
// every such test starts with: linking a main channel.
#include <gtest/gtest.h>
#include <spice/enums.h>
#include <spice/protocol.h>

#include <chrono>
#include <memory>
#include <string>
#include <thread>

#include "spiceflow/core/bytes.hpp"
#include "spiceflow/engine/engine.hpp"
#include "spiceflow/net/server.hpp"
#include "support/loopback.hpp"
#include "test_client.hpp"

namespace spiceflow::net::testing {

class LoopbackServerTest : public ::testing::TestWithParam<IoBackend> {
 protected:
  /// Serves one synthetic desktop with `so` (its port, I/O backend and link timeout are set
  /// here) on a thread of its own until the test ends.
  void start_server(ServerOptions so, const std::string& synthetic, Size size, int fps) {
    if (GetParam() == IoBackend::uring) {
      std::string why;
      if (!io_uring_available(&why)) GTEST_SKIP() << "io_uring unavailable: " << why;
    }
    engine::DesktopOptions d;
    d.synthetic = synthetic;
    d.source.size = size;
    d.source.fps = fps;
    auto desk = engine::Desktop::create(0, d);
    ASSERT_TRUE(desk.ok()) << desk.error().message;
    engine_.add(std::move(*desk));
    so.port = port_ = spiceflow::testing::free_loopback_port();
    so.io = GetParam();
    so.link_timeout = std::chrono::milliseconds(2000);
    auto server = Server::create(so, engine_);
    ASSERT_TRUE(server.ok()) << server.error().message;
    server_ = std::move(*server);
    engine_.start();
    thread_ = std::thread([this] { (void)server_->run(); });
  }

  /// Stops and destroys the server here, while a derived fixture's members (hooks the
  /// server calls) still exist.
  void TearDown() override {
    if (server_) {
      server_->stop();
      thread_.join();
      server_.reset();
    }
    engine_.stop();
  }

  /// Links a main channel (no password) and returns the session id from MAIN_INIT.
  uint32_t open_session(TestClient& main, const std::string& password = {}) {
    EXPECT_TRUE(main.connect(port_));
    EXPECT_EQ(main.link(SPICE_CHANNEL_MAIN, 0, password), uint32_t(SPICE_LINK_ERR_OK));
    auto init = main.recv_until(SPICE_MSG_MAIN_INIT);
    EXPECT_TRUE(init.has_value());
    if (!init) return 0;
    ByteReader r(init->body);
    return r.u32();
  }

  engine::Engine engine_;
  std::unique_ptr<Server> server_;
  std::thread thread_;
  uint16_t port_ = 0;
};

}  // namespace spiceflow::net::testing
