// The control plane and the file protocol: reload, refusals, permissions,
// and fleetctl's own commands.
#include <fcntl.h>
#include <signal.h>
#include <sys/file.h>
#include <sys/wait.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include <cstring>
#include <algorithm>
#include <filesystem>
#include <set>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"
#include "absl/strings/strip.h"
#include "core/os/files.h"
#include "absl/time/clock.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "tests/integration/fleet_harness.h"

namespace fleet::testing {
namespace {

using ::testing::ContainsRegex;
namespace fs = std::filesystem;
using ::testing::HasSubstr;
using ::testing::Not;
namespace ctl = ::fleet::control::v1;

std::string Engine(const std::string& name, const std::string& extra = "") {
  return absl::StrCat("  - name: ", name, "\n    command: [\"", FleetHarness::ChildPath(),
                      "\"]\n    min_uptime: 100ms\n", extra);
}

bool AllRunning(const FleetHarness& h, const std::vector<std::string>& ids) {
  for (const std::string& id : ids) {
    if (h.Instance(id).state() != ctl::INSTANCE_STATE_RUNNING) return false;
  }
  return true;
}

// Clients that connect and hold their connections (500 of them, idle) must
// not take the descriptors supervision needs: past a reserve under fleetd's
// RLIMIT_NOFILE they are turned away, a killed worker is still restarted,
// the refusals are logged once with a count, and status works again once
// they are gone.
TEST(ControlTest, IdleConnectionsCannotStarveSupervisionOfDescriptors) {
  FleetHarness h;
  h.WriteFile("fleet.yaml", FleetYaml(Engine("a")));
  h.set_fleetd_wrapper({"prlimit", "--nofile=256:256", "--"});
  ASSERT_TRUE(h.StartFleetd().ok()) << h.FleetdLog();
  ASSERT_TRUE(FleetHarness::WaitUntil([&] { return h.Instance("a/0").pid() > 0; },
                                      absl::Seconds(10)));
  const pid_t before = h.Instance("a/0").pid();
  sockaddr_un addr{};
  addr.sun_family = AF_UNIX;
  const std::string socket = h.run_dir() + "/ctl/fleetd.sock";
  std::memcpy(addr.sun_path, socket.c_str(), socket.size() + 1);
  std::vector<int> idle;
  for (int i = 0; i < 500; ++i) {
    int fd = ::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd < 0) break;
    if (::connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)) != 0) {
      ::close(fd);
      continue;
    }
    idle.push_back(fd);
  }
  ASSERT_GT(idle.size(), 250u);
  absl::SleepFor(absl::Milliseconds(500));
  ASSERT_EQ(kill(before, SIGKILL), 0);
  EXPECT_TRUE(FleetHarness::WaitUntil(
      [&] {
        std::string pid = FleetHarness::FileText(h.run_dir() + "/instances/a.0");
        return !pid.empty() && pid.find(absl::StrCat(" ", before, " ")) == std::string::npos;
      },
      absl::Seconds(10)))
      << h.FleetdLog();
  EXPECT_THAT(h.FleetdLog(), HasSubstr("connections refused since the last warning"));
  for (int fd : idle) ::close(fd);
  EXPECT_TRUE(FleetHarness::WaitUntil([&] { return h.Status().ok(); }, absl::Seconds(10)));
  EXPECT_NE(h.Instance("a/0").pid(), before);
}

