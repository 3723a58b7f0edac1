// Bihuan's extension operators. The list and arities are in operators.cpp with the
// official ones; docs/definition-language.md describes them for definition authors.
//
//   {"now": []}                         data["now"], the instant the engine put there
//   {"time_add": [t, duration, cal?]}   answered by the engine's time host
//   {"time_diff": [a, b, unit, cal?]}   answered by the engine's time host
//   {"time_before": [a, b]}             answered by the engine's time host
//   {"count": x}                        length of an array or string, else 0
//   {"sum": array}                      sum of the elements (coerced as "+" does)
//   {"unique": array}                   elements without duplicates, first ones kept
//   {"contains_all": [a, b]}            every element of b is an element of a
//   {"get": [object, path, default?]}   "var" on a computed value
#include <limits>
#include <unordered_set>
#include <vector>

#include "bihuan/expr.hpp"
#include "expr/builtins.hpp"
#include "expr/evaluator.hpp"
#include "expr/extensions.hpp"
#include "expr/path.hpp"
#include "expr/text.hpp"

namespace bihuan::expr {
namespace {

bool call_host(Evaluator& ev, std::string_view name, Args args, Val& out) {
  const Host* host = ev.host();
  if (host == nullptr || !host->call) {
    return ev.fail("operator \"" + std::string(name) + "\" needs the engine's time host");
  }
  json list = json::array();
  std::size_t bytes = 0;
  for (Val& a : args) {
    if (!ev.admit(a.get(), bytes)) return false;
    list.push_back(std::move(a).take());
  }
  std::string error;
  std::optional<json> result = host->call(name, list, error);
  if (!result) {
    return ev.fail("operator \"" + std::string(name) + "\" failed" +
                   (error.empty() ? std::string() : ": " + error));
  }
  out.set(std::move(*result));
  return true;
}

void mix(std::size_t& h, std::size_t v) { h ^= v + 0x9e3779b97f4a7c15ULL + (h << 6) + (h >> 2); }

// Hash consistent with json equality (1 and 1.0 hash alike), without recursion.
std::size_t value_hash(const json& root) {
  std::size_t h = 0;
  std::vector<const json*> stack{&root};
  while (!stack.empty()) {
    const json& v = *stack.back();
    stack.pop_back();
    mix(h, static_cast<std::size_t>(v.type() == json::value_t::number_unsigned ||
                                            v.type() == json::value_t::number_float
                                        ? json::value_t::number_integer
                                        : v.type()));
    switch (v.type()) {
      case json::value_t::boolean:
        mix(h, v.get<bool>());
        break;
      case json::value_t::number_integer:
      case json::value_t::number_unsigned:
      case json::value_t::number_float: {
        double d = v.get<double>();
        mix(h, std::hash<double>{}(d == 0 ? 0.0 : d));
        break;
      }
      case json::value_t::string:
        mix(h, std::hash<std::string>{}(v.get_ref<const std::string&>()));
        break;
      case json::value_t::array:
        mix(h, v.size());
        for (const json& child : v) stack.push_back(&child);
        break;
      case json::value_t::object:
        mix(h, v.size());
        for (auto it = v.begin(); it != v.end(); ++it) {
          mix(h, std::hash<std::string>{}(it.key()));
          stack.push_back(&it.value());
        }
        break;
      default:
        break;
    }
  }
  return h;
}

struct Hash {
  std::size_t operator()(const json* v) const { return value_hash(*v); }
};
struct Equal {
  bool operator()(const json* a, const json* b) const { return *a == *b; }
};
using ValueSet = std::unordered_set<const json*, Hash, Equal>;

// Values compared with json equality recurse; refuse ones nested too deep for that.
bool comparable(Evaluator& ev, const json& v) {
  Footprint f = footprint(v, std::numeric_limits<std::size_t>::max(), kMaxValueDepth);
  return f.depth <= kMaxValueDepth ||
         ev.fail("value nested deeper than " + std::to_string(kMaxValueDepth) + " levels");
}

}  // namespace

bool op_now(Evaluator& ev, const Scope& scope, Args, Val& out) {
  static const json kNow = "now";
  return read_var(ev, scope, &kNow, nullptr, out);
}

bool op_time_add(Evaluator& ev, const Scope&, Args args, Val& out) {
  return call_host(ev, "time_add", args, out);
}

bool op_time_diff(Evaluator& ev, const Scope&, Args args, Val& out) {
  return call_host(ev, "time_diff", args, out);
}

bool op_time_before(Evaluator& ev, const Scope&, Args args, Val& out) {
  return call_host(ev, "time_before", args, out);
}

bool op_count(Evaluator&, const Scope&, Args args, Val& out) {
  const json* v = arg(args, 0);
  std::size_t n = 0;
  if (v != nullptr && v->is_array()) n = v->size();
  if (v != nullptr && v->is_string()) n = code_point_count(v->get_ref<const std::string&>());
  out.set(json(n));
  return true;
}

bool op_sum(Evaluator& ev, const Scope&, Args args, Val& out) {
  const json* v = arg(args, 0);
  double sum = 0;
  if (v != nullptr && v->is_array()) {
    if (!ev.charge(v->size())) return false;
    for (const json& item : *v) sum += parse_float(&item, ev.meter());
  }
  out.set(make_number(sum));
  return true;
}

bool op_unique(Evaluator& ev, const Scope&, Args args, Val& out) {
  json result = json::array();
  if (args.empty() || !args[0]->is_array()) {
    out.set(std::move(result));
    return true;
  }
  const json& items = args[0].get();
  if (!ev.charge(items.size())) return false;
  ValueSet seen;
  seen.reserve(items.size());
  std::size_t bytes = 0;
  for (const json& item : items) {
    if (!comparable(ev, item)) return false;
    if (seen.insert(&item).second) {
      if (!ev.admit(item, bytes)) return false;
      result.push_back(item);
    }
  }
  out.set(std::move(result));
  return true;
}

bool op_contains_all(Evaluator& ev, const Scope&, Args args, Val& out) {
  const json* all = arg(args, 0);
  const json* wanted = arg(args, 1);
  if (all == nullptr || !all->is_array() || wanted == nullptr) {
    out.set(json(false));
    return true;
  }
  if (!ev.charge(all->size() + (wanted->is_array() ? wanted->size() : 1))) return false;
  ValueSet present;
  present.reserve(all->size());
  for (const json& item : *all) {
    if (!comparable(ev, item)) return false;
    present.insert(&item);
  }
  bool result = true;
  if (wanted->is_array()) {
    for (const json& item : *wanted) {
      if (!comparable(ev, item)) return false;
      if (present.count(&item) == 0) {
        result = false;
        break;
      }
    }
  } else {
    if (!comparable(ev, *wanted)) return false;
    result = present.count(wanted) != 0;
  }
  out.set(json(result));
  return true;
}

bool op_get(Evaluator& ev, const Scope&, Args args, Val& out) {
  const json* key = arg(args, 1);
  if (args.empty() || is_whole_key(key)) {
    out = args.empty() ? Val() : std::move(args[0]);
    return true;
  }
  std::string storage;
  const json* found = resolve_path(args[0].get(), key_text(*key, storage, ev.meter()));
  if (found == nullptr) {
    out = args.size() > 2 ? std::move(args[2]) : Val();
  } else if (args[0].borrowed()) {
    out.point(*found);
  } else {
    out.set(json(*found));  // a part of a value built by this rule
  }
  return true;
}

}  // namespace bihuan::expr
