// Bihuan's extension operators (docs/definition-language.md): "now", the time_*
// operators (answered by the engine's time host), and a few collection helpers.
#pragma once

#include "expr/operators.hpp"

namespace bihuan::expr {

bool op_now(Evaluator& ev, const Scope& scope, Args args, Val& out);
bool op_time_add(Evaluator& ev, const Scope& scope, Args args, Val& out);
bool op_time_diff(Evaluator& ev, const Scope& scope, Args args, Val& out);
bool op_time_before(Evaluator& ev, const Scope& scope, Args args, Val& out);
bool op_count(Evaluator& ev, const Scope& scope, Args args, Val& out);
bool op_sum(Evaluator& ev, const Scope& scope, Args args, Val& out);
bool op_unique(Evaluator& ev, const Scope& scope, Args args, Val& out);
bool op_contains_all(Evaluator& ev, const Scope& scope, Args args, Val& out);
bool op_get(Evaluator& ev, const Scope& scope, Args args, Val& out);

}  // namespace bihuan::expr
