#include "expr/compare.hpp"

#include <cmath>
#include <string>

#include "expr/text.hpp"

namespace bihuan::expr {
namespace {

// JavaScript's typeof, with arrays and objects both "object".
enum class JsType { undefined, null, boolean, number, string, object };

JsType js_type(const json* v) {
  if (v == nullptr) return JsType::undefined;
  switch (v->type()) {
    case json::value_t::null:
      return JsType::null;
    case json::value_t::boolean:
      return JsType::boolean;
    case json::value_t::number_integer:
    case json::value_t::number_unsigned:
    case json::value_t::number_float:
      return JsType::number;
    case json::value_t::string:
      return JsType::string;
    default:
      return JsType::object;
  }
}

bool both_integers(const json& a, const json& b) {
  return (a.is_number_integer() && b.is_number_integer());
}

bool number_equal(const json& a, const json& b) {
  if (both_integers(a, b)) {
    if (a.is_number_unsigned() == b.is_number_unsigned()) {
      return a.is_number_unsigned() ? a.get<std::uint64_t>() == b.get<std::uint64_t>()
                                    : a.get<std::int64_t>() == b.get<std::int64_t>();
    }
    // Mixed signedness: equal only when both are non-negative and the same.
    const json& s = a.is_number_unsigned() ? b : a;
    const json& u = a.is_number_unsigned() ? a : b;
    return s.get<std::int64_t>() >= 0 &&
           static_cast<std::uint64_t>(s.get<std::int64_t>()) == u.get<std::uint64_t>();
  }
  Meter unused;
  return to_number(&a, unused) == to_number(&b, unused);
}

// ToPrimitive for an array or object: its string form.
json to_primitive(const json& v, Meter& meter) {
  std::string text;
  append_string(text, v, meter);
  return json(std::move(text));
}

}  // namespace

bool strict_equal(const json* a, const json* b) {
  JsType ta = js_type(a), tb = js_type(b);
  if (ta != tb) return false;
  switch (ta) {
    case JsType::undefined:
    case JsType::null:
      return true;
    case JsType::boolean:
      return a->get<bool>() == b->get<bool>();
    case JsType::number:
      return number_equal(*a, *b);
    case JsType::string:
      return a->get_ref<const std::string&>() == b->get_ref<const std::string&>();
    case JsType::object:
      return a == b;  // identity
  }
  return false;
}

bool loose_equal(const json* a, const json* b, Meter& meter) {
  // IsLooselyEqual; loops instead of recursing as operands get converted.
  json left_store, right_store;
  for (int round = 0; round < 4; ++round) {
    JsType ta = js_type(a), tb = js_type(b);
    if (ta == tb) return strict_equal(a, b);
    bool a_nullish = ta == JsType::undefined || ta == JsType::null;
    bool b_nullish = tb == JsType::undefined || tb == JsType::null;
    if (a_nullish || b_nullish) return a_nullish && b_nullish;
    if (ta == JsType::number && tb == JsType::string) {
      return to_number(a, meter) == to_number(b, meter);
    }
    if (ta == JsType::string && tb == JsType::number) {
      return to_number(a, meter) == to_number(b, meter);
    }
    if (ta == JsType::boolean) {
      left_store = json(a->get<bool>() ? 1 : 0);
      a = &left_store;
      continue;
    }
    if (tb == JsType::boolean) {
      right_store = json(b->get<bool>() ? 1 : 0);
      b = &right_store;
      continue;
    }
    if (ta == JsType::object) {  // the other side is a number or a string
      left_store = to_primitive(*a, meter);
      a = &left_store;
      continue;
    }
    if (tb == JsType::object) {
      right_store = to_primitive(*b, meter);
      b = &right_store;
      continue;
    }
    return false;
  }
  return false;
}

std::optional<bool> less_than(const json* a, const json* b, Meter& meter) {
  json left_store, right_store;
  if (a != nullptr && a->is_structured()) {
    left_store = to_primitive(*a, meter);
    a = &left_store;
  }
  if (b != nullptr && b->is_structured()) {
    right_store = to_primitive(*b, meter);
    b = &right_store;
  }
  if (a != nullptr && b != nullptr && a->is_string() && b->is_string()) {
    return compare_utf16(a->get_ref<const std::string&>(), b->get_ref<const std::string&>()) < 0;
  }
  if (a != nullptr && b != nullptr && both_integers(*a, *b) && !a->is_number_unsigned() &&
      !b->is_number_unsigned()) {
    return a->get<std::int64_t>() < b->get<std::int64_t>();
  }
  double x = to_number(a, meter), y = to_number(b, meter);
  if (std::isnan(x) || std::isnan(y)) return std::nullopt;
  return x < y;
}

}  // namespace bihuan::expr
