// What the built-in health checks look at: /proc, PSI, and loopback probes.
// Standard library and POSIX only, like any third-party plugin.
#ifndef FLEET_PLUGINS_HEALTH_PROBES_H_
#define FLEET_PLUGINS_HEALTH_PROBES_H_

#include <sys/types.h>

#include <cstdint>
#include <optional>
#include <string>

namespace fleet::plugins::health {

// The state letter of /proc/PID/stat ('R', 'S', 'T' stopped, 'Z' zombie...),
// or nullopt when the process does not exist.
std::optional<char> ProcessState(pid_t pid);

// utime + stime of pid in clock ticks, or nullopt.
std::optional<uint64_t> CpuTicks(pid_t pid);

// True when some process's command line contains needle.
bool AnyProcessMatches(const std::string& needle);

// PSI "some avg10" CPU pressure in percent, or nullopt where the kernel has no PSI.
std::optional<double> CpuPressure();

// Empty on success, else why ("connection refused", "timed out after 1s").
std::string TcpProbe(const std::string& host, uint16_t port, int timeout_ms);
// Empty when GET answers 2xx or 3xx, else why ("HTTP 503", "timed out...").
std::string HttpProbe(const std::string& host, uint16_t port, const std::string& path,
                      int timeout_ms);

// "45s", "21m", "2h3m": as operators read durations in a reason.
std::string HumanMillis(int64_t millis);

// What an HTTP probe makes of the answer's first bytes (a worker's server
// writes them): "" for a 2xx or 3xx status line, else why not.
std::string JudgeHttpAnswer(const std::string& reply);

}  // namespace fleet::plugins::health

#endif  // FLEET_PLUGINS_HEALTH_PROBES_H_
