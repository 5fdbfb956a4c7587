#include "cli/fleetctl/render.h"

#include <algorithm>
#include <functional>
#include <iterator>
#include <map>
#include <vector>

#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"
#include "absl/strings/strip.h"
#include "absl/time/clock.h"
#include "absl/time/time.h"
#include "google/protobuf/util/json_util.h"

namespace fleet::cli {
namespace {

namespace ctl = ::fleet::control::v1;

const char* StateColor(ctl::InstanceState state) {
  switch (state) {
    case ctl::INSTANCE_STATE_RUNNING:
    case ctl::INSTANCE_STATE_IDLE:
      return "\033[32m";  // green
    case ctl::INSTANCE_STATE_FATAL:
    case ctl::INSTANCE_STATE_EXITED:
      return "\033[31m";  // red
    case ctl::INSTANCE_STATE_STOPPED:
      return "\033[2m";  // dim
    default:
      return "\033[33m";  // yellow: on its way somewhere
  }
}

}  // namespace

std::string StateName(ctl::InstanceState state) {
  const std::string& name = ctl::InstanceState_Name(state);
  return std::string(absl::StripPrefix(name, "INSTANCE_STATE_"));
}

std::string HumanDuration(int64_t millis) {
  if (millis <= 0) return "-";
  int64_t s = millis / 1000;
  if (s < 60) return absl::StrCat(s, "s");
  if (s < 3600) return absl::StrCat(s / 60, "m", s % 60, "s");
  if (s < 86400) return absl::StrCat(s / 3600, "h", (s % 3600) / 60, "m");
  return absl::StrCat(s / 86400, "d", (s % 86400) / 3600, "h");
}

namespace {

// Columns on a terminal: one per UTF-8 code point (names and reasons may
// be non-ASCII; wide CJK glyphs are not measured as two).
size_t DisplayWidth(absl::string_view text) {
  size_t n = 0;
  for (char c : text) n += (static_cast<unsigned char>(c) & 0xC0) != 0x80;
  return n;
}

// text cut to at most `columns` columns, "..." marking the cut.
std::string Clip(const std::string& text, size_t columns) {
  if (DisplayWidth(text) <= columns || columns < 3) return text;
  size_t kept = 0, i = 0;
  for (; i < text.size(); ++i) {
    if ((static_cast<unsigned char>(text[i]) & 0xC0) != 0x80 && ++kept > columns - 3) break;
  }
  return text.substr(0, i) + "...";
}

// Left-aligned columns, two spaces apart, the first row a header; every
// row indented by `indent`. With color, column state_col of row r is
// coloured by states[r]; states may be empty for a table without states.
std::string Table(const std::vector<std::vector<std::string>>& rows,
                  const std::vector<ctl::InstanceState>& states = {}, size_t state_col = 0,
                  bool color = false, absl::string_view indent = "") {
  std::vector<size_t> width;
  for (const auto& row : rows) {
    if (width.size() < row.size()) width.resize(row.size(), 0);
    for (size_t c = 0; c + 1 < row.size(); ++c) {
      width[c] = std::max(width[c], DisplayWidth(row[c]));
    }
  }
  std::string out;
  for (size_t r = 0; r < rows.size(); ++r) {
    std::string line(indent);
    for (size_t c = 0; c < rows[r].size(); ++c) {
      std::string cell = rows[r][c];
      if (c + 1 < rows[r].size()) cell.append(width[c] + 2 - DisplayWidth(cell), ' ');
      if (color && c == state_col && r > 0 && r < states.size() &&
          states[r] != ctl::INSTANCE_STATE_UNSPECIFIED) {
        cell = absl::StrCat(StateColor(states[r]), cell, "\033[0m");
      }
      absl::StrAppend(&line, cell);
    }
    while (!line.empty() && line.back() == ' ') line.pop_back();
    absl::StrAppend(&out, line, "\n");
  }
  return out;
}

std::string Header(const ctl::GetStatusResponse& status) {
  const ctl::DaemonStatus& d = status.daemon();
  // The loop's own health is shown once it is worth a look.
  std::string loop;
  if (d.max_loop_lag_ms() >= 100 || d.loop_queue() > 0 || d.plugin_queue() > 10) {
    loop = absl::StrFormat(", loop %dms late (worst %dms)", d.loop_lag_ms(), d.max_loop_lag_ms());
    if (d.loop_queue() > 0) absl::StrAppend(&loop, ", ", d.loop_queue(), " commands waiting");
    if (d.plugin_queue() > 0) absl::StrAppend(&loop, ", ", d.plugin_queue(), " plugin calls waiting");
  }
  return absl::StrFormat(
      "fleet %s: fleetd pid %d, up %s, %u instances, rss %.1f MiB, %u fds%s%s, version %s\n\n",
      status.fleet(), d.pid(), HumanDuration(d.uptime_ms()), d.instances(),
      d.rss_bytes() / 1048576.0, d.open_fds(), loop, d.watchdog() ? ", watchdog on" : "",
      status.version());
}

}  // namespace

namespace {

// "12.0M", "1.3G": resident memory for a column.
std::string Memory(uint64_t bytes) {
  if (bytes == 0) return "-";
  if (bytes < (uint64_t{1} << 30)) return absl::StrFormat("%.1fM", bytes / 1048576.0);
  return absl::StrFormat("%.1fG", bytes / 1073741824.0);
}

// The reason with its "restart in 2s" (true when the backoff began)
// replaced by what is left of it now.
std::string LiveReason(const ctl::InstanceStatus& i) {
  std::string reason = i.reason();
  if (i.state() != ctl::INSTANCE_STATE_BACKOFF) return reason;
  const size_t at = reason.rfind("; restart in ");
  if (at == std::string::npos) return reason;
  const int64_t left = i.next_start_in_ms();
  return absl::StrCat(reason.substr(0, at), "; restart in ",
                      left < 1000 ? absl::StrCat(left, "ms") : HumanDuration(left));
}

}  // namespace

std::string RenderStatus(const ctl::GetStatusResponse& status, bool color) {
  std::vector<std::vector<std::string>> rows;
  rows.push_back({"INSTANCE", "TYPE", "STATE", "PID", "UPTIME", "RESTARTS", "CPU", "RSS", "HEALTH",
                  "REASON"});
  std::vector<ctl::InstanceState> states = {ctl::INSTANCE_STATE_UNSPECIFIED};
  for (const ctl::EngineStatus& e : status.engines()) {
    if (e.instances().empty()) {
      rows.push_back({absl::StrCat(e.name(), "/-"), e.type(), "-", "-", "-", "-", "-", "-", "-",
                      "replicas: 0"});
      states.push_back(ctl::INSTANCE_STATE_UNSPECIFIED);
    }
    for (const ctl::InstanceStatus& i : e.instances()) {
      std::string reason = LiveReason(i);
      if (i.state() == ctl::INSTANCE_STATE_RUNNING && reason == "running") reason = "";
      std::string health = i.health().empty() ? "-" : i.health();
      health = Clip(health, 40);
      const bool up = i.pid() > 0;
      rows.push_back({i.id(), e.type(), StateName(i.state()), up ? absl::StrCat(i.pid()) : "-",
                      HumanDuration(i.uptime_ms()), absl::StrCat(i.restarts()),
                      up ? absl::StrFormat("%.1f%%", i.cpu_percent()) : "-",
                      up ? Memory(i.rss_bytes()) : "-", health, reason});
      states.push_back(i.state());
    }
  }
  return Header(status) + Table(rows, states, 2, color) + RenderStateSync(status) +
         RenderScheduled(status, absl::ToUnixMillis(absl::Now()));
}

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

bool StateSyncTroubled(const ctl::InstanceStatus& i) {
  return !i.state_conflicts().empty() || absl::StartsWith(i.state_sync(), "degraded") ||
         absl::StartsWith(i.state_sync(), "error") || absl::StartsWith(i.state_sync(), "invalid");
}

bool InstanceOk(const ctl::InstanceStatus& i, bool scheduled) {
  if (absl::StartsWith(i.condition(), "HOLDS") || StateSyncTroubled(i)) return false;
  if (scheduled) {
    // Between runs, in one, or retrying one: fine unless it is overdue.
    if (absl::StartsWith(i.health(), "overdue")) return false;
    return i.state() != ctl::INSTANCE_STATE_FATAL && i.state() != ctl::INSTANCE_STATE_KILLED;
  }
  switch (i.state()) {
    case ctl::INSTANCE_STATE_RUNNING:
      return i.health().empty() || absl::StartsWith(i.health(), "healthy") ||
             i.health() == "pending";
    case ctl::INSTANCE_STATE_IDLE:  // A cycle engine whose last run succeeded.
    case ctl::INSTANCE_STATE_STOPPED:
    case ctl::INSTANCE_STATE_EXITED:
      return true;  // Down by decision (the operator's, or its restart policy's).
    default:
      return false;
  }
}

bool AllHealthy(const ctl::GetStatusResponse& status) {
  for (const ctl::EngineStatus& e : status.engines()) {
    for (const ctl::InstanceStatus& i : e.instances()) {
      if (!InstanceOk(i, e.type() != "daemon")) return false;
    }
  }
  return true;
}

std::string RenderHealth(const ctl::GetStatusResponse& status, bool color) {
  std::vector<std::vector<std::string>> rows;
  rows.push_back({"INSTANCE", "OK", "STATE", "PROGRESS", "KILL CONDITION", "CHECKED", "REASON"});
  std::vector<ctl::InstanceState> states = {ctl::INSTANCE_STATE_UNSPECIFIED};
  for (const ctl::EngineStatus& e : status.engines()) {
    for (const ctl::InstanceStatus& i : e.instances()) {
      std::string reason = i.reason() == "running" ? "" : i.reason();
      rows.push_back(
          {i.id(), InstanceOk(i, e.type() != "daemon") ? "yes" : "NO", StateName(i.state()),
           i.health().empty() ? "not checked" : i.health(),
           i.condition().empty() ? "-" : i.condition(),
           i.health_checked_ms_ago() < 0
               ? "-"
               : absl::StrCat(HumanDuration(std::max<int64_t>(i.health_checked_ms_ago(), 1000)),
                              " ago"),
           reason});
      states.push_back(i.state());
    }
  }
  return Table(rows, states, 2, color);
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

std::string RenderBrief(const ctl::GetStatusResponse& status,
                        const ctl::GetPluginsResponse& plugins,
                        const std::vector<ctl::Event>& events) {
  std::map<std::string, int> counts;
  std::vector<std::string> problems;
  for (const ctl::EngineStatus& e : status.engines()) {
    for (const ctl::InstanceStatus& i : e.instances()) {
      ++counts[StateName(i.state())];
      if (InstanceOk(i, e.type() != "daemon")) continue;
      std::string why =
          !i.health().empty() && i.state() == ctl::INSTANCE_STATE_RUNNING ? i.health() : i.reason();
      problems.push_back(absl::StrCat("  ", i.id(), "  ", StateName(i.state()), "  ", why));
    }
  }
  std::string out = Header(status);
  std::vector<std::string> parts;
  for (const auto& [state, n] : counts) parts.push_back(absl::StrCat(n, " ", state));
  absl::StrAppend(&out, "instances: ", parts.empty() ? "none" : absl::StrJoin(parts, ", "), "\n");
  int loaded = 0;
  std::vector<std::string> refused;
  for (const ctl::PluginInfo& p : plugins.plugins()) {
    if (p.error().empty()) {
      ++loaded;
    } else {
      refused.push_back(absl::StrCat("  ", p.file(), ": ", p.error()));
    }
  }
  absl::StrAppend(&out, "plugins: ", loaded, " loaded, ", refused.size(), " refused\n");
  for (const std::string& r : refused) absl::StrAppend(&out, r, "\n");
  absl::StrAppend(&out, "\n",
                  problems.empty() ? "nothing needs attention\n" : "needs attention:\n");
  for (const std::string& p : problems) absl::StrAppend(&out, p, "\n");
  if (!events.empty()) {
    absl::StrAppend(&out, "\nrecent warnings:\n");
    for (const ctl::Event& e : events) absl::StrAppend(&out, "  ", RenderEvent(e));
  }
  return out;
}

std::string RenderEvent(const ctl::Event& event) {
  return absl::StrCat(absl::FormatTime("%Y-%m-%dT%H:%M:%E3SZ",
                                       absl::FromUnixMillis(event.unix_ms()), absl::UTCTimeZone()),
                      "  ", event.subject(), "  ", event.kind(),
                      event.message().empty() ? "" : "  ", event.message(), "\n");
}

std::string ToJson(const google::protobuf::Message& message, bool one_line) {
  google::protobuf::util::JsonPrintOptions options;
  options.add_whitespace = !one_line;
  options.always_print_primitive_fields = true;
  options.preserve_proto_field_names = true;
  std::string out;
  (void)google::protobuf::util::MessageToJsonString(message, &out, options);
  if (one_line) out += "\n";
  return out;
}

std::string RenderTop(const ctl::GetStatusResponse& status, int rows, int cols, int64_t now_ms) {
  struct Row {
    const ctl::InstanceStatus* instance;
    std::string type;
  };
  std::vector<Row> all;
  std::map<std::string, int> counts;
  double cpu = 0;
  uint64_t rss = 0;
  for (const ctl::EngineStatus& e : status.engines()) {
    for (const ctl::InstanceStatus& i : e.instances()) {
      all.push_back({&i, e.type()});
      ++counts[absl::AsciiStrToLower(StateName(i.state()))];
      cpu += i.cpu_percent();
      rss += i.rss_bytes();
    }
  }
  std::stable_sort(all.begin(), all.end(), [](const Row& a, const Row& b) {
    return a.instance->cpu_percent() > b.instance->cpu_percent();
  });
  std::vector<std::string> parts;
  for (const auto& [state, n] : counts) parts.push_back(absl::StrCat(n, " ", state));
  const ctl::DaemonStatus& d = status.daemon();
  std::string out = absl::StrFormat(
      "fleet %s  fleetd pid %d up %s  %zu instances (%s)  cpu %.1f%%  rss %s  %s\n\n",
      status.fleet(), d.pid(), HumanDuration(d.uptime_ms()), all.size(),
      parts.empty() ? "none" : absl::StrJoin(parts, ", "), cpu, Memory(rss),
      absl::FormatTime("%H:%M:%S", absl::FromUnixMillis(now_ms), absl::LocalTimeZone()));
  std::vector<std::vector<std::string>> table = {
      {"INSTANCE", "STATE", "CPU", "RSS", "RESTARTS", "HEALTH", "NEXT RUN"}};
  // Summary, blank and header lines, then rows; a last line says how many
  // did not fit.
  size_t room = all.size();
  if (rows > 0 && all.size() + 3 > static_cast<size_t>(rows)) {
    room = rows > 4 ? static_cast<size_t>(rows - 4) : 0;
  }
  for (size_t r = 0; r < all.size() && r < room; ++r) {
    const ctl::InstanceStatus& i = *all[r].instance;
    const bool up = i.pid() > 0;
    table.push_back(
        {i.id(), StateName(i.state()), up ? absl::StrFormat("%.1f%%", i.cpu_percent()) : "-",
         up ? Memory(i.rss_bytes()) : "-", absl::StrCat(i.restarts()),
         i.health().empty() ? "-" : Clip(i.health(), 30),
         i.next_run_unix_ms() > 0
             ? absl::StrCat("in ", HumanDuration(std::max<int64_t>(1, i.next_run_unix_ms() - now_ms)))
             : "-"});
  }
  std::string body = Table(table);
  if (all.size() > room) absl::StrAppend(&body, "... ", all.size() - room, " more\n");
  absl::StrAppend(&out, body);
  if (cols <= 0) return out;
  // Each line cut to the terminal's width, so nothing wraps and scrolls.
  std::string clipped;
  if (!out.empty() && out.back() == '\n') out.pop_back();
  for (absl::string_view line : absl::StrSplit(out, '\n')) {
    std::string l(line);
    if (DisplayWidth(l) > static_cast<size_t>(cols)) l = Clip(l, static_cast<size_t>(cols));
    absl::StrAppend(&clipped, l, "\n");
  }
  clipped.pop_back();
  return clipped;
}

absl::Status KeepOnly(const std::vector<std::string>& targets, ctl::GetStatusResponse* status) {
  auto named = [&targets](const std::string& engine, const std::string& id) {
    for (const std::string& t : targets) {
      if (t == "all" || t == engine || t == id) return true;
    }
    return false;
  };
  for (const std::string& t : targets) {
    bool found = t == "all";
    for (const ctl::EngineStatus& e : status->engines()) {
      found = found || t == e.name();
      for (const ctl::InstanceStatus& i : e.instances()) found = found || t == i.id();
    }
    if (!found) return absl::NotFoundError(absl::StrCat("no engine or instance '", t, "'"));
  }
  auto* engines = status->mutable_engines();
  for (int e = engines->size() - 1; e >= 0; --e) {
    ctl::EngineStatus* engine = engines->Mutable(e);
    auto* instances = engine->mutable_instances();
    for (int i = instances->size() - 1; i >= 0; --i) {
      if (!named(engine->name(), instances->Get(i).id())) instances->DeleteSubrange(i, 1);
    }
    if (instances->empty() && !named(engine->name(), "")) engines->DeleteSubrange(e, 1);
  }
  return absl::OkStatus();
}

bool AllRunning(const ctl::GetStatusResponse& status) {
  for (const ctl::EngineStatus& e : status.engines()) {
    for (const ctl::InstanceStatus& i : e.instances()) {
      // A cycle engine between successful runs is as up as it gets; a
      // scheduled one also while its run starts or waits for a retry.
      const bool up =
          i.state() == ctl::INSTANCE_STATE_RUNNING || i.state() == ctl::INSTANCE_STATE_IDLE ||
          (e.type() != "daemon" &&
           (i.state() == ctl::INSTANCE_STATE_STARTING || i.state() == ctl::INSTANCE_STATE_BACKOFF));
      if (!up) return false;
    }
  }
  return true;
}

std::string RenderLogLine(const ctl::LogLine& line, size_t prefix_width, bool timestamps,
                          bool color) {
  std::string out;
  if (prefix_width > 0) {
    // One colour per instance (as docker compose does), the same every run.
    static constexpr const char* kColors[] = {"\033[36m", "\033[33m", "\033[32m",
                                              "\033[35m", "\033[34m", "\033[96m"};
    const std::string name = absl::StrCat(
        line.instance(), std::string(prefix_width - std::min(prefix_width, line.instance().size()), ' '));
    if (color) {
      const size_t pick = std::hash<std::string>()(line.instance()) % std::size(kColors);
      absl::StrAppend(&out, kColors[pick], name, " |\033[0m ");
    } else {
      absl::StrAppend(&out, name, " | ");
    }
  }
  if (timestamps) {
    if (line.unix_micros() == 0) {
      absl::StrAppend(&out, std::string(27, '-'), " ");
    } else {
      absl::StrAppend(&out, absl::FormatTime("%Y-%m-%dT%H:%M:%E6SZ",
                                             absl::FromUnixMicros(line.unix_micros()),
                                             absl::UTCTimeZone()),
                      " ");
    }
  }
  if (line.stream() == ctl::LOG_STREAM_FLEET) {
    absl::StrAppend(&out, color ? "\033[2m" : "", "--- ", line.text(), " ---",
                    color ? "\033[0m" : "");
  } else {
    out += line.text();
  }
  out += '\n';
  return out;
}

}  // namespace fleet::cli
