#pragma once
/// Logging: spdlog underneath, one process-wide sink on stderr. Modules log through
/// spiceflow::log::{debug,info,warn,error}; log once at a module boundary, not at every return.
#include <string_view>

#include <spdlog/spdlog.h>

#include "spiceflow/core/result.hpp"

namespace spiceflow::log {

using spdlog::debug;
using spdlog::error;
using spdlog::info;
using spdlog::trace;
using spdlog::warn;

/// Sets the level from a name: trace, debug, info, warn, error, off.
Status set_level(std::string_view name);

}  // namespace spiceflow::log
