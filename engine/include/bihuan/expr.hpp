// JsonLogic expressions (https://jsonlogic.com): the guard and expression language of
// workflow definitions.
//
// The evaluator implements the official operators with their official semantics (it
// passes the official conformance suite) plus the Bihuan extensions listed in
// docs/definition-language.md. Evaluation is bounded: every call runs under an
// EvalLimits budget (steps, depth, size of values built), so no rule and no data can
// make it run unbounded time or memory; a budget overrun is an EvalError, not a crash.
// Thread-safety: all functions are reentrant; an Operators table is immutable after
// construction and may be shared across threads.
#pragma once

#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "bihuan/json.hpp"
#include "bihuan/problem.hpp"

namespace bihuan::expr {

struct EvalLimits {
  std::uint64_t max_steps = 1'000'000;       // operator applications + elements visited
  std::size_t max_depth = 128;               // nesting of rules (capped at 1000)
  std::size_t max_result_bytes = 16u << 20;  // rough size of any string/array built
};

struct EvalError {
  std::string pointer;  // JSON Pointer inside the rule where evaluation failed
  std::string message;  // e.g. "step budget of 1000000 exceeded"
};

// Result of evaluate(): a value or an error.
struct EvalResult {
  std::optional<json> value;
  std::optional<EvalError> error;
  bool ok() const { return value.has_value(); }
};

// Services the engine lends to extension operators that need more than the data:
// the time_* operators (time_add, time_diff, time_before) need calendars and time
// zones, which the evaluator does not know about.
struct Host {
  // Called with the operator name and its evaluated arguments (a JSON array). Returns
  // the operator's value, or nullopt after setting `error` to a sentence for a person
  // (evaluation then fails with that message). May be called from any thread that
  // evaluates; must not call evaluate() with the same Host recursively without bound.
  std::function<std::optional<json>(std::string_view op, const json& args, std::string& error)>
      call;
};

// Evaluates `rule` against `data`. Never throws. The time_* operators fail with
// "operator \"time_add\" needs the engine's time host" here.
EvalResult evaluate(const json& rule, const json& data, const EvalLimits& limits = {});

// As above, with `host` (may be null) answering the time_* operators. `host` is only
// used during the call.
EvalResult evaluate(const json& rule, const json& data, const EvalLimits& limits, const Host* host);

// JsonLogic truthiness (truthy.md): 0, "", [], null, false and NaN are falsy.
bool truthy(const json& value);

// Static check of a rule before it ever runs: unknown operators and wrong arities
// (number of arguments) are errors, reported with the pointer `base` + the path inside
// the rule. Returns true if no error was added.
bool check(const json& rule, Problems& problems, const std::string& base);

// True if `name` is an operator the evaluator knows (official or extension).
bool is_operator(std::string_view name);

// Names of every operator the evaluator knows (official + extensions), for docs/tests.
std::vector<std::string> operator_names();

}  // namespace bihuan::expr