// A status of hundreds of instances is built on the loop a slice at a time
// (supervision goes on between slices): every row is there once, in order,
// even while a reload adds and removes instances between slices.
TEST(ControlTest, AStatusBuiltInSlicesShowsEveryInstanceOnceEvenAcrossAReload) {
  FleetHarness h;
  auto sleepers = [](const std::string& name, int replicas) {
    return absl::StrCat("  - name: ", name, "\n    command: [\"sleep\", \"100000\"]\n",
                        "    replicas: ", replicas, "\n");
  };
  h.WriteFile("fleet.yaml", FleetYaml(sleepers("a", 300) + sleepers("b", 1) + sleepers("c", 300)));
  ASSERT_TRUE(h.StartFleetd().ok()) << h.FleetdLog();
  // Rows of an engine: ids strictly ascending by index, none twice.
  auto check = [](const ctl::GetStatusResponse& s) {
    std::vector<std::string> names;
    uint32_t rows = 0;
    for (const ctl::EngineStatus& e : s.engines()) {
      names.push_back(e.name());
      int last = -1;
      for (const ctl::InstanceStatus& i : e.instances()) {
        EXPECT_GT(static_cast<int>(i.index()), last) << i.id() << " out of order or twice";
        last = static_cast<int>(i.index());
        EXPECT_EQ(i.id(), absl::StrCat(e.name(), "/", i.index()));
        ++rows;
      }
    }
    EXPECT_TRUE(std::is_sorted(names.begin(), names.end()));
    EXPECT_EQ(std::set<std::string>(names.begin(), names.end()).size(), names.size());
    EXPECT_EQ(s.daemon().instances(), rows);
    return rows;
  };
  uint32_t running = 0;
  ASSERT_TRUE(FleetHarness::WaitUntil(
      [&] {
        absl::StatusOr<ctl::GetStatusResponse> s = h.Status();
        if (!s.ok()) return false;
        running = 0;
        for (const ctl::EngineStatus& e : s->engines()) {
          for (const ctl::InstanceStatus& i : e.instances()) {
            running += i.state() == ctl::INSTANCE_STATE_RUNNING;
          }
        }
        return check(*s) == 601 && running == 601;
      },
      absl::Seconds(60)))
      << running << " of 601 running; " << h.FleetdLog();

  h.WriteFile("fleet.yaml", FleetYaml(sleepers("a", 100) + sleepers("c", 500)));
  pid_t reload = fork();
  if (reload == 0) {
    usleep(20000);
    _exit(h.Fleetctl({"reload"}).exit_code);
  }
  for (int i = 0; i < 15; ++i) {
    absl::StatusOr<ctl::GetStatusResponse> s = h.Status();
    ASSERT_TRUE(s.ok()) << s.status();
    check(*s);
  }
  int status = 0;
  ASSERT_EQ(waitpid(reload, &status, 0), reload);
  EXPECT_EQ(WEXITSTATUS(status), 0);
  EXPECT_TRUE(FleetHarness::WaitUntil(
      [&] {
        absl::StatusOr<ctl::GetStatusResponse> s = h.Status();
        return s.ok() && check(*s) == 600 && s->engines_size() == 2;
      },
      absl::Seconds(60)));
}

TEST(ControlTest, ReloadAppliesOnlyTheDiff) {
  FleetHarness h;
  h.WriteFile("fleet.yaml", FleetYaml(Engine("keep") + Engine("change", "    env: {V: '1'}\n") +
                                  Engine("drop") + Engine("scale")));
  ASSERT_TRUE(h.StartFleetd().ok()) << h.FleetdLog();
  ASSERT_TRUE(FleetHarness::WaitUntil(
      [&] { return AllRunning(h, {"keep/0", "change/0", "drop/0", "scale/0"}); },
      absl::Seconds(10)));
  pid_t keep = h.Instance("keep/0").pid();
  pid_t change = h.Instance("change/0").pid();
  pid_t drop = h.Instance("drop/0").pid();
  pid_t scale = h.Instance("scale/0").pid();
  h.WriteFile("fleet.yaml", FleetYaml(Engine("keep") + Engine("change", "    env: {V: '2'}\n") +
                                  Engine("scale", "    replicas: 2\n") + Engine("add")));
  CommandResult reload = h.Fleetctl({"reload"});
  ASSERT_EQ(reload.exit_code, 0) << reload.err;
  EXPECT_THAT(reload.out, HasSubstr("added      add"));
  EXPECT_THAT(reload.out, HasSubstr("removed    drop"));
  EXPECT_THAT(reload.out, HasSubstr("changed    change\n"));
  EXPECT_THAT(reload.out, HasSubstr("changed    scale (replicas 1 -> 2)"));
  EXPECT_THAT(reload.out, HasSubstr("unchanged  1 engines"));
  ASSERT_TRUE(FleetHarness::WaitUntil(
      [&] {
        return AllRunning(h, {"keep/0", "change/0", "scale/0", "scale/1", "add/0"}) &&
               h.Instance("change/0").pid() != change;
      },
      absl::Seconds(10)))
      << h.FleetdLog();
  EXPECT_EQ(h.Instance("keep/0").pid(), keep);    // Untouched.
  EXPECT_EQ(h.Instance("scale/0").pid(), scale);  // Scaling does not restart the others.
  EXPECT_TRUE(FleetHarness::WaitUntil([&] { return !FleetHarness::ProcessAlive(drop); },
                                      absl::Seconds(10)));
  EXPECT_TRUE(FleetHarness::WaitUntil([&] { return h.Instance("drop/0").id().empty(); },
                                      absl::Seconds(10)));
}

