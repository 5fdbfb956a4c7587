// Kill conditions: "daily_loss > $10 OR cash < $20". AND/OR/NOT (also && || !),
// parentheses, comparisons (> >= < <= == !=), + - * /, numbers with $, % and
// suffixes (k M B for thousands..., s m h d for seconds, KB MB GB for bytes),
// and variables the engine publishes ([A-Za-z_][A-Za-z0-9_.]*).
//
// Evaluation is three-valued: a variable never published makes its part
// UNKNOWN, so "a > 1 OR b > 2" still trips on b while a is missing, and the
// missing names are reported instead of being read as false.
#ifndef FLEET_CORE_KILLCOND_EXPRESSION_H_
#define FLEET_CORE_KILLCOND_EXPRESSION_H_

#include <memory>
#include <string>
#include <vector>

#include "absl/container/flat_hash_map.h"
#include "absl/status/statusor.h"

namespace fleet::killcond {

struct Node;

enum class Truth { kFalse, kTrue, kUnknown };

struct Verdict {
  Truth truth = Truth::kUnknown;
  // "daily_loss=12.5 cash=40": the variables the expression read, with values.
  std::string values;
  // Variables it needed that were never published.
  std::vector<std::string> missing;
};

// Immutable after Parse; thread-compatible.
class Expression {
 public:
  // Errors are kInvalidArgument with "column N: what is wrong" (1-based).
  static absl::StatusOr<Expression> Parse(const std::string& text);

  Verdict Evaluate(const absl::flat_hash_map<std::string, double>& variables) const;
  // Every variable named, in order of first appearance.
  const std::vector<std::string>& variables() const { return variables_; }
  const std::string& text() const { return text_; }

 private:
  std::string text_;
  std::shared_ptr<const Node> root_;
  std::vector<std::string> variables_;
};

// The column (1-based) an error from Parse points at, or 0.
int ErrorColumn(const absl::Status& status);

}  // namespace fleet::killcond

#endif  // FLEET_CORE_KILLCOND_EXPRESSION_H_
