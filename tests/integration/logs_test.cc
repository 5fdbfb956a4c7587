// Logs with real workers: `fleetctl logs` over many instances (prefixes,
// streams, restart markers, following); log hygiene (the free-disk floor,
// the directory budget, a log that cannot be written; the workers are never
// touched).
#include <signal.h>
#include <sys/stat.h>
#include <unistd.h>

#include <filesystem>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "absl/time/clock.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "tests/integration/fleet_harness.h"

namespace fleet::testing {
namespace {

using ::testing::ContainsRegex;
using ::testing::HasSubstr;
using ::testing::Not;
namespace ctl = ::fleet::control::v1;
namespace fs = std::filesystem;

// A worker printing a line every 50ms.
std::string Chatty(const std::string& name) {
  return absl::StrCat("  - name: ", name,
                      "\n    shell: 'while true; do echo tick tick tick tick tick tick; sleep 0.05; "
                      "done'\n");
}

uint64_t SizeOr0(const std::string& path) {
  std::error_code ec;
  uint64_t size = fs::file_size(path, ec);
  return ec ? 0 : size;
}

bool EventSeen(const FleetHarness& h, const std::string& text) {
  return h.Fleetctl({"events", "-n", "200"}).out.find(text) != std::string::npos;
}

// Two replicas that print to stdout and stderr; the first run of each
// exits 3, the second stays up.
std::string TwoStreams(const FleetHarness& h) {
  return absl::StrCat(
      "name: it\nrun_dir: run\nengines:\n  - name: w\n    replicas: 2\n    min_uptime: 10ms\n"
      "    backoff: {initial: 100ms}\n    shell: 'echo out $FLEET_INSTANCE; echo err "
      "$FLEET_INSTANCE >&2; if [ ! -e ",
      h.dir(), "/ran.$FLEET_INSTANCE ]; then touch ", h.dir(),
      "/ran.$FLEET_INSTANCE; exit 3; fi; exec sleep 1000'\n");
}

// Both replicas of TwoStreams restarted once and running again.
bool BothOnTheirSecondRun(const FleetHarness& h) {
  return FleetHarness::WaitUntil(
      [&] {
        for (const char* id : {"w/0", "w/1"}) {
          const ctl::InstanceStatus inst = h.Instance(id);
          if (inst.restarts() != 1 || inst.state() != ctl::INSTANCE_STATE_RUNNING) return false;
        }
        return true;
      },
      absl::Seconds(15));
}

TEST(LogsTest, EveryReplicaPrefixedStreamsApartRestartsMarked) {
  FleetHarness h;
  h.WriteFile("fleet.yaml", TwoStreams(h));
  ASSERT_TRUE(h.StartFleetd().ok()) << h.FleetdLog();
  ASSERT_TRUE(BothOnTheirSecondRun(h));
  CommandResult all;
  ASSERT_TRUE(FleetHarness::WaitUntil(
      [&] {
        all = h.Fleetctl({"logs", "w"});
        // Both runs' lines are in.
        return std::vector<std::string>(absl::StrSplit(all.out, "out 1")).size() == 3u;
      },
      absl::Seconds(10)))
      << all.out;
  EXPECT_EQ(all.exit_code, 0) << all.err;
  // stdout lines on stdout, stderr lines on stderr, each with its instance.
  EXPECT_THAT(all.out, HasSubstr("w/0 | out 0\n"));
  EXPECT_THAT(all.out, HasSubstr("w/1 | out 1\n"));
  EXPECT_THAT(all.out, Not(HasSubstr("err ")));
  EXPECT_THAT(all.err, HasSubstr("w/0 | err 0\n"));
  EXPECT_THAT(all.err, HasSubstr("w/1 | err 1\n"));
  // Where it ended and started again.
  EXPECT_THAT(all.out, HasSubstr("w/0 | --- exited with status 3 after "));
  EXPECT_THAT(all.out, ContainsRegex("w/1 \\| --- started: pid [0-9]+, restart 1 ---"));
  // The runs in order: started, out, exited, started (restart 1), out.
  const size_t first = all.out.find("w/0 | --- started");
  const size_t exited = all.out.find("w/0 | --- exited");
  const size_t again = all.out.find("w/0 | --- started", exited);
  ASSERT_NE(again, std::string::npos) << all.out;
  EXPECT_LT(first, all.out.find("w/0 | out 0"));
  EXPECT_LT(all.out.find("w/0 | out 0"), exited);
  EXPECT_LT(again, all.out.rfind("w/0 | out 0"));

  // Into one file (2>&1), stderr lines stay in their place among the rest.
  const std::string merged =
      h.Run({"sh", "-c",
             absl::StrCat(FleetHarness::FleetctlPath(), " --run-dir ", h.run_dir(),
                          " logs w/0 2>&1")})
          .out;
  const size_t err0 = merged.find("err 0");
  EXPECT_LT(merged.find("--- started"), err0) << merged;
  EXPECT_LT(err0, merged.find("--- exited")) << merged;

  // One instance: no prefix. -n 0: nothing at all.
  CommandResult one = h.Fleetctl({"logs", "w/1"});
  EXPECT_THAT(one.out, HasSubstr("\nout 1\n"));
  EXPECT_THAT(one.out, Not(HasSubstr("w/1 |")));
  CommandResult none = h.Fleetctl({"logs", "-n", "0", "all"});
  EXPECT_EQ(none.exit_code, 0);
  EXPECT_EQ(none.out + none.err, "");
  // Timestamps: when fleetd read each line, UTC, to the microsecond.
  EXPECT_THAT(h.Fleetctl({"logs", "-t", "-n", "5", "w/0"}).out,
              ContainsRegex("(^|\n)20[0-9][0-9]-[01][0-9]-[0-3][0-9]T[0-2][0-9]:[0-5][0-9]:[0-6][0-9]"
                            "\\.[0-9]{6}Z out 0\n$"));
  // JSON lines with the stream named.
  EXPECT_THAT(h.Fleetctl({"logs", "-o", "json", "w/0"}).out,
              HasSubstr("{\"instance\":\"w/0\",\"unix_micros\":"));
  EXPECT_THAT(h.Fleetctl({"logs", "-o", "json", "w/0"}).out,
              HasSubstr("\"stream\":\"stderr\",\"text\":\"err 0\"}"));
  EXPECT_EQ(h.Fleetctl({"logs", "nosuch"}).exit_code, 4);
}

TEST(LogsTest, FollowPrintsWhatManyInstancesWriteAsTheyWriteIt) {
  FleetHarness h;
  h.WriteFile("fleet.yaml", TwoStreams(h));
  ASSERT_TRUE(h.StartFleetd().ok()) << h.FleetdLog();
  ASSERT_TRUE(BothOnTheirSecondRun(h));
  // A follower started before anything new is written, nothing old shown.
  ASSERT_EQ(h.Run({"sh", "-c",
                   absl::StrCat(FleetHarness::FleetctlPath(), " --run-dir ", h.run_dir(),
                                " logs -f -n 0 w > follow.out 2>&1 & echo $! > follow.pid")})
                .exit_code,
            0);
  absl::SleepFor(absl::Milliseconds(500));
  ASSERT_EQ(h.Fleetctl({"restart", "w"}).exit_code, 0);
  const std::string follow = h.dir() + "/follow.out";
  const bool seen = FleetHarness::WaitUntil(
      [&] {
        const std::string out = FleetHarness::FileText(follow);
        return out.find("w/0 | out 0") != std::string::npos &&
               out.find("w/1 | out 1") != std::string::npos &&
               out.find("w/1 | err 1") != std::string::npos;
      },
      absl::Seconds(10));
  const pid_t follower = h.ReadPid("follow.pid");
  ASSERT_GT(follower, 0);
  ::kill(follower, SIGTERM);
  const std::string out = FleetHarness::FileText(follow);
  EXPECT_TRUE(seen) << out;
  EXPECT_THAT(out, HasSubstr("w/0 | --- killed by SIGTERM after "));
  EXPECT_THAT(out, ContainsRegex("w/1 \\| --- started: pid [0-9]+, restart 2 ---"));
  EXPECT_THAT(out, Not(HasSubstr("restart 1 ---")));  // -n 0: nothing from before.
}

TEST(LogsTest, BelowTheFreeDiskFloorOutputIsDroppedAndCountedThenResumes) {
  FleetHarness h;
  // A floor no disk meets: paused from the first check.
  const std::string fleet = "name: it\nrun_dir: run\nlogs: {min_free_size: %s}\nengines:\n" +
                            Chatty("w");
  auto with_floor = [&](const std::string& floor) {
    std::string text = fleet;
    text.replace(text.find("%s"), 2, floor);
    return text;
  };
  h.WriteFile("fleet.yaml", with_floor("1000000GB"));
  ASSERT_TRUE(h.StartFleetd().ok()) << h.FleetdLog();
  ASSERT_TRUE(FleetHarness::WaitUntil([&] { return EventSeen(h, "logs_paused"); },
                                      absl::Seconds(15)));
  ASSERT_TRUE(FleetHarness::WaitUntil(
      [&] { return h.Instance("w/0").log_dropped_bytes() > 100; }, absl::Seconds(10)));
  const uint64_t size_paused = SizeOr0(h.run_dir() + "/logs/w.0.log");
  absl::SleepFor(absl::Milliseconds(500));
  EXPECT_EQ(SizeOr0(h.run_dir() + "/logs/w.0.log"), size_paused);  // Nothing written.
  // Space "returns" (a floor the disk meets): writing resumes by itself.
  h.WriteFile("fleet.yaml", with_floor("1MB"));
  ASSERT_EQ(h.Fleetctl({"reload"}).exit_code, 0);
  ASSERT_TRUE(FleetHarness::WaitUntil([&] { return EventSeen(h, "logs_resumed"); },
                                      absl::Seconds(15)))
      << h.Fleetctl({"events", "-n", "50"}).out;
  ASSERT_TRUE(FleetHarness::WaitUntil(
      [&] { return SizeOr0(h.run_dir() + "/logs/w.0.log") > size_paused; },
      absl::Seconds(10)));
  EXPECT_EQ(h.Instance("w/0").restarts(), 0u);
}

TEST(LogsTest, TheLogsDirectoryIsKeptUnderItsBudgetOldestRotatedFirst) {
  FleetHarness h;
  h.WriteFile("fleet.yaml", "name: it\nrun_dir: run\n"
                            "logs: {max_size: 4KB, max_files: 20, total_max_size: 24KB}\n"
                            "engines:\n" + Chatty("a") + Chatty("b"));
  ASSERT_TRUE(h.StartFleetd().ok()) << h.FleetdLog();
  // Checked every 10s; the shell loops print slower on a loaded machine.
  ASSERT_TRUE(FleetHarness::WaitUntil([&] { return EventSeen(h, "logs_trimmed"); },
                                      absl::Seconds(60)))
      << h.Fleetctl({"events", "-n", "50"}).out;
  uint64_t total = 0;
  for (const auto& e : fs::directory_iterator(h.run_dir() + "/logs")) total += e.file_size();
  // The budget, plus what was written since the last check (10s at most).
  EXPECT_LE(total, 24u * 1024 + 2 * 10 * 20 * 40);
  EXPECT_TRUE(fs::exists(h.run_dir() + "/logs/a.0.log"));  // Live logs stay.
  EXPECT_TRUE(fs::exists(h.run_dir() + "/logs/b.0.log"));
}

TEST(LogsTest, ALogThatCannotBeWrittenIsReportedAndTheWorkerGoesOn) {
  FleetHarness h;
  fs::create_directories(h.run_dir() + "/logs");
  // A symlink planted at the log's name (to /dev/full here; to a root-only
  // file in an attack) is never written through.
  fs::create_symlink("/dev/full", h.run_dir() + "/logs/w.0.log");
  h.WriteFile("fleet.yaml", "name: it\nrun_dir: run\nengines:\n" + Chatty("w"));
  ASSERT_TRUE(h.StartFleetd().ok()) << h.FleetdLog();
  ASSERT_TRUE(FleetHarness::WaitUntil([&] { return EventSeen(h, "log_write_failed"); },
                                      absl::Seconds(10)));
  EXPECT_TRUE(EventSeen(h, "is a symlink; fleetd does not write through it"));
  ctl::InstanceStatus i = h.Instance("w/0");
  EXPECT_GT(i.log_dropped_bytes(), 0u);
  EXPECT_THAT(i.log_error(), HasSubstr("is a symlink"));
  absl::SleepFor(absl::Seconds(1));
  EXPECT_EQ(h.Instance("w/0").restarts(), 0u);
  EXPECT_EQ(h.Instance("w/0").state(), ctl::INSTANCE_STATE_RUNNING);
}

TEST(LogsTest, ALiveLogDeletedUnderFleetdIsStartedAgainAtItsPath) {
  FleetHarness h;
  h.WriteFile("fleet.yaml", "name: it\nrun_dir: run\nengines:\n" + Chatty("w"));
  ASSERT_TRUE(h.StartFleetd().ok()) << h.FleetdLog();
  const std::string log = h.run_dir() + "/logs/w.0.log";
  ASSERT_TRUE(FleetHarness::WaitUntil([&] { return fs::exists(log) && fs::file_size(log) > 0; },
                                      absl::Seconds(10)));
  fs::remove(log);
  // The janitor looks every 10 s; the output comes back in a new file.
  EXPECT_TRUE(FleetHarness::WaitUntil([&] { return fs::exists(log) && fs::file_size(log) > 0; },
                                      absl::Seconds(25)))
      << h.Fleetctl({"events", "-n", "20"}).out;
  EXPECT_TRUE(EventSeen(h, "log_reopened"));
}

}  // namespace
}  // namespace fleet::testing
