// Kill conditions in the loop: FLEET_METRIC lines from captured output and
// metrics files (inotify), evaluated on every update. Loop thread only.
#include <errno.h>
#include <sys/inotify.h>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_replace.h"
#include "core/os/files.h"
#include "core/supervisor/supervisor.h"
#include "core/supervisor/supervisor_internal.h"

namespace fleet::supervisor {

std::string MetricsPathFor(const fleet::config::v1::Engine& spec, uint32_t index) {
  if (spec.metrics_path().empty()) return "";
  return absl::StrReplaceAll(spec.metrics_path(), {{"{instance}", absl::StrCat(index)}});
}

void Supervisor::SetSpec(Engine* engine, const fleet::config::v1::Engine& spec) {
  engine->spec = std::make_shared<fleet::config::v1::Engine>(spec);
  engine->condition.reset();
  if (!spec.kill_condition().empty()) {
    absl::StatusOr<killcond::Expression> parsed = killcond::Expression::Parse(spec.kill_condition());
    if (parsed.ok()) engine->condition = *std::move(parsed);
  }
  for (auto& inst : engine->instances) inst->metrics_path = MetricsPathFor(spec, inst->index);
}

void Supervisor::ScanOutputForMetrics(Instance* inst, absl::string_view data) {
  if (!inst->engine->condition.has_value()) return;
  bool updated = false;
  inst->metric_lines.Feed(data, [&](absl::string_view line) {
    absl::Status parsed = killcond::ParseMetricLine(line, &inst->metrics);
    updated = true;
    if (!parsed.ok() && inst->last_metrics_error != parsed.message()) {
      inst->last_metrics_error = std::string(parsed.message());
      Emit(inst->id, "metrics_error", inst->last_metrics_error);
    }
  });
  if (updated) EvaluateCondition(inst);
}

void Supervisor::ReadMetricsFile(Instance* inst) {
  absl::StatusOr<std::string> text =
      inst->metrics_path.empty() ? absl::NotFoundError("none") : os::ReadFile(inst->metrics_path);
  if (!text.ok()) {
    EvaluateCondition(inst);  // Not written yet: its variables stay unknown.
    return;
  }
  absl::StatusOr<killcond::Metrics> parsed = killcond::ParseMetricsJson(*text);
  if (!parsed.ok()) {
    std::string error = absl::StrCat(inst->metrics_path, ": ", parsed.status().message());
    if (inst->last_metrics_error != error) {
      inst->last_metrics_error = error;
      Emit(inst->id, "metrics_error", error);  // The last good values stay.
    }
    return;
  }
  for (auto& [name, value] : *parsed) inst->metrics[name] = value;
  EvaluateCondition(inst);
}

void Supervisor::EvaluateCondition(Instance* inst) {
  const auto& condition = inst->engine->condition;
  if (!condition.has_value() || !inst->life.HasProcess() ||
      inst->life.state() == State::kStopping) {
    return;
  }
  killcond::Verdict verdict = condition->Evaluate(inst->metrics);
  switch (verdict.truth) {
    case killcond::Truth::kFalse:
      inst->condition_status = absl::StrCat("clear (", verdict.values, ")");
      return;
    case killcond::Truth::kUnknown:
      inst->condition_status = absl::StrCat("unknown: ", absl::StrJoin(verdict.missing, ", "),
                                            " never published");
      return;
    case killcond::Truth::kTrue:
      break;
  }
  inst->condition_status = absl::StrCat("HOLDS: ", condition->text(), " (", verdict.values, ")");
  const std::string reason =
      absl::StrCat("kill condition '", condition->text(), "' holds (", verdict.values, ")");
  Emit(inst->id, "condition_killed", absl::StrCat(reason, "; stopped until `fleetctl start`"));
  Perform(inst, inst->life.Kill(now_, reason));
}

void Supervisor::WatchMetricsFiles() {
  metrics_readers_.clear();
  for (auto& [name, engine] : engines_) {
    for (auto& inst : engine->instances) {
      if (inst->metrics_path.empty() || !engine->condition.has_value()) continue;
      metrics_readers_[inst->metrics_path].push_back(inst.get());
      const std::string dir = os::DirName(inst->metrics_path);
      if (metrics_watches_.contains(dir)) continue;
      // Atomic writers rename into place (IN_MOVED_TO); others close (IN_CLOSE_WRITE).
      int wd = ::inotify_add_watch(inotify_fd_, dir.c_str(), IN_CLOSE_WRITE | IN_MOVED_TO);
      if (wd < 0) continue;  // No such directory yet: tried again at the next change.
      metrics_watches_[dir] = wd;
      metrics_dirs_[wd] = dir;
    }
  }
}

void Supervisor::OnMetricsFileChanged(const std::string& path) {
  auto it = metrics_readers_.find(path);
  if (it == metrics_readers_.end()) return;
  for (Instance* inst : it->second) ReadMetricsFile(inst);
}

}  // namespace fleet::supervisor
