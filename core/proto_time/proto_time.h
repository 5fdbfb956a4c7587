// A config's durations (google.protobuf.Duration) as absl::Duration: the
// one conversion every reader of the config uses.
#ifndef FLEET_CORE_PROTO_TIME_PROTO_TIME_H_
#define FLEET_CORE_PROTO_TIME_PROTO_TIME_H_

#include "absl/time/time.h"
#include "google/protobuf/duration.pb.h"

namespace fleet {

inline absl::Duration FromProto(const google::protobuf::Duration& d) {
  return absl::Seconds(d.seconds()) + absl::Nanoseconds(d.nanos());
}

}  // namespace fleet

#endif  // FLEET_CORE_PROTO_TIME_PROTO_TIME_H_
