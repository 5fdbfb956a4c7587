// A wall-clock jump, forwards or backwards, neither restarts the fleet nor
// stalls its timers: the supervisor runs real processes on a clock whose wall
// time the test steps by a day each way (tests/fakes/jumping_clock.h).
#include <signal.h>
#include <stdlib.h>

#include <future>
#include <thread>

#include "absl/strings/str_cat.h"
#include "core/config/loader.h"
#include "core/modules/schedule/scheduler.h"
#include "core/os/files.h"
#include "core/supervisor/event_log.h"
#include "core/supervisor/supervisor.h"
#include "gtest/gtest.h"
#include "tests/fakes/jumping_clock.h"

namespace fleet::supervisor {
namespace {

namespace ctl = ::fleet::control::v1;

class ClockJumpTest : public ::testing::Test {
 protected:
  void SetUp() override {
    // The loop's signals go to its signalfd, in every thread.
    sigset_t handled = Supervisor::HandledSignals();
    pthread_sigmask(SIG_BLOCK, &handled, nullptr);
    dir_ = absl::StrCat(getenv("TEST_TMPDIR"), "/jump");
    ASSERT_TRUE(os::MakeDirs(dir_ + "/run").ok());
  }

  // A supervisor on the jumping clock, its loop on a thread of its own.
  std::thread StartSupervisor(const config::LoadedConfig& loaded) {
    SupervisorOptions options;
    options.run_dir = dir_ + "/run";
    options.clock = &clock_;
    options.events = &events_;
    supervisor_ = std::make_unique<Supervisor>(options);
    auto runs = std::make_unique<modules::Scheduler>(supervisor_->host());
    runs_ = runs.get();
    supervisor_->AddModule(std::move(runs));
    EXPECT_TRUE(supervisor_->Init().ok());
    supervisor_->Apply(loaded);
    return std::thread([this] { supervisor_->Run(); });
  }

  ctl::GetStatusResponse Status() {
    std::promise<ctl::GetStatusResponse> answer;
    std::future<ctl::GetStatusResponse> got = answer.get_future();
    supervisor_->BuildStatus([&](ctl::GetStatusResponse s) { answer.set_value(std::move(s)); });
    return got.get();
  }
  const ctl::InstanceStatus* Find(const ctl::GetStatusResponse& s, const std::string& id) {
    for (const auto& e : s.engines()) {
      for (const auto& i : e.instances()) {
        if (i.id() == id) return &i;
      }
    }
    return nullptr;
  }
  int Count(const std::string& subject, const std::string& kind) {
    int n = 0;
    for (const ctl::Event& e : events_.Since(0)) n += e.subject() == subject && e.kind() == kind;
    return n;
  }

