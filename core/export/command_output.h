// A shell command's standard output and error, and its exit status, for
// tests that ask a real tool (systemd-analyze, node) about what was
// exported. testonly.
#ifndef FLEET_CORE_EXPORT_COMMAND_OUTPUT_H_
#define FLEET_CORE_EXPORT_COMMAND_OUTPUT_H_

#include <stdio.h>
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

}  // namespace fleet::exporting

#endif  // FLEET_CORE_EXPORT_COMMAND_OUTPUT_H_
