// Shared state through fleetd: real workers in their own Git work trees, a
// real bare remote, libgit2 to look at what reached it.
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <map>
#include <sstream>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "absl/time/clock.h"
#include "gmock/gmock.h"
#include "google/protobuf/struct.pb.h"
#include "google/protobuf/util/json_util.h"
#include "gtest/gtest.h"
#include "plugins/sync/publish.h"
#include "plugins/sync/repo.h"
#include "tests/integration/fleet_harness.h"
#include "tests/integration/git_remote.h"

namespace fleet::testing {
namespace {

using ::testing::HasSubstr;
namespace ctl = ::fleet::control::v1;
namespace fs = std::filesystem;

std::string ReadLocal(const std::string& path) {
  std::ifstream in(path);
  std::stringstream s;
  s << in.rdbuf();
  return s.str();
}

int Lines(const std::string& text) {
  return static_cast<int>(std::count(text.begin(), text.end(), '\n'));
}

// Commits `content` as `file` from a scratch clone and pushes it.
void PushAsOperator(const Remote& remote, const std::string& scratch, const std::string& file,
                    const std::string& content) {
  plugins::sync::GitStatus status;
  auto repo = plugins::sync::Repo::OpenOrClone(scratch, remote.path(), "main", &status);
  ASSERT_NE(repo, nullptr) << status.error;
  plugins::sync::PullResult pulled;
  ASSERT_TRUE(repo->Pull(&pulled).ok());
  std::ofstream(scratch + "/" + file) << content;
  // fleetd's workers push meanwhile: catch up and retry like any writer.
  plugins::sync::PublishOptions options{"operator", "op@example.com", "seed " + file, 50, nullptr};
  plugins::sync::PublishResult published = plugins::sync::Publish(*repo, options);
  ASSERT_TRUE(published.pushed) << published.error;
}

std::string StateYaml(const std::string& extra, const std::string& engines) {
  return absl::StrCat("name: it\nrun_dir: run\nstate:\n  remote: remote.git\n", extra, "engines:\n",
                      engines);
}

TEST(StateTest, AWorkerSeesTheLatestStateAtEveryStartAndCommitsFromTheShell) {
  FleetHarness h;
  const std::string remote_path = InitBareRemote(h.dir());
  Remote remote(remote_path);
  PushAsOperator(remote, h.dir() + "/scratch", "world.txt", "v1\n");
  const std::string fleetctl = FleetHarness::FleetctlPath();
  h.WriteFile("fleet.yaml",
              StateYaml("", absl::StrCat("  - name: reader\n    state: true\n    shell: 'echo "
                                         "\"saw $(cat \"$FLEET_STATE_DIR/world.txt\")\"; "
                                         "echo note-$$ > \"$FLEET_STATE_DIR/note.txt\"; \"",
                                         fleetctl,
                                         "\" commit -m \"reader wrote a note\"; echo committed=$?;"
                                         " exec sleep 1000'\n")));
  ASSERT_TRUE(h.StartFleetd().ok()) << h.FleetdLog();
  ASSERT_TRUE(FleetHarness::WaitUntil(
      [&] {
        return h.Fleetctl({"logs", "reader"}).out.find("committed=0") != std::string::npos;
      },
      absl::Seconds(20)))
      << h.Fleetctl({"logs", "reader"}).out << h.FleetdLog();
  EXPECT_THAT(h.Fleetctl({"logs", "reader"}).out, HasSubstr("saw v1"));
  // The shell's own commit reached the remote, authored by its instance.
  EXPECT_THAT(remote.File("note.txt"), HasSubstr("note-"));
  EXPECT_EQ(remote.CommitsByAuthor()["reader/0"], 1);
  ctl::InstanceStatus i = h.Instance("reader/0");
  EXPECT_EQ(i.state_dir(), h.run_dir() + "/state/reader.0");
  EXPECT_THAT(i.state_sync(), HasSubstr("ok "));

  // Someone else moves the world on; the next start sees it.
  PushAsOperator(remote, h.dir() + "/scratch", "world.txt", "v2\n");
  ASSERT_EQ(h.Fleetctl({"restart", "reader"}).exit_code, 0);
  ASSERT_TRUE(FleetHarness::WaitUntil(
      [&] {
        return h.Fleetctl({"logs", "reader"}).out.find("saw v2") != std::string::npos;
      },
      absl::Seconds(20)))
      << h.Fleetctl({"logs", "reader"}).out << h.FleetdLog();

  // fleetctl sync from outside pulls on demand; outside an instance a
  // target is required.
  PushAsOperator(remote, h.dir() + "/scratch", "world.txt", "v3\n");
  CommandResult synced = h.Fleetctl({"sync", "reader/0"});
  EXPECT_EQ(synced.exit_code, 0) << synced.err;
  EXPECT_THAT(synced.out, HasSubstr("reader/0  pulled"));
  EXPECT_EQ(ReadLocal(h.run_dir() + "/state/reader.0/world.txt"), "v3\n");
  CommandResult no_target = h.Fleetctl({"commit", "-m", "x"});
  EXPECT_EQ(no_target.exit_code, 2);
  EXPECT_THAT(no_target.err, HasSubstr("commit needs a TARGET"));
  EXPECT_EQ(h.Fleetctl({"commit", "reader"}).exit_code, 2);  // No -m.
  CommandResult unknown = h.Fleetctl({"sync", "nobody"});
  EXPECT_EQ(unknown.exit_code, 4);
}

TEST(StateTest, TwentyCycleWorkersCommitAtOnceAndNothingIsLost) {
  // Half of them append to one log and bump their own key in one JSON file
  // (merged by rule); the other half write files of their own. Each run is
  // one commit; afterwards every run's commit is in the remote.
  FleetHarness h;
  const std::string remote_path = InitBareRemote(h.dir());
  // A run finishes even when the shutdown's SIGTERM comes mid-run, so its
  // three writes (run log, shared log, counter) always go together.
  h.WriteFile("worker.sh", R"SH(set -e
trap '' TERM
d="$FLEET_STATE_DIR"; i="$FLEET_INSTANCE"
mkdir -p "$d/runs"
echo "w$i $(date +%s%N)" >> "$d/runs/w$i.txt"
if [ $((i % 2)) -eq 0 ]; then
  echo "w$i $(date +%s%N)" >> "$d/shared.log"
  /usr/bin/python3 - "$d/counters.json" "w$i" <<'PY'
import json, os, sys
path, key = sys.argv[1], sys.argv[2]
try:
    counters = json.load(open(path))
except FileNotFoundError:
    counters = {}
counters[key] = counters.get(key, 0) + 1
with open(path + ".tmp", "w") as f:
    json.dump(counters, f, indent=1, sort_keys=True)
    f.write("\n")
os.rename(path + ".tmp", path)
PY
fi
)SH");
  h.WriteFile("fleet.yaml", StateYaml("  merge:\n    - {path: shared.log, strategy: union}\n"
                                      "    - {path: counters.json, strategy: json}\n",
                                      "  - name: w\n    replicas: 20\n    state: true\n"
                                      "    command: [sh, worker.sh]\n"
                                      "    cycle: {interval: 100ms, timeout: 30s}\n"));
  ASSERT_TRUE(h.StartFleetd().ok()) << h.FleetdLog();
  absl::SleepFor(absl::Seconds(8));
  // As Prometheus sees it: every worker's commits and pushes count, and
  // twenty writers of two shared files meet and the rules resolve it (a
  // slow machine gets there later: waited for, not timed).
  std::string metrics;
  EXPECT_TRUE(FleetHarness::WaitUntil(
      [&] {
        metrics = h.Fleetctl({"metrics"}).out;
        return FleetHarness::MetricSum(metrics, "fleet_sync_commits_total") >= 20 &&
               FleetHarness::MetricSum(metrics, "fleet_sync_pushes_total") >= 20 &&
               FleetHarness::MetricSum(metrics, "fleet_sync_conflicts_resolved_total") >= 1;
      },
      absl::Seconds(90)))
      << metrics;
  EXPECT_EQ(FleetHarness::MetricSum(metrics, "fleet_sync_conflicts_unresolved_total"), 0)
      << metrics;
  CommandResult down = h.Fleetctl({"shutdown"});
  ASSERT_EQ(down.exit_code, 0) << down.err;
  ASSERT_EQ(h.WaitFleetdExit(absl::Seconds(60)), 0) << h.FleetdLog();

  Remote remote(remote_path);
  std::map<std::string, int> commits = remote.CommitsByAuthor();
  const std::string counters_text = remote.File("counters.json");
  google::protobuf::Struct counters;
  ASSERT_TRUE(google::protobuf::util::JsonStringToMessage(counters_text, &counters).ok())
      << counters_text;
  const std::string shared = remote.File("shared.log");
  int total_runs = 0;
  for (int i = 0; i < 20; ++i) {
    const std::string key = absl::StrCat("w", i);
    const std::string local =
        ReadLocal(absl::StrCat(h.run_dir(), "/state/w.", i, "/runs/w", i, ".txt"));
    const int runs = Lines(local);
    total_runs += runs;
    EXPECT_GT(runs, 0) << key;
    // Every run reached the remote: its line, and exactly one commit for it.
    EXPECT_EQ(remote.File(absl::StrCat("runs/w", i, ".txt")), local) << key;
    EXPECT_EQ(commits[absl::StrCat("w/", i)], runs) << key;
    if (i % 2 == 0) {
      int shared_lines = 0;
      for (absl::string_view line : absl::StrSplit(shared, '\n')) {
        if (absl::StartsWith(line, key + " ")) ++shared_lines;
      }
      EXPECT_EQ(shared_lines, runs) << key;
      EXPECT_EQ(counters.fields().at(key).number_value(), runs) << key << "\n" << counters_text;
    }
  }
  EXPECT_EQ(shared.find("<<<<<<<"), std::string::npos);
  EXPECT_EQ(counters_text.find("<<<<<<<"), std::string::npos);
  EXPECT_THAT(LockFiles(h.run_dir() + "/state"), ::testing::IsEmpty());
  EXPECT_THAT(LockFiles(remote_path), ::testing::IsEmpty());
  printf("20 cycle workers, 8s: %d runs, %d commits in the remote, none lost\n", total_runs, [&] {
    int n = 0;
    for (const auto& [author, count] : commits) n += count;
    return n;
  }());
}

TEST(StateTest, AnUnreachableRemoteDegradesAndRecoversWithoutLosingCommits) {
  FleetHarness h;
  const std::string remote_path = InitBareRemote(h.dir());
  h.WriteFile("fleet.yaml", StateYaml("",
                                      "  - name: w\n    state: true\n"
                                      "    shell: 'echo tick >> \"$FLEET_STATE_DIR/ticks.txt\"'\n"
                                      "    cycle: {interval: 300ms}\n"));
  ASSERT_TRUE(h.StartFleetd().ok()) << h.FleetdLog();
  Remote remote(remote_path);
  ASSERT_TRUE(FleetHarness::WaitUntil([&] { return Lines(remote.File("ticks.txt")) >= 2; },
                                      absl::Seconds(20)))
      << h.FleetdLog();

  const std::string away = remote_path + ".away";
  ASSERT_EQ(rename(remote_path.c_str(), away.c_str()), 0);
  ASSERT_TRUE(FleetHarness::WaitUntil(
      [&] {
        return absl::StartsWith(h.Instance("w/0").state_sync(),
                                "degraded: remote unreachable since");
      },
      absl::Seconds(20)))
      << h.Instance("w/0").DebugString();
  // The worker goes on with its last state, and its runs pile up locally.
  const uint32_t restarts = h.Instance("w/0").restarts();
  ASSERT_TRUE(FleetHarness::WaitUntil([&] { return h.Instance("w/0").state_ahead() >= 3; },
                                      absl::Seconds(20)))
      << h.Instance("w/0").DebugString();
  EXPECT_EQ(h.Instance("w/0").restarts(), restarts);
  EXPECT_THAT(h.Fleetctl({"events", "-n", "100"}).out, HasSubstr("state_unreachable"));
  // Watched from Prometheus: the failures count, the backlog shows.
  const std::string degraded = h.Fleetctl({"metrics"}).out;
  EXPECT_GE(FleetHarness::MetricSum(degraded, "fleet_sync_push_failures_total"), 1) << degraded;
  EXPECT_GE(FleetHarness::MetricSum(degraded, "fleet_sync_ahead_commits"), 3) << degraded;
  const double pushed_before = FleetHarness::MetricSum(degraded, "fleet_sync_pushes_total");
  EXPECT_GE(pushed_before, 1) << degraded;
  CommandResult brief = h.Fleetctl({"brief"});
  EXPECT_NE(brief.exit_code, 0);

  ASSERT_EQ(rename(away.c_str(), remote_path.c_str()), 0);
  ASSERT_TRUE(FleetHarness::WaitUntil(
      [&] { return absl::StartsWith(h.Instance("w/0").state_sync(), "ok "); }, absl::Seconds(30)))
      << h.Instance("w/0").DebugString();
  EXPECT_THAT(h.Fleetctl({"events", "-n", "200"}).out, HasSubstr("state_reachable"));
  std::string recovered;
  EXPECT_TRUE(FleetHarness::WaitUntil(
      [&] {
        recovered = h.Fleetctl({"metrics"}).out;
        return FleetHarness::MetricSum(recovered, "fleet_sync_pushes_total") > pushed_before;
      },
      absl::Seconds(30)))
      << recovered;
  EXPECT_GE(FleetHarness::MetricSum(recovered, "fleet_sync_last_pull_age_seconds"), 0) << recovered;
  ASSERT_EQ(h.Fleetctl({"stop", "w"}).exit_code, 0);
  ASSERT_TRUE(FleetHarness::WaitUntil(
      [&] {
        ctl::InstanceStatus i = h.Instance("w/0");
        return i.state() == ctl::INSTANCE_STATE_STOPPED && i.state_ahead() == 0 &&
               i.state_sync().find("ok") == 0;
      },
      absl::Seconds(30)))
      << h.Instance("w/0").DebugString();
  // Every tick made while the remote was gone is there now.
  EXPECT_EQ(remote.File("ticks.txt"), ReadLocal(h.run_dir() + "/state/w.0/ticks.txt"));
}

TEST(StateTest, TheWatchdogCommitsWhatADaemonLeavesAndAStopPublishesTheRest) {
  FleetHarness h;
  const std::string remote_path = InitBareRemote(h.dir());
  // A long-running daemon that never commits: the watchdog does it for it.
  h.WriteFile("fleet.yaml",
              StateYaml("  watchdog: 1s\n",
                        "  - name: d\n    state: true\n    shell: 'i=0; while true; do i=$((i+1)); "
                        "echo $i > \"$FLEET_STATE_DIR/count.txt\"; sleep 0.2; done'\n"));
  ASSERT_TRUE(h.StartFleetd().ok()) << h.FleetdLog();
  Remote remote(remote_path);
  ASSERT_TRUE(FleetHarness::WaitUntil([&] { return remote.CommitsByAuthor()["d/0"] >= 2; },
                                      absl::Seconds(20)))
      << h.FleetdLog();
  EXPECT_FALSE(remote.File("count.txt").empty());
  // Stopping it publishes what its last moments wrote.
  ASSERT_EQ(h.Fleetctl({"stop", "d"}).exit_code, 0);
  ASSERT_TRUE(FleetHarness::WaitUntil(
      [&] {
        return h.Instance("d/0").state() == ctl::INSTANCE_STATE_STOPPED &&
               remote.File("count.txt") == ReadLocal(h.run_dir() + "/state/d.0/count.txt");
      },
      absl::Seconds(20)))
      << remote.File("count.txt") << " vs " << ReadLocal(h.run_dir() + "/state/d.0/count.txt");
}

TEST(StateTest, AConflictNoRuleResolvesIsShownAndNothingIsDiscarded) {
  FleetHarness h;
  const std::string remote_path = InitBareRemote(h.dir());
  // Two instances write different content into the same file, no rule.
  h.WriteFile("fleet.yaml",
              StateYaml("",
                        "  - name: w\n    replicas: 2\n    state: true\n"
                        "    shell: 'echo \"$FLEET_INSTANCE $$\" > \"$FLEET_STATE_DIR/who.txt\"'\n"
                        "    cycle: {interval: 200ms}\n"));
  ASSERT_TRUE(h.StartFleetd().ok()) << h.FleetdLog();
  std::string loser;
  ASSERT_TRUE(FleetHarness::WaitUntil(
      [&] {
        for (const char* id : {"w/0", "w/1"}) {
          if (!h.Instance(id).state_conflicts().empty()) loser = id;
        }
        return !loser.empty();
      },
      absl::Seconds(20)))
      << h.FleetdLog();
  ctl::InstanceStatus i = h.Instance(loser);
  EXPECT_THAT(i.state_conflicts(), ::testing::ElementsAre("who.txt"));
  EXPECT_THAT(i.state_sync(), HasSubstr("conflict: who.txt (kept locally)"));
  EXPECT_THAT(h.Fleetctl({"status"}).out, HasSubstr("conflict: who.txt"));
  EXPECT_THAT(h.Fleetctl({"events", "-n", "200"}).out, HasSubstr("state_conflict"));
  // The loser keeps running on its own state; its commits stay local.
  ASSERT_TRUE(FleetHarness::WaitUntil([&] { return h.Instance(loser).state_ahead() >= 2; },
                                      absl::Seconds(20)));
  EXPECT_EQ(h.Instance(loser).restarts(), 0u);
  const std::string tree = h.run_dir() + "/state/" + (loser == "w/0" ? "w.0" : "w.1");
  EXPECT_EQ(ReadLocal(tree + "/who.txt").find("<<<<<<<"), std::string::npos);
}

}  // namespace
}  // namespace fleet::testing
