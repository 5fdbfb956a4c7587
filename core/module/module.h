// A feature of the supervisor behind one small interface, the way Envoy's
// filters and containerd's plugins meet their core: the core keeps the
// loop, the process table and the lifecycle; a module registers with it
// (one line in core/daemon/modules.cc), owns its own state, per instance
// too (keyed by InstanceView::id), and is called on the loop at the points
// below. A module never blocks the loop: file, Git, plugin and network
// work goes to a worker thread it owns, and the answer comes back through
// ModuleHost::Post. Deleting its folder and its registration line removes
// it.
//
// Lifecycle: constructed with the host before the loop starts; OnConfig
// for the first config and every reload; OnInstanceAdded / OnSpawned /
// OnExit as instances come and go; OnDeadline whenever the loop passes
// NextDeadline(); destroyed after the loop has ended (a worker it owns is
// joined in its destructor).
#ifndef FLEET_CORE_MODULE_MODULE_H_
#define FLEET_CORE_MODULE_MODULE_H_

#include <sys/types.h>

#include <cstdint>
#include <functional>
#include <optional>
#include <string>

#include "absl/strings/string_view.h"
#include "absl/time/time.h"
#include "core/capture/log_sink.h"
#include "core/config/loader.h"
#include "core/os/clock.h"
#include "core/os/process.h"
#include "proto/fleet/config/v1/config.pb.h"
#include "proto/fleet/control/v1/control.pb.h"

namespace fleet::module {

// One instance, as a module sees it: valid for the call it is passed to.
struct InstanceView {
  const std::string& id;  // "ENGINE/N"
  const fleet::config::v1::Engine& spec;
  uint32_t index;
  pid_t pid;  // 0 when no process runs
  capture::LogSink& log;
};

// What a module may ask of the core. Loop thread only, except Post.
class ModuleHost {
 public:
  virtual os::MonoTime Now() const = 0;
  virtual absl::Time WallNow() const = 0;
  virtual const std::string& run_dir() const = 0;
  // An event for `fleetctl events` and fleetd's log.
  virtual void Emit(const std::string& subject, const std::string& kind,
                    const std::string& message) = 0;
  // Runs fn on the loop (from any thread); false once the loop has ended.
  virtual bool Post(std::function<void()> fn) = 0;
  // Every instance of the fleet (retired ones included until they go).
  virtual void ForEachInstance(const std::function<void(const InstanceView&)>& fn) = 0;
  // The engine named so, or null.
  virtual const fleet::config::v1::Engine* FindEngine(const std::string& name) const = 0;

 protected:
  ~ModuleHost() = default;
};

class Module {
 public:
  virtual ~Module() = default;
  // Short and lower-case ("log_hygiene"): in errors and notes.
  virtual absl::string_view name() const = 0;

  // A config was applied (the first, or a reload that changed anything).
  virtual void OnConfig(const config::LoadedConfig& loaded) {}
  // An instance was created (at start, scale-up or a new engine).
  virtual void OnInstanceAdded(const InstanceView& inst) {}
  // Its process started.
  virtual void OnSpawned(const InstanceView& inst) {}
  // Its process ended, and how.
  virtual void OnExit(const InstanceView& inst, const os::ExitStatus& status) {}
  // When OnDeadline is next wanted; nullopt: not until something changes.
  virtual std::optional<os::MonoTime> NextDeadline() const { return std::nullopt; }
  // The loop passed NextDeadline().
  virtual void OnDeadline() {}
  // Adds what it knows to a status answer.
  virtual void FillStatus(fleet::control::v1::GetStatusResponse* status) const {}
};

}  // namespace fleet::module

#endif  // FLEET_CORE_MODULE_MODULE_H_
