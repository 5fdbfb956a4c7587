#include "core/bus/ids.h"

#include <cctype>

namespace fleet::bus {

bool IsValidId(const std::string& id) {
  if (id.empty() || id.size() > kMaxId || id.find("..") != std::string::npos || id == ".") {
    return false;
  }
  for (char c : id) {
    if (!std::isalnum(static_cast<unsigned char>(c)) && c != '.' && c != '_' && c != '-') {
      return false;
    }
  }
  return true;
}

}  // namespace fleet::bus
