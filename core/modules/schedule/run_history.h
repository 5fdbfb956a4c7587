// The runs of one cron or intelligence instance, newest last, bounded, kept
// across fleetd restarts as JSON lines (one RunRecord each) in
// RUN_DIR/runs/ENGINE.N.jsonl. What the scheduler needs after a restart
// (the last slot that ran, the last success, the boot a @reboot run was
// in) comes from here.
#ifndef FLEET_CORE_MODULES_SCHEDULE_RUN_HISTORY_H_
#define FLEET_CORE_MODULES_SCHEDULE_RUN_HISTORY_H_

#include <cstddef>
#include <cstdint>
#include <deque>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "proto/fleet/control/v1/control.pb.h"

namespace fleet::modules {

class RunHistory {
 public:
  RunHistory(std::string path, size_t keep) : path_(std::move(path)), keep_(keep) {}

  // Reads the file (a missing one is an empty history). A line that does not
  // parse is skipped and named in *errors ("runs/w.0.jsonl:3: ..."); the
  // good ones are kept.
  void Load(std::vector<std::string>* errors);
  // Adds a finished run (or a skipped/missed slot): one appended line, and
  // the file rewritten with only the last `keep` once it holds twice that.
  // A write error leaves the in-memory history complete and the file
  // behind it: the next Append or Flush rewrites the whole file (atomically,
  // so a line a failed append cut short is gone too).
  absl::Status Append(fleet::control::v1::RunRecord record);
  // The file holds every run in memory again (a no-op when it does).
  absl::Status Flush();
  // A run in memory is not in the file yet.
  bool behind() const { return behind_; }

  const std::deque<fleet::control::v1::RunRecord>& runs() const { return runs_; }
  // The next run's sequence number.
  uint64_t next_seq() const { return next_seq_; }
  // Numbers a run when it starts (its record comes when it ends).
  uint64_t TakeSeq() { return next_seq_++; }
  const std::string& path() const { return path_; }

 private:
  absl::Status Compact();

  std::string path_;
  size_t keep_;
  std::deque<fleet::control::v1::RunRecord> runs_;
  size_t lines_on_disk_ = 0;
  bool behind_ = false;
  uint64_t next_seq_ = 1;
};

}  // namespace fleet::modules

#endif  // FLEET_CORE_MODULES_SCHEDULE_RUN_HISTORY_H_
