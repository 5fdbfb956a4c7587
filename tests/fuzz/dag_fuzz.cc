// A work-bus DAG file (YAML or JSON), as `fleetctl bus submit` sends it.
#include <cstdint>
#include <string>

#include "core/bus/dag_file.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string text(reinterpret_cast<const char*>(data), size);
  (void)fleet::bus::LoadDagFromString(text, "dag.yaml", "/nonexistent");
  (void)fleet::bus::LoadDagFromString(text, "dag.json", "/nonexistent");
  return 0;
}
