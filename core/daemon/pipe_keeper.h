// The pipe keeper: a tiny process, one per run directory, that holds a read
// end of every instance's output FIFO (RUN_DIR/pipes/ENGINE.N) and never
// reads. While fleetd runs it changes nothing; when fleetd dies, a worker
// writing its output does not die of SIGPIPE (no reader left) but blocks once
// the FIFO's buffer (64 KiB) is full, until the next fleetd reads again.
#ifndef FLEET_CORE_DAEMON_PIPE_KEEPER_H_
#define FLEET_CORE_DAEMON_PIPE_KEEPER_H_

#include <string>

namespace fleet::daemon {

// `fleetd pipe-keeper RUN_DIR`: runs until RUN_DIR/pipes/keeper.stop exists.
// Exits at once (0) if another keeper holds the run directory.
int RunPipeKeeper(const std::string& run_dir);

// At fleetd's start: starts a keeper (this binary, detached) unless one runs.
void EnsurePipeKeeper(const std::string& run_dir);

// At a clean shutdown (no instance left): the keeper exits and the FIFOs go.
void StopPipeKeeper(const std::string& run_dir);

}  // namespace fleet::daemon

#endif  // FLEET_CORE_DAEMON_PIPE_KEEPER_H_
