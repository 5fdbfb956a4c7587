#include "core/health/monitor.h"

#include "absl/strings/str_cat.h"

namespace fleet::health {

HealthMonitor::HealthMonitor(std::function<void(CheckOutcome)> on_outcome)
    : on_outcome_(std::move(on_outcome)) {}

HealthMonitor::~HealthMonitor() {
  {
    absl::MutexLock lock(&mu_);
    stopping_ = true;
  }
  if (worker_.joinable()) worker_.join();
  checks_.clear();  // Instances before the plugins that made them.
}

void HealthMonitor::AddCheck(const std::string& name,
                             std::unique_ptr<plugin_host::PluginCaller> caller,
                             std::unique_ptr<plugin_host::Plugin> library) {
  checks_[name] = std::move(caller);
  if (library != nullptr) plugins_.push_back(std::move(library));
}

bool HealthMonitor::HasCheck(const std::string& name) const { return checks_.count(name) > 0; }

void HealthMonitor::Submit(CheckJob job) {
  absl::MutexLock lock(&mu_);
  if (stopping_) return;
  queue_.push_back(std::move(job));
  if (!worker_.joinable()) worker_ = std::thread([this] { Work(); });
}

void HealthMonitor::Work() {
  for (;;) {
    CheckJob job;
    {
      absl::MutexLock lock(&mu_);
      mu_.Await(absl::Condition(
          +[](HealthMonitor* m) ABSL_EXCLUSIVE_LOCKS_REQUIRED(m->mu_) {
            return m->stopping_ || !m->queue_.empty();
          },
          this));
      if (stopping_) return;
      job = std::move(queue_.front());
      queue_.pop_front();
    }
    CheckOutcome outcome{job.instance_id, job.seq, absl::UnknownError("")};
    auto it = checks_.find(job.check);
    if (it == checks_.end()) {
      outcome.result = absl::NotFoundError(absl::StrCat("health plugin '", job.check, "' is not loaded"));
    } else {
      absl::StatusOr<std::string> bytes =
          it->second->Call(FLEET_METHOD_HEALTH_CHECK, job.request.SerializeAsString(), job.timeout);
      if (!bytes.ok()) {
        outcome.result = bytes.status();
      } else {
        fleet::plugin::v1::HealthCheckResult result;
        // A plugin's garbage is its error, not a verdict.
        if (!result.ParseFromString(*bytes) ||
            result.verdict() == fleet::plugin::v1::VERDICT_UNSPECIFIED) {
          outcome.result = absl::InternalError(
              absl::StrCat("plugin ", job.check, " answered something that is not a verdict"));
        } else {
          outcome.result = std::move(result);
        }
      }
    }
    on_outcome_(std::move(outcome));
  }
}

}  // namespace fleet::health
