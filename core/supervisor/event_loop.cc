#include "core/supervisor/event_loop.h"

#include <errno.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/signalfd.h>
#include <unistd.h>

#include <bitset>

#include "absl/strings/str_cat.h"
#include "core/log/log.h"

namespace fleet::supervisor {
namespace {

// epoll data of the loop's own descriptors. A watch carries its FdWatch's
// address with the low bit set; the caller's carry even addresses >= 8.
constexpr uint64_t kTagSignal = 2;
constexpr uint64_t kTagWake = 4;

absl::Status Add(int epoll_fd, int fd, uint64_t data) {
  epoll_event ev{};
  ev.events = EPOLLIN;
  ev.data.u64 = data;
  if (::epoll_ctl(epoll_fd, EPOLL_CTL_ADD, fd, &ev) != 0) {
    return absl::ErrnoToStatus(errno, absl::StrCat("epoll_ctl(ADD, ", fd, ")"));
  }
  return absl::OkStatus();
}

}  // namespace

EventLoop::~EventLoop() {
  for (int fd : {epoll_fd_, signal_fd_, wake_fd_}) {
    if (fd >= 0) ::close(fd);
  }
}

absl::Status EventLoop::Init(const sigset_t& signals) {
  epoll_fd_ = ::epoll_create1(EPOLL_CLOEXEC);
  if (epoll_fd_ < 0) return absl::ErrnoToStatus(errno, "epoll_create1");
  signal_fd_ = ::signalfd(-1, &signals, SFD_CLOEXEC | SFD_NONBLOCK);
  if (signal_fd_ < 0) return absl::ErrnoToStatus(errno, "signalfd");
  wake_fd_ = ::eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
  if (wake_fd_ < 0) return absl::ErrnoToStatus(errno, "eventfd");
  if (absl::Status s = Add(epoll_fd_, signal_fd_, kTagSignal); !s.ok()) return s;
  return Add(epoll_fd_, wake_fd_, kTagWake);
}

absl::Status EventLoop::Watch(int fd, std::function<void()> on_readable, bool quiet) {
  auto watch = std::make_unique<FdWatch>(FdWatch{fd, std::move(on_readable), quiet});
  if (absl::Status s = Add(epoll_fd_, fd, reinterpret_cast<uint64_t>(watch.get()) | 1); !s.ok()) {
    return s;
  }
  watches_[fd] = std::move(watch);
  return absl::OkStatus();
}

void EventLoop::Unwatch(int fd) {
  auto it = watches_.find(fd);
  if (it == watches_.end()) return;
  ::epoll_ctl(epoll_fd_, EPOLL_CTL_DEL, fd, nullptr);
  it->second->on_readable = nullptr;
  unwatched_.push_back(std::move(it->second));
  watches_.erase(it);
}

bool EventLoop::Wait(int timeout_ms, const Handlers& handlers) {
  epoll_event events[64];
  const int n = ::epoll_wait(epoll_fd_, events, 64, timeout_ms);
  if (n < 0 && errno != EINTR) log::Error(absl::StrCat("epoll_wait: ", strerror(errno)));
  if (handlers.on_wake) handlers.on_wake();
  bool happened = false;
  for (int i = 0; i < n; ++i) {
    const uint64_t data = events[i].data.u64;
    if (data == kTagSignal) {
      ReadSignals(handlers);
      happened = true;
    } else if (data == kTagWake) {
      RunPosted();
      happened = true;
    } else if (data & 1) {
      FdWatch* watch = reinterpret_cast<FdWatch*>(data & ~uint64_t{1});
      if (!watch->on_readable) continue;  // Unwatched in this batch.
      watch->on_readable();
      happened = happened || !watch->quiet;
    } else {
      handlers.on_ready(events[i].data.ptr, events[i].events);
    }
  }
  unwatched_.clear();
  return happened;
}

void EventLoop::ReadSignals(const Handlers& handlers) {
  std::bitset<NSIG> arrived;
  signalfd_siginfo info;
  while (::read(signal_fd_, &info, sizeof(info)) == sizeof(info)) {
    if (info.ssi_signo < NSIG) arrived.set(info.ssi_signo);
  }
  for (int sig = 1; sig < NSIG; ++sig) {
    if (arrived.test(sig)) handlers.on_signal(sig);
  }
}

void EventLoop::RunPosted() {
  uint64_t count;
  (void)::read(wake_fd_, &count, sizeof(count));
  std::vector<std::function<void()>> work;
  {
    fleet::MutexLock lock(&post_mu_);
    work.swap(posted_);
  }
  for (auto& fn : work) fn();
}

bool EventLoop::Post(std::function<void()> fn) {
  {
    fleet::MutexLock lock(&post_mu_);
    if (finished_) return false;
    posted_.push_back(std::move(fn));
  }
  uint64_t one = 1;
  (void)::write(wake_fd_, &one, sizeof(one));
  return true;
}

void EventLoop::Finish() {
  std::vector<std::function<void()>> last;
  {
    fleet::MutexLock lock(&post_mu_);
    finished_ = true;
    last.swap(posted_);
  }
  for (auto& fn : last) fn();
}

size_t EventLoop::queued() const {
  fleet::MutexLock lock(&post_mu_);
  return posted_.size();
}

}  // namespace fleet::supervisor
