#include "core/plugin_host/process_plugin.h"

#include <fcntl.h>
#include <signal.h>
#include <unistd.h>

#include "absl/strings/str_cat.h"
#include "core/os/process.h"
#include "core/plugin_host/framing.h"

namespace fleet::plugin_host {
namespace {

constexpr absl::Duration kHandshakeTimeout = absl::Seconds(10);

}  // namespace

absl::Status ProbeLoad(const std::string& helper_path, const std::string& plugin_path,
                       const std::string& kind, absl::Duration timeout) {
  int from[2];
  if (::pipe2(from, O_CLOEXEC) != 0) return absl::ErrnoToStatus(errno, "pipe");
  os::SpawnSpec spec;
  spec.argv = {helper_path, "--probe", plugin_path, kind};
  spec.env = os::CurrentEnvironment();
  spec.output_fd = from[1];
  spec.error_fd = STDERR_FILENO;
  absl::StatusOr<pid_t> pid = os::Spawn(spec);
  ::close(from[1]);
  if (!pid.ok()) {
    ::close(from[0]);
    return absl::Status(pid.status().code(), absl::StrCat("plugin ", plugin_path,
                                                          ": its trial load could not start: ",
                                                          pid.status().message()));
  }
  const int pidfd = os::PidfdOpen(*pid);
  absl::StatusOr<Frame> answer = ReadFrame(from[0], timeout);
  ::close(from[0]);
  if (!answer.ok()) os::PidfdSignal(pidfd, SIGKILL);  // Hung, or gone already.
  if (pidfd >= 0) ::close(pidfd);
  // The helper is our child: its end says what the plugin did to it.
  const os::ExitStatus end = os::WaitProcess(*pid);
  if (answer.ok()) {
    if (answer->tag == 0) return absl::OkStatus();
    return absl::Status(static_cast<absl::StatusCode>(answer->tag), answer->bytes);
  }
  if (end.signaled && end.signal == SIGKILL && !absl::IsDeadlineExceeded(answer.status())) {
    return absl::FailedPreconditionError(
        absl::StrCat("plugin ", plugin_path, ": its trial load was killed (", end.Describe(), ")"));
  }
  if (absl::IsDeadlineExceeded(answer.status())) {
    return absl::FailedPreconditionError(
        absl::StrCat("plugin ", plugin_path, ": loading it did not finish within ",
                     absl::FormatDuration(timeout),
                     " (a constructor or fleet_plugin_v1() hangs); not loaded into fleetd"));
  }
  return absl::FailedPreconditionError(absl::StrCat(
      "plugin ", plugin_path, ": loading it crashed its trial process (", end.Describe(),
      ": a constructor or fleet_plugin_v1() failed); not loaded into fleetd"));
}

absl::StatusOr<std::unique_ptr<ProcessPlugin>> ProcessPlugin::Start(std::string helper_path,
                                                                    std::string plugin_path,
                                                                    std::string kind,
                                                                    std::string config) {
  auto plugin = std::unique_ptr<ProcessPlugin>(new ProcessPlugin(
      std::move(helper_path), std::move(plugin_path), std::move(kind), std::move(config)));
  absl::Status started = plugin->Spawn();
  if (!started.ok()) return started;
  return plugin;
}

ProcessPlugin::~ProcessPlugin() { Kill(); }

absl::Status ProcessPlugin::Spawn() {
  int to[2], from[2];
  if (::pipe2(to, O_CLOEXEC) != 0) return absl::ErrnoToStatus(errno, "pipe");
  if (::pipe2(from, O_CLOEXEC) != 0) {
    ::close(to[0]);
    ::close(to[1]);
    return absl::ErrnoToStatus(errno, "pipe");
  }
  os::SpawnSpec spec;
  spec.argv = {helper_, plugin_, kind_};
  spec.env = os::CurrentEnvironment();
  spec.input_fd = to[0];
  spec.output_fd = from[1];
  spec.error_fd = STDERR_FILENO;  // The helper logs into fleetd's log.
  absl::StatusOr<pid_t> pid = os::Spawn(spec);
  ::close(to[0]);
  ::close(from[1]);
  if (!pid.ok()) {
    ::close(to[1]);
    ::close(from[0]);
    return pid.status();
  }
  pid_ = *pid;
  pidfd_ = os::PidfdOpen(pid_);
  to_ = to[1];
  from_ = from[0];
  absl::Status sent = WriteFrame(to_, {kCreateTag, config_});
  absl::StatusOr<Frame> hello = sent.ok() ? ReadFrame(from_, kHandshakeTimeout)
                                          : absl::StatusOr<Frame>(sent);
  if (!hello.ok() || hello->tag != 0) {
    absl::Status why = !hello.ok() ? hello.status()
                                   : absl::Status(static_cast<absl::StatusCode>(hello->tag),
                                                  hello->bytes);
    Kill();
    return absl::Status(why.code(), absl::StrCat("plugin helper for ", plugin_, ": ", why.message()));
  }
  size_t newline = hello->bytes.find('\n');
  name_ = hello->bytes.substr(0, newline);
  version_ = newline == std::string::npos ? "" : hello->bytes.substr(newline + 1);
  return absl::OkStatus();
}

void ProcessPlugin::Kill() {
  // Through the pidfd: if fleetd's loop already reaped the helper and its pid
  // was reused, this signals nobody.
  os::PidfdSignal(pidfd_, SIGKILL);
  for (int* fd : {&pidfd_, &to_, &from_}) {
    if (*fd >= 0) ::close(*fd);
    *fd = -1;
  }
  pid_ = 0;
}

absl::StatusOr<std::string> ProcessPlugin::Call(uint32_t method, const std::string& request,
                                                absl::Duration timeout) {
  const std::string who = absl::StrCat("plugin ", name_.empty() ? plugin_ : name_);
  if (pid_ == 0) {
    absl::Status restarted = Spawn();
    if (!restarted.ok()) return restarted;
  }
  absl::Status sent = WriteFrame(to_, {method, request});
  absl::StatusOr<Frame> answer = sent.ok() ? ReadFrame(from_, timeout) : absl::StatusOr<Frame>(sent);
  if (!answer.ok()) {
    Kill();
    if (answer.status().code() == absl::StatusCode::kDeadlineExceeded) {
      return absl::DeadlineExceededError(
          absl::StrCat(who, " did not answer within ", absl::FormatDuration(timeout),
                       "; its helper process was killed and will be restarted"));
    }
    return absl::UnavailableError(absl::StrCat(
        who, ": its helper process died (", answer.status().message(), "); it will be restarted"));
  }
  if (answer->tag != 0) {
    return absl::Status(answer->tag <= 16 ? static_cast<absl::StatusCode>(answer->tag)
                                          : absl::StatusCode::kInternal,
                        answer->bytes);
  }
  return std::move(answer->bytes);
}

}  // namespace fleet::plugin_host
