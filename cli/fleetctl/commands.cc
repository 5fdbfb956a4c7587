// fleetctl's commands (commands.h): the parts every command shares.
// Each group of commands is in commands_GROUP.cc.
#include "cli/fleetctl/commands.h"

#include <stdio.h>

#include <string>

#include "absl/strings/str_cat.h"
#include "cli/fleetctl/client.h"
#include "cli/fleetctl/commands_internal.h"
#include "cli/fleetctl/fleet_finder.h"
#include "cli/fleetctl/json_out.h"
#include "cli/fleetctl/render.h"

namespace fleet::cli {

namespace ctl = ::fleet::control::v1;

std::string Commands::Json(const google::protobuf::Message& m, bool one_line) const {
  return g_.protojson ? ToJson(m, one_line) : OperatorJson(m, one_line);
}

std::unique_ptr<ctl::FleetControl::Stub> Commands::Stub(int* code) {
  auto stub = Connect(g_.run_dir);
  if (!stub.ok() && stub.status().code() == absl::StatusCode::kUnavailable &&
      !(g_.places.size() == 1 && g_.places[0].from == "--run-dir")) {
    *code =
        Fail(kUnreachable,
             absl::StrCat("fleetd is not running: no control socket in ", DescribePlaces(g_.places),
                          "; start it with `fleetd --config PATH`, or name the fleet with "
                          "-c FILE or --run-dir DIR"));
    return nullptr;
  }
  if (!stub.ok()) {
    *code =
        Fail(stub.status().code() == absl::StatusCode::kPermissionDenied ? kFailed : kUnreachable,
             std::string(stub.status().message()));
    return nullptr;
  }
  return *std::move(stub);
}

}  // namespace fleet::cli