TEST(ControlTest, BadConfigIsRefusedWithItsPositionAndChangesNothing) {
  FleetHarness h;
  h.WriteFile("fleet.yaml", "name: it\nrun_dir: run\nengines:\n  - name: a\n    comand: [x]\n");
  pid_t refused = h.SpawnFleetd("refused.log");
  int status = 0;
  ASSERT_EQ(waitpid(refused, &status, 0), refused);
  EXPECT_EQ(WEXITSTATUS(status), 78);
  EXPECT_THAT(*os::ReadFile(h.dir() + "/refused.log"),
              HasSubstr("fleet.yaml:5:5: unknown key 'comand' in Engine; did you mean 'command'?"));

  h.WriteFile("fleet.yaml", FleetYaml(Engine("a")));
  ASSERT_TRUE(h.StartFleetd().ok()) << h.FleetdLog();
  ASSERT_TRUE(FleetHarness::WaitUntil([&] { return AllRunning(h, {"a/0"}); }, absl::Seconds(10)));
  pid_t a = h.Instance("a/0").pid();
  h.WriteFile("fleet.yaml", FleetYaml(Engine("a", "    replicas: lots\n")));
  CommandResult reload = h.Fleetctl({"reload"});
  EXPECT_EQ(reload.exit_code, 1);
  EXPECT_THAT(reload.err, HasSubstr("the running config stays"));
  EXPECT_THAT(reload.err, HasSubstr("fleet.yaml:7:15: 'lots' is not valid for 'replicas'"));
  EXPECT_EQ(h.Instance("a/0").pid(), a);

  // Moving the run directory takes a restart: refused, with the reason.
  h.WriteFile("fleet.yaml", absl::StrCat("name: it\nrun_dir: elsewhere\nengines:\n", Engine("a")));
  CommandResult moved = h.Fleetctl({"reload"});
  EXPECT_EQ(moved.exit_code, 1);
  EXPECT_THAT(moved.err, HasSubstr("run_dir changed from"));
  EXPECT_THAT(moved.err, HasSubstr("takes a fleetd restart"));
  EXPECT_EQ(h.Instance("a/0").pid(), a);

  h.WriteFile("fleet.yaml", FleetYaml(Engine("a", "    replicas: lots\n")));
  CommandResult validate = h.Fleetctl({"validate", h.dir() + "/fleet.yaml"});
  EXPECT_EQ(validate.exit_code, 2);
  EXPECT_THAT(validate.err, HasSubstr("fleet.yaml:7:15"));
}

TEST(ControlTest, SighupReloads) {
  FleetHarness h;
  h.WriteFile("fleet.yaml", FleetYaml(Engine("a")));
  ASSERT_TRUE(h.StartFleetd().ok()) << h.FleetdLog();
  h.WriteFile("fleet.yaml", FleetYaml(Engine("a") + Engine("b")));
  kill(h.fleetd_pid(), SIGHUP);
  EXPECT_TRUE(FleetHarness::WaitUntil(
      [&] { return h.Instance("b/0").state() == ctl::INSTANCE_STATE_RUNNING; }, absl::Seconds(10)))
      << h.FleetdLog();
  EXPECT_THAT(h.FleetdLog(), HasSubstr("reloaded: 1 added, 0 removed, 0 changed, 1 unchanged"));
}

