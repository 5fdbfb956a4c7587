#include "core/metrics/http_listener.h"

#include <errno.h>
#include <fcntl.h>
#include <netdb.h>
#include <poll.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include <cstring>
#include <vector>

#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "absl/time/clock.h"

namespace fleet::metrics {
namespace {

std::string Response(absl::string_view status, absl::string_view content_type,
                     absl::string_view body, bool head_only) {
  return absl::StrCat("HTTP/1.1 ", status, "\r\nContent-Type: ", content_type,
                      "\r\nContent-Length: ", body.size(), "\r\nConnection: close\r\n\r\n",
                      head_only ? "" : body);
}

std::string Plain(absl::string_view status, absl::string_view body, bool head_only = false) {
  return Response(status, "text/plain; charset=utf-8", body, head_only);
}

absl::StatusOr<int> ListenUnix(const std::string& path) {
  sockaddr_un addr{};
  if (path.size() >= sizeof(addr.sun_path)) {
    return absl::InvalidArgumentError(
        absl::StrCat("metrics listen: the path ", path, " is too long for a unix socket"));
  }
  struct stat st;
  if (::lstat(path.c_str(), &st) == 0) {
    if (!S_ISSOCK(st.st_mode)) {
      return absl::AlreadyExistsError(
          absl::StrCat("metrics listen: ", path, " exists and is not a socket; not replaced"));
    }
    ::unlink(path.c_str());  // A socket a previous fleetd left.
  }
  int fd = ::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
  if (fd < 0) return absl::ErrnoToStatus(errno, "metrics listen: socket");
  addr.sun_family = AF_UNIX;
  std::memcpy(addr.sun_path, path.c_str(), path.size());
  const mode_t old = ::umask(0117);  // 0660: the owner and its group (a prometheus user in it).
  const int bound = ::bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof(addr));
  ::umask(old);
  if (bound != 0 || ::listen(fd, 64) != 0) {
    const int error = errno;
    ::close(fd);
    return absl::ErrnoToStatus(error, absl::StrCat("metrics listen: ", path));
  }
  return fd;
}

absl::StatusOr<std::pair<int, std::string>> ListenTcp(const std::string& listen) {
  const size_t colon = listen.rfind(':');
  uint32_t port = 0;
  if (colon == std::string::npos || !absl::SimpleAtoi(listen.substr(colon + 1), &port) ||
      port > 65535) {
    return absl::InvalidArgumentError(
        absl::StrCat("metrics listen: '", listen,
                     "' is neither HOST:PORT (127.0.0.1:9464) nor an absolute "
                     "path (a unix socket)"));
  }
  std::string host = listen.substr(0, colon);
  if (absl::StartsWith(host, "[") && absl::EndsWith(host, "]"))
    host = host.substr(1, host.size() - 2);
  addrinfo hints{};
  hints.ai_family = AF_UNSPEC;
  hints.ai_socktype = SOCK_STREAM;
  hints.ai_flags = AI_PASSIVE | AI_NUMERICSERV;
  addrinfo* found = nullptr;
  const int rc = ::getaddrinfo(host.empty() ? nullptr : host.c_str(), std::to_string(port).c_str(),
                               &hints, &found);
  if (rc != 0) {
    return absl::InvalidArgumentError(
        absl::StrCat("metrics listen: '", host, "': ", ::gai_strerror(rc)));
  }
  absl::Status last = absl::UnavailableError("no address");
  for (addrinfo* a = found; a != nullptr; a = a->ai_next) {
    int fd = ::socket(a->ai_family, a->ai_socktype | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
    if (fd < 0) continue;
    int one = 1;
    ::setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
    if (::bind(fd, a->ai_addr, a->ai_addrlen) != 0 || ::listen(fd, 64) != 0) {
      last = absl::ErrnoToStatus(errno, absl::StrCat("metrics listen: ", listen));
      ::close(fd);
      continue;
    }
    sockaddr_storage bound{};
    socklen_t len = sizeof(bound);
    ::getsockname(fd, reinterpret_cast<sockaddr*>(&bound), &len);
    char name[NI_MAXHOST], serv[NI_MAXSERV];
    std::string address = listen;
    if (::getnameinfo(reinterpret_cast<sockaddr*>(&bound), len, name, sizeof(name), serv,
                      sizeof(serv), NI_NUMERICHOST | NI_NUMERICSERV) == 0) {
      address = bound.ss_family == AF_INET6 ? absl::StrCat("[", name, "]:", serv)
                                            : absl::StrCat(name, ":", serv);
    }
    ::freeaddrinfo(found);
    return std::make_pair(fd, address);
  }
  ::freeaddrinfo(found);
  return last;
}

// After its answer, a connection is shut for writing and what the client
// still sends is read away for this long: closing with unread input would
// reset the connection, and the client could lose the answer (a 431 to a
// client still sending its huge head).
constexpr absl::Duration kLinger = absl::Seconds(1);

struct Connection {
  enum Phase { kReading, kWriting, kDraining };
  int fd;
  absl::Time deadline;
  Phase phase = kReading;
  std::string in;
  std::string out;
  size_t written = 0;
};

}  // namespace

std::string Respond(absl::string_view head, const HttpListener::Handler& handler) {
  const size_t eol = head.find("\r\n");
  std::vector<absl::string_view> request =
      absl::StrSplit(head.substr(0, eol), ' ', absl::SkipEmpty());
  if (request.size() != 3 || !absl::StartsWith(request[2], "HTTP/1.")) {
    return Plain("400 Bad Request", "not an HTTP/1.x request\n");
  }
  const bool head_only = request[0] == "HEAD";
  if (request[0] != "GET" && !head_only) {
    return Plain("405 Method Not Allowed", "only GET and HEAD\n");
  }
  absl::string_view path = request[1];
  path = path.substr(0, path.find('?'));
  if (path == "/healthz") {
    return handler.healthy()
               ? Plain("200 OK", "ok\n", head_only)
               : Plain("503 Service Unavailable", "fleetd's loop is not answering\n", head_only);
  }
  if (path == "/metrics") {
    std::string accept;
    for (absl::string_view line : absl::StrSplit(head.substr(eol + 2), "\r\n")) {
      const size_t colon = line.find(':');
      if (colon != absl::string_view::npos &&
          absl::EqualsIgnoreCase(line.substr(0, colon), "accept")) {
        accept = std::string(absl::StripAsciiWhitespace(line.substr(colon + 1)));
      }
    }
    const Format format = FormatFor(accept);
    std::optional<std::string> body = handler.metrics(format);
    if (!body.has_value()) {
      return Plain("503 Service Unavailable", "fleetd's loop is not answering\n", head_only);
    }
    return Response("200 OK", ContentType(format), *body, head_only);
  }
  if (path == "/") {
    return Response("200 OK", "text/html; charset=utf-8",
                    "<html><body><a href=\"/metrics\">/metrics</a> "
                    "<a href=\"/healthz\">/healthz</a></body></html>\n",
                    head_only);
  }
  return Plain("404 Not Found", "fleetd serves /metrics and /healthz\n", head_only);
}

absl::StatusOr<std::unique_ptr<HttpListener>> HttpListener::Start(const std::string& listen,
                                                                  Handler handler) {
  int fd = -1;
  std::string address, unix_path;
  if (absl::StartsWith(listen, "/")) {
    absl::StatusOr<int> bound = ListenUnix(listen);
    if (!bound.ok()) return bound.status();
    fd = *bound;
    address = unix_path = listen;
  } else {
    absl::StatusOr<std::pair<int, std::string>> bound = ListenTcp(listen);
    if (!bound.ok()) return bound.status();
    std::tie(fd, address) = *bound;
  }
  std::unique_ptr<HttpListener> listener(
      new HttpListener(fd, std::move(address), std::move(unix_path), std::move(handler)));
  if (listener->stop_fd_ < 0) return absl::ErrnoToStatus(errno, "metrics listen: eventfd");
  listener->thread_ = std::thread([l = listener.get()] { l->Serve(); });
  return listener;
}

HttpListener::HttpListener(int fd, std::string address, std::string unix_path, Handler handler)
    : listen_fd_(fd),
      address_(std::move(address)),
      unix_path_(std::move(unix_path)),
      handler_(std::move(handler)),
      stop_fd_(::eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK)) {}

