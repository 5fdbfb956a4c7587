#include "core/killcond/expression.h"

#include <string.h>

#include <algorithm>
#include <cmath>
#include <optional>

#include "absl/strings/ascii.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/strip.h"

namespace fleet::killcond {

enum class Op { kNumber, kVariable, kNeg, kAdd, kSub, kMul, kDiv, kGt, kGe, kLt, kLe, kEq, kNe,
                kAnd, kOr, kNot };

struct Node {
  Op op;
  double number = 0;
  std::string name;
  std::shared_ptr<const Node> left, right;
};

namespace {

// Advances to the next token or returns its error from the parse function.
#define FLEET_NEXT()                        \
  do {                                      \
    absl::Status next_status_ = Next();     \
    if (!next_status_.ok()) return next_status_; \
  } while (0)

constexpr size_t kMaxLength = 4096;
constexpr int kMaxDepth = 64;

struct Token {
  enum Kind { kEnd, kNumber, kName, kSymbol } kind = kEnd;
  std::string text;
  double number = 0;
  int column = 0;
};

absl::Status ErrorAt(int column, const std::string& what) {
  return absl::InvalidArgumentError(absl::StrCat("column ", column, ": ", what));
}

class Parser {
 public:
  explicit Parser(const std::string& text) : text_(text) {}

  absl::StatusOr<std::shared_ptr<const Node>> Run() {
    if (text_.size() > kMaxLength) return ErrorAt(1, "expression is too long");
    absl::Status status = Next();
    if (!status.ok()) return status;
    if (token_.kind == Token::kEnd) return ErrorAt(1, "empty expression");
    auto node = ParseOr(0);
    if (!node.ok()) return node;
    if (token_.kind != Token::kEnd) {
      return ErrorAt(token_.column, absl::StrCat("unexpected '", token_.text, "'"));
    }
    return node;
  }

  std::vector<std::string> variables;

 private:
  using Result = absl::StatusOr<std::shared_ptr<const Node>>;

  static std::shared_ptr<const Node> Make(Op op, std::shared_ptr<const Node> l = nullptr,
                                          std::shared_ptr<const Node> r = nullptr) {
    auto n = std::make_shared<Node>();
    n->op = op;
    n->left = std::move(l);
    n->right = std::move(r);
    return n;
  }

  bool IsWord(const char* word) const {
    return token_.kind == Token::kName && absl::AsciiStrToUpper(token_.text) == word;
  }
  bool IsSymbol(const char* symbol) const {
    return token_.kind == Token::kSymbol && token_.text == symbol;
  }

  absl::Status Next() {
    while (pos_ < text_.size() && absl::ascii_isspace(text_[pos_])) ++pos_;
    token_ = Token();
    token_.column = static_cast<int>(pos_) + 1;
    if (pos_ >= text_.size()) return absl::OkStatus();
    const char c = text_[pos_];
    if (c == '$' || absl::ascii_isdigit(c) || (c == '.' && pos_ + 1 < text_.size() &&
                                               absl::ascii_isdigit(text_[pos_ + 1]))) {
      return Number();
    }
    if (absl::ascii_isalpha(c) || c == '_') {
      size_t start = pos_;
      while (pos_ < text_.size() &&
             (absl::ascii_isalnum(text_[pos_]) || text_[pos_] == '_' || text_[pos_] == '.')) {
        ++pos_;
      }
      token_.kind = Token::kName;
      token_.text = text_.substr(start, pos_ - start);
      return absl::OkStatus();
    }
    for (const char* symbol : {">=", "<=", "==", "!=", "&&", "||", ">", "<", "!", "(", ")", "+",
                               "-", "*", "/"}) {
      if (text_.compare(pos_, strlen(symbol), symbol) == 0) {
        token_.kind = Token::kSymbol;
        token_.text = symbol;
        pos_ += strlen(symbol);
        return absl::OkStatus();
      }
    }
    if (c == '=') return ErrorAt(token_.column, "'=' is not a comparison; use '=='");
    return ErrorAt(token_.column, absl::StrCat("unexpected character '", std::string(1, c), "'"));
  }

