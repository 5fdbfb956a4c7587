// The feature modules the control plane calls directly, besides the
// supervisor: the work-bus (on its own thread), shared state and scheduled
// runs (on the loop). Null: that feature is off, and its calls say so.
#ifndef FLEET_CORE_CONTROL_FEATURES_H_
#define FLEET_CORE_CONTROL_FEATURES_H_

namespace fleet::modules {
class Scheduler;
class SharedState;
class WorkBus;
}  // namespace fleet::modules

namespace fleet::control {

struct ControlFeatures {
  modules::WorkBus* bus = nullptr;
  modules::SharedState* state = nullptr;
  modules::Scheduler* runs = nullptr;  // cron and intelligence runs
};

}  // namespace fleet::control

#endif  // FLEET_CORE_CONTROL_FEATURES_H_
