// The byte protocol from a plugin helper process: whatever it writes on its
// pipe is read as frames until the decoder refuses or runs dry.
#include <fcntl.h>
#include <unistd.h>

#include <cstdint>

#include "core/plugin_host/framing.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size > 60000) return 0;  // Fits the pipe without a reader.
  int fds[2];
  if (::pipe2(fds, O_CLOEXEC) != 0) return 0;
  (void)!::write(fds[1], data, size);
  ::close(fds[1]);
  for (int i = 0; i < 100; ++i) {
    if (!fleet::plugin_host::ReadFrame(fds[0], absl::ZeroDuration()).ok()) break;
  }
  ::close(fds[0]);
  return 0;
}
