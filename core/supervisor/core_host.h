// The supervision core as its modules' host (core/module/module.h): what
// they may see of the fleet and ask of it, over the core's parts (the
// process table, the loop, the watched files, the launcher). Modules name
// instances by id; the host finds them and carries their requests out
// through the lifecycle. Loop thread only, except Post and Emit.
#ifndef FLEET_CORE_SUPERVISOR_CORE_HOST_H_
#define FLEET_CORE_SUPERVISOR_CORE_HOST_H_

#include <functional>
#include <optional>
#include <string>
#include <vector>

#include "core/module/module.h"
#include "core/supervisor/core_parts.h"
#include "core/supervisor/lifecycle.h"

namespace fleet::supervisor {

class CoreHost : public module::ModuleHost {
 public:
  explicit CoreHost(const CoreParts& parts) : p_(parts) {}

  os::MonoTime Now() const override { return p_.state->now; }
  absl::Time WallNow() const override { return p_.clock->WallNow(); }
  os::Clock* clock() const override { return p_.clock; }
  bool shutting_down() const override { return p_.state->shutting_down; }
  const std::string& run_dir() const override { return p_.run_dir; }
  void Emit(const std::string& subject, const std::string& kind,
            const std::string& message) override {
    p_.events->Add(subject, kind, message);
  }
  bool Post(std::function<void()> fn) override { return p_.loop->Post(std::move(fn)); }

  void ForEachInstance(const std::function<void(const module::InstanceView&)>& fn) override;
  const fleet::config::v1::Engine* FindEngine(const std::string& name) const override;
  absl::StatusOr<std::vector<std::string>> ResolveTarget(const std::string& target) override;
  bool WithInstance(const std::string& id,
                    const std::function<void(const module::InstanceView&)>& fn) override;

  void Start(const std::string& id) override;
  void Stop(const std::string& id, const std::string& reason) override;
  void Restart(const std::string& id, const std::string& reason) override;
  void Idle(const std::string& id, const std::string& reason) override;
  void Kill(const std::string& id, const std::string& reason) override;
  void FailAndRestart(const std::string& id, const std::string& reason) override;
  void SetUnhealthy(const std::string& id, bool unhealthy) override;
  void SetWaiting(const std::string& id, const std::string& why) override;
  absl::StatusOr<pid_t> SpawnHelper(const std::string& id, const os::SpawnSpec& spec,
                                    std::function<void(const os::ExitStatus&)> on_exit) override;
  void NoteDelivered(const std::string& id, const std::string& path,
                     const std::string& what) override;

  std::vector<std::string> ChildEnvironment(const std::string& id) const override;
  bool WatchFd(int fd, std::function<void()> on_readable) override;
  void Rewatch() override { p_.state->rewatch = true; }
  std::optional<MonoTime> FileChangedAt(const std::string& path) const override {
    return p_.watch->ChangedAt(path);
  }
  std::optional<Stall> LastStall() const override { return p_.state->last_stall; }

 private:
  // Runs step on the instance id names (only a live one when live_only)
  // and carries out its answer.
  void Drive(const std::string& id, bool live_only, const std::function<Action(Lifecycle&)>& step);

  CoreParts p_;
};

}  // namespace fleet::supervisor

#endif  // FLEET_CORE_SUPERVISOR_CORE_HOST_H_
