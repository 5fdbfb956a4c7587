// Whether a state file still means something after a merge: a JSON file must
// parse as JSON and a YAML file as YAML, or the merge is refused (a rule's
// line-level union can glue two documents into nonsense).
#ifndef FLEET_PLUGINS_SYNC_STATE_FILE_CHECK_H_
#define FLEET_PLUGINS_SYNC_STATE_FILE_CHECK_H_

#include <string>

namespace fleet::plugins::sync {

// "" when content is fine for path's kind (by extension: .json, .yaml,
// .yml; other files are not checked); else why not, with the position.
std::string StateFileError(const std::string& path, const std::string& content);

}  // namespace fleet::plugins::sync

#endif  // FLEET_PLUGINS_SYNC_STATE_FILE_CHECK_H_
