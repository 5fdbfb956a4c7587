// A shell command's standard output and error, and its exit status, for
// tests that ask a real tool (systemd-analyze, node) about what was
// exported. testonly.
#ifndef FLEET_CORE_EXPORT_COMMAND_OUTPUT_H_
#define FLEET_CORE_EXPORT_COMMAND_OUTPUT_H_

#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/wait.h>

#include <string>

namespace fleet::exporting {

struct CommandOutput {
  int exit_code = -1;  // -1: it could not be run, or a signal ended it
  std::string text;    // stdout and stderr, interleaved
};

inline CommandOutput RunCommand(const std::string& command) {
  CommandOutput out;
  FILE* pipe = popen((command + " 2>&1").c_str(), "r");
  if (pipe == nullptr) return out;
  char buffer[4096];
  size_t n;
  while ((n = fread(buffer, 1, sizeof(buffer), pipe)) > 0) out.text.append(buffer, n);
  const int status = pclose(pipe);
  out.exit_code = status != -1 && WIFEXITED(status) ? WEXITSTATUS(status) : -1;
  return out;
}

// The real path of a runfile ("demo/fleet.yaml": the file in the source
// tree, so what sits beside it is found too), or "" when it is missing.
inline std::string RunfileRealPath(const std::string& runfile) {
  char real[PATH_MAX];
  const std::string path = std::string(getenv("TEST_SRCDIR")) + "/" +
                           std::string(getenv("TEST_WORKSPACE")) + "/" + runfile;
  return realpath(path.c_str(), real) != nullptr ? std::string(real) : "";
}

}  // namespace fleet::exporting

#endif  // FLEET_CORE_EXPORT_COMMAND_OUTPUT_H_
