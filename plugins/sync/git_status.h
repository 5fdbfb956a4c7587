// What a Git operation's failure says to an operator.
#ifndef FLEET_PLUGINS_SYNC_GIT_STATUS_H_
#define FLEET_PLUGINS_SYNC_GIT_STATUS_H_

#include <string>

namespace fleet::plugins::sync {

// What went wrong, as an operator reads it ("fetch origin: ..."); empty = ok.
struct GitStatus {
  std::string error;
  // The remote could not be reached (clone, fetch or push failed in
  // transport): local work is intact, trying again later may succeed.
  bool remote = false;
  bool ok() const { return error.empty(); }
};

}  // namespace fleet::plugins::sync

#endif  // FLEET_PLUGINS_SYNC_GIT_STATUS_H_
