// What status shows of an instance: its lifecycle, its last exit, its log,
// its CPU and memory. Free functions over the process table's records (the
// modules add their own fields). Loop thread only.
#include <unistd.h>

#include <algorithm>

#include "absl/strings/str_cat.h"
#include "core/os/cgroup.h"
#include "core/os/process.h"
#include "core/supervisor/instance_table.h"
#include "core/supervisor/supervisor_internal.h"
#include "core/text/utf8.h"

namespace fleet::supervisor {

namespace v1 = ::fleet::config::v1;
namespace ctl = ::fleet::control::v1;

ctl::InstanceState InstanceStateToProto(State s) {
  switch (s) {
    case State::kStopped:
      return ctl::INSTANCE_STATE_STOPPED;
    case State::kWaiting:
      return ctl::INSTANCE_STATE_WAITING;
    case State::kStarting:
      return ctl::INSTANCE_STATE_STARTING;
    case State::kRunning:
      return ctl::INSTANCE_STATE_RUNNING;
    case State::kBackoff:
      return ctl::INSTANCE_STATE_BACKOFF;
    case State::kStopping:
      return ctl::INSTANCE_STATE_STOPPING;
    case State::kExited:
      return ctl::INSTANCE_STATE_EXITED;
    case State::kFatal:
      return ctl::INSTANCE_STATE_FATAL;
    case State::kKilled:
      return ctl::INSTANCE_STATE_KILLED;
    case State::kIdle:
      return ctl::INSTANCE_STATE_IDLE;
  }
  return ctl::INSTANCE_STATE_UNSPECIFIED;
}

module::InstanceView ViewOf(Instance& inst) {
  return {inst.id,
          *inst.engine->spec,
          inst.index,
          inst.pid,
          inst.spawning != 0,
          *inst.log,
          inst.life.HasProcess() && inst.life.state() != State::kStopping,
          inst.life.spawned_at(),
          inst.started_wall,
          InstanceStateToProto(inst.life.state()),
          inst.want_run && !inst.retire,
          inst.unhealthy,
          inst.life.reason(),
          inst.life.timed_out()};
}

const char* EngineTypeName(v1::EngineType type) {
  switch (type) {
    case v1::ENGINE_TYPE_CRON:
      return "cron";
    case v1::ENGINE_TYPE_INTELLIGENCE:
      return "intelligence";
    default:
      return "daemon";
  }
}

void FillInstanceRow(const Instance& inst, MonoTime now, ctl::InstanceStatus* i) {
  i->set_id(inst.id);
  i->set_index(inst.index);
  i->set_state(InstanceStateToProto(inst.life.state()));
  i->set_pid(inst.pid);
  if (inst.life.HasProcess()) {
    i->set_started_unix_ms(absl::ToUnixMillis(inst.started_wall));
    i->set_uptime_ms(absl::ToInt64Milliseconds(now - inst.life.spawned_at()));
  }
  i->set_restarts(inst.life.restarts());
  i->set_last_progress_ms_ago(-1);  // A health check's module says otherwise.
  if (inst.life.restarts() > 0) {
    for (int c = 0; c < kRestartCauses; ++c) {
      const RestartCause cause = static_cast<RestartCause>(c);
      if (uint32_t n = inst.life.restarts(cause); n > 0) {
        (*i->mutable_restarts_by_reason())[RestartCauseName(cause)] = n;
      }
    }
  }
  std::string reason = inst.life.reason();
  if (inst.life.HasProcess() && inst.life.state() != State::kStopping &&
      !inst.life.last_restart_reason().empty()) {
    reason = absl::StrCat(inst.life.state() == State::kRunning ? "" : reason + "; ",
                          "last restart: ", inst.life.last_restart_reason());
  }
  // Reasons may quote a health check's or a run's words.
  i->set_reason(text::EscapeInvalidUtf8(inst.retire ? absl::StrCat("removing: ", reason) : reason));
  if ((inst.life.state() == State::kBackoff || inst.life.state() == State::kIdle) &&
      inst.life.deadline().has_value()) {
    i->set_next_start_in_ms(
        std::max<int64_t>(0, absl::ToInt64Milliseconds(*inst.life.deadline() - now)));
  }
  if (inst.has_exited) *i->mutable_last_exit() = inst.last_exit;
  if (inst.life.HasProcess()) i->set_cgroup(inst.run_cgroup);
  i->set_log_path(inst.log->path());
  i->set_log_dropped_bytes(inst.log->dropped_bytes());
  if (!inst.log->last_error().ok()) {
    i->set_log_error(std::string(inst.log->last_error().message()));
  }
}

void FillEngines(const InstanceTable& table,
                 const std::vector<std::unique_ptr<module::Module>>& modules, MonoTime now,
                 size_t max_rows, StatusCursor* cursor, ctl::GetStatusResponse* status) {
  size_t rows = 0;
  const auto& engines = table.engines();
  for (auto it = engines.lower_bound(cursor->engine); it != engines.end(); ++it) {
    const auto& [name, engine] = *it;
    ctl::EngineStatus* e = nullptr;
    if (status->engines_size() > 0 && status->engines().rbegin()->name() == name) {
      e = status->mutable_engines(status->engines_size() - 1);  // Its rows go on.
    } else {
      e = status->add_engines();
      e->set_name(name);
      e->set_type(EngineTypeName(engine->spec->type()));
      e->set_description(engine->spec->description());
      e->set_replicas(engine->spec->replicas());
      for (const std::string& dep : engine->spec->depends_on()) e->add_depends_on(dep);
      cursor->engine = name;
      cursor->index = 0;
    }
    const auto& instances = engine->instances;  // In index order.
    auto inst = std::lower_bound(
        instances.begin(), instances.end(), cursor->index,
        [](const std::unique_ptr<Instance>& i, uint32_t index) { return i->index < index; });
    for (; inst != instances.end(); ++inst) {
      if (rows == max_rows) {
        cursor->index = (*inst)->index;
        return;
      }
      ++rows;
      ++cursor->instances;
      ctl::InstanceStatus* i = e->add_instances();
      FillInstanceRow(**inst, now, i);
      const module::InstanceView view = ViewOf(**inst);
      for (const auto& m : modules) m->FillInstanceStatus(view, i);
    }
    cursor->index = instances.empty() ? 0 : instances.back()->index + 1;
  }
  cursor->done = true;
}

}  // namespace fleet::supervisor
