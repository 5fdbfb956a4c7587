// The fleet file: YAML -> FleetConfig, validated (every error must be a
// clean status with file:line:column, never a crash, a hang or a blow-up).
#include <cstdint>
#include <string>

#include "core/config/loader.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string yaml(reinterpret_cast<const char*>(data), size);
  (void)fleet::config::LoadConfigFromString(yaml, "fleet.yaml", "/nonexistent");
  return 0;
}
