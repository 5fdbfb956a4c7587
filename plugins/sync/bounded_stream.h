// Every network conversation libgit2 has (git://, http://, and https://,
// whose TLS runs over the plain stream) goes through a socket stream of our
// own: connect gives up after the silence limit, a read or write that waits
// longer than it fails, and so does any once the operation's budget is spent.
// libgit2 1.5 has no timeout of its own: a remote that accepts the
// connection and never answers held a sync (and the instance waiting on it)
// forever. ssh goes through libssh2 and file:// has no socket: neither is
// covered here.
#ifndef FLEET_PLUGINS_SYNC_BOUNDED_STREAM_H_
#define FLEET_PLUGINS_SYNC_BOUNDED_STREAM_H_

#include <chrono>
#include <cstdint>

namespace fleet::plugins::sync {

// Registers the stream with libgit2 (once per process; later calls do
// nothing). Returns libgit2's error code, 0 on success.
int RegisterBoundedStream();

// Limits for the network I/O of the calling thread, for its lifetime
// (one sync operation).
class NetworkLimits {
 public:
  // silence: the longest wait for a connect, a read or a write;
  // budget: all of the operation's network I/O. Zero: the default.
  NetworkLimits(std::chrono::milliseconds silence, std::chrono::milliseconds budget);
  ~NetworkLimits();
  NetworkLimits(const NetworkLimits&) = delete;
  NetworkLimits& operator=(const NetworkLimits&) = delete;
};

inline constexpr std::chrono::milliseconds kDefaultSilence{30000};
inline constexpr std::chrono::milliseconds kDefaultBudget{300000};

}  // namespace fleet::plugins::sync

#endif  // FLEET_PLUGINS_SYNC_BOUNDED_STREAM_H_