  absl::Status Number() {
    const int column = token_.column;
    if (text_[pos_] == '$') ++pos_;
    size_t start = pos_;
    while (pos_ < text_.size() && (absl::ascii_isdigit(text_[pos_]) || text_[pos_] == '.' ||
                                   text_[pos_] == '_' || text_[pos_] == ',')) {
      ++pos_;
    }
    std::string digits;
    for (char ch : text_.substr(start, pos_ - start)) {
      if (ch != '_' && ch != ',') digits += ch;
    }
    double value = 0;
    if (digits.empty() || !absl::SimpleAtod(digits, &value)) {
      return ErrorAt(column, "expected a number after '$'");
    }
    size_t unit_start = pos_;
    while (pos_ < text_.size() && (absl::ascii_isalpha(text_[pos_]) || text_[pos_] == '%')) ++pos_;
    const std::string unit = text_.substr(unit_start, pos_ - unit_start);
    static const std::pair<const char*, double> kUnits[] = {
        {"", 1},      {"%", 1},       {"k", 1e3},      {"K", 1e3},         {"M", 1e6},
        {"B", 1e9},   {"ms", 1e-3},   {"s", 1},        {"m", 60},          {"h", 3600},
        {"d", 86400}, {"KB", 1024.0}, {"MB", 1048576.0}, {"GB", 1073741824.0}};
    for (const auto& [name, scale] : kUnits) {
      if (unit == name) {
        token_.kind = Token::kNumber;
        token_.number = value * scale;
        token_.text = text_.substr(column - 1, pos_ - (column - 1));
        return absl::OkStatus();
      }
    }
    return ErrorAt(static_cast<int>(unit_start) + 1,
                   absl::StrCat("unknown unit '", unit,
                                "' (use %, k, M, B, ms, s, m, h, d, KB, MB or GB)"));
  }

  Result ParseOr(int depth) {
    auto left = ParseAnd(depth);
    if (!left.ok()) return left;
    while (IsWord("OR") || IsSymbol("||")) {
      FLEET_NEXT();
      auto right = ParseAnd(depth);
      if (!right.ok()) return right;
      left = Make(Op::kOr, *left, *right);
    }
    return left;
  }

  Result ParseAnd(int depth) {
    auto left = ParseNot(depth);
    if (!left.ok()) return left;
    while (IsWord("AND") || IsSymbol("&&")) {
      FLEET_NEXT();
      auto right = ParseNot(depth);
      if (!right.ok()) return right;
      left = Make(Op::kAnd, *left, *right);
    }
    return left;
  }

  Result ParseNot(int depth) {
    if (depth > kMaxDepth) return ErrorAt(token_.column, "nesting is too deep");
    if (IsWord("NOT") || IsSymbol("!")) {
      FLEET_NEXT();
      auto operand = ParseNot(depth + 1);
      if (!operand.ok()) return operand;
      return Make(Op::kNot, *operand);
    }
    return ParseComparison(depth);
  }

  Result ParseComparison(int depth) {
    auto left = ParseSum(depth);
    if (!left.ok()) return left;
    static const std::pair<const char*, Op> kOps[] = {{">", Op::kGt},  {">=", Op::kGe},
                                                      {"<", Op::kLt},  {"<=", Op::kLe},
                                                      {"==", Op::kEq}, {"!=", Op::kNe}};
    for (const auto& [symbol, op] : kOps) {
      if (IsSymbol(symbol)) {
        FLEET_NEXT();
        auto right = ParseSum(depth);
        if (!right.ok()) return right;
        return Make(op, *left, *right);
      }
    }
    return left;
  }

  Result ParseSum(int depth) {
    auto left = ParseProduct(depth);
    if (!left.ok()) return left;
    while (IsSymbol("+") || IsSymbol("-")) {
      Op op = IsSymbol("+") ? Op::kAdd : Op::kSub;
      FLEET_NEXT();
      auto right = ParseProduct(depth);
      if (!right.ok()) return right;
      left = Make(op, *left, *right);
    }
    return left;
  }

  Result ParseProduct(int depth) {
    auto left = ParseAtom(depth);
    if (!left.ok()) return left;
    while (IsSymbol("*") || IsSymbol("/")) {
      Op op = IsSymbol("*") ? Op::kMul : Op::kDiv;
      FLEET_NEXT();
      auto right = ParseAtom(depth);
      if (!right.ok()) return right;
      left = Make(op, *left, *right);
    }
    return left;
  }

  Result ParseAtom(int depth) {
    if (depth > kMaxDepth) return ErrorAt(token_.column, "nesting is too deep");
    const Token token = token_;
    switch (token.kind) {
      case Token::kNumber: {
        FLEET_NEXT();
        auto n = std::make_shared<Node>();
        n->op = Op::kNumber;
        n->number = token.number;
        return std::shared_ptr<const Node>(n);
      }
      case Token::kName: {
        for (const char* keyword : {"AND", "OR", "NOT"}) {
          if (IsWord(keyword)) {
            return ErrorAt(token.column, absl::StrCat("expected a value before '", token.text, "'"));
          }
        }
        FLEET_NEXT();
        auto n = std::make_shared<Node>();
        n->op = Op::kVariable;
        n->name = token.text;
        if (std::find(variables.begin(), variables.end(), token.text) == variables.end()) {
          variables.push_back(token.text);
        }
        return std::shared_ptr<const Node>(n);
      }
      case Token::kSymbol:
        if (token.text == "(") {
          FLEET_NEXT();
          auto inner = ParseOr(depth + 1);
          if (!inner.ok()) return inner;
          if (!IsSymbol(")")) return ErrorAt(token_.column, "expected ')'");
          FLEET_NEXT();
          return inner;
        }
        if (token.text == "-") {
          FLEET_NEXT();
          auto operand = ParseAtom(depth + 1);
          if (!operand.ok()) return operand;
          return Make(Op::kNeg, *operand);
        }
        return ErrorAt(token.column, absl::StrCat("expected a value, found '", token.text, "'"));
      case Token::kEnd:
        return ErrorAt(token.column, "the expression ends where a value was expected");
    }
    return ErrorAt(token.column, "unexpected input");
  }

