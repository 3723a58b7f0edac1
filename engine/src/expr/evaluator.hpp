// One evaluation of one rule: the recursion, the budgets, and the error trail.
//
// Every function returns false after recording an error; the caller then unwinds,
// adding its step of the JSON Pointer on the way out, so the success path never builds
// pointer text. Nothing here throws on its own (nlohmann exceptions and bad_alloc are
// caught by evaluate()).
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "bihuan/expr.hpp"
#include "expr/coerce.hpp"
#include "expr/operators.hpp"
#include "expr/value.hpp"

namespace bihuan::expr {

// The arguments of an operator as written: an array, or one non-array value standing
// for a one-element list ({"var":"a"} is {"var":["a"]}).
struct ArgList {
  const json* items = nullptr;
  std::size_t size = 0;
  bool sugar = false;  // a single non-array argument

  explicit ArgList(const json& values);
  const json* at(std::size_t i) const { return i < size ? items + i : nullptr; }
};

// Rules never nest deeper than this, whatever EvalLimits says, so that the native
// stack (at most a few hundred bytes per level) cannot overflow.
inline constexpr std::size_t kMaxDepthCap = 1000;
// Values the evaluator builds never nest deeper than this (copying JSON recurses).
inline constexpr std::size_t kMaxValueDepth = 512;

class Evaluator {
 public:
  Evaluator(const EvalLimits& limits, const Host* host);

  // Evaluates `rule` in `scope` into `out`. `depth` is the nesting of `rule`.
  bool eval(const json& rule, const Scope& scope, Val& out, std::size_t depth);

  // --- for operators ---
  bool fail(std::string message);
  // Charges `n` steps against max_steps.
  bool charge(std::uint64_t n);
  // Adds the footprint of `v` to `running` (bytes of the value being built) and checks
  // it against max_result_bytes and the depth cap; `extra_depth` is the nesting the
  // caller adds around v.
  bool admit(const json& v, std::size_t& running, std::size_t extra_depth = 1);
  bool admit_bytes(std::size_t bytes);
  // Folds meter().work into the step count and reports a string that grew too long.
  bool settle_meter();
  Meter& meter() { return meter_; }
  const Host* host() const { return host_; }
  const EvalLimits& limits() const { return limits_; }

  // --- after a failed eval ---
  EvalError error() const;

 private:
  bool apply(const OpInfo& op, const json& values, const Scope& scope, Val& out, std::size_t depth);
  bool apply_eager(const OpInfo& op, const ArgList& args, const Scope& scope, Val& out,
                   std::size_t depth);
  bool eval_array(const json& rule, const Scope& scope, Val& out, std::size_t depth);
  bool eval_if(const ArgList& args, const Scope& scope, Val& out, std::size_t depth);
  bool eval_and_or(bool is_and, const ArgList& args, const Scope& scope, Val& out,
                   std::size_t depth);
  bool eval_iterate(Form form, const ArgList& args, const Scope& scope, Val& out,
                    std::size_t depth);
  bool eval_reduce(const ArgList& args, const Scope& scope, Val& out, std::size_t depth);
  // Evaluates argument i (or null when the rule omitted it).
  bool eval_arg(const ArgList& args, std::size_t i, const Scope& scope, Val& out,
                std::size_t depth);
  // Records the pointer step of argument i of a failed child, then returns false.
  bool unwind_arg(const ArgList& args, std::size_t i);

  EvalLimits limits_;
  std::size_t max_depth_;
  const Host* host_;
  std::uint64_t steps_ = 0;
  Meter meter_;
  std::vector<Val> stack_;  // evaluated arguments of eager operators
  std::string message_;
  std::vector<std::string> trail_;  // pointer tokens, innermost first
};

}  // namespace bihuan::expr
