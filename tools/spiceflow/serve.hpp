#pragma once
// `spiceflow serve`: options (named after QEMU's -spice options where one exists) and the
// command that builds the engine's desktops and runs the server until SIGINT/SIGTERM.
#include <string>

namespace CLI {
class App;
}

namespace spiceflow::tools {

struct ServeConfig {
  std::string addr = "127.0.0.1";
  int port = 5900;
  std::string password;
  bool disable_ticketing = false;
  double password_expires = 0;  // seconds from start; 0 = never
  std::string io = "auto";
  std::string synthetic = "office";
  bool list_synthetic = false;
  std::string size = "1920x1080";
  int fps = 30;
  bool frozen = false;
  uint64_t stop_after = 0;
  std::string dump_frame;
  int desktops = 1;
  std::string log_level = "info";
  std::string image_compression = "auto";
  std::string zlib_glz = "auto";  ///< --zlib-glz-wan-compression: auto, always or never
  double link_timeout = 10;
  std::string raster = "auto";
  std::string streaming_video = "filter";  ///< off, filter or all (engine::StreamingVideo)
};

CLI::App* add_serve_command(CLI::App& app, ServeConfig& cfg);
/// Returns the process exit code.
int run_serve(const ServeConfig& cfg);

}  // namespace spiceflow::tools
