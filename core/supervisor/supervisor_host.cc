// The supervisor as its modules' host (core/module/module.h): what they
// may see of the fleet and ask of it. Loop thread only, except Post and
// Emit.
#include <unistd.h>

#include "absl/strings/str_cat.h"
#include "core/os/env.h"
#include "core/os/process.h"
#include "core/supervisor/supervisor.h"
#include "core/supervisor/supervisor_internal.h"

namespace fleet::supervisor {

void Supervisor::AddModule(std::unique_ptr<module::Module> module) {
  modules_.push_back(std::move(module));
}

Instance* Supervisor::FindLive(const std::string& id) const {
  Instance* inst = table_.Find(id);
  if (inst == nullptr || !inst->life.HasProcess() || inst->life.state() == State::kStopping) {
    return nullptr;
  }
  return inst;
}

bool Supervisor::WithInstance(const std::string& id,
                              const std::function<void(const module::InstanceView&)>& fn) {
  Instance* inst = table_.Find(id);
  if (inst == nullptr) return false;
  fn(ViewOf(*inst));
  return true;
}

void Supervisor::Kill(const std::string& id, const std::string& reason) {
  Instance* inst = FindLive(id);
  if (inst == nullptr) return;
  dirty_ = true;
  Perform(inst, inst->life.Kill(now_, reason));
}

void Supervisor::FailAndRestart(const std::string& id, const std::string& reason) {
  Instance* inst = FindLive(id);
  if (inst == nullptr) return;
  dirty_ = true;
  Perform(inst, inst->life.FailAndRestart(now_, reason));
}

void Supervisor::SetUnhealthy(const std::string& id, bool unhealthy) {
  Instance* inst = table_.Find(id);
  if (inst == nullptr || inst->unhealthy == unhealthy) return;
  inst->unhealthy = unhealthy;
  dirty_ = true;  // Dependents look again.
  const module::InstanceView view = ViewOf(*inst);
  for (const auto& m : modules_) m->OnHealthChanged(view);
}

void Supervisor::Start(const std::string& id) {
  Instance* inst = table_.Find(id);
  if (inst == nullptr) return;
  dirty_ = true;
  Perform(inst, inst->life.Start(now_));
}

void Supervisor::Stop(const std::string& id, const std::string& reason) {
  Instance* inst = table_.Find(id);
  if (inst == nullptr) return;
  dirty_ = true;
  Perform(inst, inst->life.Stop(now_, reason));
}

void Supervisor::Restart(const std::string& id, const std::string& reason) {
  Instance* inst = table_.Find(id);
  if (inst == nullptr) return;
  dirty_ = true;
  Perform(inst, inst->life.Restart(now_, reason));
}

void Supervisor::Idle(const std::string& id, const std::string& reason) {
  Instance* inst = table_.Find(id);
  if (inst == nullptr || inst->life.state() != State::kBackoff) return;
  dirty_ = true;
  inst->life.Idle(reason);
}

absl::StatusOr<pid_t> Supervisor::SpawnHelper(const std::string& id, const os::SpawnSpec& spec,
                                              std::function<void(const os::ExitStatus&)> on_exit) {
  Instance* inst = table_.Find(id);
  if (inst == nullptr) return absl::NotFoundError(absl::StrCat("no instance ", id));
  absl::StatusOr<pid_t> pid = os::CurrentEnv()->Spawn(spec);
  if (!pid.ok()) return pid;
  helpers_[*pid] = Helper{inst, std::move(on_exit)};
  ++inst->helpers;
  return pid;
}

void Supervisor::NoteDelivered(const std::string& id, const std::string& path,
                               const std::string& what) {
  Instance* inst = table_.Find(id);
  if (inst == nullptr) return;
  const module::InstanceView view = ViewOf(*inst);
  for (const auto& m : modules_) m->OnDelivered(view, path, what);
}

void Supervisor::SetWaiting(const std::string& id, const std::string& why) {
  Instance* inst = table_.Find(id);
  if (inst != nullptr && inst->life.state() == State::kWaiting) inst->life.Wait(why);
}

absl::StatusOr<std::vector<std::string>> Supervisor::ResolveTarget(const std::string& target) {
  absl::StatusOr<std::vector<Instance*>> found = table_.Resolve(target);
  if (!found.ok()) return found.status();
  std::vector<std::string> ids;
  ids.reserve(found->size());
  for (const Instance* inst : *found) ids.push_back(inst->id);
  return ids;
}

bool Supervisor::SpawnGatesOpen(Instance* inst) {
  const module::InstanceView view = ViewOf(*inst);
  for (const auto& m : modules_) {
    std::optional<std::string> wait = m->SpawnGate(view);
    if (!wait.has_value()) continue;
    inst->gated = true;
    if (!wait->empty() || inst->life.state() != State::kWaiting) {
      inst->life.Wait(wait->empty() ? std::string(m->name()) : *wait);
    }
    return false;
  }
  inst->gated = false;
  return true;
}

bool Supervisor::WatchFd(int fd, std::function<void()> on_readable) {
  return loop_.Watch(fd, std::move(on_readable)).ok();
}

std::vector<std::string> Supervisor::ChildEnvironment(const std::string& id) const {
  const Instance* inst = table_.Find(id);
  return inst == nullptr ? std::vector<std::string>() : launcher_.Environment(*inst);
}

void Supervisor::ForEachInstance(const std::function<void(const module::InstanceView&)>& fn) {
  table_.ForEach([&fn](Instance* inst) { fn(ViewOf(*inst)); });
}

const config::v1::Engine* Supervisor::FindEngine(const std::string& name) const {
  const Engine* engine = table_.FindEngine(name);
  return engine == nullptr ? nullptr : engine->spec.get();
}

bool Supervisor::Post(std::function<void()> fn) { return loop_.Post(std::move(fn)); }

void Supervisor::Emit(const std::string& subject, const std::string& kind,
                      const std::string& message) {
  events_->Add(subject, kind, message);
}

}  // namespace fleet::supervisor
