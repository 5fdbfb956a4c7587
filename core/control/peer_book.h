// Who is on the other end of each control connection. fleetd accepts every
// connection itself (server.cc) and learns the caller's uid and pid from the
// kernel (SO_PEERCRED) before gRPC sees it; gRPC names such a connection
// "fd:N" in ServerContext::peer(). Commands that change the fleet are
// recorded with who sent them. Thread-safe.
#ifndef FLEET_CORE_CONTROL_PEER_BOOK_H_
#define FLEET_CORE_CONTROL_PEER_BOOK_H_

#include <sys/types.h>

#include <string>

#include "absl/container/flat_hash_map.h"
#include "core/concurrency/mutex.h"

namespace fleet::control {

class PeerBook {
 public:
  // A connection accepted on descriptor fd. A later connection on the same
  // number replaces it (the kernel reuses a number only once it is closed).
  void Remember(int fd, uid_t uid, pid_t pid);
  // "uid 1000, pid 4242 (fleetctl)" for gRPC's peer string of a connection
  // remembered here; "an unknown caller (PEER)" otherwise.
  std::string Describe(const std::string& grpc_peer) const;

 private:
  struct Peer {
    uid_t uid;
    pid_t pid;
    std::string command;  // /proc/PID/comm when it connected.
  };
  mutable fleet::Mutex mu_;
  absl::flat_hash_map<int, Peer> by_fd_ ABSL_GUARDED_BY(mu_);
};

}  // namespace fleet::control

#endif  // FLEET_CORE_CONTROL_PEER_BOOK_H_