// A fleetd killed while it started a run leaves a copy of its lock with
// that child until the child execs. The fleetd restarted at once waits that
// out (the pid file names a process that is gone) instead of refusing.
TEST(ControlTest, ALockLeftWithADeadFleetdsChildIsWaitedOutNotRefused) {
  FleetHarness h;
  h.WriteFile("fleet.yaml", FleetYaml(Engine("a")));
  fs::create_directories(h.run_dir() + "/ctl");
  // The pid file of a fleetd that is gone (no process started at time 1).
  h.WriteFile("run/fleetd.pid", "999999 1\n");
  pid_t holder = fork();
  if (holder == 0) {
    int fd = open((h.run_dir() + "/ctl/fleetd.lock").c_str(), O_RDWR | O_CREAT, 0600);
    if (fd < 0 || flock(fd, LOCK_EX) != 0) _exit(1);
    usleep(800 * 1000);
    _exit(0);
  }
  ASSERT_TRUE(FleetHarness::WaitUntil(
      [&] {
        int fd = open((h.run_dir() + "/ctl/fleetd.lock").c_str(), O_RDWR);
        const bool held = fd >= 0 && flock(fd, LOCK_EX | LOCK_NB) != 0;
        if (fd >= 0) close(fd);
        return held;
      },
      absl::Seconds(5)));
  ASSERT_TRUE(h.StartFleetd().ok()) << h.FleetdLog();
  EXPECT_TRUE(FleetHarness::WaitUntil([&] { return AllRunning(h, {"a/0"}); }, absl::Seconds(10)))
      << h.FleetdLog();
  int status = 0;
  ASSERT_EQ(waitpid(holder, &status, 0), holder);
  EXPECT_EQ(WEXITSTATUS(status), 0);
}

TEST(ControlTest, SecondFleetdOnTheSameRunDirRefuses) {
  FleetHarness h;
  h.WriteFile("fleet.yaml", FleetYaml(Engine("a")));
  ASSERT_TRUE(h.StartFleetd().ok()) << h.FleetdLog();
  pid_t second = h.SpawnFleetd("second.log");
  int status = 0;
  ASSERT_EQ(waitpid(second, &status, 0), second);
  EXPECT_EQ(WEXITSTATUS(status), 3);
  EXPECT_THAT(*os::ReadFile(h.dir() + "/second.log"),
              HasSubstr(absl::StrCat("another fleetd (pid ", h.fleetd_pid(), ") is running on")));
  // The first is untouched and still reachable.
  EXPECT_TRUE(FleetHarness::WaitUntil([&] { return AllRunning(h, {"a/0"}); }, absl::Seconds(10)));
  EXPECT_EQ(h.Fleetctl({"status"}).exit_code, 0);
}

TEST(ControlTest, OnlyTheOwnerAndRootMayControlTheFleet) {
  if (geteuid() != 0) GTEST_SKIP() << "needs root to run a client as another uid";
  FleetHarness h;
  h.WriteFile("fleet.yaml", FleetYaml(Engine("a")));
  ASSERT_TRUE(h.StartFleetd().ok()) << h.FleetdLog();
  // A copy of fleetctl that uid 65534 can execute.
  std::string fleetctl = h.dir() + "/fleetctl";
  ASSERT_TRUE(os::WriteFileAtomic(fleetctl, *os::ReadFile(FleetHarness::FleetctlPath()), 0755).ok());
  std::vector<std::string> as_nobody = {"setpriv", "--reuid=65534", "--regid=65534",
                                        "--clear-groups", fleetctl, "--run-dir", h.run_dir(),
                                        "status"};
  // The 0700 run and control directories keep others out...
  CommandResult denied = h.Run(as_nobody);
  EXPECT_NE(denied.exit_code, 0);
  EXPECT_THAT(denied.err, HasSubstr("permission denied"));
  // ...and if it is opened up by mistake, fleetd still checks the peer's uid.
  chmod(h.run_dir().c_str(), 0755);
  chmod((h.run_dir() + "/ctl").c_str(), 0755);
  chmod((h.run_dir() + "/ctl/fleetd.sock").c_str(), 0777);
  CommandResult refused = h.Run(as_nobody);
  EXPECT_EQ(refused.exit_code, 5) << refused.out << refused.err;
  EXPECT_TRUE(FleetHarness::WaitUntil(
      [&] { return h.FleetdLog().find("refused uid 65534") != std::string::npos; },
      absl::Seconds(5)))
      << h.FleetdLog();
  CommandResult root = h.Fleetctl({"status"});  // Root is served.
  EXPECT_NE(root.exit_code, 5) << root.err;
  EXPECT_THAT(root.out, HasSubstr("fleet it: fleetd pid"));
}

