// The FIFO an instance's stream goes through. It outlives fleetd, so a new
// fleetd can read a survivor's output by path; where the run directory
// cannot hold one, a pipe (which dies with fleetd). Made as each run starts,
// on the Spawner's thread: a mknod and two opens per stream are file work
// the supervision loop does not wait for. Thread-safe.
#ifndef FLEET_CORE_SUPERVISOR_OUTPUT_FIFO_H_
#define FLEET_CORE_SUPERVISOR_OUTPUT_FIFO_H_

#include <string>

#include "absl/status/status.h"

namespace fleet::supervisor {

struct PipeEnds {
  int read = -1;   // fleetd's: non-blocking, close-on-exec
  int write = -1;  // the child's
};

// Opens (making it if needed) the FIFO at path, or else a pipe. Never
// follows a symlink, and replaces anything at path that is not a FIFO.
absl::Status OpenOutputPipe(const std::string& path, PipeEnds* ends);

}  // namespace fleet::supervisor

#endif  // FLEET_CORE_SUPERVISOR_OUTPUT_FIFO_H_
