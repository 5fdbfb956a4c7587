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
#include "cli/fleetctl/table.h"
#include "google/protobuf/util/json_util.h"

namespace fleet::cli {
namespace {

namespace ctl = ::fleet::control::v1;

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

std::string Header(const ctl::GetStatusResponse& status) {
  const ctl::DaemonStatus& d = status.daemon();
  // The loop's own health is shown once it is worth a look.
  std::string loop;
  if (d.max_loop_lag_ms() >= 100 || d.loop_queue() > 0 || d.plugin_queue() > 10) {
    loop = absl::StrFormat(", loop %dms late (worst %dms)", d.loop_lag_ms(), d.max_loop_lag_ms());
    if (d.loop_queue() > 0) absl::StrAppend(&loop, ", ", d.loop_queue(), " commands waiting");
    if (d.plugin_queue() > 0)
      absl::StrAppend(&loop, ", ", d.plugin_queue(), " plugin calls waiting");
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
  rows.push_back(
      {"INSTANCE", "TYPE", "STATE", "PID", "UPTIME", "RESTARTS", "CPU", "RSS", "HEALTH", "REASON"});
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
         i.next_run_unix_ms() > 0 ? absl::StrCat("in ", HumanDuration(std::max<int64_t>(
                                                            1, i.next_run_unix_ms() - now_ms)))
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
        line.instance(),
        std::string(prefix_width - std::min(prefix_width, line.instance().size()), ' '));
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
      absl::StrAppend(
          &out,
          absl::FormatTime("%Y-%m-%dT%H:%M:%E6SZ", absl::FromUnixMicros(line.unix_micros()),
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

}  // namespace fleet::cli