TEST(ControlTest, FleetctlCommandsAndExitCodes) {
  FleetHarness h;
  CommandResult down = h.Fleetctl({"status"});
  EXPECT_EQ(down.exit_code, 5);
  EXPECT_THAT(down.err, HasSubstr("fleetd is not running"));
  EXPECT_EQ(h.Fleetctl({"frobnicate"}).exit_code, 2);
  EXPECT_EQ(h.Fleetctl({"stop"}).exit_code, 2);

  CommandResult init = h.Fleetctl({"init", h.dir() + "/fleet.yaml"});
  ASSERT_EQ(init.exit_code, 0) << init.err;
  EXPECT_EQ(h.Fleetctl({"init", h.dir() + "/fleet.yaml"}).exit_code, 1);  // Never overwrites.
  CommandResult valid = h.Fleetctl({"validate", h.dir() + "/fleet.yaml"});
  EXPECT_EQ(valid.exit_code, 0) << valid.err;
  EXPECT_THAT(valid.out, HasSubstr("OK: fleet 'my-fleet', 2 engines, 3 instances"));

  h.WriteFile("fleet.yaml", FleetYaml(Engine("a", "    replicas: 2\n")));
  ASSERT_TRUE(h.StartFleetd().ok()) << h.FleetdLog();
  EXPECT_EQ(h.Fleetctl({"stop", "nope"}).exit_code, 4);
  EXPECT_EQ(h.Fleetctl({"stop", "a/7"}).exit_code, 4);
  ASSERT_TRUE(FleetHarness::WaitUntil([&] { return AllRunning(h, {"a/0", "a/1"}); },
                                      absl::Seconds(10)));
  EXPECT_EQ(h.Fleetctl({"status"}).exit_code, 0);
  EXPECT_EQ(h.Fleetctl({"stop", "a/1"}).exit_code, 0);
  ASSERT_TRUE(FleetHarness::WaitUntil(
      [&] { return h.Instance("a/1").state() == ctl::INSTANCE_STATE_STOPPED; },
      absl::Seconds(10)));
  EXPECT_EQ(h.Fleetctl({"status"}).exit_code, 3);
  pid_t a0 = h.Instance("a/0").pid();
  EXPECT_EQ(h.Fleetctl({"restart", "all"}).exit_code, 0);
  ASSERT_TRUE(FleetHarness::WaitUntil(
      [&] { return AllRunning(h, {"a/0", "a/1"}) && h.Instance("a/0").pid() != a0; },
      absl::Seconds(10)));
  // Commands that change the fleet are on record with who sent them.
  const std::string events = h.Fleetctl({"events", "-n", "100"}).out;
  EXPECT_THAT(events, HasSubstr(absl::StrCat("stop a/1 (from uid ", getuid(), ", pid ")));
  EXPECT_THAT(events, ContainsRegex("restart all \\(from uid [0-9]+, pid [0-9]+ \\(fleetctl\\)\\)"));
  EXPECT_THAT(h.FleetdLog(), HasSubstr("restart all (from uid"));
  CommandResult shutdown = h.Fleetctl({"shutdown"});
  EXPECT_EQ(shutdown.exit_code, 0);
  EXPECT_THAT(shutdown.out, HasSubstr("fleetd stopped"));
  EXPECT_EQ(h.WaitFleetdExit(absl::Seconds(10)), 0);
}

