#include "core/supervisor/instance_table.h"

#include <algorithm>
#include <set>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "google/protobuf/util/message_differencer.h"

namespace fleet::supervisor {
namespace {

namespace v1 = ::fleet::config::v1;

bool SameExceptReplicas(const v1::Engine& a, const v1::Engine& b) {
  v1::Engine x = a, y = b;
  x.clear_replicas();
  y.clear_replicas();
  return google::protobuf::util::MessageDifferencer::Equals(x, y);
}

}  // namespace

void InstanceTable::SetSpec(Engine* engine, const v1::Engine& spec) {
  engine->spec = std::make_shared<v1::Engine>(spec);
  engine->scheduled = spec.type() != v1::ENGINE_TYPE_DAEMON;
}

void InstanceTable::AddInstances(Engine* engine, uint32_t count, std::vector<Instance*>* added) {
  const v1::Engine& spec = *engine->spec;
  for (uint32_t i = 0; i < count; ++i) {
    // A retiring instance with this index comes back instead of a twin.
    if (i < engine->instances.size()) {
      Instance& inst = *engine->instances[i];
      if (inst.retire) {
        inst.retire = false;
        inst.want_run = true;
      }
      continue;
    }
    auto inst =
        std::make_unique<Instance>(engine, i, LifecyclePolicy::FromEngine(spec), Uniform01());
    inst->id = absl::StrCat(spec.name(), "/", i);
    inst->life.set_observer([this, p = inst.get()] { OnLifecycleEvent(p); });
    inst->log = std::make_unique<capture::LogSink>(
        absl::StrCat(logs_dir_, "/", spec.name(), ".", i, ".log"), spec.logs().max_size(),
        spec.logs().max_files());
    added->push_back(inst.get());
    engine->instances.push_back(std::move(inst));
  }
  for (uint32_t i = count; i < engine->instances.size(); ++i) {
    engine->instances[i]->retire = true;
  }
}

InstanceTable::Applied InstanceTable::Apply(const v1::FleetConfig& config) {
  Applied applied;
  fleet::control::v1::ReloadResponse& response = applied.response;
  std::set<std::string> wanted;
  for (const v1::Engine& spec : config.engines()) {
    wanted.insert(spec.name());
    auto it = engines_.find(spec.name());
    if (it == engines_.end() || it->second->removing) {
      if (it != engines_.end()) {
        // Removed and declared again before it was gone: take it back.
        it->second->removing = false;
      } else {
        it = engines_.emplace(spec.name(), std::make_unique<Engine>()).first;
      }
      SetSpec(it->second.get(), spec);
      AddInstances(it->second.get(), spec.replicas(), &applied.added);
      response.add_added(spec.name());
      continue;
    }
    Engine& engine = *it->second;
    const bool same = SameExceptReplicas(*engine.spec, spec);
    const uint32_t old_replicas = engine.spec->replicas();
    const bool rescaled = old_replicas != spec.replicas();
    if (same && !rescaled) {
      response.add_unchanged(spec.name());
      continue;
    }
    SetSpec(&engine, spec);
    for (auto& inst : engine.instances) {
      inst->life.SetPolicy(LifecyclePolicy::FromEngine(spec));
      inst->log->SetLimits(spec.logs().max_size(), spec.logs().max_files());
      // A scheduled run in progress finishes on the old definition; the
      // next run uses the new.
      if (!same && !engine.scheduled && inst->life.HasProcess() && !inst->retire) {
        applied.redefined.push_back(inst.get());
      }
    }
    AddInstances(&engine, spec.replicas(), &applied.added);
    response.add_changed(rescaled && same ? absl::StrCat(spec.name(), " (replicas ", old_replicas,
                                                         " -> ", spec.replicas(), ")")
                                          : spec.name());
  }
  for (auto& [name, engine] : engines_) {
    if (wanted.count(name) || engine->removing) continue;
    engine->removing = true;
    for (auto& inst : engine->instances) inst->retire = true;
    response.add_removed(name);
  }
  // Who is depended on, and who retires, may have changed with any of it.
  retiring_ = 0;
  for (auto& [name, engine] : engines_) engine->depended_on = false;
  for (auto& [name, engine] : engines_) {
    for (const std::string& dep : engine->spec->depends_on()) {
      auto it = engines_.find(dep);
      if (it != engines_.end()) it->second->depended_on = true;
    }
    for (const auto& inst : engine->instances) retiring_ += inst->retire ? 1 : 0;
  }
  all_changed_ = true;
  return applied;
}

void InstanceTable::OnLifecycleEvent(Instance* inst) {
  Requeue(inst);
  changed_.insert(inst);
  if (inst->life.state() == State::kWaiting) {
    waiting_.insert(inst);
  } else {
    waiting_.erase(inst);
  }
  // Whether its engine is up may have changed: its dependents look again.
  if (inst->engine->depended_on) all_changed_ = true;
}

void InstanceTable::Requeue(Instance* inst) {
  std::optional<MonoTime> due = inst->life.deadline();
  if (inst->dying_check_due.has_value() && (!due.has_value() || *inst->dying_check_due < *due)) {
    due = inst->dying_check_due;
  }
  deadlines_.Set(inst, due);
}

std::vector<Instance*> InstanceTable::TakeChanged() {
  std::vector<Instance*> out;
  if (all_changed_) {
    ForEach([&out](Instance* inst) { out.push_back(inst); });
  } else {
    out.assign(changed_.begin(), changed_.end());
    for (Instance* inst : waiting_) {
      if (!changed_.contains(inst)) out.push_back(inst);
    }
    // The table's order (engines by name, instances by index), as a full
    // pass would take them: starts and events come in the same order.
    std::sort(out.begin(), out.end(), [](const Instance* a, const Instance* b) {
      if (a->engine != b->engine) return a->engine->spec->name() < b->engine->spec->name();
      return a->index < b->index;
    });
  }
  all_changed_ = false;
  changed_.clear();
  return out;
}

void InstanceTable::Forget(Instance* inst) {
  deadlines_.Clear(inst);
  changed_.erase(inst);
  waiting_.erase(inst);  // (Not in by_pid_: it has no process.)
}

std::vector<std::string> InstanceTable::Prune() {
  std::vector<std::string> gone;
  if (retiring_ == 0) return gone;
  for (auto it = engines_.begin(); it != engines_.end();) {
    auto& v = it->second->instances;
    for (auto i = v.begin(); i != v.end();) {
      if ((*i)->retire && !(*i)->life.HasProcess() && (*i)->helpers == 0 && (*i)->spawning == 0) {
        gone.push_back((*i)->id);
        Forget(i->get());
        --retiring_;
        i = v.erase(i);
      } else {
        ++i;
      }
    }
    if (it->second->removing && v.empty()) {
      it = engines_.erase(it);
    } else {
      ++it;
    }
  }
  return gone;
}

Instance* InstanceTable::Find(const std::string& id) const {
  const size_t slash = id.rfind('/');
  uint32_t index = 0;
  if (slash == std::string::npos || !absl::SimpleAtoi(id.substr(slash + 1), &index)) {
    return nullptr;
  }
  return At(id.substr(0, slash), index);
}

Instance* InstanceTable::At(const std::string& engine, uint32_t index) const {
  auto it = engines_.find(engine);
  if (it == engines_.end() || index >= it->second->instances.size()) return nullptr;
  return it->second->instances[index].get();
}

const Engine* InstanceTable::FindEngine(const std::string& name) const {
  auto it = engines_.find(name);
  return it == engines_.end() ? nullptr : it->second.get();
}

absl::StatusOr<std::vector<Instance*>> InstanceTable::Resolve(const std::string& target) const {
  std::vector<Instance*> out;
  auto add_engine = [&out](const Engine& engine) {
    for (const auto& inst : engine.instances) {
      if (!inst->retire) out.push_back(inst.get());
    }
  };
  std::vector<std::string> parts = absl::StrSplit(target, absl::MaxSplits('/', 1));
  auto it = engines_.find(parts[0]);
  if (it == engines_.end() || it->second->removing) {
    if (target != "all") {
      return absl::NotFoundError(absl::StrCat("no engine named '", parts[0], "'"));
    }
    for (const auto& [name, engine] : engines_) {
      if (!engine->removing) add_engine(*engine);
    }
    return out;
  }
  const Engine& engine = *it->second;
  if (parts.size() == 1) {
    add_engine(engine);
    return out;
  }
  uint32_t index = 0;
  if (!absl::SimpleAtoi(parts[1], &index) || index >= engine.instances.size() ||
      engine.instances[index]->retire) {
    const uint32_t replicas = engine.spec->replicas();
    return absl::NotFoundError(absl::StrCat("no instance '", target, "' (", parts[0], " has ",
                                            replicas, " replicas: ", parts[0], "/0 .. ", parts[0],
                                            "/", replicas > 0 ? replicas - 1 : 0, ")"));
  }
  out.push_back(engine.instances[index].get());
  return out;
}

Instance* InstanceTable::TakePid(pid_t pid) {
  auto it = by_pid_.find(pid);
  if (it == by_pid_.end()) return nullptr;
  Instance* inst = it->second;
  by_pid_.erase(it);
  return inst;
}

void InstanceTable::AddHelper(pid_t pid, Instance* inst, OnHelperExit on_exit) {
  helpers_[pid] = Helper{inst, std::move(on_exit)};
  ++inst->helpers;
}

std::optional<InstanceTable::OnHelperExit> InstanceTable::TakeHelper(pid_t pid) {
  auto it = helpers_.find(pid);
  if (it == helpers_.end()) return std::nullopt;
  Helper done = std::move(it->second);
  helpers_.erase(it);
  --done.inst->helpers;
  return std::move(done.on_exit);
}

std::vector<pid_t> InstanceTable::HelpersOf(const Engine& engine) const {
  std::vector<pid_t> pids;
  for (const auto& [pid, helper] : helpers_) {
    if (helper.inst->engine == &engine) pids.push_back(pid);
  }
  return pids;
}

bool InstanceTable::Alive(const Engine& engine) {
  for (const auto& inst : engine.instances) {
    if (inst->life.HasProcess() || inst->life.Pending() || inst->helpers > 0 ||
        inst->spawning != 0) {
      return true;
    }
  }
  return false;
}

bool InstanceTable::AnyAlive() const {
  for (const auto& [name, engine] : engines_) {
    if (Alive(*engine)) return true;
  }
  return false;
}

std::string InstanceTable::UnmetDependency(const Engine& engine) const {
  for (const std::string& dep : engine.spec->depends_on()) {
    auto it = engines_.find(dep);
    if (it == engines_.end()) return dep;
    const Engine& d = *it->second;
    uint32_t wanted = 0;
    for (const auto& inst : d.instances) {
      if (!inst->want_run || inst->retire) continue;
      ++wanted;
      // A cycle engine between successful runs (IDLE) counts as up.
      const State st = inst->life.state();
      if ((st != State::kRunning && st != State::kIdle) || inst->unhealthy) return dep;
    }
    if (wanted == 0 && d.spec->replicas() > 0) return dep;
  }
  return "";
}

}  // namespace fleet::supervisor
