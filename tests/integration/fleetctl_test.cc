// fleetctl as operators use it: commands and exit codes, the file-protocol
// lock, finding the fleet, help and typos, connection trouble in fleet's
// words.
#include <fcntl.h>
#include <signal.h>
#include <sys/file.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cstring>
#include <filesystem>
#include <set>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"
#include "absl/strings/strip.h"
#include "absl/time/clock.h"
#include "core/os/files.h"
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

  h.WriteFile("fleet.yaml", FleetYaml(ChildDaemon("a", "    replicas: 2\n")));
  ASSERT_TRUE(h.StartFleetd().ok()) << h.FleetdLog();
  EXPECT_EQ(h.Fleetctl({"stop", "nope"}).exit_code, 4);
  EXPECT_EQ(h.Fleetctl({"stop", "a/7"}).exit_code, 4);
  ASSERT_TRUE(FleetHarness::WaitUntil(
      [&] {
        return AllRunning(h, {"a/0", "a/1"});
      },
      absl::Seconds(10)));
  EXPECT_EQ(h.Fleetctl({"status"}).exit_code, 0);
  EXPECT_EQ(h.Fleetctl({"stop", "a/1"}).exit_code, 0);
  ASSERT_TRUE(FleetHarness::WaitUntil(
      [&] { return h.Instance("a/1").state() == ctl::INSTANCE_STATE_STOPPED; }, absl::Seconds(10)));
  EXPECT_EQ(h.Fleetctl({"status"}).exit_code, 3);
  pid_t a0 = h.Instance("a/0").pid();
  EXPECT_EQ(h.Fleetctl({"restart", "all"}).exit_code, 0);
  ASSERT_TRUE(FleetHarness::WaitUntil(
      [&] {
        return AllRunning(h, {"a/0", "a/1"}) && h.Instance("a/0").pid() != a0;
      },
      absl::Seconds(10)));
  // Commands that change the fleet are on record with who sent them.
  const std::string events = h.Fleetctl({"events", "-n", "100"}).out;
  EXPECT_THAT(events, HasSubstr(absl::StrCat("stop a/1 (from uid ", getuid(), ", pid ")));
  EXPECT_THAT(events,
              ContainsRegex("restart all \\(from uid [0-9]+, pid [0-9]+ \\(fleetctl\\)\\)"));
  EXPECT_THAT(h.FleetdLog(), HasSubstr("restart all (from uid"));
  CommandResult shutdown = h.Fleetctl({"shutdown"});
  EXPECT_EQ(shutdown.exit_code, 0);
  EXPECT_THAT(shutdown.out, HasSubstr("fleetd stopped"));
  EXPECT_EQ(h.WaitFleetdExit(absl::Seconds(10)), 0);
}

TEST(ControlTest, LockSerializesCommandsAndBreaksADeadOwner) {
  FleetHarness h;
  // Two holders at once: the second waits for the first.
  std::string script =
      absl::StrCat("echo start >> ", h.dir(), "/order; sleep 0.3; echo end >> ", h.dir(), "/order");
  pid_t first = fork();
  if (first == 0) {
    execl(FleetHarness::FleetctlPath().c_str(), "fleetctl", "--run-dir", h.run_dir().c_str(),
          "lock", "ledger", "--", "sh", "-c", script.c_str(), nullptr);
    _exit(127);
  }
  ASSERT_TRUE(FleetHarness::WaitUntil([&] { return os::ReadFile(h.dir() + "/order").ok(); },
                                      absl::Seconds(5)));
  CommandResult second =
      h.Fleetctl({"--run-dir", h.run_dir(), "lock", "ledger", "--", "sh", "-c", script});
  EXPECT_EQ(second.exit_code, 0) << second.err;
  int status = 0;
  waitpid(first, &status, 0);
  EXPECT_EQ(*os::ReadFile(h.dir() + "/order"), "start\nend\nstart\nend\n");
  // A lock left by a dead owner is broken; the command's exit status passes through.
  h.WriteFile("run/locks/ledger/owner", "999999 1\n");
  CommandResult broken = h.Fleetctl(
      {"--run-dir", h.run_dir(), "lock", "ledger", "--wait", "1s", "--", "sh", "-c", "exit 7"});
  EXPECT_EQ(broken.exit_code, 7) << broken.err;
  EXPECT_FALSE(os::ReadFile(h.run_dir() + "/locks/ledger/owner").ok());  // Released.
  EXPECT_EQ(h.Fleetctl({"lock", "../etc", "--", "true"}).exit_code, 2);
}

