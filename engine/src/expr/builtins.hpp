// The official JsonLogic operators whose arguments are evaluated first (everything but
// if/and/or and the array iterators, which live in the evaluator).
#pragma once

#include "expr/operators.hpp"

namespace bihuan::expr {

// {"var": key} with an optional default (moved from `fallback` when the path does not
// resolve). The result borrows from the data whenever it can.
bool read_var(Evaluator& ev, const Scope& scope, const json* key, Val* fallback, Val& out);

bool op_var(Evaluator& ev, const Scope& scope, Args args, Val& out);
bool op_missing(Evaluator& ev, const Scope& scope, Args args, Val& out);
bool op_missing_some(Evaluator& ev, const Scope& scope, Args args, Val& out);

bool op_loose_equal(Evaluator& ev, const Scope& scope, Args args, Val& out);
bool op_strict_equal(Evaluator& ev, const Scope& scope, Args args, Val& out);
bool op_loose_not_equal(Evaluator& ev, const Scope& scope, Args args, Val& out);
bool op_strict_not_equal(Evaluator& ev, const Scope& scope, Args args, Val& out);
bool op_not(Evaluator& ev, const Scope& scope, Args args, Val& out);
bool op_truthy(Evaluator& ev, const Scope& scope, Args args, Val& out);

bool op_greater(Evaluator& ev, const Scope& scope, Args args, Val& out);
bool op_greater_equal(Evaluator& ev, const Scope& scope, Args args, Val& out);
bool op_less(Evaluator& ev, const Scope& scope, Args args, Val& out);
bool op_less_equal(Evaluator& ev, const Scope& scope, Args args, Val& out);
bool op_max(Evaluator& ev, const Scope& scope, Args args, Val& out);
bool op_min(Evaluator& ev, const Scope& scope, Args args, Val& out);
bool op_add(Evaluator& ev, const Scope& scope, Args args, Val& out);
bool op_subtract(Evaluator& ev, const Scope& scope, Args args, Val& out);
bool op_multiply(Evaluator& ev, const Scope& scope, Args args, Val& out);
bool op_divide(Evaluator& ev, const Scope& scope, Args args, Val& out);
bool op_modulo(Evaluator& ev, const Scope& scope, Args args, Val& out);

bool op_merge(Evaluator& ev, const Scope& scope, Args args, Val& out);
bool op_in(Evaluator& ev, const Scope& scope, Args args, Val& out);
bool op_cat(Evaluator& ev, const Scope& scope, Args args, Val& out);
bool op_substr(Evaluator& ev, const Scope& scope, Args args, Val& out);
bool op_log(Evaluator& ev, const Scope& scope, Args args, Val& out);

}  // namespace bihuan::expr
