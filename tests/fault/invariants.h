// What must hold after any fault (issue 5's promise), checked against the
// real processes and files rather than against what fleetd says: every
// engine running exactly once, no empty or unparsable state file, no stale
// lock, no zombie.
#ifndef FLEET_TESTS_FAULT_INVARIANTS_H_
#define FLEET_TESTS_FAULT_INVARIANTS_H_

#include <sys/types.h>

#include <string>
#include <vector>

#include "tests/integration/fleet_harness.h"

namespace fleet::testing {

// Pids of the live process-group leaders (each instance leads its own group)
// whose environment says they are ENGINE/INDEX of the fleet in run_dir.
std::vector<pid_t> CopiesOf(const std::string& run_dir, const std::string& engine, int index);

// Every instance in `ids` ("ENGINE/N") is RUNNING, and its status pid is the
// one and only live copy of it; no other instance of the fleet runs; no lock
// under run/locks has a dead owner; no Git lock file is left in run/state;
// fleetd has no zombie children. Each broken invariant is one line.
std::vector<std::string> FleetViolations(const FleetHarness& h,
                                         const std::vector<std::string>& ids);

// The *.json files under dir (recursively) that are empty or do not parse,
// each with why.
std::vector<std::string> BadJsonFiles(const std::string& dir);

// FleetViolations() is empty within timeout (faults take a moment to heal:
// a restart's backoff, a recovery pass); the last violations otherwise.
std::vector<std::string> AwaitHealed(const FleetHarness& h, const std::vector<std::string>& ids,
                                     absl::Duration timeout);

// Whether strace runs and can trace here (fault tests that inject through it
// skip otherwise).
bool StraceWorks();

// "ENGINE/0" .. "ENGINE/n-1".
std::vector<std::string> Ids(const std::string& engine, int n);

}  // namespace fleet::testing

#endif  // FLEET_TESTS_FAULT_INVARIANTS_H_
