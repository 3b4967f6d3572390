#pragma once
// Recorder: SPICE_WORKER_RECORD_FILENAME. When that variable is set at spice_server_new, every
// QXL command the workers read from a device's rings (with the guest memory it points at)
// and every device message that matters for a replay (primary surface create with its
// pixels, destroys, updates, memslots, start/stop, ...) are written to that file in the
// reference libspice-server's text format ("SPICE_REPLAY 1", then "event N WHAT TYPE
// TIMESTAMP" records), so that a file recorded by spiceflow replays on the reference
// library's spice_replay_* and the other way round (compat/src/replay.cpp reads it).
// SPICE_WORKER_RECORD_FILTER="CMD ARGS" pipes the stream through a filter (zstd -c ...)
// whose output goes to the file, as the reference does.
//
// Guest memory is read only through the device's MemSlots; a command whose memory cannot be
// read (bad address, cyclic or oversized chunk list, unknown image type) is not written
// (logged once), so the file stays readable. Each record is written whole and flushed, so a
// process that dies leaves a file that ends on a record boundary.
//
// Threading: one Recorder per server, shared by its QXL workers; every method may be called
// from any thread (one mutex orders the records and numbers them).
#include <cstdint>
#include <cstdio>
#include <memory>
#include <mutex>
#include <string>

#include "abi.hpp"
#include "spiceflow/qxl/memslots.hpp"

namespace spiceflow::compat {

/// The reference's RED_WORKER_MESSAGE_* numbers (what=1 records name them; its replay acts
/// on CREATE_PRIMARY_SURFACE(_ASYNC), DESTROY_PRIMARY_SURFACE and DESTROY_SURFACES).
namespace dev_message {
inline constexpr uint32_t kUpdate = 1;
inline constexpr uint32_t kWakeup = 2;
inline constexpr uint32_t kOom = 3;
inline constexpr uint32_t kStart = 8;
inline constexpr uint32_t kStop = 9;
inline constexpr uint32_t kAddMemslot = 16;
inline constexpr uint32_t kDelMemslot = 17;
inline constexpr uint32_t kResetMemslots = 18;
inline constexpr uint32_t kDestroySurfaces = 19;
inline constexpr uint32_t kCreatePrimarySurface = 20;
inline constexpr uint32_t kDestroyPrimarySurface = 21;
inline constexpr uint32_t kResetCursor = 22;
inline constexpr uint32_t kResetImageCache = 23;
inline constexpr uint32_t kDestroySurfaceWait = 24;
inline constexpr uint32_t kLoadvmCommands = 25;
inline constexpr uint32_t kUpdateAsync = 26;
inline constexpr uint32_t kAddMemslotAsync = 27;
inline constexpr uint32_t kDestroySurfacesAsync = 28;
inline constexpr uint32_t kCreatePrimarySurfaceAsync = 29;
inline constexpr uint32_t kDestroyPrimarySurfaceAsync = 30;
inline constexpr uint32_t kDestroySurfaceWaitAsync = 31;
inline constexpr uint32_t kFlushSurfacesAsync = 32;
inline constexpr uint32_t kMonitorsConfigAsync = 35;
inline constexpr uint32_t kDriverUnload = 36;
inline constexpr uint32_t kGlDrawAsync = 38;
}  // namespace dev_message

class Recorder {
 public:
  /// Opens SPICE_WORKER_RECORD_FILENAME (null when unset; null with an error logged when the
  /// file or the filter cannot be opened: the server runs without recording).
  static std::shared_ptr<Recorder> open_from_env();
  /// Opens `path` (with `filter`, a command line, when not empty) and writes the header.
  static std::shared_ptr<Recorder> open(const std::string& path, const std::string& filter);
  ~Recorder();
  Recorder(const Recorder&) = delete;
  Recorder& operator=(const Recorder&) = delete;

  /// A device message (dev_message::*) with no payload in the file.
  void event(uint32_t message);
  /// A primary surface creation (`message`: kCreatePrimarySurface or its _ASYNC): the event
  /// and the surface's geometry and pixels (read through `slots`; none when unreadable).
  void primary_surface(uint32_t message, const qxl::MemSlots& slots,
                       const QXLDevSurfaceCreate& surface);
  /// One command read from a ring (display or cursor), with everything it points at.
  void command(const qxl::MemSlots& slots, const QXLCommandExt& ext);

 private:
  Recorder(FILE* file, pid_t filter_pid) : file_(file), filter_pid_(filter_pid) {}
  /// Writes "event ..." and `body` as one record (mu_ held inside).
  void write_record(uint32_t what, uint32_t type, const std::string& body);

  std::mutex mu_;
  FILE* file_;           // guarded by mu_
  pid_t filter_pid_;     // the filter process, reaped at destruction; 0 when none
  uint32_t counter_ = 0; // guarded by mu_: the reference numbers every record
  bool write_failed_ = false;  // guarded by mu_
  uint64_t skipped_ = 0;       // guarded by mu_: commands left out (unreadable guest memory)
  std::once_flag skipped_logged_;
};

}  // namespace spiceflow::compat
