#include "core/modules/kill_conditions/kill_conditions.h"

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_replace.h"
#include "core/os/files.h"

namespace fleet::modules {
namespace {
// A worker's FLEET_METRICS_FILE: a small JSON object of numbers.
constexpr size_t kMaxMetricsFileBytes = 1u << 20;
}  // namespace

std::string MetricsPathFor(const fleet::config::v1::Engine& spec, uint32_t index) {
  if (spec.metrics_path().empty()) return "";
  return absl::StrReplaceAll(spec.metrics_path(), {{"{instance}", absl::StrCat(index)}});
}

void KillConditions::OnConfig(const config::LoadedConfig& loaded) {
  conditions_.clear();
  collect_all_ = loaded.config.has_metrics();
  for (const fleet::config::v1::Engine& spec : loaded.config.engines()) {
    if (spec.kill_condition().empty()) continue;
    absl::StatusOr<killcond::Expression> parsed =
        killcond::Expression::Parse(spec.kill_condition());
    if (parsed.ok()) conditions_.emplace(spec.name(), *std::move(parsed));
  }
  readers_.clear();
  for (auto it = tracks_.begin(); it != tracks_.end();) {
    const std::string& id = it->first;
    if (Collects(id.substr(0, id.rfind('/')))) {
      ++it;
    } else {
      tracks_.erase(it++);
    }
  }
  // A changed metrics_path applies to the instances there are.
  host_->ForEachInstance([this](const module::InstanceView& inst) { OnInstanceAdded(inst); });
  host_->Rewatch();
}

void KillConditions::OnInstanceAdded(const module::InstanceView& inst) {
  if (!Collects(inst.spec.name())) return;
  tracks_[inst.id].metrics_path = MetricsPathFor(inst.spec, inst.index);
  readers_.clear();
}

void KillConditions::OnInstanceRemoved(const std::string& id) {
  tracks_.erase(id);
  readers_.clear();
}

KillConditions::Track* KillConditions::Find(const module::InstanceView& inst) {
  if (!Collects(inst.spec.name())) return nullptr;
  auto it = tracks_.find(inst.id);
  return it == tracks_.end() ? nullptr : &it->second;
}

void KillConditions::OnSpawned(const module::InstanceView& inst) {
  if (Track* track = Find(inst)) ReadMetricsFile(inst, track);
}

void KillConditions::OnOutput(const module::InstanceView& inst, capture::Stream stream,
                              absl::string_view data) {
  Track* track = tracks_.empty() ? nullptr : Find(inst);
  if (track == nullptr) return;
  bool updated = false;
  track->lines[stream == capture::Stream::kStderr ? 1 : 0].Feed(data, [&](absl::string_view line) {
    killcond::Metrics values;
    absl::Status parsed = killcond::ParseMetricLine(line, &values);
    Merge(inst, track, values);
    updated = true;
    if (!parsed.ok() && track->last_error != parsed.message()) {
      track->last_error = std::string(parsed.message());
      host_->Emit(inst.id, "metrics_error", track->last_error);
    }
  });
  if (updated) Evaluate(inst, track);
}

void KillConditions::WatchedFiles(std::vector<std::string>* paths) const {
  for (const auto& [id, track] : tracks_) {
    if (!track.metrics_path.empty()) paths->push_back(track.metrics_path);
  }
}

void KillConditions::OnFileChanged(const std::string& path, bool complete) {
  // A metrics file is read once it is complete, not at every write into it.
  if (!complete) return;
  if (readers_.empty()) {
    for (const auto& [id, track] : tracks_) {
      if (!track.metrics_path.empty()) readers_[track.metrics_path].push_back(id);
    }
  }
  auto it = readers_.find(path);
  if (it == readers_.end()) return;
  const std::vector<std::string> readers = it->second;  // Kill may change the table.
  for (const std::string& id : readers) {
    host_->WithInstance(id, [&](const module::InstanceView& inst) {
      if (Track* track = Find(inst)) ReadMetricsFile(inst, track);
    });
  }
}

void KillConditions::ReadMetricsFile(const module::InstanceView& inst, Track* track) {
  absl::StatusOr<std::string> text =
      track->metrics_path.empty()
          ? absl::NotFoundError("none")
          : os::ReadUntrustedFile(track->metrics_path, kMaxMetricsFileBytes);
  if (!text.ok()) {
    Evaluate(inst, track);  // Not written yet: its variables stay unknown.
    return;
  }
  absl::StatusOr<killcond::Metrics> parsed = killcond::ParseMetricsJson(*text);
  if (!parsed.ok()) {
    std::string error = absl::StrCat(track->metrics_path, ": ", parsed.status().message());
    if (track->last_error != error) {
      track->last_error = error;
      host_->Emit(inst.id, "metrics_error", error);  // The last good values stay.
    }
    return;
  }
  Merge(inst, track, *parsed);
  Evaluate(inst, track);
}

void KillConditions::Merge(const module::InstanceView& inst, Track* track,
                           const killcond::Metrics& values) {
  std::vector<std::string> dropped;
  for (const auto& [name, value] : values) {
    auto it = track->metrics.find(name);
    if (it != track->metrics.end()) {
      it->second = value;
    } else if (track->metrics.size() < kMaxAppMetrics) {
      track->metrics.emplace(name, value);
    } else {
      dropped.push_back(name);
    }
  }
  if (dropped.empty() || track->over_cap) return;
  track->over_cap = true;
  host_->Emit(inst.id, "metrics_error",
              absl::StrCat("more than ", kMaxAppMetrics, " metric names; new ones (",
                           absl::StrJoin(dropped, ", "), ") are ignored, and so are later ones"));
}

void KillConditions::Evaluate(const module::InstanceView& inst, Track* track) {
  auto found = conditions_.find(inst.spec.name());
  if (!inst.live || found == conditions_.end()) return;
  const killcond::Expression& condition = found->second;
  killcond::Verdict verdict = condition.Evaluate(track->metrics);
  switch (verdict.truth) {
    case killcond::Truth::kFalse:
      track->status = absl::StrCat("clear (", verdict.values, ")");
      return;
    case killcond::Truth::kUnknown:
      track->status =
          absl::StrCat("unknown: ", absl::StrJoin(verdict.missing, ", "), " never published");
      return;
    case killcond::Truth::kTrue:
      break;
  }
  track->status = absl::StrCat("HOLDS: ", condition.text(), " (", verdict.values, ")");
  const std::string reason =
      absl::StrCat("kill condition '", condition.text(), "' holds (", verdict.values, ")");
  host_->Emit(inst.id, "condition_killed",
              absl::StrCat(reason, "; stopped until `fleetctl start`"));
  host_->Kill(inst.id, reason);
}

void KillConditions::FillInstanceStatus(const module::InstanceView& inst,
                                        fleet::control::v1::InstanceStatus* out) const {
  auto it = tracks_.find(inst.id);
  if (it == tracks_.end()) return;
  if (!it->second.status.empty()) out->set_condition(it->second.status);
  out->mutable_app_metrics()->insert(it->second.metrics.begin(), it->second.metrics.end());
}

}  // namespace fleet::modules
