// Several desktops from one server (--desktops N on consecutive ports) and several clients
// on one desktop at once.
#include <spice/protocol.h>

#include <thread>

#include "harness.hpp"

namespace spiceflow::interop {
namespace {

Image screenshot(uint16_t port, const TempDir& dir, const std::string& name, Server& server) {
  const auto path = dir / (name + ".ppm");
  RunResult r = spicy_screenshot(port, path, dir.path());
  EXPECT_EQ(r.exit_code, 0) << name << " (port " << port << "): " << r.describe()
                            << "\nserver log:\n" << server.log_tail();
  std::string why;
  auto img = read_ppm(path, &why);
  EXPECT_TRUE(img) << why;
  return img.value_or(Image{});
}

TEST(MultiDesktop, TwoDesktopsAreServedAndIndependent) {
  TempDir dir;
  Server server(dir);
  ServerOptions o;
  o.desktops = 2;
  o.dump_frame = true;
  SPICEFLOW_START_SERVER(server, o);
  ASSERT_FALSE(port_open(static_cast<uint16_t>(server.port() + 2)))
      << "a third desktop is listening";

  Image first = screenshot(server.port(0), dir, "desk0", server);
  Image second = screenshot(server.port(1), dir, "desk1", server);
  ASSERT_FALSE(HasFailure());
  ImageDiff d0 = compare_images(server.dump(), first);
  EXPECT_TRUE(d0.same()) << "desktop 0 vs --dump-frame: " << d0.describe();
  EXPECT_EQ(second.width, first.width);
  EXPECT_EQ(second.height, first.height);
  // The server writes desktop N's dump beside the first as NAME-N.ppm; where it does,
  // desktop 1 must match its own.
  fs::path dump1 = server.dump_path();
  dump1.replace_filename(dump1.stem().string() + "-1.ppm");
  if (auto own = wait_for_ppm(dump1, 2s)) {
    ImageDiff d1 = compare_images(*own, second);
    EXPECT_TRUE(d1.same()) << "desktop 1 vs " << dump1 << ": " << d1.describe();
  }

  // Typing on desktop 1 changes desktop 1 only.
  RunResult r = spice_client({"input", "127.0.0.1", std::to_string(server.port(1)), "--keys",
                              "0x10,0x11,0x12"},
                             dir.path(), "input-desk1");
  ASSERT_EQ(r.exit_code, 0) << r.describe();
  Image second_after;
  wait_until(
      [&] {
        second_after = screenshot(server.port(1), dir, "desk1-after", server);
        return HasFailure() || !compare_images(second, second_after).same();
      },
      8s, 200ms);
  ASSERT_FALSE(HasFailure());
  EXPECT_FALSE(compare_images(second, second_after).same())
      << "typing on desktop 1 changed nothing there";
  Image first_after = screenshot(server.port(0), dir, "desk0-after", server);
  ImageDiff d = compare_images(first, first_after);
  EXPECT_TRUE(d.same()) << "input for desktop 1 changed desktop 0: " << d.describe();
}

TEST(MultiClient, TwoClientsOnOneFrozenDesktopBothGetTheFrame) {
  TempDir dir;
  Server server(dir);
  ServerOptions o;
  o.synthetic = "scroll-text";
  o.dump_frame = true;
  SPICEFLOW_START_SERVER(server, o);
  const std::string port = std::to_string(server.port());
  Process a = Process::spawn(
      spice_client_argv({"watch", "127.0.0.1", port, "3", "--out", (dir / "a.ppm").string()}),
      dir / "a.out", dir / "a.err");
  std::this_thread::sleep_for(500ms);  // a is linked when b arrives
  Process b = Process::spawn(
      spice_client_argv({"watch", "127.0.0.1", port, "2", "--out", (dir / "b.ppm").string()}),
      dir / "b.out", dir / "b.err");
  // A third, short-lived client in the middle.
  Image c = screenshot(server.port(), dir, "c", server);
  for (auto* p : {&a, &b}) {
    auto code = p->wait_for(20s);
    ASSERT_TRUE(code) << "watch client hung";
    EXPECT_EQ(*code, 0) << last_line(p->stdout_text()) << "\n"
                        << tail_of(p->stderr_path()) << "\nserver log:\n" << server.log_tail();
    EXPECT_TRUE(json_empty_list(last_line(p->stdout_text()), "errors"))
        << "client was disconnected or failed: " << last_line(p->stdout_text());
  }
  for (const char* name : {"a.ppm", "b.ppm"}) {
    std::string why;
    auto img = read_ppm(dir / name, &why);
    ASSERT_TRUE(img) << why;
    ImageDiff d = compare_images(server.dump(), *img);
    EXPECT_TRUE(d.same()) << name << " vs --dump-frame: " << d.describe();
  }
  EXPECT_TRUE(compare_images(server.dump(), c).same());
}

TEST(MultiClient, TwoClientsOnAMovingDesktopBothGetFrames) {
  TempDir dir;
  Server server(dir);
  ServerOptions o;
  o.synthetic = "scroll-text";
  o.frozen = false;
  o.size = "640x480";
  SPICEFLOW_START_SERVER(server, o);
  const std::string port = std::to_string(server.port());
  Process a = Process::spawn(spice_client_argv({"watch", "127.0.0.1", port, "3"}),
                             dir / "a.out", dir / "a.err");
  Process b = Process::spawn(spice_client_argv({"watch", "127.0.0.1", port, "3"}),
                             dir / "b.out", dir / "b.err");
  for (auto* p : {&a, &b}) {
    auto code = p->wait_for(20s);
    ASSERT_TRUE(code) << "watch client hung";
    const std::string json = last_line(p->stdout_text());
    EXPECT_EQ(*code, 0) << json << "\n" << tail_of(p->stderr_path());
    EXPECT_TRUE(json_empty_list(json, "errors")) << json;
    EXPECT_GE(json_number(json, "frames").value_or(0), 10) << json;
    EXPECT_GE(json_number(json, "t_last_invalidate").value_or(0), 2.0) << json;
  }
}

}  // namespace
}  // namespace spiceflow::interop
