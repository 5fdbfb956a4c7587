// The format of a captured log (RUN_DIR/logs/ENGINE.N.log): one record per
// line of output, as the Kubernetes CRI writes container logs,
//
//   2026-12-05T15:51:59.123456Z stdout F the line as the worker wrote it
//
// the time fleetd read it (UTC, microseconds), the stream (stdout, stderr,
// or fleet for fleetd's own markers: started, exited), F for a full line or
// P for a piece of one (a read ended before its newline; the next record of
// that stream continues it), then the bytes themselves. A line of the file
// that is not a record (written there by someone else) reads as stdout text
// with no time: nothing in the file is ever lost to the reader.
#ifndef FLEET_CORE_CAPTURE_RECORD_H_
#define FLEET_CORE_CAPTURE_RECORD_H_

#include <string>

#include "absl/strings/string_view.h"
#include "absl/time/time.h"

namespace fleet::capture {

enum class Stream { kStdout, kStderr, kFleet };

absl::string_view StreamName(Stream stream);

// Appends chunk, read from stream at time arrived, as records to *out: one
// F record per line, a P record for the piece after its last newline.
void AppendRecords(Stream stream, absl::Time arrived, absl::string_view chunk, std::string* out);

// Appends one fleet record (text: one line, newlines become spaces).
void AppendMarker(absl::Time at, absl::string_view text, std::string* out);

struct Record {
  absl::Time time = absl::InfinitePast();  // InfinitePast: not known.
  Stream stream = Stream::kStdout;
  bool partial = false;
  absl::string_view text;  // Points into the parsed line.
};

// One line of a log file, without its newline.
Record ParseRecord(absl::string_view line);

}  // namespace fleet::capture

#endif  // FLEET_CORE_CAPTURE_RECORD_H_
