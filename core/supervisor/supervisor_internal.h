// The supervisor's per-engine and per-instance records (loop thread only).
#ifndef FLEET_CORE_SUPERVISOR_SUPERVISOR_INTERNAL_H_
#define FLEET_CORE_SUPERVISOR_SUPERVISOR_INTERNAL_H_

#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "core/capture/record.h"
#include "core/os/cgroup.h"
#include "core/proto_time/proto_time.h"
#include "core/schedule/cron.h"
#include "core/supervisor/lifecycle.h"
#include "core/capture/log_sink.h"
#include "core/supervisor/run_history.h"
#include "core/supervisor/supervisor.h"
#include "proto/fleet/config/v1/config.pb.h"
#include "proto/fleet/control/v1/control.pb.h"

namespace fleet::supervisor {

fleet::control::v1::InstanceState InstanceStateToProto(State s);

// A uniform [0,1) source for backoff jitter, one generator per instance.
std::function<double()> Uniform01();

struct Supervisor::Engine {
  std::shared_ptr<const fleet::config::v1::Engine> spec;
  // Cron and intelligence engines: when they run (validated at load).
  std::optional<schedule::Schedule> schedule;
  absl::TimeZone zone;
  absl::Duration jitter;
  // No successful run for this long: unhealthy (overdue).
  absl::Duration expected_period = absl::InfiniteDuration();
  std::vector<std::unique_ptr<Instance>> instances;
  // Removed from the config: instances are stopping, then the engine goes.
  bool removing = false;
};

// A scheduled instance's runs (supervisor_cron.cc).
struct CronTrack {
  bool planned = false;
  std::unique_ptr<RunHistory> history;
  // Its file could not be written: said once, retried at every timer pass.
  bool history_failing = false;
  // The slot of the last run (or skipped/missed slot), wall clock.
  std::optional<absl::Time> last_slot;
  std::optional<absl::Time> next_slot;
  std::optional<MonoTime> due;  // next_slot (plus jitter) on the monotonic clock
  // What fires at `due`: "schedule", "missed" or "reboot", and for which slot.
  std::string due_trigger;
  std::optional<absl::Time> due_slot;
  // What the start being asked for is (consumed when the run starts).
  std::string start_trigger;
  std::optional<absl::Time> start_slot;
  // overlap: queue: one run waits for the current one.
  bool queued = false;
  std::string queued_trigger;
  std::optional<absl::Time> queued_slot;
  // overlap: replace: the current run is being stopped for a new one.
  bool replacing = false;
  bool in_run = false;
  fleet::control::v1::RunRecord current;
  uint64_t output_bytes = 0;  // of the current run
  // Why the last slot or `fleetctl run` was skipped (budget, rate limit, overlap).
  std::string last_skip;
  // Intelligence: the answer passed output.max_size and the run was stopped.
  bool over_cap = false;
  std::string stderr_tail;  // the last few KB, for the rate-limit pattern
  // A judge is looking at the answer of `judged` (verdict "judging").
  pid_t judge_pid = 0;
  std::optional<MonoTime> judge_deadline;
  bool judge_timed_out = false;
  fleet::control::v1::RunRecord judged;
  std::string judged_answer;  // what the judge was given (delivered if it accepts)
  // Rate limited: slots are skipped until then; the streak doubles it.
  uint32_t rate_limited_streak = 0;
  std::optional<MonoTime> rate_limited_until;
  std::optional<absl::Time> last_success;
  absl::Time watched_since;  // wall: overdue counts from here with no success
  bool overdue = false;
  std::string overdue_why;
};

// A timerfd on CLOCK_REALTIME that becomes readable when the wall clock is
// set (TFD_TIMER_CANCEL_ON_SET); -1 if the kernel has none. Re-arm it after
// each wake-up.
int OpenClockWatch();
void RearmClockWatch(int fd);
// RUN_DIR/runs/ENGINE.N.answer: an intelligence run's stdout.
std::string AnswerPath(const std::string& run_dir, const std::string& engine, uint32_t index);
// This boot's /proc/sys/kernel/random/boot_id ("" if unreadable).
std::string ReadBootId();

// RUN_DIR/pipes/ENGINE.N (stdout) or ENGINE.N.err (stderr).
std::string StreamFifoPath(const std::string& run_dir, const std::string& engine, uint32_t index,
                           capture::Stream stream);
// Opens (creating it if needed) the FIFO at path for an instance's output:
// fds[0] the read end (non-blocking, fleetd's), fds[1] the write end (the
// child's). A FIFO outlives fleetd, so a new fleetd can read a survivor's
// output by path. False (errno set) when no FIFO can be made there.
bool OpenOutputFifo(const std::string& path, int fds[2]);

// One output stream of an instance: the read end of its FIFO. The epoll
// set carries its address (never odd: the low bit marks a pidfd).
struct Supervisor::OutputPipe {
  OutputPipe(Instance* i, capture::Stream s) : inst(i), stream(s) {}
  Instance* const inst;
  const capture::Stream stream;
  int fd = -1;
};

struct Supervisor::Instance {
  Instance(Engine* e, uint32_t i, LifecyclePolicy policy, std::function<double()> random01)
      : engine(e), index(i), life(policy, std::move(random01)) {}

  Engine* engine;
  uint32_t index;
  std::string id;  // "ENGINE/N"
  Lifecycle life;
  std::unique_ptr<capture::LogSink> log;
  pid_t pid = 0;
  // stdout and stderr, each through a FIFO of its own so the log tells them apart.
  OutputPipe out{this, capture::Stream::kStdout};
  OutputPipe err{this, capture::Stream::kStderr};
  // A process adopted after a fleetd restart is not our child: its exit is
  // learned from a pidfd in the epoll set.
  int pidfd = -1;
  // Its pid record (for a fleetd restart to take it back) could not be
  // written yet (disk full): retried until it is.
  bool record_pending = false;
  int stop_signal = SIGTERM;
  absl::Time started_wall;
  // The operator's (or config's) wish; the lifecycle says what is.
  bool want_run = true;
  // Scaled down or removed: goes away once stopped.
  bool retire = false;
  fleet::control::v1::ExitInfo last_exit;
  bool has_exited = false;

  // Health's verdict (core/modules/health): dependents wait, the bus routes
  // nothing to it.
  bool unhealthy = false;

  // A module's SpawnGate holds its start (it WAITs): each reconcile asks again.
  bool gated = false;
  CronTrack cron;
  // The run's cgroup leaf ("" outside cgroups) and the OOM kill count where
  // it lives when it started: a SIGKILL while that count rose is the
  // kernel's OOM killer, and is said so.
  std::string run_cgroup;
  // The last CPU reading status took: a status shows the CPU used since.
  struct CpuSample {
    MonoTime at;
    uint64_t ticks = 0;
    double percent = 0;
  };
  std::optional<CpuSample> cpu_sample;
  std::optional<os::OomKillCount> oom_kills_at_start;
  // Its log cannot be written (disk full, read-only, EIO): said once.
  bool log_failing = false;
  // An earlier copy killed as fleetd came back (a run the last fleetd
  // started but never recorded): SIGKILL is not death, so no new run starts
  // until these processes and cgroups are empty, and the instance never
  // has two copies, not even for the milliseconds a kill takes.
  struct KilledProcess {
    pid_t pid;
    uint64_t start_time;
  };
  std::vector<KilledProcess> dying;
  std::vector<std::string> dying_cgroups;
  std::optional<MonoTime> dying_check_due;
};

}  // namespace fleet::supervisor

#endif  // FLEET_CORE_SUPERVISOR_SUPERVISOR_INTERNAL_H_
