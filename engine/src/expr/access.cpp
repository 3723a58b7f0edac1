// Accessing data: var, missing, missing_some.
#include <limits>
#include <vector>

#include "bihuan/expr.hpp"
#include "expr/builtins.hpp"
#include "expr/compare.hpp"
#include "expr/evaluator.hpp"
#include "expr/path.hpp"
#include "expr/text.hpp"

namespace bihuan::expr {
namespace {

// {"var":""}: the whole data. Inside reduce that is {"current", "accumulator"}, built
// only now because rules rarely ask for it.
bool whole_scope(Evaluator& ev, const Scope& scope, Val& out) {
  if (!scope.is_reduce()) {
    out.point(*scope.data);
    return true;
  }
  std::size_t bytes = 0;
  if (!ev.admit(*scope.accumulator, bytes, 2) || !ev.admit(*scope.current, bytes, 2)) return false;
  out.set(json{{"accumulator", *scope.accumulator}, {"current", *scope.current}});
  return true;
}

// What {"var": key} reads, for missing: nullptr when absent, without building anything.
// A key that is an array is var's whole argument list: [path, default].
bool is_missing(const Scope& scope, const json& key, Meter& meter) {
  const json* path = &key;
  const json* fallback = nullptr;
  if (key.is_array()) {
    path = key.empty() ? nullptr : &key[0];
    fallback = key.size() > 1 ? &key[1] : nullptr;
  }
  const json* value = nullptr;
  if (is_whole_key(path)) {
    if (scope.is_reduce()) return false;  // the scope object itself
    value = scope.data;
  } else {
    std::string storage;
    value = resolve_path(scope, key_text(*path, storage, meter));
    if (value == nullptr) value = fallback;
  }
  return value == nullptr || value->is_null() ||
         (value->is_string() && value->get_ref<const std::string&>().empty());
}

// The keys "missing" checks: its first argument when that is an array, else all of them.
json missing_keys(Evaluator& ev, const Scope& scope, const json* const* keys, std::size_t n,
                  bool& ok) {
  json result = json::array();
  std::size_t bytes = 0;
  ok = ev.charge(n);
  for (std::size_t i = 0; ok && i < n; ++i) {
    if (is_missing(scope, *keys[i], ev.meter())) {
      ok = ev.admit(*keys[i], bytes);
      if (ok) result.push_back(*keys[i]);
    }
  }
  return result;
}

json missing_of(Evaluator& ev, const Scope& scope, const json& list_or_first,
                const json* const* rest, std::size_t n, bool& ok) {
  if (list_or_first.is_array()) {
    std::vector<const json*> keys;
    keys.reserve(list_or_first.size());
    for (const json& k : list_or_first) keys.push_back(&k);
    return missing_keys(ev, scope, keys.data(), keys.size(), ok);
  }
  return missing_keys(ev, scope, rest, n, ok);
}

}  // namespace

bool read_var(Evaluator& ev, const Scope& scope, const json* key, Val* fallback, Val& out) {
  if (is_whole_key(key)) return whole_scope(ev, scope, out);
  std::string storage;
  if (const json* found = resolve_path(scope, key_text(*key, storage, ev.meter()))) {
    out.point(*found);
  } else if (fallback != nullptr) {
    out = std::move(*fallback);
  } else {
    out.set(json());
  }
  return true;
}

bool op_var(Evaluator& ev, const Scope& scope, Args args, Val& out) {
  return read_var(ev, scope, arg(args, 0), args.size() > 1 ? &args[1] : nullptr, out);
}

bool op_missing(Evaluator& ev, const Scope& scope, Args args, Val& out) {
  if (args.empty()) {
    out.set(json::array());
    return true;
  }
  std::vector<const json*> keys;
  keys.reserve(args.size());
  for (const Val& a : args) keys.push_back(&a.get());
  bool ok = true;
  json result = missing_of(ev, scope, *keys[0], keys.data(), keys.size(), ok);
  if (ok) out.set(std::move(result));
  return ok;
}

bool op_missing_some(Evaluator& ev, const Scope& scope, Args args, Val& out) {
  static const json kNull;
  const json* need = arg(args, 0);
  const json* options = arg(args, 1);
  if (options == nullptr) options = &kNull;
  // json-logic-js runs {"missing": options}: an array of options is missing's
  // argument list, anything else its one argument.
  bool ok = true;
  json result;
  if (options->is_array() && !options->empty()) {
    std::vector<const json*> keys;
    keys.reserve(options->size());
    for (const json& k : *options) keys.push_back(&k);
    result = missing_of(ev, scope, *keys[0], keys.data(), keys.size(), ok);
  } else if (options->is_array()) {
    result = json::array();
  } else {
    result = missing_of(ev, scope, *options, &options, 1, ok);
  }
  if (!ok) return false;
  // options.length - are_missing.length >= need_count
  double length = std::numeric_limits<double>::quiet_NaN();
  if (options->is_array()) length = static_cast<double>(options->size());
  if (options->is_string()) {
    length = static_cast<double>(code_point_count(options->get_ref<const std::string&>()));
  }
  json present = length - static_cast<double>(result.size());
  if (js_greater_equal(&present, need, ev.meter())) result = json::array();
  out.set(std::move(result));
  return true;
}

}  // namespace bihuan::expr
