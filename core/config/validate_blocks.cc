// The fleet file's blocks beyond its engines: backoff, shared state,
// recovery, and the dependency graph between engines.
#include <algorithm>
#include <functional>
#include <tuple>

#include "absl/container/flat_hash_set.h"
#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "core/bus/ids.h"
#include "core/config/validate.h"
#include "core/config/validator.h"
#include "core/defaults/defaults.h"
#include "core/os/files.h"
#include "core/yaml/yaml_to_proto.h"

namespace fleet::config {
namespace {
namespace v1 = ::fleet::config::v1;
}  // namespace

void Validator::CheckBackoff(v1::Backoff* b) {
  if (!b->has_initial()) SetIfUnset(b->mutable_initial(), 500);
  SetIfUnset(b->mutable_max(), 60 * 1000);
  if (b->factor() == 0) b->set_factor(2);
  if (b->factor() < 1 || b->factor() > 100) {
    Error(b, v1::Backoff::kFactorFieldNumber, "factor must be between 1 and 100");
  }
  if (!b->has_jitter()) b->set_jitter(0.2);
  if (b->jitter() < 0 || b->jitter() > 1) {
    Error(b, v1::Backoff::kJitterFieldNumber, "jitter must be between 0 and 1");
  }
  SetIfUnset(b->mutable_reset_after(), 60 * 1000);
  if (Millis(b->initial()) > Millis(b->max())) {
    Error(b, v1::Backoff::kInitialFieldNumber,
          absl::StrCat("backoff.initial (", Millis(b->initial()), "ms) is more than backoff.max (",
                       Millis(b->max()), "ms): the first wait would be the longest"));
  }
}

void Validator::CheckMetrics(v1::FleetConfig* config) {
  if (!config->has_metrics()) return;
  v1::Metrics* m = config->mutable_metrics();
  if (!m->listen().empty() && m->listen()[0] != '/') {
    const size_t colon = m->listen().rfind(':');
    uint32_t port = 0;
    if (colon == std::string::npos || colon == 0 ||
        !absl::SimpleAtoi(m->listen().substr(colon + 1), &port) || port > 65535) {
      Error(m, v1::Metrics::kListenFieldNumber,
            absl::StrCat("listen '", m->listen(),
                         "' is neither HOST:PORT (127.0.0.1:9464) nor an absolute path (a unix "
                         "socket)"));
    }
  }
  if (!m->textfile().empty()) {
    m->set_textfile(os::JoinPath(base_dir_, os::ExpandHome(m->textfile())));
    if (!absl::EndsWith(m->textfile(), ".prom")) {
      Error(m, v1::Metrics::kTextfileFieldNumber,
            "textfile must end in .prom (node_exporter's textfile collector reads only those)");
    }
  }
  SetIfUnset(m->mutable_interval(), 15 * 1000);
  if (Millis(m->interval()) < 1000) {
    Error(m, v1::Metrics::kIntervalFieldNumber, "interval must be at least 1s");
  }
}

void Validator::CheckBus(const v1::FleetConfig& config) {
  const v1::Bus& b = config.bus();
  for (int i = 0; i < b.external_capabilities_size(); ++i) {
    if (!bus::IsValidId(b.external_capabilities(i))) {
      Error(&b, v1::Bus::kExternalCapabilitiesFieldNumber,
            absl::StrCat("capability '", b.external_capabilities(i),
                         "' must be 1 to 100 of [A-Za-z0-9._-], without '..' (it names a "
                         "directory of the work-bus)"),
            i);
    }
  }
}

void Validator::CheckRecovery(v1::FleetConfig* config) {
  if (!config->has_recovery()) return;
  v1::Recovery* r = config->mutable_recovery();
  if (!r->has_keep_snapshots()) r->set_keep_snapshots(10);
  if (r->keep_snapshots() == 0 || r->keep_snapshots() > 1000) {
    Error(r, v1::Recovery::kKeepSnapshotsFieldNumber, "keep_snapshots must be between 1 and 1000");
  }
  SetIfUnset(r->mutable_interval(), 10 * 1000);
  if (r->plugin().empty()) r->set_plugin("libfleet_recovery_files.so");
  for (v1::ProtectedFile& f : *r->mutable_protect()) {
    if (f.path().empty()) {
      Error(&f, v1::ProtectedFile::kPathFieldNumber, "a protected file needs a path");
      continue;
    }
    if (f.state()) {
      if (!config->has_state()) {
        Error(&f, v1::ProtectedFile::kStateFieldNumber,
              "state: true protects files in the state work trees, but the fleet has no state: "
              "block");
      }
      if (!f.path().empty() && (f.path()[0] == '/' || f.path().find("..") != std::string::npos)) {
        Error(&f, v1::ProtectedFile::kPathFieldNumber,
              absl::StrCat("'", f.path(), "' must be relative to the work tree, without '..'"));
      }
    } else {
      f.set_path(os::JoinPath(base_dir_, os::ExpandHome(f.path())));
    }
    if (!f.format().empty() && f.format() != "json" && f.format() != "yaml" &&
        f.format() != "text") {
      Error(&f, v1::ProtectedFile::kFormatFieldNumber,
            absl::StrCat("format '", f.format(), "' is not json, yaml or text"));
    }
    if (f.min_size_ratio() < 0 || f.min_size_ratio() > 1) {
      Error(&f, v1::ProtectedFile::kMinSizeRatioFieldNumber,
            "min_size_ratio must be between 0 and 1 (0.5: half the last good size)");
    }
  }
}

void Validator::CheckState(v1::FleetConfig* config) {
  for (const v1::Engine& e : config->engines()) {
    if (e.state() && !config->has_state()) {
      Error(&e, v1::Engine::kStateFieldNumber,
            absl::StrCat("engine '", e.name(), "' uses state, but the fleet has no state: block"));
    }
  }
  if (!config->has_state()) return;
  v1::State* state = config->mutable_state();  // Only now: this creates it.
  if (state->remote().empty()) {
    Error(state, 0, "state needs a remote (a repository path or URL)");
  } else if (state->remote().find("://") == std::string::npos &&
             state->remote().find(':') == std::string::npos) {
    state->set_remote(os::JoinPath(base_dir_, os::ExpandHome(state->remote())));
  }
  if (state->branch().empty()) state->set_branch("main");
  state->set_work_trees(state->work_trees().empty()
                            ? os::JoinPath(config->run_dir(), "state")
                            : os::JoinPath(base_dir_, os::ExpandHome(state->work_trees())));
  if (state->plugin().empty()) state->set_plugin("libfleet_sync_git.so");
  if (state->catch_up().empty()) state->set_catch_up("rebase");
  if (state->catch_up() != "rebase" && state->catch_up() != "merge") {
    Error(state, v1::State::kCatchUpFieldNumber,
          absl::StrCat("catch_up '", state->catch_up(), "' is not rebase or merge"));
  }
  if (!state->has_push_attempts()) state->set_push_attempts(8);
  SetIfUnset(state->mutable_watchdog(), 5 * 60 * 1000);
  SetIfUnset(state->mutable_network_timeout(), 30 * 1000);
  const std::vector<std::string>& kStrategies = MergeStrategies();
  for (const v1::MergeRule& rule : state->merge()) {
    if (rule.path().empty()) Error(&rule, 0, "a merge rule needs a path glob");
    if (std::find(kStrategies.begin(), kStrategies.end(), rule.strategy()) == kStrategies.end()) {
      std::string hint = yaml::ClosestMatch(rule.strategy(), kStrategies);
      Error(&rule, v1::MergeRule::kStrategyFieldNumber,
            absl::StrCat("'", rule.strategy(), "' is not a merge strategy; expected one of ",
                         absl::StrJoin(kStrategies, ", "),
                         hint.empty() ? "" : absl::StrCat(" (did you mean '", hint, "'?)")));
    }
  }
}

const std::vector<std::string>& MergeStrategies() {
  static const auto* const kStrategies = new std::vector<std::string>{
      "ours", "theirs", "union", "keep-both", "json", "json-ours", "json-theirs"};
  return *kStrategies;
}

void Validator::CheckDependencies(
    const v1::FleetConfig& config,
    const absl::flat_hash_map<std::string, const v1::Engine*>& by_name) {
  for (const v1::Engine& e : config.engines()) {
    for (int i = 0; i < e.depends_on_size(); ++i) {
      const std::string& dep = e.depends_on(i);
      if (dep == e.name()) {
        Error(&e, v1::Engine::kDependsOnFieldNumber, "an engine cannot depend on itself", i);
      } else if (!by_name.contains(dep)) {
        Error(&e, v1::Engine::kDependsOnFieldNumber,
              absl::StrCat("depends_on names '", dep, "', which is not an engine"), i);
      }
    }
  }
  // Cycles: depth-first search, reporting each cycle once with its path.
  absl::flat_hash_map<std::string, int> mark;  // 1 = on the stack, 2 = done
  std::vector<std::string> stack;
  std::function<void(const v1::Engine&)> visit = [&](const v1::Engine& e) {
    mark[e.name()] = 1;
    stack.push_back(e.name());
    for (const std::string& dep : e.depends_on()) {
      auto it = by_name.find(dep);
      if (it == by_name.end() || dep == e.name()) continue;
      if (mark[dep] == 1) {
        auto start = std::find(stack.begin(), stack.end(), dep);
        std::vector<std::string> cycle(start, stack.end());
        cycle.push_back(dep);
        Error(&e, v1::Engine::kDependsOnFieldNumber,
              absl::StrCat("depends_on makes a cycle: ", absl::StrJoin(cycle, " -> ")));
      } else if (mark[dep] == 0) {
        visit(*it->second);
      }
    }
    stack.pop_back();
    mark[e.name()] = 2;
  };
  for (const v1::Engine& e : config.engines()) {
    if (!e.name().empty() && mark[e.name()] == 0 && by_name.at(e.name()) == &e) visit(e);
  }
}

}  // namespace fleet::config
