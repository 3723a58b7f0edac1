// Equality, negation, ordering and arithmetic, with json-logic-js's coercions:
// == and the relational operators follow JavaScript; + and * use parseFloat; -, /, %
// use Number().
#include <algorithm>
#include <cmath>
#include <limits>

#include "expr/builtins.hpp"
#include "expr/compare.hpp"
#include "expr/evaluator.hpp"

namespace bihuan::expr {
namespace {

bool set_bool(Val& out, bool value) {
  out.set(json(value));
  return true;
}

bool set_number(Val& out, double value) {
  out.set(make_number(value));
  return true;
}

// Math.max / Math.min: NaN if any argument is NaN.
bool extreme(Evaluator& ev, Args args, Val& out, bool is_max) {
  double result =
      is_max ? -std::numeric_limits<double>::infinity() : std::numeric_limits<double>::infinity();
  for (const Val& a : args) {
    double d = to_number(&a.get(), ev.meter());
    if (std::isnan(d) || std::isnan(result)) {
      result = std::numeric_limits<double>::quiet_NaN();
    } else {
      result = is_max ? std::max(result, d) : std::min(result, d);
    }
  }
  return set_number(out, result);
}

}  // namespace

bool op_loose_equal(Evaluator& ev, const Scope&, Args args, Val& out) {
  return set_bool(out, loose_equal(arg(args, 0), arg(args, 1), ev.meter()));
}

bool op_strict_equal(Evaluator&, const Scope&, Args args, Val& out) {
  return set_bool(out, strict_equal(arg(args, 0), arg(args, 1)));
}

bool op_loose_not_equal(Evaluator& ev, const Scope&, Args args, Val& out) {
  return set_bool(out, !loose_equal(arg(args, 0), arg(args, 1), ev.meter()));
}

bool op_strict_not_equal(Evaluator&, const Scope&, Args args, Val& out) {
  return set_bool(out, !strict_equal(arg(args, 0), arg(args, 1)));
}

bool op_not(Evaluator&, const Scope&, Args args, Val& out) {
  return set_bool(out, args.empty() || !is_truthy(args[0].get()));
}

bool op_truthy(Evaluator&, const Scope&, Args args, Val& out) {
  return set_bool(out, !args.empty() && is_truthy(args[0].get()));
}

bool op_greater(Evaluator& ev, const Scope&, Args args, Val& out) {
  return set_bool(out, js_greater(arg(args, 0), arg(args, 1), ev.meter()));
}

bool op_greater_equal(Evaluator& ev, const Scope&, Args args, Val& out) {
  return set_bool(out, js_greater_equal(arg(args, 0), arg(args, 1), ev.meter()));
}

// With a third argument, "between": a < b < c.
bool op_less(Evaluator& ev, const Scope&, Args args, Val& out) {
  bool result = js_less(arg(args, 0), arg(args, 1), ev.meter());
  if (args.size() > 2) result = result && js_less(arg(args, 1), arg(args, 2), ev.meter());
  return set_bool(out, result);
}

bool op_less_equal(Evaluator& ev, const Scope&, Args args, Val& out) {
  bool result = js_less_equal(arg(args, 0), arg(args, 1), ev.meter());
  if (args.size() > 2) result = result && js_less_equal(arg(args, 1), arg(args, 2), ev.meter());
  return set_bool(out, result);
}

bool op_max(Evaluator& ev, const Scope&, Args args, Val& out) {
  return extreme(ev, args, out, true);
}

bool op_min(Evaluator& ev, const Scope&, Args args, Val& out) {
  return extreme(ev, args, out, false);
}

bool op_add(Evaluator& ev, const Scope&, Args args, Val& out) {
  double sum = 0;
  for (const Val& a : args) sum += parse_float(&a.get(), ev.meter());
  return set_number(out, sum);
}

bool op_multiply(Evaluator& ev, const Scope&, Args args, Val& out) {
  if (args.empty()) return ev.fail("operator \"*\" needs at least one argument");
  if (args.size() == 1) {  // Array.prototype.reduce returns a lone element untouched
    out = std::move(args[0]);
    return true;
  }
  double product = parse_float(&args[0].get(), ev.meter());
  for (std::size_t i = 1; i < args.size(); ++i) product *= parse_float(&args[i].get(), ev.meter());
  return set_number(out, product);
}

bool op_subtract(Evaluator& ev, const Scope&, Args args, Val& out) {
  double a = to_number(arg(args, 0), ev.meter());
  if (args.size() < 2) return set_number(out, -a);
  return set_number(out, a - to_number(arg(args, 1), ev.meter()));
}

bool op_divide(Evaluator& ev, const Scope&, Args args, Val& out) {
  return set_number(out, to_number(arg(args, 0), ev.meter()) / to_number(arg(args, 1), ev.meter()));
}

bool op_modulo(Evaluator& ev, const Scope&, Args args, Val& out) {
  double a = to_number(arg(args, 0), ev.meter());
  double b = to_number(arg(args, 1), ev.meter());
  return set_number(out, std::fmod(a, b));
}

}  // namespace bihuan::expr
