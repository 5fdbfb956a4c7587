#include "core/supervisor/core_host.h"

#include "absl/strings/str_cat.h"
#include "core/os/env.h"
#include "core/supervisor/supervisor_internal.h"

namespace fleet::supervisor {

void CoreHost::ForEachInstance(const std::function<void(const module::InstanceView&)>& fn) {
  p_.table->ForEach([&fn](Instance* inst) { fn(ViewOf(*inst)); });
}

const config::v1::Engine* CoreHost::FindEngine(const std::string& name) const {
  const Engine* engine = p_.table->FindEngine(name);
  return engine == nullptr ? nullptr : engine->spec.get();
}

absl::StatusOr<std::vector<std::string>> CoreHost::ResolveTarget(const std::string& target) {
  absl::StatusOr<std::vector<Instance*>> found = p_.table->Resolve(target);
  if (!found.ok()) return found.status();
  std::vector<std::string> ids;
  ids.reserve(found->size());
  for (const Instance* inst : *found) ids.push_back(inst->id);
  return ids;
}

bool CoreHost::WithInstance(const std::string& id,
                            const std::function<void(const module::InstanceView&)>& fn) {
  Instance* inst = p_.table->Find(id);
  if (inst == nullptr) return false;
  fn(ViewOf(*inst));
  return true;
}

void CoreHost::Drive(const std::string& id, bool live_only,
                     const std::function<Action(Lifecycle&)>& step) {
  Instance* inst = p_.table->Find(id);
  if (inst == nullptr) return;
  // Live: its process runs and is not being stopped.
  if (live_only && (!inst->life.HasProcess() || inst->life.state() == State::kStopping)) return;
  p_.state->dirty = true;
  p_.perform(inst, step(inst->life));
}

void CoreHost::Start(const std::string& id) {
  Drive(id, false, [this](Lifecycle& life) { return life.Start(p_.state->now); });
}

void CoreHost::Stop(const std::string& id, const std::string& reason) {
  Drive(id, false, [&](Lifecycle& life) { return life.Stop(p_.state->now, reason); });
}

void CoreHost::Restart(const std::string& id, const std::string& reason) {
  Drive(id, false, [&](Lifecycle& life) {
    return life.Restart(p_.state->now, reason, RestartCause::kReplaced);
  });
}

void CoreHost::Kill(const std::string& id, const std::string& reason) {
  Drive(id, true, [&](Lifecycle& life) { return life.Kill(p_.state->now, reason); });
}

void CoreHost::FailAndRestart(const std::string& id, const std::string& reason) {
  Drive(id, true, [&](Lifecycle& life) {
    return life.FailAndRestart(p_.state->now, reason, RestartCause::kUnhealthy);
  });
}

void CoreHost::Idle(const std::string& id, const std::string& reason) {
  Instance* inst = p_.table->Find(id);
  if (inst == nullptr || inst->life.state() != State::kBackoff) return;
  p_.state->dirty = true;
  inst->life.Idle(reason);
}

void CoreHost::SetWaiting(const std::string& id, const std::string& why) {
  Instance* inst = p_.table->Find(id);
  if (inst != nullptr && inst->life.state() == State::kWaiting) inst->life.Wait(why);
}

void CoreHost::SetUnhealthy(const std::string& id, bool unhealthy) {
  Instance* inst = p_.table->Find(id);
  if (inst == nullptr || inst->unhealthy == unhealthy) return;
  inst->unhealthy = unhealthy;
  if (inst->engine->depended_on) p_.table->MarkAllChanged();  // Dependents look again.
  p_.state->dirty = true;
  const module::InstanceView view = ViewOf(*inst);
  for (const auto& m : *p_.modules) m->OnHealthChanged(view);
}

absl::StatusOr<pid_t> CoreHost::SpawnHelper(const std::string& id, const os::SpawnSpec& spec,
                                            std::function<void(const os::ExitStatus&)> on_exit) {
  Instance* inst = p_.table->Find(id);
  if (inst == nullptr) return absl::NotFoundError(absl::StrCat("no instance ", id));
  absl::StatusOr<pid_t> pid = os::CurrentEnv()->Spawn(spec);
  if (pid.ok()) p_.table->AddHelper(*pid, inst, std::move(on_exit));
  return pid;
}

void CoreHost::NoteDelivered(const std::string& id, const std::string& path,
                             const std::string& what) {
  Instance* inst = p_.table->Find(id);
  if (inst == nullptr) return;
  const module::InstanceView view = ViewOf(*inst);
  for (const auto& m : *p_.modules) m->OnDelivered(view, path, what);
}

std::vector<std::string> CoreHost::ChildEnvironment(const std::string& id) const {
  const Instance* inst = p_.table->Find(id);
  return inst == nullptr ? std::vector<std::string>() : p_.launcher->Environment(*inst);
}

bool CoreHost::WatchFd(int fd, std::function<void()> on_readable) {
  return p_.loop->Watch(fd, std::move(on_readable)).ok();
}

}  // namespace fleet::supervisor
