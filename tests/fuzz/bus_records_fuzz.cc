// Task and result files as a worker writes them (JSON), read back through
// the bus's one codec; what parses must print again.
#include <cstdint>
#include <string>

#include "core/bus/json_codec.h"
#include "proto/fleet/bus/v1/bus.pb.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string json(reinterpret_cast<const char*>(data), size);
  fleet::bus::v1::ResultFile result;
  if (fleet::bus::FromJson(json, &result).ok()) (void)fleet::bus::ToJsonLine(result);
  fleet::bus::v1::TaskFile task;
  if (fleet::bus::FromJson(json, &task).ok()) (void)fleet::bus::ToJsonLine(task);
  return 0;
}
