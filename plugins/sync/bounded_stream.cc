#include "plugins/sync/bounded_stream.h"

#include <errno.h>
#include <fcntl.h>
#include <git2.h>
#include <git2/sys/stream.h>
#include <netdb.h>
#include <poll.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <string>

namespace fleet::plugins::sync {
namespace {

using Clock = std::chrono::steady_clock;
using std::chrono::milliseconds;

struct Limits {
  milliseconds silence = kDefaultSilence;
  Clock::time_point deadline = Clock::time_point::max();
};
thread_local Limits t_limits;

struct BoundedStream {
  git_stream parent;  // First: libgit2 hands us back this pointer.
  std::string host;
  std::string port;
  int fd = -1;
};

BoundedStream* Self(git_stream* s) { return reinterpret_cast<BoundedStream*>(s); }

std::string Where(const BoundedStream& s) { return s.host + ":" + s.port; }

int Fail(const std::string& message) {
  git_error_set_str(GIT_ERROR_NET, message.c_str());
  return -1;
}

// Waits until fd is ready for `events` within the silence limit and the
// budget; 0 when ready, -1 (with libgit2's error set) otherwise.
int Await(const BoundedStream& s, short events, const char* doing) {
  const Limits& limits = t_limits;
  const Clock::time_point now = Clock::now();
  if (now >= limits.deadline) {
    return Fail("the sync's network budget ran out while " + std::string(doing) + " (" +
                Where(s) + ")");
  }
  const auto left = std::chrono::duration_cast<milliseconds>(limits.deadline - now);
  const milliseconds wait = std::min(limits.silence, left);
  pollfd p{s.fd, events, 0};
  for (;;) {
    const int rc = ::poll(&p, 1, static_cast<int>(std::max<int64_t>(1, wait.count())));
    if (rc > 0) return 0;
    if (rc < 0 && errno == EINTR) continue;
    if (rc < 0) return Fail(std::string("poll: ") + ::strerror(errno));
    if (wait < limits.silence) {
      return Fail("the sync's network budget ran out while " + std::string(doing) + " (" +
                  Where(s) + ")");
    }
    return Fail("no answer from " + Where(s) + " for " + std::to_string(wait.count()) +
                " ms while " + doing + "; given up");
  }
}

int Connect(git_stream* stream) {
  BoundedStream& s = *Self(stream);
  addrinfo hints{};
  hints.ai_family = AF_UNSPEC;
  hints.ai_socktype = SOCK_STREAM;
  addrinfo* found = nullptr;
  if (int rc = ::getaddrinfo(s.host.c_str(), s.port.c_str(), &hints, &found); rc != 0) {
    return Fail("cannot resolve " + Where(s) + ": " + ::gai_strerror(rc));
  }
  std::string last_error = "no address";
  for (addrinfo* a = found; a != nullptr; a = a->ai_next) {
    s.fd = ::socket(a->ai_family, a->ai_socktype | SOCK_CLOEXEC | SOCK_NONBLOCK, a->ai_protocol);
    if (s.fd < 0) continue;
    if (::connect(s.fd, a->ai_addr, a->ai_addrlen) == 0) break;
    if (errno == EINPROGRESS && Await(s, POLLOUT, "connecting") == 0) {
      int error = 0;
      socklen_t size = sizeof(error);
      ::getsockopt(s.fd, SOL_SOCKET, SO_ERROR, &error, &size);
      if (error == 0) break;
      last_error = ::strerror(error);
    } else {
      const git_error* e = git_error_last();
      last_error = e != nullptr && e->message != nullptr ? e->message : ::strerror(errno);
    }
    ::close(s.fd);
    s.fd = -1;
  }
  ::freeaddrinfo(found);
  if (s.fd < 0) return Fail("cannot connect to " + Where(s) + ": " + last_error);
  return 0;
}

ssize_t Read(git_stream* stream, void* data, size_t len) {
  BoundedStream& s = *Self(stream);
  for (;;) {
    const ssize_t n = ::recv(s.fd, data, len, 0);
    if (n >= 0) return n;
    if (errno == EINTR) continue;
    if (errno != EAGAIN && errno != EWOULDBLOCK) {
      return Fail("read from " + Where(s) + ": " + ::strerror(errno));
    }
    if (Await(s, POLLIN, "reading") != 0) return -1;
  }
}

ssize_t Write(git_stream* stream, const char* data, size_t len, int /*flags*/) {
  BoundedStream& s = *Self(stream);
  for (;;) {
    const ssize_t n = ::send(s.fd, data, len, MSG_NOSIGNAL);
    if (n >= 0) return n;
    if (errno == EINTR) continue;
    if (errno != EAGAIN && errno != EWOULDBLOCK) {
      return Fail("write to " + Where(s) + ": " + ::strerror(errno));
    }
    if (Await(s, POLLOUT, "writing") != 0) return -1;
  }
}

int Close(git_stream* stream) {
  BoundedStream& s = *Self(stream);
  if (s.fd >= 0) ::close(s.fd);
  s.fd = -1;
  return 0;
}

void Free(git_stream* stream) {
  Close(stream);
  delete Self(stream);
}

int Init(git_stream** out, const char* host, const char* port) {
  auto* s = new BoundedStream();
  s->parent.version = GIT_STREAM_VERSION;
  s->parent.connect = Connect;
  s->parent.read = Read;
  s->parent.write = Write;
  s->parent.close = Close;
  s->parent.free = Free;
  s->host = host;
  s->port = port;
  *out = &s->parent;
  return 0;
}

}  // namespace

int RegisterBoundedStream() {
  static const int rc = [] {
    static git_stream_registration registration = {GIT_STREAM_VERSION, Init, nullptr};
    return git_stream_register(GIT_STREAM_STANDARD, &registration);
  }();
  return rc;
}

NetworkLimits::NetworkLimits(milliseconds silence, milliseconds budget) {
  t_limits.silence = silence.count() > 0 ? silence : kDefaultSilence;
  t_limits.deadline = Clock::now() + (budget.count() > 0 ? budget : kDefaultBudget);
}

NetworkLimits::~NetworkLimits() { t_limits = Limits(); }

}  // namespace fleet::plugins::sync
