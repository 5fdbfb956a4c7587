// What fleetctl shows of the features beside the instance table: scheduled
// runs, the work-bus, shared state, plugins.
#include <algorithm>
#include <map>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_join.h"
#include "absl/time/time.h"
#include "cli/fleetctl/render.h"
#include "cli/fleetctl/table.h"

namespace fleet::cli {

namespace ctl = ::fleet::control::v1;

namespace {

// Run lengths are often short: "316ms", "2.9s", then HumanDuration.
std::string RunDuration(int64_t ms) {
  if (ms < 1000) return absl::StrCat(ms, "ms");
  if (ms < 60000) return absl::StrFormat("%.1fs", ms / 1000.0);
  return HumanDuration(ms);
}

std::string Bytes(uint64_t n) {
  if (n < 10 * 1024) return absl::StrCat(n, " B");
  if (n < 10 * 1024 * 1024) return absl::StrCat(n / 1024, " KiB");
  return absl::StrCat(n / (1024 * 1024), " MiB");
}

// "succeeded 12s ago (1.2s, 340 B, schedule)".
std::string RunSummary(const ctl::RunRecord& r, int64_t now_ms) {
  std::string out =
      absl::StrCat(r.verdict(), " ", HumanDuration(now_ms - r.started_unix_ms()), " ago (");
  if (r.verdict() != "skipped" && r.verdict() != "missed") {
    absl::StrAppend(&out, RunDuration(r.duration_ms()), ", ", Bytes(r.output_bytes()), ", ");
  }
  absl::StrAppend(&out, r.trigger(), ")");
  if (r.verdict() != "succeeded" && r.verdict() != "running" && !r.reason().empty()) {
    absl::StrAppend(&out, ": ", r.reason());
  }
  return out;
}

}  // namespace

std::string RenderScheduled(const ctl::GetStatusResponse& status, int64_t now_ms) {
  std::vector<std::vector<std::string>> rows = {{"INSTANCE", "LAST RUN", "NEXT RUN"}};
  for (const ctl::EngineStatus& e : status.engines()) {
    if (e.type() == "daemon") continue;
    for (const ctl::InstanceStatus& i : e.instances()) {
      const std::string last =
          i.has_last_run() ? RunSummary(i.last_run(), now_ms) : std::string("never ran");
      const std::string next =
          i.next_run_unix_ms() > 0
              ? absl::StrCat(
                    "in ", HumanDuration(std::max<int64_t>(0, i.next_run_unix_ms() - now_ms)), " (",
                    absl::FormatTime("%H:%M:%S", absl::FromUnixMillis(i.next_run_unix_ms()),
                                     absl::LocalTimeZone()),
                    ")")
              : std::string("-");
      rows.push_back({i.id(), Clip(last, 70), next});
    }
  }
  if (rows.size() == 1) return "";
  return "\nSCHEDULED\n" + Table(rows, {}, 0, false, "  ");
}

std::string RenderBusStatus(const ctl::BusStatusResponse& status) {
  if (status.runs().empty()) return "no runs on the bus\n";
  std::string out;
  for (const ctl::BusRunStatus& run : status.runs()) {
    std::vector<std::string> counts;
    for (const auto& [state, n] : run.counts()) counts.push_back(absl::StrCat(n, " ", state));
    std::sort(counts.begin(), counts.end());
    absl::StrAppend(&out, "run ", run.run(), run.done() ? " (done)" : "", ": ",
                    absl::StrJoin(counts, ", "), "\n");
    // Depth of each task: 1 + the deepest of its needs (tasks come in file order).
    std::map<std::string, int> depth;
    bool grew = true;
    while (grew) {
      grew = false;
      for (const ctl::BusTaskStatus& t : run.tasks()) {
        int d = 0;
        for (const std::string& need : t.needs())
          d = std::max(d, depth.count(need) ? depth[need] + 1 : 1);
        if (!depth.count(t.id()) || depth[t.id()] != d) {
          depth[t.id()] = d;
          grew = true;
        }
      }
    }
    std::vector<std::vector<std::string>> rows;
    rows.push_back({"TASK", "CAPABILITY", "STATE", "TRY", "WORKER", "TIME", "WHY"});
    for (const ctl::BusTaskStatus& t : run.tasks()) {
      rows.push_back({absl::StrCat(std::string(2 * depth[t.id()], ' '), t.id()), t.capability(),
                      t.state(), absl::StrCat(t.attempt()), t.worker().empty() ? "-" : t.worker(),
                      t.duration_ms() > 0 ? HumanDuration(t.duration_ms()) : "-", t.reason()});
    }
    absl::StrAppend(&out, Table(rows, {}, 0, false, "  "));
  }
  return out;
}

std::string RenderRuns(const ctl::ListRunsResponse& runs, int64_t now_ms) {
  if (runs.runs().empty()) return "no runs yet\n";
  std::vector<std::vector<std::string>> rows;
  rows.push_back(
      {"INSTANCE", "RUN", "TRIGGER", "STARTED", "DURATION", "OUTPUT", "VERDICT", "REASON"});
  for (const ctl::RunRecord& r : runs.runs()) {
    rows.push_back({r.instance(), absl::StrCat("#", r.seq()), r.trigger(),
                    absl::StrCat(HumanDuration(now_ms - r.started_unix_ms()), " ago"),
                    RunDuration(r.duration_ms()), Bytes(r.output_bytes()), r.verdict(),
                    r.verdict() == "succeeded" ? std::string() : r.reason()});
  }
  return Table(rows);
}

std::string RenderStateSync(const ctl::GetStatusResponse& status) {
  // Every instance that uses state while there are few; past that only the
  // ones with a problem, so a big fleet's status stays readable.
  constexpr int kListAll = 20;
  int with_state = 0;
  for (const ctl::EngineStatus& e : status.engines()) {
    for (const ctl::InstanceStatus& i : e.instances()) with_state += i.state_dir().empty() ? 0 : 1;
  }
  if (with_state == 0) return "";
  std::vector<std::vector<std::string>> rows;
  int ok = 0;
  for (const ctl::EngineStatus& e : status.engines()) {
    for (const ctl::InstanceStatus& i : e.instances()) {
      if (i.state_dir().empty()) continue;
      const bool fine = !StateSyncTroubled(i);
      ok += fine ? 1 : 0;
      if (fine && with_state > kListAll) continue;
      rows.push_back({i.id(), i.state_sync()});
    }
  }
  std::string out = "\nSHARED STATE\n" + Table(rows, {}, 0, false, "  ");
  if (with_state > kListAll) absl::StrAppend(&out, "  (", ok, " more in sync)\n");
  return out;
}

std::string RenderPlugins(const ctl::GetPluginsResponse& plugins) {
  if (plugins.plugins().empty()) return "no plugins loaded (no engine asks for one)\n";
  std::vector<std::vector<std::string>> rows;
  rows.push_back({"NAME", "KIND", "VERSION", "ISOLATION", "FILE", "ERROR"});
  for (const ctl::PluginInfo& p : plugins.plugins()) {
    rows.push_back({p.name().empty() ? "-" : p.name(), p.kind(),
                    p.version().empty() ? "-" : p.version(), p.isolation(),
                    p.path().empty() ? p.file() : p.path(), p.error().empty() ? "-" : p.error()});
  }
  return Table(rows);
}

}  // namespace fleet::cli
