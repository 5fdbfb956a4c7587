// fleetd's metrics endpoint: a small HTTP/1.1 server for GET /metrics and
// /healthz on its own thread, never the supervision loop's. Everything a
// client can do is bounded: at most kMaxConnections at once (more wait in
// the kernel's backlog), a request head of at most 8 KiB read within 5 s,
// the answer written within 5 s, one request per connection. A slow or
// hostile client costs a slot and a few KiB until its deadline, nothing
// else.
#ifndef FLEET_CORE_METRICS_HTTP_LISTENER_H_
#define FLEET_CORE_METRICS_HTTP_LISTENER_H_

#include <atomic>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <thread>

#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "core/metrics/exposition.h"

namespace fleet::metrics {

inline constexpr int kMaxConnections = 16;
inline constexpr size_t kMaxRequestHead = 8 * 1024;
inline constexpr absl::Duration kClientDeadline = absl::Seconds(5);

class HttpListener {
 public:
  struct Handler {
    // The exposition in format; nullopt when it cannot be had (fleetd is
    // shutting down, or its loop did not answer): 503.
    std::function<std::optional<std::string>(Format)> metrics;
    // fleetd's loop answers: 200, else 503.
    std::function<bool()> healthy;
  };
  // listen: "HOST:PORT" (an address or a name; "[::1]:PORT" for IPv6; port
  // 0 picks one) or an absolute path (a unix socket, mode 0660; a stale
  // socket there is replaced, anything else is refused).
  static absl::StatusOr<std::unique_ptr<HttpListener>> Start(const std::string& listen,
                                                             Handler handler);
  ~HttpListener();  // Stops the thread; open connections are closed.

  // What it listens on: "127.0.0.1:9464", or the socket's path.
  const std::string& address() const { return address_; }

 private:
  HttpListener(int fd, std::string address, std::string unix_path, Handler handler);
  void Serve();

  const int listen_fd_;
  const std::string address_;
  const std::string unix_path_;  // removed at the end ("" for TCP)
  const Handler handler_;
  int stop_fd_ = -1;  // an eventfd: the destructor wakes the thread
  std::thread thread_;
};

// The answer to one request head (tested without sockets): the whole HTTP
// response. head: up to and including the blank line.
std::string Respond(absl::string_view head, const HttpListener::Handler& handler);

}  // namespace fleet::metrics

#endif  // FLEET_CORE_METRICS_HTTP_LISTENER_H_
