#pragma once
/// Private to spiceflow::net: the epoll backend of EventLoop (epoll for readiness, an
/// eventfd for post()/stop(), timers kept in a heap that sets the epoll_wait timeout). It
/// needs nothing a container can block, so it is the last entry of the backend registry in
/// event_loop.cpp and the path CI always exercises.
#include <memory>

#include "spiceflow/core/result.hpp"
#include "spiceflow/net/event_loop.hpp"

namespace spiceflow::net {

/// Creates an epoll loop. Fails only when the kernel refuses the epoll or eventfd
/// descriptor (descriptor exhaustion). The caller owns the loop.
Result<std::unique_ptr<EventLoop>> make_epoll_event_loop();

}  // namespace spiceflow::net
