// fleetd's own log: one line per event on stderr, with wall time and severity.
// Thread-safe: each line is a single write(2).
#ifndef FLEET_CORE_LOG_LOG_H_
#define FLEET_CORE_LOG_LOG_H_

#include <string_view>

namespace fleet::log {

enum class Severity { kInfo, kWarning, kError };

// Writes "2026-11-22T05:39:03.123Z fleetd[42] WARN message\n" to stderr.
void Write(Severity severity, std::string_view message);

inline void Info(std::string_view message) { Write(Severity::kInfo, message); }
inline void Warning(std::string_view message) { Write(Severity::kWarning, message); }
inline void Error(std::string_view message) { Write(Severity::kError, message); }

// The name printed after the time ("fleetd" by default).
void SetProgramName(std::string_view name);

}  // namespace fleet::log

#endif  // FLEET_CORE_LOG_LOG_H_