HttpListener::~HttpListener() {
  if (thread_.joinable()) {
    uint64_t one = 1;
    (void)::write(stop_fd_, &one, sizeof(one));
    thread_.join();
  }
  ::close(listen_fd_);
  if (stop_fd_ >= 0) ::close(stop_fd_);
  if (!unix_path_.empty()) ::unlink(unix_path_.c_str());
}

void HttpListener::Serve() {
  std::vector<Connection> conns;
  for (;;) {
    std::vector<pollfd> fds = {{stop_fd_, POLLIN, 0}};
    // At the limit, new connections wait in the backlog.
    if (conns.size() < kMaxConnections) fds.push_back({listen_fd_, POLLIN, 0});
    const size_t first_conn = fds.size();
    absl::Time next = absl::InfiniteFuture();
    for (const Connection& c : conns) {
      fds.push_back(
          {c.fd, static_cast<short>(c.phase == Connection::kWriting ? POLLOUT : POLLIN), 0});
      next = std::min(next, c.deadline);
    }
    const int timeout = next == absl::InfiniteFuture()
                            ? -1
                            : static_cast<int>(std::max<int64_t>(
                                  0, absl::ToInt64Milliseconds(next - absl::Now()) + 1));
    if (::poll(fds.data(), fds.size(), timeout) < 0 && errno != EINTR) return;
    if (fds[0].revents != 0) break;
    for (size_t i = 0; i < conns.size(); ++i) {
      Connection& c = conns[i];
      const short revents = fds[first_conn + i].revents;
      if (revents == 0) continue;
      if (c.phase == Connection::kWriting) {
        const ssize_t n = ::send(c.fd, c.out.data() + c.written, c.out.size() - c.written,
                                 MSG_NOSIGNAL | MSG_DONTWAIT);
        if (n > 0) c.written += static_cast<size_t>(n);
        if (n < 0 && errno != EAGAIN && errno != EINTR) c.deadline = absl::InfinitePast();
        if (c.written == c.out.size()) {
          ::shutdown(c.fd, SHUT_WR);
          c.phase = Connection::kDraining;
          c.deadline = absl::Now() + kLinger;
        }
        continue;
      }
      char buffer[4096];
      const ssize_t n = ::read(c.fd, buffer, sizeof(buffer));
      if (n == 0 || (n < 0 && errno != EAGAIN && errno != EINTR)) {
        c.deadline = absl::InfinitePast();  // Gone (before asking, or after the answer).
        continue;
      }
      if (n < 0 || c.phase == Connection::kDraining) continue;
      c.in.append(buffer, static_cast<size_t>(n));
      const size_t end = c.in.find("\r\n\r\n");
      if (end != std::string::npos) {
        c.out = Respond(absl::string_view(c.in).substr(0, end + 4), handler_);
      } else if (c.in.size() > kMaxRequestHead) {
        c.out = Plain("431 Request Header Fields Too Large",
                      absl::StrCat("a request head is at most ", kMaxRequestHead, " bytes\n"));
      } else {
        continue;
      }
      c.in.clear();
      c.phase = Connection::kWriting;
      c.deadline = absl::Now() + kClientDeadline;  // For the answer, after the render.
    }
    // Done, failed or past their deadline: closed.
    const absl::Time now = absl::Now();
    for (auto it = conns.begin(); it != conns.end();) {
      if (it->deadline <= now) {
        ::close(it->fd);
        it = conns.erase(it);
      } else {
        ++it;
      }
    }
    if (fds.size() > 1 && fds[1].fd == listen_fd_ && (fds[1].revents & POLLIN)) {
      while (conns.size() < kMaxConnections) {
        const int fd = ::accept4(listen_fd_, nullptr, nullptr, SOCK_CLOEXEC | SOCK_NONBLOCK);
        if (fd < 0) break;
        conns.push_back(Connection{fd, absl::Now() + kClientDeadline});
      }
    }
  }
  for (Connection& c : conns) ::close(c.fd);
}

}  // namespace fleet::metrics