// fleetctl finds the fleet as an operator expects: ./fleet.yaml where it is
// run, -c FILE from anywhere, and when nothing answers it says every place
// it looked.
TEST(ControlTest, FleetctlFindsItsFleetFromTheConfigItWasStartedWith) {
  FleetHarness h;
  h.WriteFile("fleet.yaml", FleetYaml(ChildDaemon("a")));
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
  CommandResult none =
      h.Run({"sh", "-c",
             absl::StrCat("cd ", h.dir(), "/empty && env -u FLEET_RUN_DIR HOME=", h.dir(),
                          "/empty ", fleetctl, " status")});
  EXPECT_EQ(none.exit_code, 5);
  EXPECT_THAT(none.err, HasSubstr("no control socket in"));
  EXPECT_THAT(none.err, HasSubstr(h.dir() + "/empty/.fleet/run (from ~/.fleet/run)"));
}

// `fleetd --run-dir run3` (relative): fleetd and every instance get the
// absolute path, so fleetctl inside a worker reaches fleetd from anywhere.
TEST(ControlTest, ARelativeRunDirIsMadeAbsoluteOnceForFleetdAndItsInstances) {
  FleetHarness h;
  h.WriteFile(
      "fleet.yaml",
      FleetYaml("  - name: w\n    shell: 'echo \"$FLEET_RUN_DIR\" > where; exec sleep 1000'\n"));
  h.set_fleetd_wrapper({"sh", "-c", "exec \"$@\" --run-dir run3", "sh"});
  const pid_t fleetd = h.SpawnFleetd("fleetd.log");
  ASSERT_GT(fleetd, 0);
  const std::string run3 = h.dir() + "/run3";
  ASSERT_TRUE(FleetHarness::WaitUntil(
      [&] { return FleetHarness::FileText(h.dir() + "/where") == run3 + "\n"; }, absl::Seconds(15)))
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
       std::vector<std::vector<std::string>>{{"init"},
                                             {"stop"},
                                             {"logs"},
                                             {"bus", "claim"},
                                             {"install", "systemd"},
                                             {"lock"},
                                             {"commit"}}) {
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
  h.WriteFile("fleet.yaml", FleetYaml(ChildDaemon("a")));
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

// `fleetctl export systemd`: the units are written where asked, a unit
// the operator edited is never replaced without --force (nothing is
// written then), and a schedule systemd would fire differently is refused
// unless --approximate.
TEST(FleetctlTest, ExportWritesSystemdUnitsAndNeverReplacesAnEditedOne) {
  FleetHarness h;
  h.WriteFile("fleet.yaml", FleetYaml(ChildDaemon("w") +
                                      "  - name: j\n    type: cron\n    schedule: '0 4 * * *'\n"
                                      "    command: [/bin/true]\n"));
  const std::string units = h.dir() + "/units";
  CommandResult first = h.Fleetctl({"export", "systemd", h.dir() + "/fleet.yaml", "-o", units});
  ASSERT_EQ(first.exit_code, 0) << first.err;
  for (const char* name :
       {"fleet-w@.service", "fleet-j@.service", "fleet-j@.timer", "fleet-it.target"}) {
    EXPECT_TRUE(fs::exists(units + "/" + name)) << name << "\n" << first.out;
  }
  EXPECT_THAT(FleetHarness::FileText(units + "/fleet-j@.timer"),
              HasSubstr("OnCalendar=*-*-* 04:00:00\n"));
  // Printed to stdout by default.
  EXPECT_THAT(h.Fleetctl({"export", "systemd", h.dir() + "/fleet.yaml"}).out,
              HasSubstr("# ==> fleet-it.target <==\n"));

  h.WriteFile("units/fleet-w@.service", "# mine\n");
  CommandResult again = h.Fleetctl({"export", "systemd", h.dir() + "/fleet.yaml", "-o", units});
  EXPECT_EQ(again.exit_code, 1);
  EXPECT_THAT(again.err, HasSubstr("fleet-w@.service exists and differs"));
  EXPECT_EQ(FleetHarness::FileText(units + "/fleet-w@.service"), "# mine\n");
  CommandResult forced =
      h.Fleetctl({"export", "systemd", h.dir() + "/fleet.yaml", "-o", units, "--force"});
  EXPECT_EQ(forced.exit_code, 0) << forced.err;
  EXPECT_THAT(FleetHarness::FileText(units + "/fleet-w@.service"), HasSubstr("ExecStart="));
  // One it cannot even read is not replaced either.
  fs::remove(units + "/fleet-j@.timer");
  ASSERT_EQ(mkfifo((units + "/fleet-j@.timer").c_str(), 0644), 0);
  CommandResult unreadable =
      h.Fleetctl({"export", "systemd", h.dir() + "/fleet.yaml", "-o", units});
  EXPECT_EQ(unreadable.exit_code, 1);
  EXPECT_THAT(unreadable.err, HasSubstr("cannot be compared"));
  EXPECT_TRUE(fs::is_fifo(units + "/fleet-j@.timer"));

  h.WriteFile("dst.yaml", FleetYaml("  - name: j\n    type: cron\n    schedule: '30 2 * * *'\n"
                                    "    timezone: Europe/Berlin\n    command: [/bin/true]\n"));
  CommandResult refused = h.Fleetctl({"export", "systemd", h.dir() + "/dst.yaml"});
  EXPECT_EQ(refused.exit_code, 1);
  EXPECT_THAT(refused.err, HasSubstr("skips: fleet runs it at the instant after the jump"));
  CommandResult approximate =
      h.Fleetctl({"export", "systemd", h.dir() + "/dst.yaml", "--approximate"});
  EXPECT_EQ(approximate.exit_code, 0) << approximate.err;
  EXPECT_THAT(approximate.err, HasSubstr("dst.yaml:6:15: engine j: approximate"));
  EXPECT_EQ(h.Fleetctl({"export", "k8s", h.dir() + "/fleet.yaml"}).exit_code, 2);
  // Kubernetes needs to know the image.
  CommandResult no_image = h.Fleetctl({"export", "kubernetes", h.dir() + "/fleet.yaml"});
  EXPECT_EQ(no_image.exit_code, 1);
  EXPECT_THAT(no_image.err, HasSubstr("--image IMAGE is required"));
  CommandResult nomad = h.Fleetctl({"export", "nomad", h.dir() + "/fleet.yaml"});
  EXPECT_EQ(nomad.exit_code, 0) << nomad.err;
  EXPECT_THAT(nomad.out, HasSubstr("\"Job\""));
}

// `fleetctl probe`: the exec probe an exported Kubernetes object runs for
// a heartbeat or log file (fleet's freshness check, without fleetd).
TEST(FleetctlTest, ProbeJudgesAFileByItsAge) {
  FleetHarness h;
  h.WriteFile("hb", "");
  CommandResult fresh = h.Fleetctl({"probe", "--file", h.dir() + "/hb", "--max-age", "30s"});
  EXPECT_EQ(fresh.exit_code, 0) << fresh.out << fresh.err;
  EXPECT_THAT(fresh.out, HasSubstr("ok: "));
  struct timespec old[2] = {{0, UTIME_OMIT}, {time(nullptr) - 120, 0}};
  ASSERT_EQ(utimensat(AT_FDCWD, (h.dir() + "/hb").c_str(), old, 0), 0);
  CommandResult stale = h.Fleetctl({"probe", "--file", h.dir() + "/hb", "--max-age", "30s"});
  EXPECT_EQ(stale.exit_code, 1);
  EXPECT_THAT(stale.out, HasSubstr("was last written 2m"));
  CommandResult missing = h.Fleetctl({"probe", "--file", h.dir() + "/nope", "--max-age", "30s"});
  EXPECT_EQ(missing.exit_code, 1);
  EXPECT_THAT(missing.out, HasSubstr("not written yet"));
  EXPECT_EQ(h.Fleetctl({"probe", "--file", h.dir() + "/hb", "--max-age", "soon"}).exit_code, 2);
}

}  // namespace
}  // namespace fleet::testing
