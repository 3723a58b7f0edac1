// JavaScript type coercion, as json-logic-js gets it from the language: ToNumber,
// parseFloat, String(x), Number::toString, truthiness. A `const json*` operand that is
// nullptr stands for `undefined` (an argument the rule did not supply).
#pragma once

#include <cstddef>
#include <cstdint>
#include <limits>
#include <string>
#include <string_view>

#include "bihuan/json.hpp"

namespace bihuan::expr {

// Work the conversions do for one operator: elements visited (charged to the step
// budget by the evaluator) and whether a string grew past the size budget.
struct Meter {
  std::uint64_t work = 0;
  std::size_t max_bytes = std::numeric_limits<std::size_t>::max();
  bool overflow = false;
};

// Number(x). Strings follow StringToNumber ("" -> 0, " 12 " -> 12, "0x1F" -> 31,
// "12px" -> NaN); arrays go through their string form; objects and undefined are NaN.
double to_number(const json* v, Meter& meter);
double string_to_number(std::string_view s);

// parseFloat(String(x)): the longest decimal prefix, NaN if there is none.
double parse_float(const json* v, Meter& meter);

// Appends String(x): null -> "null"; arrays join their elements with "," (null
// elements as ""); objects -> "[object Object]". Sets meter.overflow instead of growing
// `out` past meter.max_bytes.
void append_string(std::string& out, const json& v, Meter& meter);

// Appends Number::toString(d): shortest round-trip digits, "1e+21", "1.5e-7", "NaN".
void append_number(std::string& out, double d);

// A JSON number for a computed double: integral values within 2^63 become integers
// (so 4/2 is 2, not 2.0); non-finite values stay doubles until the result is returned.
json make_number(double d);

// JsonLogic truthiness (truthy.md): 0, NaN, "", [], null and false are falsy.
bool is_truthy(const json& v);

// Rough memory footprint of a value, computed without recursion.
struct Footprint {
  std::size_t bytes = 0;
  std::size_t depth = 0;  // 0 for scalars, 1 for a flat array, ...
};
// Stops early once bytes exceed byte_limit or depth exceeds depth_limit.
Footprint footprint(const json& v, std::size_t byte_limit, std::size_t depth_limit);

}  // namespace bihuan::expr
