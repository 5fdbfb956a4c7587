#include "core/control/peer_book.h"

#include "absl/strings/ascii.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/strip.h"
#include "core/os/files.h"
#include "core/text/utf8.h"

namespace fleet::control {
namespace {

// The kernel caps a command name at 15 bytes; the caller chose it.
constexpr size_t kMaxCommand = 64;

}  // namespace

void PeerBook::Remember(int fd, uid_t uid, pid_t pid) {
  absl::StatusOr<std::string> comm =
      os::ReadUntrustedFileHead(absl::StrCat("/proc/", pid, "/comm"), kMaxCommand);
  std::string command = comm.ok() ? std::string(absl::StripTrailingAsciiWhitespace(*comm)) : "";
  fleet::MutexLock lock(&mu_);
  by_fd_[fd] = Peer{uid, pid, text::EscapeInvalidUtf8(command)};
}

std::string PeerBook::Describe(const std::string& grpc_peer) const {
  absl::string_view rest = grpc_peer;
  int fd = -1;
  if (absl::ConsumePrefix(&rest, "fd:") && absl::SimpleAtoi(rest, &fd)) {
    fleet::MutexLock lock(&mu_);
    auto it = by_fd_.find(fd);
    if (it != by_fd_.end()) {
      const Peer& p = it->second;
      return absl::StrCat("uid ", p.uid, ", pid ", p.pid,
                          p.command.empty() ? "" : absl::StrCat(" (", p.command, ")"));
    }
  }
  return absl::StrCat("an unknown caller (", text::EscapeInvalidUtf8(grpc_peer), ")");
}

}  // namespace fleet::control