TEST(ControlTest, LockSerializesCommandsAndBreaksADeadOwner) {
  FleetHarness h;
  // Two holders at once: the second waits for the first.
  std::string script = absl::StrCat("echo start >> ", h.dir(), "/order; sleep 0.3; echo end >> ",
                                    h.dir(), "/order");
  pid_t first = fork();
  if (first == 0) {
    execl(FleetHarness::FleetctlPath().c_str(), "fleetctl", "--run-dir", h.run_dir().c_str(),
          "lock", "ledger", "--", "sh", "-c", script.c_str(), nullptr);
    _exit(127);
  }
  ASSERT_TRUE(FleetHarness::WaitUntil([&] { return os::ReadFile(h.dir() + "/order").ok(); },
                                      absl::Seconds(5)));
  CommandResult second = h.Fleetctl({"--run-dir", h.run_dir(), "lock", "ledger", "--", "sh", "-c", script});
  EXPECT_EQ(second.exit_code, 0) << second.err;
  int status = 0;
  waitpid(first, &status, 0);
  EXPECT_EQ(*os::ReadFile(h.dir() + "/order"), "start\nend\nstart\nend\n");
  // A lock left by a dead owner is broken; the command's exit status passes through.
  h.WriteFile("run/locks/ledger/owner", "999999 1\n");
  CommandResult broken = h.Fleetctl({"--run-dir", h.run_dir(), "lock", "ledger", "--wait", "1s",
                                     "--", "sh", "-c", "exit 7"});
  EXPECT_EQ(broken.exit_code, 7) << broken.err;
  EXPECT_FALSE(os::ReadFile(h.run_dir() + "/locks/ledger/owner").ok());  // Released.
  EXPECT_EQ(h.Fleetctl({"lock", "../etc", "--", "true"}).exit_code, 2);
}

// fleetctl finds the fleet as an operator expects: ./fleet.yaml where it is
// run, -c FILE from anywhere, and when nothing answers it says every place
// it looked.
TEST(ControlTest, FleetctlFindsItsFleetFromTheConfigItWasStartedWith) {
  FleetHarness h;
  h.WriteFile("fleet.yaml", FleetYaml(Engine("a")));
  ASSERT_TRUE(h.StartFleetd().ok()) << h.FleetdLog();
  ASSERT_TRUE(FleetHarness::WaitUntil([&] { return AllRunning(h, {"a/0"}); }, absl::Seconds(10)));
  const std::string fleetctl = FleetHarness::FleetctlPath();
  // In the fleet's directory, with $FLEET_RUN_DIR unset or naming nothing.
  CommandResult here = h.Run({"env", "-u", "FLEET_RUN_DIR", fleetctl, "status"});
  EXPECT_EQ(here.exit_code, 0) << here.err;
  EXPECT_THAT(here.out, HasSubstr("a/0"));
  CommandResult stale = h.Run({"env", "FLEET_RUN_DIR=/nonexistent", fleetctl, "status"});
  EXPECT_EQ(stale.exit_code, 0) << stale.err;
  // From elsewhere, with -c.
  CommandResult named = h.Run({"sh", "-c",
                               absl::StrCat("cd / && env -u FLEET_RUN_DIR ", fleetctl, " -c ",
                                            h.dir(), "/fleet.yaml status")});
  EXPECT_EQ(named.exit_code, 0) << named.err;
  // From a directory with no fleet and no fleetd anywhere it looks.
  h.WriteFile("empty/.keep", "");
  CommandResult none = h.Run({"sh", "-c",
                              absl::StrCat("cd ", h.dir(), "/empty && env -u FLEET_RUN_DIR HOME=",
                                           h.dir(), "/empty ", fleetctl, " status")});
  EXPECT_EQ(none.exit_code, 5);
  EXPECT_THAT(none.err, HasSubstr("no control socket in"));
  EXPECT_THAT(none.err, HasSubstr(h.dir() + "/empty/.fleet/run (from ~/.fleet/run)"));
}

