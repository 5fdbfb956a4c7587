// How a fleetctl command ends when it fails: the message (an RPC's
// failure said again in fleet's words, never gRPC's) and the exit code.
#include <stdio.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <chrono>
#include <string>
#include <vector>

#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "absl/time/time.h"
#include "cli/fleetctl/commands.h"
#include "cli/fleetctl/commands_internal.h"
#include "core/defaults/defaults.h"
#include "core/os/files.h"
#include "core/os/process.h"
#include "grpcpp/grpcpp.h"

namespace fleet::cli {

int Fail(int code, const std::string& message) {
  fprintf(stderr, "fleetctl: %s\n", message.c_str());
  return code;
}

int Usage(const std::string& message) {
  fprintf(stderr, "fleetctl: %s\n", message.c_str());
  return kUsage;
}

// fleetd beside this fleetctl (an installed or built tree), else on PATH.
std::string FleetdPath() {
  const std::string self = os::SelfExecutable();
  if (!self.empty()) {
    const std::string beside = os::DirName(self) + "/fleetd";
    if (::access(beside.c_str(), X_OK) == 0) return beside;
  }
  return "fleetd";
}

namespace {

// Whether something accepts connections on the unix socket at path.
bool Listening(const std::string& path) {
  const int fd = ::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0) return false;
  sockaddr_un addr{};
  addr.sun_family = AF_UNIX;
  std::strncpy(addr.sun_path, path.c_str(), sizeof(addr.sun_path) - 1);
  const bool ok = ::connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)) == 0;
  ::close(fd);
  return ok;
}

// "the control socket ... is stale: ..." with what the pid file says.
std::string StaleSocket(const std::string& run_dir) {
  std::string why = absl::StrCat("the control socket ", defaults::SocketPath(run_dir),
                                 " is stale: nothing listens on it");
  // "PID START_TIME": the start time tells a reused pid from fleetd.
  absl::StatusOr<std::string> text = os::ReadUntrustedFileHead(defaults::PidFile(run_dir), 64);
  std::vector<std::string> fields;
  if (text.ok()) fields = absl::StrSplit(absl::StripAsciiWhitespace(*text), ' ');
  int pid = 0;
  uint64_t start = 0;
  if (fields.size() == 2 && absl::SimpleAtoi(fields[0], &pid) && pid > 0 &&
      absl::SimpleAtoi(fields[1], &start)) {
    const bool alive = os::ProcessStartTime(pid) == start;
    absl::StrAppend(&why, " (the pid file names pid ", pid,
                    alive ? ", which runs but does not answer: is it stuck?)"
                          : ", which is not running: fleetd died; start it again)");
  } else {
    absl::StrAppend(&why, " (no pid file: fleetd is not running)");
  }
  return why;
}

}  // namespace

// An RPC's failure in fleetctl's words and exit code. fleetd's own errors
// carry its message; what gRPC itself reports (deadlines, connections) is
// said again plainly, never printed as-is. waited: the call's deadline.
int FromRpc(const grpc::Status& status, const Globals& g, absl::Duration waited) {
  const std::string& message = status.error_message();
  const std::string socket = defaults::SocketPath(g.run_dir);
  switch (status.error_code()) {
    case grpc::StatusCode::DEADLINE_EXCEEDED:
      if (message != "Deadline Exceeded") return Fail(kFailed, message);  // fleetd's.
      return Fail(kUnreachable,
                  absl::StrCat("fleetd at ", socket, " did not answer within ",
                               absl::FormatDuration(waited),
                               " (stuck or very busy? see its log and `fleetctl events`; "
                               "--timeout waits longer)"));
    case grpc::StatusCode::UNAVAILABLE:
      if (!Listening(socket)) return Fail(kUnreachable, StaleSocket(g.run_dir));
      return Fail(kUnreachable, message.empty() || absl::StrContains(message, "connect")
                                    ? absl::StrCat("fleetd at ", socket, " closed the connection")
                                    : message);
    case grpc::StatusCode::NOT_FOUND:
      return Fail(kNotFound, message);
    case grpc::StatusCode::INVALID_ARGUMENT:
      return Fail(kUsage, message);
    case grpc::StatusCode::FAILED_PRECONDITION:
      return Fail(kFailed, message);
    default: {
      // Not a code fleetd uses: gRPC's own (a message over its size limit,
      // a broken stream). Its name in words, not the library's text.
      static const char* const kNames[] = {"ok",
                                           "cancelled",
                                           "unknown",
                                           "invalid argument",
                                           "deadline",
                                           "not found",
                                           "already exists",
                                           "permission denied",
                                           "out of resources (a message too large?)",
                                           "failed precondition",
                                           "aborted",
                                           "out of range",
                                           "not implemented",
                                           "internal error",
                                           "unavailable",
                                           "data loss",
                                           "unauthenticated"};
      const int index = static_cast<int>(status.error_code());
      const std::string code = index >= 0 && index < 17 ? kNames[index] : "unknown";
      return Fail(kFailed, absl::StrCat("the call to fleetd at ", socket, " failed (", code, ")"));
    }
  }
}

int FromRpc(const grpc::Status& status, const Globals& g) { return FromRpc(status, g, g.timeout); }

void SetDeadline(grpc::ClientContext* context, absl::Duration timeout) {
  context->set_deadline(std::chrono::system_clock::now() +
                        std::chrono::milliseconds(absl::ToInt64Milliseconds(timeout)));
}

}  // namespace fleet::cli
