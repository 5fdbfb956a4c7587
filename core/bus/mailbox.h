// The work-bus on disk, maildir style, under RUN_DIR/bus. Every record is
// written in tmp/ and published by rename (fsync of the file and of the
// directory first, unless fsync is off for a benchmark):
//
//   new/CAPABILITY/RUN~TASK~ATTEMPT.json   offered tasks (TaskFile JSON)
//   cur/WORKER/RUN~TASK~ATTEMPT.json       claimed: renamed here by the worker;
//                                          of racing claimers exactly one wins
//                                          (the others get ENOENT); its mtime is
//                                          the lease, renewed by heartbeats
//   results/RUN~TASK~ATTEMPT.json          a worker's answer (ResultFile JSON)
//   done/RUN~TASK~ATTEMPT.json             results absorbed by the conductor
//   quarantine/NAME and NAME.why           results refused, with the reason
//
// '~' cannot appear in an id, so a name splits back into its parts. Used by
// the conductor and by workers (fleetctl bus, the C++ client); no daemon is
// needed to claim or complete.
#ifndef FLEET_CORE_BUS_MAILBOX_H_
#define FLEET_CORE_BUS_MAILBOX_H_

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "proto/fleet/bus/v1/bus.pb.h"

namespace fleet::bus {

// "RUN~TASK~ATTEMPT.json" and back.
std::string RecordName(const std::string& run, const std::string& task, uint32_t attempt);
struct RecordKey {
  std::string run;
  std::string task;
  uint32_t attempt = 0;
};
std::optional<RecordKey> ParseRecordName(const std::string& name);

// A result file as read: the parsed message, or why it cannot be absorbed.
struct ReadResult {
  std::string name;
  absl::StatusOr<fleet::bus::v1::ResultFile> result;
};

struct Claim {
  std::string path;  // cur/WORKER/NAME
  fleet::bus::v1::TaskFile task;
};

// Largest task or result file read (a bigger one is refused, not loaded).
inline constexpr uint64_t kMaxRecordBytes = 4 * 1024 * 1024;

class Mailbox {
 public:
  explicit Mailbox(std::string dir, bool fsync = true);

  const std::string& dir() const { return dir_; }
  bool fsync() const { return fsync_; }
  absl::Status Init() const;

  // --- the conductor ---
  absl::Status Publish(const fleet::bus::v1::TaskFile& task) const;
  // Several at once (a conductor's pass): one fsync per directory, not per
  // task. A status per task, in order.
  std::vector<absl::Status> PublishAll(const std::vector<fleet::bus::v1::TaskFile>& tasks) const;
  // Takes an offered task back (cancel); NotFound once it was claimed.
  absl::Status Withdraw(const std::string& capability, const std::string& name) const;
  // Every result file waiting, parsed and checked against its name.
  std::vector<ReadResult> Results() const;
  // Moves a result to done/ (absorbed) or quarantine/ (with the reason).
  absl::Status Absorb(const std::string& name) const;
  std::vector<absl::Status> AbsorbAll(const std::vector<std::string>& names) const;
  absl::Status Quarantine(const std::string& name, const std::string& why) const;
  // Claims: worker -> names, with each lease's age from the file's mtime.
  struct ClaimInfo {
    std::string worker;
    std::string name;
    int64_t lease_renewed_unix_ms = 0;
  };
  std::vector<ClaimInfo> Claims() const;
  // Offered names per capability directory.
  std::vector<std::pair<std::string, std::string>> Offered() const;
  // Removes a claim (re-queued, or its result absorbed).
  void DropClaim(const std::string& worker, const std::string& name) const;

  // --- a worker ---
  // An offered task of `capability` (in directory order, not by age),
  // renamed into cur/WORKER/; nullopt when there is none (or every one was
  // taken by others first).
  absl::StatusOr<std::optional<Claim>> ClaimNext(const std::string& capability,
                                                 const std::string& worker) const;
  // Renews the lease of a claimed task (its mtime).
  absl::Status Heartbeat(const std::string& worker, const std::string& name) const;
  // Publishes a result (tmp -> results/).
  absl::Status Complete(const fleet::bus::v1::ResultFile& result) const;

 private:
  // Writes content to dir_/tmp and renames it to `to`, durably when fsync_.
  absl::Status WriteAndRename(const std::string& to, const std::string& content,
                              bool sync_dir = true) const;

  std::string dir_;
  bool fsync_;
};

}  // namespace fleet::bus

#endif  // FLEET_CORE_BUS_MAILBOX_H_