// `fleetd --run-dir run3` (relative): fleetd and every instance get the
// absolute path, so fleetctl inside a worker reaches fleetd from anywhere.
TEST(ControlTest, ARelativeRunDirIsMadeAbsoluteOnceForFleetdAndItsInstances) {
  FleetHarness h;
  h.WriteFile("fleet.yaml",
              FleetYaml("  - name: w\n    shell: 'echo \"$FLEET_RUN_DIR\" > where; exec sleep 1000'\n"));
  h.set_fleetd_wrapper({"sh", "-c", "exec \"$@\" --run-dir run3", "sh"});
  const pid_t fleetd = h.SpawnFleetd("fleetd.log");
  ASSERT_GT(fleetd, 0);
  const std::string run3 = h.dir() + "/run3";
  ASSERT_TRUE(FleetHarness::WaitUntil(
      [&] { return FleetHarness::FileText(h.dir() + "/where") == run3 + "\n"; },
      absl::Seconds(15)))
      << FleetHarness::FileText(h.dir() + "/where") << h.FleetdLog();
  EXPECT_TRUE(FleetHarness::WaitUntil(
      [&] {
        return h.Run({FleetHarness::FleetctlPath(), "--run-dir", run3, "status"}).exit_code == 0;
      },
      absl::Seconds(10)));
  EXPECT_EQ(h.Run({FleetHarness::FleetctlPath(), "--run-dir", run3, "shutdown"}).exit_code, 0);
  int wstatus = 0;
  EXPECT_TRUE(FleetHarness::WaitUntil([&] { return waitpid(fleetd, &wstatus, WNOHANG) == fleetd; },
                                      absl::Seconds(15)));
  EXPECT_TRUE(WIFEXITED(wstatus) && WEXITSTATUS(wstatus) == 0) << wstatus;
}

// One command table: --help at every level (never taken as an argument),
// --flag=value and --flag value, typos answered with the flag meant, and the
// man page and completions generated from the same table.
TEST(ControlTest, EveryCommandHasHelpAndATypoGetsASuggestion) {
  FleetHarness h;
  const std::string fleetctl = FleetHarness::FleetctlPath();
  for (const std::vector<std::string>& command :
       std::vector<std::vector<std::string>>{{"init"}, {"stop"}, {"logs"}, {"bus", "claim"},
                                             {"install", "systemd"}, {"lock"}, {"commit"}}) {
    std::vector<std::string> argv = {fleetctl};
    argv.insert(argv.end(), command.begin(), command.end());
    argv.push_back("--help");
    CommandResult help = h.Run(argv);
    EXPECT_EQ(help.exit_code, 0) << absl::StrJoin(command, " ") << help.err;
    EXPECT_THAT(help.out, HasSubstr("Usage: fleetctl " + absl::StrJoin(command, " ")));
  }
  EXPECT_FALSE(std::filesystem::exists(h.dir() + "/--help"));  // init --help wrote nothing.
  CommandResult typo = h.Run({fleetctl, "logs", "w", "--folow"});
  EXPECT_EQ(typo.exit_code, 2);
  EXPECT_THAT(typo.err, HasSubstr("did you mean --follow?"));
  CommandResult command = h.Run({fleetctl, "stauts"});
  EXPECT_EQ(command.exit_code, 2);
  EXPECT_THAT(command.err, HasSubstr("unknown command 'stauts'; did you mean status?"));
  // --flag=value and --flag value name the same fleet.
  CommandResult equals = h.Run({fleetctl, "--run-dir=" + h.dir() + "/nowhere", "status"});
  EXPECT_EQ(equals.exit_code, 5);
  EXPECT_THAT(equals.err, HasSubstr(h.dir() + "/nowhere/ctl/fleetd.sock"));
  // Generated from the table: every command is in the man page and completes.
  CommandResult man = h.Run({fleetctl, "man"});
  EXPECT_EQ(man.exit_code, 0);
  EXPECT_THAT(man.out, HasSubstr(".TH FLEETCTL 1"));
  for (const char* c : {"status", "shutdown", "bus claim", "install systemd", "completion"}) {
    EXPECT_THAT(man.out, HasSubstr(absl::StrCat(".SS ", c))) << c;
  }
  h.WriteFile("complete.sh", h.Run({fleetctl, "completion", "bash"}).out);
  CommandResult words = h.Run({"bash", "-c",
                               "source complete.sh; COMP_WORDS=(fleetctl bus c); COMP_CWORD=2; "
                               "_fleetctl; echo ${COMPREPLY[@]}"});
  EXPECT_EQ(words.out, "cancel claim complete\n") << words.err;
  // The README's command list names every command the table has.
  const std::string readme = FleetHarness::FileText(FleetHarness::RunfilePath("README.md"));
  ASSERT_FALSE(readme.empty());
  const std::string listed = readme.substr(readme.find("## fleetctl"), 1500);
  for (absl::string_view line : absl::StrSplit(man.out, '\n')) {
    if (!absl::ConsumePrefix(&line, ".SS ")) continue;
    const std::string command(line.substr(0, line.find(' ')));
    EXPECT_THAT(listed, HasSubstr(command)) << "README's fleetctl list lacks " << command;
  }
}

