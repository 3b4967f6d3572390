#pragma once
// The libspice-server ABI as the system headers define it (Debian libspice-server-dev), so
// struct layouts cannot drift from what QEMU and Xspice were compiled against.
// SPICE_SERVER_INTERNAL lets us include the sub-headers and use the deprecated members
// (attache_worker) that the ABI still carries, as the reference does.
#define SPICE_SERVER_INTERNAL 1
#include <spice.h>  // IWYU pragma: export
#include <spice-replay.h>  // IWYU pragma: export

/// Marks a function as part of the exported C ABI (the library builds with hidden
/// visibility; compat/libspice-server.syms then assigns each its version node).
#define SPICEFLOW_EXPORT extern "C" __attribute__((visibility("default")))
