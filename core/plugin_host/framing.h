// The byte protocol between fleetd and a plugin helper process: the same
// fleet_bytes as the C ABI, as length-prefixed frames on a pipe.
//   frame := u32 tag (method, or a status code in answers) | u32 length | bytes
#ifndef FLEET_CORE_PLUGIN_HOST_FRAMING_H_
#define FLEET_CORE_PLUGIN_HOST_FRAMING_H_

#include <cstdint>
#include <string>

#include "absl/status/statusor.h"
#include "absl/time/time.h"

namespace fleet::plugin_host {

struct Frame {
  uint32_t tag = 0;
  std::string bytes;
};

// Tag of the first host->helper frame (its bytes: the create() config).
inline constexpr uint32_t kCreateTag = 0;
// Frames larger than this are refused (a plugin's garbage must not exhaust fleetd).
inline constexpr uint32_t kMaxFrameBytes = 16 << 20;

absl::Status WriteFrame(int fd, const Frame& frame);
// Waits up to timeout (infinite: block). kDeadlineExceeded on timeout,
// kUnavailable at EOF (the other side is gone), kDataLoss for a bad frame.
absl::StatusOr<Frame> ReadFrame(int fd, absl::Duration timeout);

}  // namespace fleet::plugin_host

#endif  // FLEET_CORE_PLUGIN_HOST_FRAMING_H_
