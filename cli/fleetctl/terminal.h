// The terminal for `fleetctl top`: the alternate screen, no cursor, keys
// read one at a time without echo; all put back on exit, Ctrl-C included.
#ifndef FLEET_CLI_FLEETCTL_TERMINAL_H_
#define FLEET_CLI_FLEETCTL_TERMINAL_H_

#include <termios.h>

#include "absl/time/time.h"

namespace fleet::cli {

class TerminalMode {
 public:
  // on: false leaves the terminal alone (not a terminal, or --once).
  explicit TerminalMode(bool on);
  ~TerminalMode() { Restore(); }
  TerminalMode(const TerminalMode&) = delete;
  TerminalMode& operator=(const TerminalMode&) = delete;

  void Restore();
  // Waits up to `wait` for a key; true when it was q (or Q).
  bool WaitForQuit(absl::Duration wait);

 private:
  static inline TerminalMode* active_ = nullptr;  // For the SIGINT handler.
  bool on_;
  termios saved_{};
};

}  // namespace fleet::cli

#endif  // FLEET_CLI_FLEETCTL_TERMINAL_H_
