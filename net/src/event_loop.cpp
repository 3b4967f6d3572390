#include "spiceflow/net/event_loop.hpp"

#include <string>
#include <utility>

#include "event_loop_epoll.hpp"
#include "event_loop_uring.hpp"
#include "spiceflow/core/log.hpp"

namespace spiceflow::net {
namespace {

bool epoll_available(std::string* /*why*/) { return true; }

/// The backend registry, in order of preference. epoll is always last and always works.
struct BackendEntry {
  IoBackend backend;
  bool (*probe)(std::string* why);
  Result<std::unique_ptr<EventLoop>> (*create)();
};

constexpr BackendEntry kBackends[] = {
    {IoBackend::uring, &probe_io_uring, &make_uring_event_loop},
    {IoBackend::epoll, &epoll_available, &make_epoll_event_loop},
};

}  // namespace

Result<IoBackend> parse_io_backend(std::string_view name) {
  if (name == "auto") return IoBackend::automatic;
  if (name == "uring" || name == "io_uring") return IoBackend::uring;
  if (name == "epoll") return IoBackend::epoll;
  return make_error("unknown I/O backend '" + std::string(name) +
                    "' (expected auto, uring or epoll)");
}

std::string_view to_string(IoBackend b) {
  switch (b) {
    case IoBackend::automatic:
      return "auto";
    case IoBackend::uring:
      return "uring";
    case IoBackend::epoll:
      return "epoll";
  }
  return "unknown";
}

bool io_uring_available(std::string* why) { return probe_io_uring(why); }

Result<std::unique_ptr<EventLoop>> make_event_loop(IoBackend requested) {
  const bool automatic = requested == IoBackend::automatic;
  std::string skipped;
  for (const BackendEntry& entry : kBackends) {
    if (!automatic && entry.backend != requested) continue;
    std::string why;
    if (entry.probe(&why)) {
      auto loop = entry.create();
      if (loop.ok()) {
        if (automatic && skipped.empty()) {
          log::info("event loop: using {}", to_string(entry.backend));
        } else if (automatic) {
          // A fallback is worth a warning: it usually means a container policy, not a choice.
          log::warn("event loop: using {}{}", to_string(entry.backend), skipped);
        } else {
          log::debug("event loop: using {} (requested)", to_string(entry.backend));
        }
        return loop;
      }
      why = loop.error().message;
    }
    if (!automatic) {
      return make_error("I/O backend " + std::string(to_string(entry.backend)) +
                        " unavailable: " + why);
    }
    skipped += "; skipped " + std::string(to_string(entry.backend)) + ": " + why;
  }
  return make_error("no usable I/O backend" + skipped);
}

}  // namespace spiceflow::net
