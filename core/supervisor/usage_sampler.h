// What each running instance uses (CPU since the previous look, resident
// memory), read from /proc and its cgroup for a status. Reading it costs a
// few files per instance, so it is done by whoever asks (the control
// service's thread), never on the supervision loop: the loop fills in who
// runs where (pid, cgroup leaf), this fills in what they use.
#ifndef FLEET_CORE_SUPERVISOR_USAGE_SAMPLER_H_
#define FLEET_CORE_SUPERVISOR_USAGE_SAMPLER_H_

#include <sys/types.h>

#include <cstdint>
#include <string>

#include "absl/container/flat_hash_map.h"
#include "core/concurrency/mutex.h"
#include "core/os/clock.h"
#include "proto/fleet/control/v1/control.pb.h"

namespace fleet::supervisor {

// Thread-safe.
class UsageSampler {
 public:
  // cpu_percent and rss_bytes of every instance in status with a pid: CPU
  // over the time since the previous sample of the same process (or since
  // it started), memory of every process of its run (its cgroup leaf's
  // members, or the pid alone).
  void Fill(fleet::control::v1::GetStatusResponse* status, os::MonoTime now);

 private:
  struct Sample {
    pid_t pid = 0;
    os::MonoTime at;
    uint64_t ticks = 0;
    double percent = 0;
  };
  fleet::Mutex mu_;
  absl::flat_hash_map<std::string, Sample> last_ ABSL_GUARDED_BY(mu_);  // by instance id
};

}  // namespace fleet::supervisor

#endif  // FLEET_CORE_SUPERVISOR_USAGE_SAMPLER_H_
