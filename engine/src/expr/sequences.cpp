// Arrays and strings: merge, in, cat, substr, log.
#include <cmath>
#include <optional>

#include "expr/builtins.hpp"
#include "expr/compare.hpp"
#include "expr/evaluator.hpp"
#include "expr/text.hpp"

namespace bihuan::expr {
namespace {

// ToIntegerOrInfinity(x), with NaN as 0.
double to_integer(const json* v, Meter& meter) {
  double d = to_number(v, meter);
  return std::isnan(d) ? 0 : std::trunc(d);
}

// String.prototype.substr(start, length) over code points.
std::string_view js_substr(std::string_view s, double start, std::optional<double> length) {
  const auto size = static_cast<double>(code_point_count(s));
  if (start < 0) start = std::max(size + start, 0.0);
  start = std::min(start, size);
  double len = length.has_value() ? std::clamp(*length, 0.0, size) : size;
  double end = std::min(start + len, size);
  if (end <= start) return {};
  std::size_t from = code_point_offset(s, static_cast<std::size_t>(start));
  std::size_t to = from + code_point_offset(s.substr(from), static_cast<std::size_t>(end - start));
  return s.substr(from, to - from);
}

}  // namespace

bool op_merge(Evaluator& ev, const Scope&, Args args, Val& out) {
  json result = json::array();
  std::size_t bytes = 0;
  for (Val& a : args) {
    if (!a->is_array()) {
      if (!ev.charge(1) || !ev.admit(a.get(), bytes)) return false;
      result.push_back(std::move(a).take());
      continue;
    }
    if (!ev.charge(a->size())) return false;
    json* owned = a.owned();
    for (std::size_t i = 0; i < a->size(); ++i) {
      const json& item = a.get()[i];
      if (!ev.admit(item, bytes)) return false;
      result.push_back(owned != nullptr ? std::move((*owned)[i]) : item);
    }
  }
  out.set(std::move(result));
  return true;
}

// A member of an array (strict equality), or a substring of a string.
bool op_in(Evaluator& ev, const Scope&, Args args, Val& out) {
  const json* needle = arg(args, 0);
  const json* haystack = arg(args, 1);
  bool found = false;
  if (haystack != nullptr && haystack->is_string() &&
      !haystack->get_ref<const std::string&>().empty()) {  // "" is falsy: not searched
    const auto& text = haystack->get_ref<const std::string&>();
    if (needle != nullptr && needle->is_string()) {
      found = text.find(needle->get_ref<const std::string&>()) != std::string::npos;
    } else {
      std::string part;
      if (needle == nullptr) {
        part = "undefined";
      } else {
        append_string(part, *needle, ev.meter());
      }
      found = text.find(part) != std::string::npos;
    }
  } else if (haystack != nullptr && haystack->is_array()) {
    for (const json& item : *haystack) {
      ++ev.meter().work;
      if (strict_equal(needle, &item)) {
        found = true;
        break;
      }
    }
  }
  out.set(json(found));
  return true;
}

bool op_cat(Evaluator& ev, const Scope&, Args args, Val& out) {
  std::string text;
  for (const Val& a : args) {
    if (!a->is_null()) append_string(text, a.get(), ev.meter());
    if (ev.meter().overflow) return ev.settle_meter();
  }
  out.set(json(std::move(text)));
  return true;
}

// Negative start counts from the end; a negative length stops that many characters
// before the end (json-logic-js's PHP-like extension of JavaScript's substr).
bool op_substr(Evaluator& ev, const Scope&, Args args, Val& out) {
  static const json kZero = 0;
  std::string storage;
  std::string_view source;
  if (!args.empty() && args[0]->is_string()) {
    source = args[0]->get_ref<const std::string&>();
  } else {
    if (args.empty()) {
      storage = "undefined";
    } else {
      append_string(storage, args[0].get(), ev.meter());
    }
    source = storage;
  }
  double start = to_integer(arg(args, 1), ev.meter());
  const json* length = arg(args, 2);
  std::string_view result;
  if (length != nullptr && js_less(length, &kZero, ev.meter())) {
    std::string_view tail = js_substr(source, start, std::nullopt);
    double keep = static_cast<double>(code_point_count(tail)) + to_integer(length, ev.meter());
    result = js_substr(tail, 0, keep);
  } else {
    std::optional<double> len;
    if (length != nullptr) len = to_integer(length, ev.meter());
    result = js_substr(source, start, len);
  }
  out.set(json(std::string(result)));
  return true;
}

bool op_log(Evaluator&, const Scope&, Args args, Val& out) {
  if (args.empty()) {
    out.set(json());
  } else {
    out = std::move(args[0]);
  }
  return true;
}

}  // namespace bihuan::expr