// What goes wrong between fleetctl and fleetd is said in fleet's words: a
// fleetd that does not answer (which, and for how long), a socket nobody
// listens on (and what the pid file says), never gRPC's own text.
TEST(ControlTest, ConnectionTroubleIsSaidInFleetsWords) {
  FleetHarness h;
  h.WriteFile("fleet.yaml", FleetYaml(Engine("a")));
  ASSERT_TRUE(h.StartFleetd().ok()) << h.FleetdLog();
  ASSERT_EQ(kill(h.fleetd_pid(), SIGSTOP), 0);
  CommandResult stuck = h.Fleetctl({"--timeout", "1s", "status"});
  ASSERT_EQ(kill(h.fleetd_pid(), SIGCONT), 0);
  EXPECT_EQ(stuck.exit_code, 5);
  EXPECT_THAT(stuck.err, HasSubstr(h.run_dir() + "/ctl/fleetd.sock did not answer within 1s"));
  EXPECT_THAT(stuck.err, Not(HasSubstr("Deadline Exceeded")));
  const pid_t pid = h.fleetd_pid();
  ASSERT_EQ(kill(pid, SIGKILL), 0);
  ASSERT_EQ(h.WaitFleetdExit(absl::Seconds(10)), 128 + SIGKILL);
  CommandResult stale = h.Fleetctl({"status"});
  EXPECT_EQ(stale.exit_code, 5);
  EXPECT_THAT(stale.err, HasSubstr("is stale: nothing listens on it (the pid file names pid " +
                                   std::to_string(pid) + ", which is not running"));
  EXPECT_THAT(stale.err, Not(HasSubstr("failed to connect")));
}

// status shows what each instance uses, and only what TARGETs name.
TEST(ControlTest, StatusShowsCpuAndMemoryAndFiltersByTarget) {
  FleetHarness h;
  h.WriteFile("fleet.yaml", FleetYaml("  - name: busy\n    shell: 'while :; do :; done'\n"
                                      "  - name: idle\n    shell: 'exec sleep 1000'\n"));
  ASSERT_TRUE(h.StartFleetd().ok()) << h.FleetdLog();
  ASSERT_TRUE(FleetHarness::WaitUntil([&] { return AllRunning(h, {"busy/0", "idle/0"}); },
                                      absl::Seconds(10)));
  (void)h.Status();  // The first reading covers the whole uptime; this one the next second.
  absl::SleepFor(absl::Seconds(1));
  const ctl::InstanceStatus busy = h.Instance("busy/0");
  const ctl::InstanceStatus idle = h.Instance("idle/0");
  EXPECT_GT(busy.cpu_percent(), 30);
  EXPECT_LT(idle.cpu_percent(), 5);
  EXPECT_GT(busy.rss_bytes(), 100u * 1024);
  EXPECT_GT(idle.rss_bytes(), 100u * 1024);
  CommandResult only = h.Fleetctl({"status", "idle"});
  EXPECT_EQ(only.exit_code, 0) << only.err;
  EXPECT_THAT(only.out, HasSubstr("idle/0"));
  EXPECT_THAT(only.out, Not(HasSubstr("busy/0")));
  EXPECT_EQ(h.Fleetctl({"status", "nope"}).exit_code, 4);
  // top, not on a terminal: one frame, the busiest first.
  CommandResult top = h.Fleetctl({"top"});
  EXPECT_EQ(top.exit_code, 0) << top.err;
  EXPECT_LT(top.out.find("busy/0"), top.out.find("idle/0")) << top.out;
}

}  // namespace
}  // namespace fleet::testing
