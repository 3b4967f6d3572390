// spice_replay_*: the reference's record-file replay API. Not implemented yet: spice_replay_new
// returns NULL (its documented failure) and says so once per process.
#include <mutex>

#include "abi.hpp"
#include "spiceflow/core/log.hpp"

SPICEFLOW_EXPORT SpiceReplay* spice_replay_new(FILE* file, int nsurfaces) {
  static std::once_flag logged;  // immutable after the first call; no server handle here
  std::call_once(logged, [] {
    spiceflow::log::warn("spiceflow compat: spice_replay_new: replaying record files is not "
                         "supported yet");
  });
  return nullptr;
}

SPICEFLOW_EXPORT QXLCommandExt* spice_replay_next_cmd(SpiceReplay* replay, QXLInstance* instance) {
  return nullptr;  // no replay object can exist (spice_replay_new never returns one)
}

SPICEFLOW_EXPORT void spice_replay_free_cmd(SpiceReplay* replay, QXLCommandExt* cmd) {}

SPICEFLOW_EXPORT void spice_replay_free(SpiceReplay* replay) {}
