// What fleetd runs, on disk, so a fleetd that died (SIGKILL, OOM, a bug) can
// take its instances back on its next start instead of starting them twice:
// one file per running instance, RUN_DIR/instances/ENGINE.N, holding its pid,
// the pid's start time (so a reused pid is never taken for it), a hash of
// the definition it runs, and when it was spawned. Written atomically at
// spawn, removed when the instance's process is gone.
#ifndef FLEET_CORE_SUPERVISOR_INSTANCE_RECORDS_H_
#define FLEET_CORE_SUPERVISOR_INSTANCE_RECORDS_H_

#include <sys/types.h>

#include <cstdint>
#include <string>

#include "absl/strings/string_view.h"
#include <vector>

#include "absl/status/status.h"
#include "proto/fleet/config/v1/config.pb.h"

namespace fleet::supervisor {

struct InstanceRecord {
  std::string engine;
  uint32_t index = 0;
  pid_t pid = 0;
  uint64_t start_time = 0;  // /proc/PID/stat field 22
  uint64_t spec_hash = 0;
  int64_t spawned_unix_ms = 0;
  // Read from a temporary file a dying fleetd did not rename: it must be
  // written again under its own name.
  bool from_temporary_file = false;
};

// A stable hash of an engine's definition (deterministic serialization).
// FNV-1a of bytes: the same in every build and run (names on disk use it).
uint64_t StableHash(absl::string_view bytes);
uint64_t SpecHash(const fleet::config::v1::Engine& spec);

absl::Status WriteInstanceRecord(const std::string& run_dir, const InstanceRecord& record);
void RemoveInstanceRecord(const std::string& run_dir, const std::string& engine, uint32_t index);
// The newest record of each instance, temporary files included (removed
// once read); files that do not parse are named in *errors and removed.
std::vector<InstanceRecord> ReadInstanceRecords(const std::string& run_dir,
                                                std::vector<std::string>* errors);
// RUN_DIR/pipes/ENGINE.N: the instance's output FIFO, which outlives fleetd.
std::string OutputFifoPath(const std::string& run_dir, const std::string& engine, uint32_t index);

}  // namespace fleet::supervisor

#endif  // FLEET_CORE_SUPERVISOR_INSTANCE_RECORDS_H_
