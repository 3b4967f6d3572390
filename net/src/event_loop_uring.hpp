#pragma once
/// Private to spiceflow::net: the io_uring backend of EventLoop (liburing; one-shot
/// IORING_OP_POLL_ADD re-armed after each callback for level-triggered readiness, one
/// IORING_OP_TIMEOUT per timer, an eventfd polled through the ring for post()/stop()).
/// liburing types stay in event_loop_uring.cpp; this header only names the entry points
/// the backend registry in event_loop.cpp needs.
#include <memory>
#include <string>

#include "spiceflow/core/result.hpp"
#include "spiceflow/net/event_loop.hpp"

namespace spiceflow::net {

/// Probes io_uring by building a small ring, checking the opcodes the backend uses and
/// round-tripping a NOP: a ring can often be created even where seccomp blocks
/// io_uring_enter, so creating one alone proves nothing. On failure `why` (if non-null)
/// gets the reason. Cheap (one ring set-up and tear-down); not cached.
bool probe_io_uring(std::string* why);

/// Creates an io_uring loop. Fails when the ring cannot be set up; call probe_io_uring
/// first for a precise reason. The caller owns the loop.
Result<std::unique_ptr<EventLoop>> make_uring_event_loop();

}  // namespace spiceflow::net
