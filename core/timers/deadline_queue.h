// One deadline per key, earliest first: setting, clearing or taking one is
// O(log n) and the earliest is O(1), so neither the loop's sleep nor its
// timers cost a scan of every instance (issue 16: ten thousand of them).
// Not thread-safe: the owner's thread only.
#ifndef FLEET_CORE_TIMERS_DEADLINE_QUEUE_H_
#define FLEET_CORE_TIMERS_DEADLINE_QUEUE_H_

#include <optional>
#include <set>
#include <utility>
#include <vector>

#include "absl/container/flat_hash_map.h"
#include "core/os/clock.h"

namespace fleet::timers {

using os::MonoTime;

// Key: any hashable, ordered value that names what is due (a pointer the
// owner keeps alive while queued, or an id).
template <typename Key>
class DeadlineQueue {
 public:
  // Due at `due`, or not at all (nullopt); replaces what key had.
  void Set(const Key& key, std::optional<MonoTime> due) {
    auto it = due_.find(key);
    if (it != due_.end()) {
      if (due.has_value() && *due == it->second) return;
      by_time_.erase({it->second, key});
      if (!due.has_value()) {
        due_.erase(it);
        return;
      }
      it->second = *due;
    } else {
      if (!due.has_value()) return;
      due_.emplace(key, *due);
    }
    by_time_.emplace(*due, key);
  }
  void Clear(const Key& key) { Set(key, std::nullopt); }

  // The earliest deadline, if any.
  std::optional<MonoTime> Next() const {
    if (by_time_.empty()) return std::nullopt;
    return by_time_.begin()->first;
  }
  std::optional<MonoTime> DueOf(const Key& key) const {
    auto it = due_.find(key);
    if (it == due_.end()) return std::nullopt;
    return it->second;
  }

  // The keys due at or before now, earliest first, no longer queued: the
  // caller handles each and sets its next deadline.
  std::vector<Key> TakeDue(MonoTime now) {
    std::vector<Key> due;
    while (!by_time_.empty() && by_time_.begin()->first <= now) {
      due.push_back(by_time_.begin()->second);
      due_.erase(due.back());
      by_time_.erase(by_time_.begin());
    }
    return due;
  }

  size_t size() const { return due_.size(); }
  bool empty() const { return due_.empty(); }

 private:
  std::set<std::pair<MonoTime, Key>> by_time_;
  absl::flat_hash_map<Key, MonoTime> due_;
};

}  // namespace fleet::timers

#endif  // FLEET_CORE_TIMERS_DEADLINE_QUEUE_H_
