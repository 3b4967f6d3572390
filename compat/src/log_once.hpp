#pragma once
// Logs a message the first time its key is seen by one owner (a SpiceServer), so an
// unsupported call made every frame does not flood QEMU's log. Thread-safe.
#include <mutex>
#include <set>
#include <string>

#include "spiceflow/core/log.hpp"

namespace spiceflow::compat {

class LogOnce {
 public:
  /// Warns "`key`: `why`" once per key.
  void warn(const std::string& key, const std::string& why) {
    {
      std::lock_guard lock(mu_);
      if (!seen_.insert(key).second) return;
    }
    log::warn("spiceflow compat: {}: {}", key, why);
  }

 private:
  std::mutex mu_;
  std::set<std::string> seen_;  // guarded by mu_
};

}  // namespace spiceflow::compat
