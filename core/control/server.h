// The control server: gRPC on the unix socket in the run directory. fleet
// accepts each connection itself to check the peer's uid (SO_PEERCRED: only
// fleetd's own uid and root) before handing it to gRPC, since gRPC passes no
// peer credentials to handlers on unix sockets.
#ifndef FLEET_CORE_CONTROL_SERVER_H_
#define FLEET_CORE_CONTROL_SERVER_H_

#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "absl/status/status.h"
#include "core/control/peer_book.h"
#include "core/supervisor/event_log.h"
#include "core/control/features.h"
#include "core/supervisor/supervisor.h"
#include "proto/fleet/control/v1/control.pb.h"

namespace grpc {
class Server;
class Service;
}  // namespace grpc

namespace fleet::control {

// Start() and Stop() from one thread (fleetd's main).
class ControlServer {
 public:
  ControlServer(supervisor::Supervisor* supervisor, ControlFeatures features,
                supervisor::EventLog* events, std::string run_dir,
                std::vector<fleet::control::v1::PluginInfo> plugins = {});
  ~ControlServer();

  // Binds <run_dir>/ctl/fleetd.sock (0600, directory 0700) and starts serving.
  // REQUIRES: the caller holds the run directory's lock (a stale socket file is
  // removed). Errors name the socket path.
  absl::Status Start();
  // Stops accepting, cancels streams, waits for handlers (bounded).
  void Stop();

  const std::string& socket_path() const { return socket_path_; }

 private:
  void AcceptLoop();

  supervisor::Supervisor* supervisor_;
  ControlFeatures features_;
  supervisor::EventLog* events_;
  std::string run_dir_;
  std::string socket_path_;
  std::vector<fleet::control::v1::PluginInfo> plugins_;
  PeerBook peers_;
  std::unique_ptr<grpc::Service> service_;
  std::unique_ptr<grpc::Server> server_;
  int listen_fd_ = -1;
  int stop_fd_ = -1;
  std::thread accept_thread_;
};

}  // namespace fleet::control

#endif  // FLEET_CORE_CONTROL_SERVER_H_
