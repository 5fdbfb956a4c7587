#include "cli/fleetctl/terminal.h"

#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <unistd.h>

#include <algorithm>
#include <cstdint>

#include "absl/time/clock.h"

namespace fleet::cli {

TerminalMode::TerminalMode(bool on) : on_(on) {
  if (!on_) return;
  ::tcgetattr(STDIN_FILENO, &saved_);
  termios raw = saved_;
  raw.c_lflag &= ~static_cast<tcflag_t>(ICANON | ECHO);
  raw.c_cc[VMIN] = 0;
  raw.c_cc[VTIME] = 0;
  ::tcsetattr(STDIN_FILENO, TCSANOW, &raw);
  active_ = this;
  signal(SIGINT, [](int) {
    if (active_ != nullptr) active_->Restore();
    _exit(0);
  });
  fputs("\033[?1049h\033[?25l", stdout);
}

void TerminalMode::Restore() {
  if (!on_) return;
  on_ = false;
  ::tcsetattr(STDIN_FILENO, TCSANOW, &saved_);
  fputs("\033[?25h\033[?1049l", stdout);
  fflush(stdout);
  active_ = nullptr;
}

bool TerminalMode::WaitForQuit(absl::Duration wait) {
  pollfd in{STDIN_FILENO, POLLIN, 0};
  const absl::Time until = absl::Now() + wait;
  for (;;) {
    const int ms =
        static_cast<int>(std::max<int64_t>(0, absl::ToInt64Milliseconds(until - absl::Now())));
    if (::poll(&in, 1, ms) <= 0) return false;
    char key = 0;
    if (::read(STDIN_FILENO, &key, 1) == 1 && (key == 'q' || key == 'Q')) return true;
    if (absl::Now() >= until) return false;
  }
}

}  // namespace fleet::cli
