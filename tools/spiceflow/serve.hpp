#pragma once
// `spiceflow serve`: options (named after QEMU's -spice options where one exists) and the
// command that builds the engine's desktops and runs the server until SIGINT/SIGTERM.
#include <string>
#include <vector>

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
  bool pixel_code = false;  ///< paint the latency pixel code on every frame (not with --frozen)
  uint64_t stop_after = 0;
  std::string dump_frame;
  int desktops = 1;
  std::string log_level = "info";
  std::string image_compression = "auto";
  std::string zlib_glz = "auto";  ///< --zlib-glz-wan-compression: auto, always or never
  std::string pixmap_cache = "on";  ///< --pixmap-cache: on or off
  std::string jpeg_wan = "auto";    ///< --jpeg-wan-compression: auto, always or never
  double link_timeout = 10;
  std::string raster = "auto";
  std::string streaming_video = "filter";  ///< off, filter or all (engine::StreamingVideo)
  std::string video_codecs = "auto";  ///< encoder:codec;... (encode::parse_video_codecs)
  // TLS (QEMU's -spice tls-port / x509-*): the TLS port of the first desktop (0 = none) and
  // the certificate; --x509-dir supplies the file names not given one by one.
  int tls_port = 0;
  std::string x509_dir;
  std::string x509_cert_file;
  std::string x509_key_file;
  std::string x509_key_password;
  std::string x509_cacert_file;
  std::string x509_dh_key_file;
  std::string tls_ciphers;
  std::vector<std::string> tls_channels;  ///< channels served over TLS only ("default": all)
};

CLI::App* add_serve_command(CLI::App& app, ServeConfig& cfg);
/// Returns the process exit code.
int run_serve(const ServeConfig& cfg);

}  // namespace spiceflow::tools
