// The supervisor as its modules' host (core/module/module.h): what they
// may see of the fleet and ask of it. Loop thread only, except Post and
// Emit.
#include <sys/epoll.h>
#include <unistd.h>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "core/os/env.h"
#include "core/os/process.h"
#include "core/supervisor/supervisor.h"
#include "core/supervisor/supervisor_internal.h"

namespace fleet::supervisor {

void Supervisor::AddModule(std::unique_ptr<module::Module> module) {
  modules_.push_back(std::move(module));
}

absl::Time Supervisor::WallNow() const { return clock_->WallNow(); }

module::InstanceView Supervisor::ViewOf(Instance& inst) const {
  return {inst.id,
          *inst.engine->spec,
          inst.index,
          inst.pid,
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

Instance* Supervisor::FindInstance(const std::string& id) const {
  // "ENGINE/N" straight from the table: a retiring instance (scaled down,
  // its engine removed) is still there until it has stopped, and its
  // modules still hear about it (Resolve, for operators' targets, skips it).
  const size_t slash = id.rfind('/');
  uint32_t index = 0;
  if (slash == std::string::npos || !absl::SimpleAtoi(id.substr(slash + 1), &index)) {
    return nullptr;
  }
  auto it = engines_.find(id.substr(0, slash));
  if (it == engines_.end() || index >= it->second->instances.size()) return nullptr;
  return it->second->instances[index].get();
}

// A live instance (its process runs and is not being stopped), or null.
Instance* Supervisor::FindLive(const std::string& id) const {
  Instance* inst = FindInstance(id);
  if (inst == nullptr || !inst->life.HasProcess() || inst->life.state() == State::kStopping) {
    return nullptr;
  }
  return inst;
}

bool Supervisor::WithInstance(const std::string& id,
                              const std::function<void(const module::InstanceView&)>& fn) {
  Instance* inst = FindInstance(id);
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
  Instance* inst = FindInstance(id);
  if (inst == nullptr || inst->unhealthy == unhealthy) return;
  inst->unhealthy = unhealthy;
  dirty_ = true;  // Dependents look again.
  const module::InstanceView view = ViewOf(*inst);
  for (const auto& m : modules_) m->OnHealthChanged(view);
}

void Supervisor::Start(const std::string& id) {
  Instance* inst = FindInstance(id);
  if (inst == nullptr) return;
  dirty_ = true;
  Perform(inst, inst->life.Start(now_));
}

void Supervisor::Stop(const std::string& id, const std::string& reason) {
  Instance* inst = FindInstance(id);
  if (inst == nullptr) return;
  dirty_ = true;
  Perform(inst, inst->life.Stop(now_, reason));
}

void Supervisor::Restart(const std::string& id, const std::string& reason) {
  Instance* inst = FindInstance(id);
  if (inst == nullptr) return;
  dirty_ = true;
  Perform(inst, inst->life.Restart(now_, reason));
}

void Supervisor::Idle(const std::string& id, const std::string& reason) {
  Instance* inst = FindInstance(id);
  if (inst == nullptr || inst->life.state() != State::kBackoff) return;
  dirty_ = true;
  inst->life.Idle(reason);
}

absl::StatusOr<pid_t> Supervisor::SpawnHelper(const std::string& id, const os::SpawnSpec& spec,
                                              std::function<void(const os::ExitStatus&)> on_exit) {
  Instance* inst = FindInstance(id);
  if (inst == nullptr) return absl::NotFoundError(absl::StrCat("no instance ", id));
  absl::StatusOr<pid_t> pid = os::CurrentEnv()->Spawn(spec);
  if (!pid.ok()) return pid;
  helpers_[*pid] = Helper{inst, std::move(on_exit)};
  ++inst->helpers;
  return pid;
}

void Supervisor::NoteDelivered(const std::string& id, const std::string& path,
                               const std::string& what) {
  Instance* inst = FindInstance(id);
  if (inst == nullptr) return;
  const module::InstanceView view = ViewOf(*inst);
  for (const auto& m : modules_) m->OnDelivered(view, path, what);
}

void Supervisor::SetWaiting(const std::string& id, const std::string& why) {
  Instance* inst = FindInstance(id);
  if (inst != nullptr && inst->life.state() == State::kWaiting) inst->life.Wait(why);
}

absl::StatusOr<std::vector<std::string>> Supervisor::ResolveTarget(const std::string& target) {
  absl::Status error;
  std::vector<Instance*> found = Resolve(target, &error);
  if (!error.ok()) return error;
  std::vector<std::string> ids;
  ids.reserve(found.size());
  for (const Instance* inst : found) ids.push_back(inst->id);
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
  auto watch = std::make_unique<FdWatch>(FdWatch{fd, std::move(on_readable)});
  epoll_event ev{};
  ev.events = EPOLLIN;
  ev.data.u64 = reinterpret_cast<uint64_t>(watch.get()) | 2;  // Bit 1: a module's fd.
  if (::epoll_ctl(epoll_fd_, EPOLL_CTL_ADD, fd, &ev) != 0) return false;
  fd_watches_.push_back(std::move(watch));
  return true;
}

std::vector<std::string> Supervisor::ChildEnvironment(const std::string& id) const {
  const Instance* inst = FindInstance(id);
  return inst == nullptr ? std::vector<std::string>() : ChildEnvironment(*inst);
}

void Supervisor::ForEachInstance(const std::function<void(const module::InstanceView&)>& fn) {
  for (auto& [name, engine] : engines_) {
    for (auto& inst : engine->instances) fn(ViewOf(*inst));
  }
}

const config::v1::Engine* Supervisor::FindEngine(const std::string& name) const {
  auto it = engines_.find(name);
  return it == engines_.end() ? nullptr : it->second->spec.get();
}

bool Supervisor::Post(std::function<void()> fn) {
  {
    fleet::MutexLock lock(&post_mu_);
    if (finished_) return false;
    posted_.push_back(std::move(fn));
  }
  uint64_t one = 1;
  (void)::write(wake_fd_, &one, sizeof(one));
  return true;
}

void Supervisor::Emit(const std::string& subject, const std::string& kind,
                      const std::string& message) {
  events_->Add(subject, kind, message);
}

}  // namespace fleet::supervisor
