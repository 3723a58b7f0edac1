// JavaScript equality and ordering (==, ===, <), as json-logic-js inherits them.
// Operands are `const json*`; nullptr is undefined. Arrays and objects compare by
// identity, as in JavaScript: the same value read twice from the data is equal to
// itself, two arrays built by the rule never are.
#pragma once

#include <optional>

#include "bihuan/json.hpp"
#include "expr/coerce.hpp"

namespace bihuan::expr {

bool strict_equal(const json* a, const json* b);
bool loose_equal(const json* a, const json* b, Meter& meter);

// Abstract relational comparison a < b; nullopt when either side is NaN.
std::optional<bool> less_than(const json* a, const json* b, Meter& meter);

// The four relational operators with JavaScript's answers (false when NaN is involved).
inline bool js_less(const json* a, const json* b, Meter& m) {
  return less_than(a, b, m).value_or(false);
}
inline bool js_greater(const json* a, const json* b, Meter& m) {
  return less_than(b, a, m).value_or(false);
}
inline bool js_less_equal(const json* a, const json* b, Meter& m) {
  auto r = less_than(b, a, m);
  return r.has_value() && !*r;
}
inline bool js_greater_equal(const json* a, const json* b, Meter& m) {
  auto r = less_than(a, b, m);
  return r.has_value() && !*r;
}

}  // namespace bihuan::expr
