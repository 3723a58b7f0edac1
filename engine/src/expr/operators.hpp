// The one table of operators the evaluator knows: name, arity, and how it runs.
// check() reads the arities from here; the evaluator dispatches through it.
#pragma once

#include <cstdint>
#include <limits>
#include <span>
#include <string_view>

#include "expr/value.hpp"

namespace bihuan::expr {

class Evaluator;

// Arguments of an eager operator, already evaluated. Operators may move out of them.
using Args = std::span<Val>;
// The i-th argument, or nullptr when there are fewer.
inline const json* arg(Args args, std::size_t i) {
  return i < args.size() ? &args[i].get() : nullptr;
}
using EagerFn = bool (*)(Evaluator& ev, const Scope& scope, Args args, Val& out);

// How an operator evaluates its arguments. `eager` operators get them all evaluated
// first; the others decide themselves what to evaluate and in which scope.
enum class Form : std::uint8_t {
  eager,
  var,  // eager, with a fast path for a literal path
  if_,  // "if" and "?:"
  and_,
  or_,
  map,
  filter,
  reduce,
  all,
  none,
  some,
};

inline constexpr std::uint16_t kUnbounded = std::numeric_limits<std::uint16_t>::max();

struct OpInfo {
  std::string_view name;
  std::uint16_t min_args;
  std::uint16_t max_args;  // kUnbounded: any number
  Form form;
  EagerFn fn;      // for Form::eager and Form::var
  bool extension;  // a Bihuan extension, not official JsonLogic
};

// nullptr for names that are no operator.
const OpInfo* find_operator(std::string_view name);

// Every operator, official ones first, in documentation order.
std::span<const OpInfo> all_operators();

}  // namespace bihuan::expr
