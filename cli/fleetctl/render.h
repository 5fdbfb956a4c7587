// fleetctl's output: tables for people (colour only on a TTY), JSON for scripts.
#ifndef FLEET_CLI_FLEETCTL_RENDER_H_
#define FLEET_CLI_FLEETCTL_RENDER_H_

#include <string>
#include <vector>

#include "absl/status/status.h"
#include "proto/fleet/control/v1/control.pb.h"

namespace fleet::cli {

// "RUNNING", "BACKOFF": a state as the table shows it.
std::string StateName(fleet::control::v1::InstanceState state);

// "5m3s", "2h4m", "3d2h": coarse, for a table column.
std::string HumanDuration(int64_t millis);

// The status table: a header line for fleetd, then one row per instance.
std::string RenderStatus(const fleet::control::v1::GetStatusResponse& status, bool color);
// The SHARED STATE section of status ("" when no instance uses state).
std::string RenderStateSync(const fleet::control::v1::GetStatusResponse& status);
// The SCHEDULED section of status: each cron/intelligence instance's last
// run (start, duration, verdict, exit, output size) and next run; "" when
// there are none. now_ms: the wall clock, ms since the epoch.
std::string RenderScheduled(const fleet::control::v1::GetStatusResponse& status, int64_t now_ms);
// `fleetctl bus status`: each run, its counts, and its tasks as a tree
// (indented by depth in the DAG).
std::string RenderBusStatus(const fleet::control::v1::BusStatusResponse& status);
// `fleetctl runs`: one row per run, newest first.
std::string RenderRuns(const fleet::control::v1::ListRunsResponse& runs, int64_t now_ms);
// A conflict, an unreachable remote or a sync error.
bool StateSyncTroubled(const fleet::control::v1::InstanceStatus& i);

// One event as a line: "2026-11-22T05:56:20Z  crasher/0  exited  ...".
std::string RenderEvent(const fleet::control::v1::Event& event);

// Any message as protobuf's JSON (`-o protojson`): every field present,
// proto field names; one_line: compact, newline-terminated (JSON lines).
std::string ToJson(const google::protobuf::Message& message, bool one_line = false);

// One frame of `fleetctl top`: a summary line, then instances by CPU
// (busiest first) with state, CPU, RSS, restarts, health and the next cron
// slot, cut to `rows` lines and `cols` columns (0: no limit). now_ms: wall.
std::string RenderTop(const fleet::control::v1::GetStatusResponse& status, int rows, int cols,
                      int64_t now_ms);

// Keeps only the engines and instances targets name ("ENGINE", "ENGINE/N",
// "all"); kNotFound naming the first target that matches nothing.
absl::Status KeepOnly(const std::vector<std::string>& targets,
                      fleet::control::v1::GetStatusResponse* status);

// True when every instance that should run is RUNNING.
bool AllRunning(const fleet::control::v1::GetStatusResponse& status);

// Whether one instance is as it should be: running and not judged unhealthy
// (or deliberately down: STOPPED, EXITED), with no kill condition holding.
// A cron or intelligence instance (scheduled) is fine between runs, in one,
// or retrying one, unless it is overdue.
bool InstanceOk(const fleet::control::v1::InstanceStatus& instance, bool scheduled);
bool AllHealthy(const fleet::control::v1::GetStatusResponse& status);

// `fleetctl health`: state, health verdict, kill condition and last check.
std::string RenderHealth(const fleet::control::v1::GetStatusResponse& status, bool color);
// `fleetctl logs`: one captured line. prefix_width > 0: the instance in
// front, padded to that width (when lines of several instances mix);
// timestamps: when fleetd read it, UTC. fleetd's markers (started, exited)
// stand out as `--- started: pid 7 ---`.
std::string RenderLogLine(const fleet::control::v1::LogLine& line, size_t prefix_width,
                          bool timestamps, bool color);
std::string RenderPlugins(const fleet::control::v1::GetPluginsResponse& plugins);
// `fleetctl brief`: one screen: counts, what is wrong and why, recent warnings.
std::string RenderBrief(const fleet::control::v1::GetStatusResponse& status,
                        const fleet::control::v1::GetPluginsResponse& plugins,
                        const std::vector<fleet::control::v1::Event>& events);

}  // namespace fleet::cli

#endif  // FLEET_CLI_FLEETCTL_RENDER_H_
