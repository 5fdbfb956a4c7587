// Judging an intelligence run's answer (its stdout): the declared checks
// (format, required keys, patterns, length) and whether the CLI said it was
// rate limited. Pure functions; the judge command and delivery are the
// supervisor's.
#ifndef FLEET_CORE_INTEL_ANSWER_CHECK_H_
#define FLEET_CORE_INTEL_ANSWER_CHECK_H_

#include <string>

#include "absl/status/status.h"
#include "proto/fleet/config/v1/config.pb.h"

namespace fleet::intel {

// "" when `answer` passes every check of `output`; else the first failure,
// said for the operator ("not valid JSON (line 1 column 9: ...)",
// "required key 'summary' is missing", "matches must_not_match '(?i)as an
// ai'", "4 bytes, below min_length 10").
std::string CheckAnswer(const fleet::config::v1::Output& output, const std::string& answer);

// Whether a run that exited with `exit_code` (-1: killed by a signal) and
// wrote `text` (its answer and the tail of its stderr) was rate limited.
bool RateLimited(const fleet::config::v1::Budget& budget, int exit_code, const std::string& text);

// A regular expression as the config gives it: an error says why it does
// not compile (validated at load, so runs never meet a bad one).
absl::Status CheckPattern(const std::string& pattern);

}  // namespace fleet::intel

#endif  // FLEET_CORE_INTEL_ANSWER_CHECK_H_
