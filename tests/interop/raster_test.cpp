// `spiceflow serve --raster vulkan` against `--raster cpu` on every synthetic desktop: the same
// --dump-frame picture, and spicy-screenshot (spice-gtk) shows the Vulkan server's picture
// pixel for pixel. Skips, saying why, where the server finds no Vulkan device.
#include <string>
#include <vector>

#include "harness.hpp"

namespace spiceflow::interop {
namespace {

std::vector<std::string> synthetic_names(const TempDir& dir) {
  RunResult r = run_with_timeout({SPICEFLOW_BIN, "serve", "--list-synthetic"}, 10s, dir.path(), "list");
  std::vector<std::string> names;
  size_t pos = 0;
  while (pos < r.out.size()) {
    const size_t end = r.out.find('\n', pos);
    const std::string line = r.out.substr(pos, end == std::string::npos ? std::string::npos : end - pos);
    if (!line.empty()) names.push_back(line.substr(0, line.find('\t')));
    if (end == std::string::npos) break;
    pos = end + 1;
  }
  return names;
}

TEST(RasterInterop, VulkanServesTheSamePictureAsCpu) {
  TempDir list_dir;
  const std::vector<std::string> names = synthetic_names(list_dir);
  ASSERT_FALSE(names.empty()) << "spiceflow serve --list-synthetic listed nothing";
  for (const std::string& name : names) {
    SCOPED_TRACE(name);
    TempDir cpu_dir, vk_dir;
    ServerOptions o;
    o.synthetic = name;
    o.size = "640x400";
    o.dump_frame = true;
    o.extra = {"--raster", "cpu"};
    Server cpu(cpu_dir);
    SPICEFLOW_START_SERVER(cpu, o);
    o.extra = {"--raster", "vulkan"};
    Server vk(vk_dir);
    std::string message;
    const StartStatus st = vk.start(o, &message);
    if (st != StartStatus::kOk && message.find("raster backend vulkan unavailable") != std::string::npos) {
      GTEST_SKIP() << "no Vulkan device for the server: " << message;
    }
    if (st == StartStatus::kSkip) GTEST_SKIP() << message;
    ASSERT_EQ(st, StartStatus::kOk) << message;
    ImageDiff d = compare_images(cpu.dump(), vk.dump());
    EXPECT_TRUE(d.same()) << "--raster vulkan vs --raster cpu --dump-frame: " << d.describe();

    const auto shot = vk_dir.path() / "shot.ppm";
    RunResult r = spicy_screenshot(vk.port(), shot, vk_dir.path());
    ASSERT_EQ(r.exit_code, 0) << "spicy-screenshot: " << r.describe() << "\nserver log:\n" << vk.log_tail();
    std::string why;
    auto img = read_ppm(shot, &why);
    ASSERT_TRUE(img) << why;
    ImageDiff s = compare_images(cpu.dump(), *img);
    EXPECT_TRUE(s.same()) << "spicy-screenshot of --raster vulkan vs --raster cpu --dump-frame: "
                          << s.describe();
    EXPECT_TRUE(vk.running()) << "server died:\n" << vk.log_tail();
  }
}

}  // namespace
}  // namespace spiceflow::interop
