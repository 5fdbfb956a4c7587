// Status helpers missing from abseil 20220623 (same names as later abseil, so
// they can be deleted when Debian's abseil catches up).
#ifndef FLEET_CORE_STATUS_MACROS_H_
#define FLEET_CORE_STATUS_MACROS_H_

#include <cstdio>
#include <cstdlib>

#include "absl/status/status.h"
#include "absl/status/statusor.h"

#define FLEET_STATUS_CONCAT_INNER_(a, b) a##b
#define FLEET_STATUS_CONCAT_(a, b) FLEET_STATUS_CONCAT_INNER_(a, b)

// Returns `expr`'s status from the current function unless it is OK.
#define FLEET_RETURN_IF_ERROR(expr)                  \
  do {                                               \
    const absl::Status fleet_status_ = (expr);       \
    if (!fleet_status_.ok()) return fleet_status_;   \
  } while (0)

// `lhs = value of expr`, or returns its error status.
// Example: FLEET_ASSIGN_OR_RETURN(std::string text, ReadFile(path));
#define FLEET_ASSIGN_OR_RETURN(lhs, expr) \
  FLEET_ASSIGN_OR_RETURN_IMPL_(FLEET_STATUS_CONCAT_(fleet_statusor_, __LINE__), lhs, expr)
#define FLEET_ASSIGN_OR_RETURN_IMPL_(statusor, lhs, expr) \
  auto statusor = (expr);                                 \
  if (!statusor.ok()) return std::move(statusor).status(); \
  lhs = *std::move(statusor)

// A broken invariant: print where and abort. fleetd runs under an init or
// supervisor, and a restart is cheap; carrying on with corrupt state is not.
#define FLEET_CHECK(cond)                                                   \
  do {                                                                      \
    if (!(cond)) {                                                          \
      std::fprintf(stderr, "%s:%d: FLEET_CHECK failed: %s\n", __FILE__,     \
                   __LINE__, #cond);                                        \
      std::abort();                                                         \
    }                                                                       \
  } while (0)

#endif  // FLEET_CORE_STATUS_MACROS_H_
