// A state or protected file as a worker leaves it, checked before commit:
// JSON and YAML (aliases and all), with and without required keys.
#include <cstdint>
#include <string>

#include "plugins/formats/state_file_check.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string content(reinterpret_cast<const char*>(data), size);
  for (const char* path : {"s.json", "s.yaml"}) {
    (void)fleet::plugins::formats::CheckStateFile(path, content);
    (void)fleet::plugins::formats::CheckStateFile(path, content, "", {"cash", "positions"});
  }
  return 0;
}
