#include "core/sync/state_sync.h"

#include <algorithm>
#include <functional>

#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "core/log/log.h"
#include "core/os/clock.h"
#include "plugins/sdk/fleet_plugin.h"

namespace fleet::sync {
namespace {

using fleet::plugin::v1::SyncRequest;
using fleet::plugin::v1::SyncResult;

// A lane's job still running this long after the drain is abandoned.
constexpr absl::Duration kStopGrace = absl::Seconds(3);

}  // namespace

struct StateSync::Lane {
  size_t index = 0;
  std::unique_ptr<plugin_host::PluginCaller> caller;
  plugin_host::SerialWorker worker;
};

StateSync::StateSync(std::vector<std::unique_ptr<plugin_host::PluginCaller>> lanes,
                     std::unique_ptr<plugin_host::Plugin> library,
                     std::function<void(SyncOutcome)> on_outcome, Validator validator)
    : on_outcome_(std::move(on_outcome)),
      validator_(std::move(validator)),
      library_(std::move(library)) {
  for (auto& caller : lanes) {
    lanes_.push_back(std::make_unique<Lane>());
    lanes_.back()->index = lanes_.size() - 1;
    lanes_.back()->caller = std::move(caller);
  }
}

StateSync::~StateSync() { Drain(absl::ZeroDuration()); }

void StateSync::Submit(SyncJob job) {
  if (lanes_.empty()) return;
  Lane& lane =
      *lanes_[std::hash<std::string>()(job.request.work_tree()) % lanes_.size()];
  auto shared = std::make_shared<SyncJob>(std::move(job));
  lane.worker.Submit([this, &lane, shared] { Run(lane, *shared); });
}

size_t StateSync::pending() const {
  size_t n = 0;
  for (const auto& lane : lanes_) n += lane->worker.pending();
  return n;
}

void StateSync::Drain(absl::Duration drain) {
  if (drained_) return;
  drained_ = true;
  // Durations on the monotonic clock: a wall-clock jump changes nothing.
  os::Clock* clock = os::RealClock();
  const os::MonoTime deadline = clock->MonotonicNow() + drain;
  bool abandoned = false;
  for (auto& lane : lanes_) {
    absl::Duration left = std::max(absl::ZeroDuration(), deadline - clock->MonotonicNow());
    abandoned |= !lane->worker.Stop(left, kStopGrace);
  }
  if (abandoned) {
    // A call is stuck in the plugin: leave the plugin (and what it uses) to
    // the process's exit rather than free it under the call.
    log::Warning("a sync plugin call is still running at shutdown; not waiting for it");
    for (auto& lane : lanes_) (void)lane->caller.release();
    (void)library_.release();
    return;
  }
  for (auto& lane : lanes_) lane->caller.reset();  // Instances before their plugin.
}

void StateSync::Run(Lane& lane, SyncJob& job) {
  SyncOutcome outcome;
  outcome.instance_id = job.instance_id;
  outcome.seq = job.seq;
  outcome.op = job.request.op();
  const os::MonoTime start = os::RealClock()->MonotonicNow();
  if (validator_ && job.validate.op() != fleet::plugin::v1::RecoveryRequest::OP_UNSPECIFIED) {
    outcome.validation = validator_(lane.index, job.validate);
  }
  absl::StatusOr<std::string> bytes =
      lane.caller->Call(FLEET_METHOD_SYNC, job.request.SerializeAsString(), job.timeout);
  outcome.took = os::RealClock()->MonotonicNow() - start;
  if (!bytes.ok()) {
    outcome.result = bytes.status();
  } else {
    SyncResult result;
    // A plugin's garbage is its error, not a result.
    if (!result.ParseFromString(*bytes)) {
      outcome.result =
          absl::InternalError("the sync plugin answered something that is not a SyncResult");
    } else {
      outcome.result = std::move(result);
    }
  }
  on_outcome_(std::move(outcome));
}

}  // namespace fleet::sync
