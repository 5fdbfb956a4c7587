// What a control client sends that the supervisor reads: the target of
// start/stop/restart/run/logs/runs/sync ("ENGINE", "ENGINE/N", "all"), a
// bus run or task id, a run count. One supervisor (never running its loop,
// so nothing is spawned) takes every input on "its loop thread", as the
// control service's handlers hand them over. The first byte picks the
// handler. Verbs that spawn (start, restart, run) share stop's target
// resolution and are left out: a fuzzer must not fork a process per input.
#include <stdlib.h>
#include <unistd.h>

#include <cstdint>
#include <memory>
#include <string>

#include "core/config/loader.h"
#include "core/modules/bus/work_bus.h"
#include "core/modules/schedule/scheduler.h"
#include "core/modules/state/shared_state.h"
#include "core/os/clock.h"
#include "core/os/files.h"
#include "core/supervisor/event_log.h"
#include "core/supervisor/supervisor.h"

namespace {

using fleet::supervisor::Supervisor;

struct World {
  std::string dir;
  std::unique_ptr<fleet::supervisor::EventLog> events;
  std::unique_ptr<Supervisor> supervisor;
  fleet::modules::WorkBus* bus = nullptr;  // owned by supervisor
  fleet::modules::SharedState* state = nullptr;  // owned by supervisor
  fleet::modules::Scheduler* runs = nullptr;     // owned by supervisor
};

World* Make() {
  auto* w = new World;
  char tmpl[] = "/tmp/fleet-control-fuzz.XXXXXX";
  w->dir = mkdtemp(tmpl);
  const std::string yaml = "name: fz\nrun_dir: run\nengines:\n"
                           "  - name: w\n    command: [/bin/true]\n    replicas: 3\n"
                           "    capabilities: [c]\n"
                           "  - name: cr\n    type: cron\n    schedule: '0 0 1 1 *'\n"
                           "    command: [/bin/true]\n";
  absl::StatusOr<fleet::config::LoadedConfig> loaded =
      fleet::config::LoadConfigFromString(yaml, "fleet.yaml", w->dir);
  if (!loaded.ok()) abort();
  fleet::supervisor::SupervisorOptions options;
  options.run_dir = w->dir + "/run";
  (void)fleet::os::MakeDirs(options.run_dir, 0700);
  w->events = std::make_unique<fleet::supervisor::EventLog>(fleet::os::RealClock());
  options.events = w->events.get();
  options.use_cgroups = false;
  w->supervisor = std::make_unique<Supervisor>(options);
  auto bus = std::make_unique<fleet::modules::WorkBus>(w->supervisor->host(), /*fsync=*/false);
  w->bus = bus.get();
  w->supervisor->AddModule(std::move(bus));
  auto state = std::make_unique<fleet::modules::SharedState>(w->supervisor->host(), nullptr,
                                                             nullptr, nullptr);
  w->state = state.get();
  w->supervisor->AddModule(std::move(state));
  auto runs = std::make_unique<fleet::modules::Scheduler>(w->supervisor->host());
  w->runs = runs.get();
  w->supervisor->AddModule(std::move(runs));
  if (!w->supervisor->Init().ok()) abort();
  w->supervisor->Apply(*loaded);
  return w;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  static World* const world = Make();
  if (size == 0) return 0;
  Supervisor& s = *world->supervisor;
  const std::string text(reinterpret_cast<const char*>(data) + 1, size - 1);
  switch (data[0] % 8) {
    case 0:
      (void)s.Act(fleet::supervisor::Verb::kStop, text);
      break;
    case 1:
      (void)world->runs->ListRuns(text, static_cast<uint32_t>(size * 37));
      break;
    case 2:
      (void)s.LogPaths({text});
      break;
    case 3:
      (void)world->state->Sync(text, size % 2 == 0, text, nullptr);
      break;
    case 4:
      (void)world->bus->Status(text);
      break;
    case 5:
      (void)world->bus->Cancel(text);
      break;
    case 6: {
      const size_t cut = text.find(' ');
      (void)world->bus->Retry(text.substr(0, cut),
                              cut == std::string::npos ? "" : text.substr(cut + 1));
      break;
    }
    default:
      (void)s.Status();
      break;
  }
  return 0;
}
