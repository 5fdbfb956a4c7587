// Runs the real fleetd and fleetctl in a fresh temporary directory, for
// integration tests. Polls against deadlines, never fixed sleeps.
#ifndef FLEET_TESTS_INTEGRATION_FLEET_HARNESS_H_
#define FLEET_TESTS_INTEGRATION_FLEET_HARNESS_H_

#include <sys/types.h>

#include <functional>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "proto/fleet/control/v1/control.pb.h"

namespace fleet::testing {

// A minimal fleet file around `engines` (YAML list items), with run_dir "run".
std::string FleetYaml(const std::string& engines);

struct CommandResult {
  int exit_code = -1;
  std::string out;
  std::string err;
};

class FleetHarness {
 public:
  // A short /tmp directory (unix socket paths are limited to 108 bytes).
  FleetHarness();
  // Stops fleetd (SIGTERM, then SIGKILL) and removes the directory.
  ~FleetHarness();

  const std::string& dir() const { return dir_; }
  std::string run_dir() const { return dir_ + "/run"; }
  // Paths of the programs under test.
  static std::string FleetdPath();
  static std::string FleetctlPath();
  static std::string ChildPath();
  // A data dependency's path ("tests/testdata/plugins/libno_op.so").
  static std::string RunfilePath(const std::string& path);

  // Writes dir/name. The config's run_dir should be "run".
  void WriteFile(const std::string& name, const std::string& text) const;
  // Starts fleetd on dir/fleet.yaml and waits for its socket.
  absl::Status StartFleetd(const std::vector<std::string>& extra_env = {});
  // Starts fleetd without waiting (for tests that expect it to refuse).
  pid_t SpawnFleetd(const std::string& stderr_name, const std::vector<std::string>& extra_env = {});
  // Later fleetd starts run under this command (strace with a fault to
  // inject, say): argv = wrapper + fleetd's own; fleetd_pid() is then the
  // wrapper's pid. Empty (the default) runs fleetd directly.
  void set_fleetd_wrapper(std::vector<std::string> wrapper) { wrapper_ = std::move(wrapper); }
  // Another build of fleetd (a runfile path, e.g. one with a faulty Env).
  void set_fleetd_binary(std::string path) { fleetd_binary_ = std::move(path); }
  // Waits for fleetd to exit; its exit code, or -1 on timeout.
  int WaitFleetdExit(absl::Duration timeout);
  pid_t fleetd_pid() const { return fleetd_pid_; }
  std::string FleetdLog() const;

  CommandResult Run(const std::vector<std::string>& argv) const;
  CommandResult Fleetctl(const std::vector<std::string>& args) const;
  absl::StatusOr<fleet::control::v1::GetStatusResponse> Status() const;
  // The instance "ENGINE/N" in a fresh status, or an empty message.
  fleet::control::v1::InstanceStatus Instance(const std::string& id) const;

  // Polls pred every 20ms until it holds or timeout passes.
  static bool WaitUntil(const std::function<bool()>& pred, absl::Duration timeout);
  static bool ProcessAlive(pid_t pid);
  // Starts argv (a path) without waiting, in a process group of its own,
  // with env ("KEY=value"; empty: this process's), stdout and stderr
  // appended to out_path ("": inherited).
  static pid_t Spawn(const std::vector<std::string>& argv, const std::vector<std::string>& env = {},
                     const std::string& out_path = "");
  // Waits for a child; its exit code, or 128 + the signal that killed it.
  static int WaitExit(pid_t pid);
  // GET path from 127.0.0.1:port over HTTP/1.1: the whole answer, head and
  // body; "(no connection)" when none could be made.
  static std::string HttpGet(int port, const std::string& path);
  // A TCP connection to 127.0.0.1:port, or -1.
  static int ConnectLoopback(int port);
  // A TCP port on 127.0.0.1 that was free a moment ago.
  static int FreePort();
  // The sum of a series' samples in a Prometheus text exposition, over the
  // samples whose labels contain `labels` ("engine=\"w\""; "" for all);
  // -1 when there is none.
  static double MetricSum(const std::string& exposition, const std::string& name,
                          const std::string& labels = "");
  // A file's whole content; "" when it cannot be read.
  static std::string FileText(const std::string& path);
  // What the worker wrote, from a captured log (its records' text, pieces
  // joined, fleetd's markers left out), each line ending in a newline.
  static std::string CapturedText(const std::string& log_path);
  // Reads an integer pid written by the child program, 0 if absent.
  pid_t ReadPid(const std::string& name) const;

 private:
  std::string dir_;
  std::vector<std::string> wrapper_;
  std::string fleetd_binary_;
  pid_t fleetd_pid_ = 0;
  bool fleetd_reaped_ = true;
};

// An engine of the harness's child program, for FleetYaml: "  - name: ..."
// with min_uptime 100ms, then `extra` (indented YAML lines).
std::string ChildDaemon(const std::string& name, const std::string& extra = "");
// Every instance named is RUNNING.
bool AllRunning(const FleetHarness& h, const std::vector<std::string>& ids);

}  // namespace fleet::testing

#endif  // FLEET_TESTS_INTEGRATION_FLEET_HARNESS_H_
