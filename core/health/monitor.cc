#include "core/health/monitor.h"

#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <unistd.h>

#include "absl/strings/str_cat.h"
#include "core/log/log.h"

namespace fleet::health {
namespace {

constexpr absl::Duration kStopWait = absl::Seconds(3);

}  // namespace

HealthMonitor::HealthMonitor(std::function<void(CheckOutcome)> on_outcome,
                             os::ChildWaiter* children)
    : on_outcome_(std::move(on_outcome)), children_(children) {}

void HealthMonitor::RunExecProbe(CheckJob& job) {
  fleet::plugin::v1::ExecResult* result = job.request.mutable_exec();
  if (children_ == nullptr) {
    result->set_error("exec probes are not available here");
    return;
  }
  int fds[2];
  if (::pipe2(fds, O_CLOEXEC) != 0) {
    result->set_error(absl::StrCat("pipe: ", strerror(errno)));
    return;
  }
  ::fcntl(fds[0], F_SETFL, O_NONBLOCK);
  job.exec.output_fd = fds[1];
  absl::StatusOr<pid_t> pid = children_->Spawn(job.exec);
  ::close(fds[1]);
  if (!pid.ok()) {
    ::close(fds[0]);
    result->set_error(std::string(pid.status().message()));
    return;
  }
  bool timed_out = false;
  std::optional<os::ExitStatus> status = children_->Wait(*pid, job.timeout, &timed_out);
  std::string output;
  char buffer[4096];
  ssize_t n;
  while ((n = ::read(fds[0], buffer, sizeof(buffer))) > 0) {
    output.append(buffer, static_cast<size_t>(n));
    if (output.size() > 8192) output.erase(0, output.size() - 4096);
  }
  ::close(fds[0]);
  if (output.size() > 4096) output.erase(0, output.size() - 4096);
  result->set_ran(true);
  result->set_timed_out(timed_out);
  result->set_output(output);
  if (status.has_value()) {
    result->set_exit_code(status->signaled ? -1 : status->code);
    result->set_signal(status->signaled ? status->signal : 0);
  }
}

HealthMonitor::~HealthMonitor() {
  if (!worker_.Stop(absl::ZeroDuration(), kStopWait)) {
    // Stuck in a plugin call that cannot be interrupted. Leave it (and the
    // plugins it may be using) to the process's exit rather than hang it.
    log::Warning("a health plugin call is still running at shutdown; not waiting for it");
    for (auto& [name, check] : checks_) (void)check.release();
    for (auto& plugin : plugins_) (void)plugin.release();
    return;
  }
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
  // std::function needs a copyable callable: the job travels in a shared_ptr.
  auto shared = std::make_shared<CheckJob>(std::move(job));
  worker_.Submit([this, shared] { Run(*shared); });
}

void HealthMonitor::Run(CheckJob& job) {
  if (!job.exec.argv.empty()) RunExecProbe(job);
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

}  // namespace fleet::health
