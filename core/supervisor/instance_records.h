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
#include <functional>
#include <optional>
#include <string>
#include <vector>

#include "absl/container/flat_hash_map.h"
#include "absl/status/status.h"
#include "absl/strings/string_view.h"
#include "core/os/clock.h"
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

// Keeps each running instance's record written: one that cannot be written
// (disk full) is retried every second until it lands or the run ends, and
// the operator hears once per failing streak. Without its record a fleetd
// restart would not know the pid and could start a second copy beside it.
class RecordKeeper {
 public:
  using Emit = std::function<void(const std::string& subject, const std::string& kind,
                                  const std::string& message)>;
  RecordKeeper(std::string run_dir, Emit emit)
      : run_dir_(std::move(run_dir)), emit_(std::move(emit)) {}

  // id: the instance's name in what the operator is told.
  void Record(const std::string& id, const InstanceRecord& record, os::MonoTime now);
  void Remove(const std::string& id, const std::string& engine, uint32_t index);
  std::optional<os::MonoTime> retry_due() const { return retry_due_; }
  void Retry(os::MonoTime now);

 private:
  bool Write(const std::string& id, const InstanceRecord& record, os::MonoTime now);

  const std::string run_dir_;
  Emit emit_;
  absl::flat_hash_map<std::string, InstanceRecord> pending_;
  std::optional<os::MonoTime> retry_due_;
  bool failing_ = false;
};

}  // namespace fleet::supervisor

#endif  // FLEET_CORE_SUPERVISOR_INSTANCE_RECORDS_H_
