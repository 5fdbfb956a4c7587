// fleetd with a faulty Env (tests/fakes/fault_env.h), for the N-th-failure
// sweep. FLEET_FAULT=OP:N fails the N-th OP (open, read, write, fsync,
// rename, unlink, mkdir) with EIO; FLEET_FAULT_COUNTS=PATH gets one line
// "OP COUNT" per kind and "fired 0|1" when fleetd returns. The pipe keeper
// it starts (this binary again) runs without faults.
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>

#include <cstdint>
#include <string>

#include "absl/strings/numbers.h"
#include "absl/strings/str_split.h"
#include "core/daemon/fleetd_main.h"
#include "core/os/env.h"
#include "tests/fakes/fault_env.h"

namespace {

using fleet::os::EnvOp;

bool ParseOp(absl::string_view name, EnvOp* op) {
  for (int i = 0; i < fleet::os::kEnvOpCount; ++i) {
    if (name == fleet::os::EnvOpName(static_cast<EnvOp>(i))) {
      *op = static_cast<EnvOp>(i);
      return true;
    }
  }
  return false;
}

}  // namespace

int main(int argc, char** argv) {
  static fleet::testing::FaultEnv env(fleet::os::DefaultEnv());
  const bool keeper = argc > 1 && std::string(argv[1]) == "pipe-keeper";
  const char* fault = getenv("FLEET_FAULT");
  if (!keeper && fault != nullptr) {
    std::pair<std::string, std::string> op_n = absl::StrSplit(fault, ':');
    EnvOp op;
    uint64_t nth = 0;
    if (!ParseOp(op_n.first, &op) || !absl::SimpleAtoi(op_n.second, &nth)) {
      fprintf(stderr, "fleetd_with_faults: FLEET_FAULT=%s is not OP:N\n", fault);
      return 2;
    }
    env.FailNth(op, nth, EIO);
  }
  if (!keeper) fleet::os::SetEnvForTesting(&env);
  const int code = fleet::daemon::FleetdMain(argc, argv);
  if (const char* path = getenv("FLEET_FAULT_COUNTS"); path != nullptr && !keeper) {
    fleet::os::SetEnvForTesting(nullptr);
    if (FILE* f = fopen(path, "w")) {
      for (int i = 0; i < fleet::os::kEnvOpCount; ++i) {
        fprintf(f, "%s %llu\n", fleet::os::EnvOpName(static_cast<EnvOp>(i)),
                static_cast<unsigned long long>(env.count(static_cast<EnvOp>(i))));
      }
      fprintf(f, "fired %d\n", env.fired() ? 1 : 0);
      fclose(f);
    }
  }
  return code;
}
