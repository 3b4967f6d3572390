#include "spiceflow/core/log.hpp"

#include <spdlog/sinks/stdout_color_sinks.h>

#include <string>

namespace spiceflow::log {

Status set_level(std::string_view name) {
  static const struct {
    std::string_view name;
    spdlog::level::level_enum level;
  } kLevels[] = {{"trace", spdlog::level::trace}, {"debug", spdlog::level::debug},
                 {"info", spdlog::level::info},   {"warn", spdlog::level::warn},
                 {"error", spdlog::level::err},   {"off", spdlog::level::off}};
  for (const auto& l : kLevels) {
    if (l.name == name) {
      // Logs go to stderr so stdout stays free for a command's own output.
      if (spdlog::default_logger()->name() != "spiceflow") {
        auto logger = spdlog::stderr_color_mt("spiceflow");
        spdlog::set_default_logger(logger);
      }
      spdlog::set_level(l.level);
      return Status::success();
    }
  }
  return make_error("unknown log level '" + std::string(name) +
                    "' (trace, debug, info, warn, error, off)");
}

}  // namespace spiceflow::log
