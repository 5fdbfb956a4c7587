// fleetd's own log: one line per event on stderr, with wall time and severity.
// Thread-safe: each line is a single write(2).
#ifndef FLEET_CORE_LOG_LOG_H_
#define FLEET_CORE_LOG_LOG_H_

#include "absl/strings/string_view.h"

namespace fleet::log {

enum class Severity { kInfo, kWarning, kError };

// Writes "2026-11-22T05:39:03.123Z fleetd[42] WARN message\n" to stderr.
void Write(Severity severity, absl::string_view message);

inline void Info(absl::string_view message) { Write(Severity::kInfo, message); }
inline void Warning(absl::string_view message) { Write(Severity::kWarning, message); }
inline void Error(absl::string_view message) { Write(Severity::kError, message); }

// The name printed after the time ("fleetd" by default).
void SetProgramName(absl::string_view name);

}  // namespace fleet::log

#endif  // FLEET_CORE_LOG_LOG_H_
