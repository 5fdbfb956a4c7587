// Work-bus benchmark (issue 7): tasks per second through conductor ->
// worker -> conductor with 1, 4 and 16 worker threads, fsync off (the bus
// mechanics) and on (the real figure), and publish-to-absorb latency.
// In process: the conductor's passes on one thread (as fleetd's loop would
// run them), each worker a thread with its own WorkerClient; the files are
// real (a temporary run directory).
//
// Usage: bazel run -c opt //tools/bench:bus_bench -- [TASKS]
// ($TMPDIR picks the file system: /tmp here is ext4; /dev/shm is tmpfs.)
#include <stdio.h>
#include <stdlib.h>

#include <algorithm>
#include <atomic>
#include <thread>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "core/bus/conductor.h"
#include "core/bus/worker_client.h"
#include "tools/bench/bench_util.h"

namespace {

using namespace fleet::bus;  // NOLINT: a benchmark main

double Percentile(std::vector<double> v, double p) {
  if (v.empty()) return 0;
  std::sort(v.begin(), v.end());
  return v[std::min(v.size() - 1, static_cast<size_t>(p * (v.size() - 1) + 0.5))];
}

void Bench(int tasks, int workers, bool fsync) {
  const char* base = getenv("TMPDIR");
  std::string tmpl = std::string(base != nullptr ? base : "/tmp") + "/fleet-bus-bench.XXXXXX";
  const std::string run_dir = mkdtemp(tmpl.data());
  Conductor conductor(run_dir + "/bus", fsync, /*lease_ms=*/600000);
  std::vector<BusEvent> events;
  if (!conductor.Init(&events).ok()) return;
  v1::Dag dag;
  dag.set_name("bench");
  for (int i = 0; i < tasks; ++i) {
    v1::Task* t = dag.add_tasks();
    t->set_id(absl::StrCat("t", i));
    t->set_capability("work");
    t->set_input("x");
    t->mutable_timeout()->set_seconds(600);
  }
  FleetView view;
  view.declared = view.healthy = {"work"};
  const int64_t t0 = absl::ToUnixMillis(absl::Now());
  const int64_t start_ns = fleet::bench::MonoNs();
  if (!conductor.Submit(dag, "run", t0).ok()) return;
  std::atomic<bool> stop{false};
  std::vector<std::thread> threads;
  for (int w = 0; w < workers; ++w) {
    threads.emplace_back([&, w] {
      WorkerClient client(run_dir, absl::StrCat("w", w));
      while (!stop.load()) {
        auto task = client.Claim("work");
        if (!task.has_value()) {
          std::this_thread::sleep_for(std::chrono::microseconds(200));
          continue;
        }
        if (task->ok()) (void)client.Complete(**task, "done");
      }
    });
  }
  const RunState& state = *conductor.runs().at("run");
  while (!state.Done()) {
    conductor.Pass(absl::ToUnixMillis(absl::Now()), view);
  }
  const double seconds = (fleet::bench::MonoNs() - start_ns) / 1e9;
  stop = true;
  for (std::thread& t : threads) t.join();
  std::vector<double> latency;
  for (const v1::Task& t : dag.tasks()) {
    const TaskStatus& s = state.status(t.id());
    latency.push_back(static_cast<double>(s.ended_ms - s.started_ms));
  }
  printf("%6d  %7d  %5s  %9.0f  %8.1f  %8.1f\n", tasks, workers, fsync ? "on" : "off",
         tasks / seconds, Percentile(latency, 0.5), Percentile(latency, 0.99));
  fflush(stdout);
  fleet::bench::Run({"rm", "-rf", run_dir});
}

}  // namespace

int main(int argc, char** argv) {
  const int tasks = argc > 1 ? atoi(argv[1]) : 5000;
  printf("fleet work-bus benchmark: %d independent tasks, conductor + worker threads\n", tasks);
  printf("%6s  %7s  %5s  %9s  %8s  %8s\n", "tasks", "workers", "fsync", "tasks/s", "p50_ms",
         "p99_ms");
  for (bool fsync : {false, true}) {
    for (int workers : {1, 4, 16}) Bench(fsync ? tasks / 5 : tasks, workers, fsync);
  }
}
