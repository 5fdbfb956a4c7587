#include "core/control/server.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <sys/eventfd.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include <chrono>
#include <cstring>

#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "core/control/service.h"
#include "core/defaults/defaults.h"
#include "core/log/log.h"
#include "core/os/files.h"
#include "grpcpp/grpcpp.h"
#include "grpcpp/server_posix.h"

namespace fleet::control {
namespace {

// Descriptors kept free for supervision: a client connection is refused
// when fewer than this many are left under RLIMIT_NOFILE.
constexpr int kSupervisionFdReserve = 64;

// The kernel hands out the lowest free descriptor, so an accepted fd numbered
// this high means (nearly) every one below it is in use. O(1), unlike
// counting /proc/self/fd on every connection.
bool FdsNearLimit(int accepted) {
  rlimit limit{};
  if (::getrlimit(RLIMIT_NOFILE, &limit) != 0 || limit.rlim_cur == RLIM_INFINITY) return false;
  return accepted + kSupervisionFdReserve >= static_cast<int64_t>(limit.rlim_cur);
}

}  // namespace

ControlServer::ControlServer(supervisor::Supervisor* supervisor, ControlFeatures features,
                             supervisor::EventLog* events, std::string run_dir,
                             std::vector<fleet::control::v1::PluginInfo> plugins)
    : supervisor_(supervisor),
      features_(features),
      events_(events),
      run_dir_(std::move(run_dir)),
      socket_path_(defaults::SocketPath(run_dir_)),
      plugins_(std::move(plugins)) {}

ControlServer::~ControlServer() { Stop(); }

absl::Status ControlServer::Start() {
  const std::string dir = defaults::ControlDir(run_dir_);
  absl::Status made = os::MakeDirs(dir, 0700);
  if (!made.ok()) return made;
  // An existing directory keeps whatever mode it had: make it 0700 now.
  if (::chmod(dir.c_str(), 0700) != 0) {
    return absl::ErrnoToStatus(errno, absl::StrCat("chmod 0700 ", dir));
  }
  sockaddr_un addr{};
  addr.sun_family = AF_UNIX;
  if (socket_path_.size() >= sizeof(addr.sun_path)) {
    return absl::InvalidArgumentError(
        absl::StrCat("control socket path ", socket_path_, " is ", socket_path_.size(),
                     " bytes; unix sockets allow ", sizeof(addr.sun_path) - 1,
                     ". Use a shorter run_dir."));
  }
  std::memcpy(addr.sun_path, socket_path_.c_str(), socket_path_.size() + 1);
  ::unlink(socket_path_.c_str());  // Stale from a dead fleetd: we hold the lock.
  listen_fd_ = ::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
  if (listen_fd_ < 0) return absl::ErrnoToStatus(errno, "socket");
  if (::bind(listen_fd_, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)) != 0) {
    return absl::ErrnoToStatus(errno, absl::StrCat("bind ", socket_path_));
  }
  // The mode would otherwise follow the umask (0777 under umask 000).
  if (::chmod(socket_path_.c_str(), 0600) != 0) {
    return absl::ErrnoToStatus(errno, absl::StrCat("chmod 0600 ", socket_path_));
  }
  if (::listen(listen_fd_, 128) != 0) {
    return absl::ErrnoToStatus(errno, absl::StrCat("listen ", socket_path_));
  }
  stop_fd_ = ::eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
  if (stop_fd_ < 0) return absl::ErrnoToStatus(errno, "eventfd");

  service_ = NewControlService(supervisor_, features_, events_, run_dir_, plugins_, &peers_);
  grpc::ServerBuilder builder;
  builder.RegisterService(service_.get());
  // A client that connects and goes quiet is let go after a while; an
  // `events -f` stream is not idle (it has an RPC in flight).
  builder.AddChannelArgument(GRPC_ARG_MAX_CONNECTION_IDLE_MS, 60 * 1000);
  // No listening port: connections arrive through AddInsecureChannelFromFd.
  server_ = builder.BuildAndStart();
  if (server_ == nullptr) return absl::InternalError("gRPC server failed to start");
  accept_thread_ = std::thread([this] { AcceptLoop(); });
  return absl::OkStatus();
}

void ControlServer::AcceptLoop() {
  const uid_t own_uid = ::getuid();
  // "out of file descriptors" once a minute with a count, not ten times a second.
  absl::Time last_fd_warning = absl::InfinitePast();
  uint64_t refused_for_fds = 0;
  for (;;) {
    pollfd fds[2] = {{listen_fd_, POLLIN, 0}, {stop_fd_, POLLIN, 0}};
    if (::poll(fds, 2, -1) < 0) {
      if (errno == EINTR) continue;
      log::Error(absl::StrCat("control socket poll: ", strerror(errno)));
      return;
    }
    if (fds[1].revents != 0) return;
    // Non-blocking: gRPC hangs on a blocking fd until the RPC's deadline.
    int fd = ::accept4(listen_fd_, nullptr, nullptr, SOCK_CLOEXEC | SOCK_NONBLOCK);
    if (fd >= 0 && FdsNearLimit(fd)) {
      // Supervision needs descriptors (pipes, pidfds) more than a client
      // does: past the reserve, connections are turned away.
      ::close(fd);
      fd = -1;
      errno = EMFILE;
    }
    if (fd < 0) {
      if (errno == EMFILE || errno == ENFILE) {
        ++refused_for_fds;
        const absl::Time now = absl::Now();
        if (now - last_fd_warning >= absl::Minutes(1)) {
          log::Warning(absl::StrCat("control socket: out of file descriptors (or into the reserve "
                                    "kept for supervision); ",
                                    refused_for_fds, " connections refused since the last warning"));
          last_fd_warning = now;
          refused_for_fds = 0;
        }
        ::poll(nullptr, 0, 100);
      }
      continue;
    }
    ucred peer{};
    socklen_t len = sizeof(peer);
    if (::getsockopt(fd, SOL_SOCKET, SO_PEERCRED, &peer, &len) != 0) {
      ::close(fd);
      continue;
    }
    if (peer.uid != own_uid && peer.uid != 0) {
      log::Warning(absl::StrCat("control socket: refused uid ", peer.uid, " (pid ", peer.pid,
                                "): only uid ", own_uid, " and root may control this fleet"));
      ::close(fd);
      continue;
    }
    peers_.Remember(fd, peer.uid, peer.pid);
    grpc::AddInsecureChannelFromFd(server_.get(), fd);
  }
}

void ControlServer::Stop() {
  if (stop_fd_ >= 0) {
    uint64_t one = 1;
    (void)::write(stop_fd_, &one, sizeof(one));
  }
  if (accept_thread_.joinable()) accept_thread_.join();
  // The socket goes first: from here on clients see "not running", and
  // `fleetctl shutdown` can tell that fleetd is done.
  if (!socket_path_.empty()) ::unlink(socket_path_.c_str());
  if (server_ != nullptr) {
    // Streams (events -f, logs -f) end on their own once the event log is
    // closed; whatever is still in flight after this is cancelled.
    server_->Shutdown(std::chrono::system_clock::now() + std::chrono::milliseconds(500));
    server_.reset();
  }
  for (int* fd : {&listen_fd_, &stop_fd_}) {
    if (*fd >= 0) ::close(*fd);
    *fd = -1;
  }
}

}  // namespace fleet::control
