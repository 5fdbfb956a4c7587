// A small client for C++ workers on the work-bus: the same file protocol as
// `fleetctl bus claim|complete|fail|heartbeat`, without spawning fleetctl.
//
//   fleet::bus::WorkerClient bus;                 // run dir and worker name
//   while (auto task = bus.Claim("summarise")) {  // from FLEET_RUN_DIR, ENGINE.N
//     if (!task->ok()) break;                     // a file system error
//     const fleet::bus::v1::TaskFile& t = **task;
//     bus.Complete(t, Summarise(t.input()));      // or bus.Fail(t, "why")
//   }
#ifndef FLEET_CORE_BUS_WORKER_CLIENT_H_
#define FLEET_CORE_BUS_WORKER_CLIENT_H_

#include <optional>
#include <string>

#include "absl/status/statusor.h"
#include "core/bus/mailbox.h"
#include "proto/fleet/bus/v1/bus.pb.h"

namespace fleet::bus {

class WorkerClient {
 public:
  // From fleetd's environment: $FLEET_RUN_DIR and $FLEET_ENGINE.$FLEET_INSTANCE.
  WorkerClient();
  WorkerClient(std::string run_dir, std::string worker);

  const std::string& worker() const { return worker_; }
  // The next task of `capability`; nullopt when there is none right now.
  std::optional<absl::StatusOr<fleet::bus::v1::TaskFile>> Claim(const std::string& capability);
  absl::Status Complete(const fleet::bus::v1::TaskFile& task, const std::string& output);
  absl::Status Fail(const fleet::bus::v1::TaskFile& task, const std::string& why);
  // Renews the claim's lease (call more often than task.lease_ms()).
  absl::Status Heartbeat(const fleet::bus::v1::TaskFile& task);

 private:
  Mailbox mailbox_;
  std::string worker_;
};

}  // namespace fleet::bus

#endif  // FLEET_CORE_BUS_WORKER_CLIENT_H_
