#include "core/log/log.h"

#include <unistd.h>

#include <string>

#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "absl/time/time.h"

namespace fleet::log {
namespace {

std::string& ProgramName() {
  static std::string* name = new std::string("fleetd");
  return *name;
}

const char* SeverityName(Severity severity) {
  switch (severity) {
    case Severity::kInfo:
      return "INFO";
    case Severity::kWarning:
      return "WARN";
    case Severity::kError:
      return "ERROR";
  }
  return "?";
}

}  // namespace

void SetProgramName(absl::string_view name) { ProgramName() = std::string(name); }

void Write(Severity severity, absl::string_view message) {
  std::string line = absl::StrCat(
      absl::FormatTime("%Y-%m-%dT%H:%M:%E3SZ", absl::Now(), absl::UTCTimeZone()), " ",
      ProgramName(), "[", getpid(), "] ", SeverityName(severity), " ", message, "\n");
  // One write per line keeps lines whole when threads log at once.
  const char* data = line.data();
  size_t left = line.size();
  while (left > 0) {
    ssize_t n = ::write(STDERR_FILENO, data, left);
    if (n <= 0) return;  // stderr gone: nothing sensible to do.
    data += n;
    left -= static_cast<size_t>(n);
  }
}

}  // namespace fleet::log
