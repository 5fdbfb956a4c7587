#include "cli/fleetctl/client.h"

#include <errno.h>
#include <sys/stat.h>
#include <unistd.h>

#include "absl/strings/str_cat.h"
#include "core/defaults/defaults.h"
#include "grpcpp/grpcpp.h"

namespace fleet::cli {

absl::StatusOr<std::unique_ptr<fleet::control::v1::FleetControl::Stub>> Connect(
    const std::string& run_dir) {
  const std::string socket = defaults::SocketPath(run_dir);
  struct stat st;
  if (::stat(socket.c_str(), &st) != 0) {
    if (errno == EACCES) {
      struct stat dir;
      std::string owner = ::stat(defaults::ControlDir(run_dir).c_str(), &dir) == 0
                              ? absl::StrCat(" (owned by uid ", dir.st_uid, ")")
                              : "";
      return absl::PermissionDeniedError(absl::StrCat("permission denied: only the owner of ",
                                                      run_dir, owner,
                                                      " and root may control this fleet"));
    }
    return absl::UnavailableError(
        absl::StrCat("fleetd is not running (no socket at ", socket,
                     "); start it with `fleetd --config PATH`, or pass --run-dir"));
  }
  grpc::ChannelArguments args;
  args.SetInt(GRPC_ARG_ENABLE_RETRIES, 0);
  auto channel = grpc::CreateCustomChannel(absl::StrCat("unix:", socket),
                                           grpc::InsecureChannelCredentials(), args);
  return fleet::control::v1::FleetControl::NewStub(channel);
}

}  // namespace fleet::cli
