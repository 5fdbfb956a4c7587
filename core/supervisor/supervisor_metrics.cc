// Kill conditions in the loop (FLEET_METRIC lines from captured output and
// metrics files, evaluated on every update) and the watched files behind them
// and behind health's freshness checks (inotify). Loop thread only.
#include <errno.h>
#include <sys/inotify.h>
#include <sys/stat.h>

#include <algorithm>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_replace.h"
#include "core/os/files.h"
#include "core/supervisor/supervisor.h"
#include "core/supervisor/supervisor_internal.h"

namespace fleet::supervisor {
namespace {
// A worker's FLEET_METRICS_FILE: a small JSON object of numbers.
constexpr size_t kMaxMetricsFileBytes = 1u << 20;
}  // namespace

std::string MetricsPathFor(const fleet::config::v1::Engine& spec, uint32_t index) {
  if (spec.metrics_path().empty()) return "";
  return absl::StrReplaceAll(spec.metrics_path(), {{"{instance}", absl::StrCat(index)}});
}

void Supervisor::SetSpec(Engine* engine, const fleet::config::v1::Engine& spec) {
  engine->spec = std::make_shared<fleet::config::v1::Engine>(spec);
  engine->condition.reset();
  engine->health = health::HealthPolicyFor(spec);
  if (!spec.kill_condition().empty()) {
    absl::StatusOr<killcond::Expression> parsed =
        killcond::Expression::Parse(spec.kill_condition());
    if (parsed.ok()) engine->condition = *std::move(parsed);
  }
  for (auto& inst : engine->instances) inst->metrics_path = MetricsPathFor(spec, inst->index);
  InstallSchedule(engine);
}

void Supervisor::ScanOutputForMetrics(OutputPipe* pipe, absl::string_view data) {
  Instance* inst = pipe->inst;
  if (!inst->engine->condition.has_value()) return;
  bool updated = false;
  pipe->metric_lines.Feed(data, [&](absl::string_view line) {
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
      inst->metrics_path.empty() ? absl::NotFoundError("none")
                                 : os::ReadUntrustedFile(inst->metrics_path, kMaxMetricsFileBytes);
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
      inst->condition_status =
          absl::StrCat("unknown: ", absl::StrJoin(verdict.missing, ", "), " never published");
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

void Supervisor::WatchFiles() {
  if (!rewatch_) return;  // Runs after every state change; the set rarely moves.
  rewatch_ = false;
  metrics_readers_.clear();
  answer_readers_.clear();
  std::vector<std::string> watched;
  for (auto& [name, engine] : engines_) {
    const health::HealthPolicy& h = engine->health;
    if (h.enabled) {
      if (!h.log_path.empty()) watched.push_back(h.log_path);
      if (!h.heartbeat_path.empty()) watched.push_back(h.heartbeat_path);
    }
    for (auto& inst : engine->instances) {
      if (engine->spec->type() == fleet::config::v1::ENGINE_TYPE_INTELLIGENCE) {
        // Its answer grows under a cap: every write is a chance to stop it.
        const std::string answer = AnswerPath(options_.run_dir, name, inst->index);
        answer_readers_[answer] = inst.get();
        watched.push_back(answer);
      }
      if (inst->metrics_path.empty() || !engine->condition.has_value()) continue;
      metrics_readers_[inst->metrics_path].push_back(inst.get());
      watched.push_back(inst->metrics_path);
    }
  }
  watched_files_ = watched;
  for (const std::string& path : watched) {
    if (!file_changed_at_.contains(path)) {
      // First sight: place its mtime on the monotonic clock, once. From here
      // on only inotify moves it, so a wall-clock jump changes nothing.
      struct stat st;
      if (::stat(path.c_str(), &st) == 0) {
        absl::Duration age = clock_->WallNow() - absl::TimeFromTimespec(st.st_mtim);
        file_changed_at_[path] = now_ - std::max(age, absl::ZeroDuration());
      }
    }
    const std::string dir = os::DirName(path);
    if (polling_ || dir_watches_.contains(dir)) continue;
    // Appends (IN_MODIFY), touch (IN_ATTRIB), atomic renames (IN_MOVED_TO),
    // rewrites (IN_CLOSE_WRITE).
    int wd = ::inotify_add_watch(inotify_fd_, dir.c_str(),
                                 IN_MODIFY | IN_ATTRIB | IN_CLOSE_WRITE | IN_MOVED_TO | IN_CREATE);
    if (wd < 0 && errno == ENOSPC) {
      StartPolling("inotify: fs.inotify.max_user_watches is used up");
      continue;
    }
    if (wd < 0) {
      rewatch_ = true;  // No such directory yet: try again at the next change.
      continue;
    }
    dir_watches_[dir] = wd;
    watched_dirs_[wd] = dir;
  }
}

void Supervisor::OnWatchedFileChanged(const std::string& path, uint32_t mask) {
  file_changed_at_[path] = now_;
  if (auto answer = answer_readers_.find(path); answer != answer_readers_.end()) {
    CheckAnswerSize(answer->second);
    return;
  }
  // A metrics file is read once it is complete, not at every write into it.
  if (!(mask & (IN_CLOSE_WRITE | IN_MOVED_TO))) return;
  auto it = metrics_readers_.find(path);
  if (it == metrics_readers_.end()) return;
  for (Instance* inst : it->second) ReadMetricsFile(inst);
}

}  // namespace fleet::supervisor