  std::string dir_;
  testing::JumpingClock clock_;
  EventLog events_{&clock_};
  std::unique_ptr<Supervisor> supervisor_;
  modules::Scheduler* runs_ = nullptr;  // owned by supervisor_
};

TEST_F(ClockJumpTest, JumpsChangeNothingAndTimersKeepTheirPace) {
  const std::string child = absl::StrCat(getenv("TEST_SRCDIR"), "/fleet/tests/testdata/child");
  absl::StatusOr<config::LoadedConfig> loaded = config::LoadConfigFromString(
      absl::StrCat("name: jump\nrun_dir: run\nengines:\n"
                   "  - name: steady\n    command: [\"",
                   child,
                   "\"]\n    replicas: 2\n"
                   "    min_uptime: 100ms\n"
                   // Fails after 100ms; restarted after 300ms of backoff.
                   "  - name: crashy\n    shell: 'sleep 0.1; exit 1'\n"
                   "    backoff: {initial: 300ms, max: 300ms}\n"
                   "    crash_loop: {max_failures: 1000, window: 1m}\n"
                   // A run every 300ms.
                   "  - name: cycler\n    shell: 'true'\n    cycle: {interval: 300ms}\n"),
      "fleet.yaml", dir_);
  ASSERT_TRUE(loaded.ok()) << loaded.status();
  std::thread loop = StartSupervisor(*loaded);

  auto settle = [] { std::this_thread::sleep_for(std::chrono::milliseconds(300)); };
  for (int i = 0; i < 50; ++i) {
    const ctl::GetStatusResponse now = Status();  // Find points into it.
    const ctl::InstanceStatus* s = Find(now, "steady/1");
    if (s != nullptr && s->state() == ctl::INSTANCE_STATE_RUNNING) break;
    settle();
  }
  ctl::GetStatusResponse before = Status();
  ASSERT_NE(Find(before, "steady/0"), nullptr);
  const uint32_t pid0 = Find(before, "steady/0")->pid(), pid1 = Find(before, "steady/1")->pid();
  ASSERT_GT(pid0, 0u);

  for (absl::Duration jump : {absl::Hours(24), absl::Hours(-48)}) {
    const int crashes = Count("crashy/0", "exited");
    const int cycles = Count("cycler/0", "cycle_done");
    const absl::Time real_start = absl::Now();
    clock_.Jump(jump);
    std::this_thread::sleep_for(std::chrono::seconds(3));
    const absl::Duration real = absl::Now() - real_start;
    // Timers fired at their pace: ~0.4s per crash, ~0.3s per cycle. Not
    // stalled (a day backwards), not rushed (a day forwards).
    EXPECT_GE(Count("crashy/0", "exited") - crashes, 3) << "after a jump of " << jump;
    EXPECT_LE(Count("crashy/0", "exited") - crashes, 10) << "after a jump of " << jump;
    EXPECT_GE(Count("cycler/0", "cycle_done") - cycles, 4) << "after a jump of " << jump;
    EXPECT_LE(Count("cycler/0", "cycle_done") - cycles, 12) << "after a jump of " << jump;
    // Nothing was restarted or stopped by it.
    ctl::GetStatusResponse after = Status();
    for (const std::string id : {"steady/0", "steady/1"}) {
      const ctl::InstanceStatus* s = Find(after, id);
      ASSERT_NE(s, nullptr);
      EXPECT_EQ(s->state(), ctl::INSTANCE_STATE_RUNNING) << id;
      EXPECT_EQ(s->restarts(), 0u) << id;
      // Uptime is monotonic time: neither a day more nor negative.
      EXPECT_GT(s->uptime_ms(), 0);
      EXPECT_LT(s->uptime_ms(), absl::ToInt64Milliseconds(absl::Seconds(60) + real));
    }
    EXPECT_EQ(Find(after, "steady/0")->pid(), pid0);
    EXPECT_EQ(Find(after, "steady/1")->pid(), pid1);
    EXPECT_LT(after.daemon().uptime_ms(), 60000);
  }
  // Events carry the (jumped) wall time people read; order is by seq.
  std::vector<ctl::Event> all = events_.Since(0);
  ASSERT_FALSE(all.empty());

  supervisor_->Post([&] { supervisor_->Shutdown("test over"); });
  loop.join();
}

TEST_F(ClockJumpTest, WallClockSchedulesRunPassedSlotsOnceAndNeverASlotTwice) {
  absl::StatusOr<config::LoadedConfig> loaded = config::LoadConfigFromString(
      "name: jump\nrun_dir: run\nengines:\n"
      "  - {name: hourly, type: cron, schedule: '0 * * * *', timezone: UTC, shell: 'true'}\n"
      "  - {name: skipper, type: cron, schedule: '0 * * * *', timezone: UTC, shell: 'true',"
      " missed: skip}\n"
      "  - {name: every, type: cron, schedule: '@every 1s', shell: 'true'}\n",
      "fleet.yaml", dir_);
  ASSERT_TRUE(loaded.ok()) << loaded.status();
  std::thread loop = StartSupervisor(*loaded);
  auto runs = [&](const std::string& target) {
    std::promise<ctl::ListRunsResponse> answer;
    std::future<ctl::ListRunsResponse> got = answer.get_future();
    supervisor_->Post([&] { answer.set_value(*runs_->ListRuns(target, 100)); });
    return got.get();
  };
  auto count = [&](const std::string& target, const std::string& trigger,
                   const std::string& verdict) {
    int n = 0;
    const ctl::ListRunsResponse all = runs(target);  // Outlives the loop.
    for (const ctl::RunRecord& r : all.runs()) {
      n += r.trigger() == trigger && r.verdict() == verdict;
    }
    return n;
  };
  // To ten past the current hour (crossing no slot): the next slot is 50
  // minutes away, so no real one comes during the test.
  clock_.Jump(absl::Minutes(10) - (absl::Now() - absl::UnixEpoch()) % absl::Hours(1));
  std::this_thread::sleep_for(std::chrono::milliseconds(1500));
  EXPECT_EQ(runs("hourly").runs_size(), 0);

  // Three hours forward: three slots passed; one run for them, not three.
  clock_.Jump(absl::Hours(3));
  std::this_thread::sleep_for(std::chrono::seconds(3));
  EXPECT_EQ(count("hourly", "missed", "succeeded"), 1) << runs("hourly").DebugString();
  EXPECT_EQ(runs("hourly").runs_size(), 1);
  EXPECT_EQ(count("skipper", "missed", "missed"), 1) << runs("skipper").DebugString();
  EXPECT_EQ(runs("skipper").runs_size(), 1);  // Recorded as missed, not run.
  // @every is on the monotonic clock: paced, nothing owed.
  const int every_before = runs("every").runs_size();
  EXPECT_GE(every_before, 3);
  EXPECT_EQ(count("every", "missed", "succeeded"), 0);

  // Six hours back: the slots ahead were run already; none runs twice.
  clock_.Jump(absl::Hours(-6));
  std::this_thread::sleep_for(std::chrono::seconds(3));
  EXPECT_EQ(runs("hourly").runs_size(), 1);
  EXPECT_EQ(runs("skipper").runs_size(), 1);
  const int every_after = runs("every").runs_size();
  EXPECT_GE(every_after - every_before, 2);
  EXPECT_LE(every_after - every_before, 5);
  EXPECT_GE(Count("fleetd", "clock_jumped"), 2);

  supervisor_->Post([&] { supervisor_->Shutdown("test over"); });
  loop.join();
}

}  // namespace
}  // namespace fleet::supervisor