  const std::string& text_;
  size_t pos_ = 0;
  Token token_;
};

// A value or UNKNOWN (a variable never published).
using Value = std::optional<double>;

Truth AsTruth(const Value& v) {
  if (!v.has_value()) return Truth::kUnknown;
  return *v != 0 ? Truth::kTrue : Truth::kFalse;
}

Value FromTruth(Truth t) {
  if (t == Truth::kUnknown) return std::nullopt;
  return t == Truth::kTrue ? 1.0 : 0.0;
}

class Evaluator {
 public:
  Evaluator(const absl::flat_hash_map<std::string, double>& vars, Verdict* verdict)
      : vars_(vars), verdict_(verdict) {}

  Value Eval(const Node& n) {
    switch (n.op) {
      case Op::kNumber:
        return n.number;
      case Op::kVariable: {
        auto it = vars_.find(n.name);
        if (it == vars_.end()) {
          if (std::find(verdict_->missing.begin(), verdict_->missing.end(), n.name) ==
              verdict_->missing.end()) {
            verdict_->missing.push_back(n.name);
          }
          return std::nullopt;
        }
        return it->second;
      }
      case Op::kNeg: {
        Value v = Eval(*n.left);
        return v.has_value() ? Value(-*v) : std::nullopt;
      }
      case Op::kNot: {
        Truth t = AsTruth(Eval(*n.left));
        return FromTruth(t == Truth::kUnknown ? t : t == Truth::kTrue ? Truth::kFalse : Truth::kTrue);
      }
      case Op::kAnd: {
        Truth a = AsTruth(Eval(*n.left)), b = AsTruth(Eval(*n.right));
        if (a == Truth::kFalse || b == Truth::kFalse) return 0.0;
        if (a == Truth::kUnknown || b == Truth::kUnknown) return std::nullopt;
        return 1.0;
      }
      case Op::kOr: {
        Truth a = AsTruth(Eval(*n.left)), b = AsTruth(Eval(*n.right));
        if (a == Truth::kTrue || b == Truth::kTrue) return 1.0;
        if (a == Truth::kUnknown || b == Truth::kUnknown) return std::nullopt;
        return 0.0;
      }
      default:
        break;
    }
    Value a = Eval(*n.left), b = Eval(*n.right);
    if (!a.has_value() || !b.has_value()) return std::nullopt;
    switch (n.op) {
      case Op::kAdd:
        return *a + *b;
      case Op::kSub:
        return *a - *b;
      case Op::kMul:
        return *a * *b;
      case Op::kDiv:
        if (*b == 0) return std::nullopt;  // Undefined is unknown, never a trip.
        return *a / *b;
      case Op::kGt:
        return *a > *b ? 1.0 : 0.0;
      case Op::kGe:
        return *a >= *b ? 1.0 : 0.0;
      case Op::kLt:
        return *a < *b ? 1.0 : 0.0;
      case Op::kLe:
        return *a <= *b ? 1.0 : 0.0;
      case Op::kEq:
        return *a == *b ? 1.0 : 0.0;
      case Op::kNe:
        return *a != *b ? 1.0 : 0.0;
      default:
        return std::nullopt;
    }
  }

 private:
  const absl::flat_hash_map<std::string, double>& vars_;
  Verdict* verdict_;
};

}  // namespace

absl::StatusOr<Expression> Expression::Parse(const std::string& text) {
  Parser parser(text);
  auto root = parser.Run();
  if (!root.ok()) return root.status();
  Expression e;
  e.text_ = text;
  e.root_ = *root;
  e.variables_ = std::move(parser.variables);
  return e;
}

Verdict Expression::Evaluate(const absl::flat_hash_map<std::string, double>& variables) const {
  Verdict verdict;
  verdict.truth = AsTruth(Evaluator(variables, &verdict).Eval(*root_));
  std::vector<std::string> shown;
  for (const std::string& name : variables_) {
    auto it = variables.find(name);
    if (it != variables.end()) shown.push_back(absl::StrCat(name, "=", it->second));
  }
  verdict.values = absl::StrJoin(shown, " ");
  return verdict;
}

int ErrorColumn(const absl::Status& status) {
  int column = 0;
  absl::string_view message = status.message();
  if (!absl::ConsumePrefix(&message, "column ")) return 0;
  size_t colon = message.find(':');
  if (colon == absl::string_view::npos || !absl::SimpleAtoi(message.substr(0, colon), &column)) {
    return 0;
  }
  return column;
}

}  // namespace fleet::killcond
