// What an HTTP probe reads back from a worker's server.
#include <cstdint>
#include <string>

#include "plugins/health/probes.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  (void)fleet::plugins::health::JudgeHttpAnswer(
      std::string(reinterpret_cast<const char*>(data), size));
  return 0;
}
