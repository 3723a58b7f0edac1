// The recursion of evaluate(): dispatch of rules, eager operators and array literals,
// the budgets, and the public entry points. The operators that choose what to
// evaluate (if/and/or and the array iterators) are in iterate.cpp.
#include <algorithm>
#include <cmath>
#include <exception>
#include <limits>
#include <new>

#include "bihuan/expr.hpp"
#include "expr/builtins.hpp"
#include "expr/evaluator.hpp"
#include "expr/text.hpp"

namespace bihuan::expr {
namespace {

// Non-finite numbers have no JSON form: they leave the evaluator as null.
void null_non_finite(json& v) {
  if (v.is_number_float()) {
    if (!std::isfinite(v.get<double>())) v = nullptr;
    return;
  }
  if (!v.is_structured()) return;
  std::vector<json*> stack{&v};
  while (!stack.empty()) {
    json* node = stack.back();
    stack.pop_back();
    for (json& child : *node) {
      if (child.is_number_float() && !std::isfinite(child.get<double>())) {
        child = nullptr;
      } else if (child.is_structured()) {
        stack.push_back(&child);
      }
    }
  }
}

}  // namespace

ArgList::ArgList(const json& values) {
  if (values.is_array()) {
    const auto& arr = values.get_ref<const json::array_t&>();
    items = arr.data();
    size = arr.size();
  } else {
    items = &values;
    size = 1;
    sugar = true;
  }
}

Evaluator::Evaluator(const EvalLimits& limits, const Host* host)
    : limits_(limits), max_depth_(std::min(limits.max_depth, kMaxDepthCap)), host_(host) {
  meter_.max_bytes = limits.max_result_bytes;
  stack_.reserve(16);
}

bool Evaluator::eval(const json& rule, const Scope& scope, Val& out, std::size_t depth) {
  if (rule.is_object()) {
    if (rule.size() != 1) {  // not logic: data, returned as it is
      out.point(rule);
      return true;
    }
    if (depth >= max_depth_) {
      return fail("rule nested deeper than max_depth " + std::to_string(max_depth_));
    }
    if (!charge(1)) return false;
    auto it = rule.begin();
    const OpInfo* op = find_operator(it.key());
    if (op == nullptr) return fail("unknown JsonLogic operator \"" + it.key() + "\"");
    if (!apply(*op, it.value(), scope, out, depth)) {
      trail_.push_back(it.key());
      return false;
    }
    return true;
  }
  if (rule.is_array()) return eval_array(rule, scope, out, depth);
  out.point(rule);
  return true;
}

bool Evaluator::apply(const OpInfo& op, const json& values, const Scope& scope, Val& out,
                      std::size_t depth) {
  if (op.form == Form::var && !values.is_structured()) {
    return read_var(*this, scope, &values, nullptr, out);  // {"var":"a.b"}: no arguments to build
  }
  ArgList args(values);
  switch (op.form) {
    case Form::eager:
    case Form::var:
      return apply_eager(op, args, scope, out, depth);
    case Form::if_:
      return eval_if(args, scope, out, depth);
    case Form::and_:
      return eval_and_or(true, args, scope, out, depth);
    case Form::or_:
      return eval_and_or(false, args, scope, out, depth);
    case Form::reduce:
      return eval_reduce(args, scope, out, depth);
    case Form::map:
    case Form::filter:
    case Form::all:
    case Form::none:
    case Form::some:
      return eval_iterate(op.form, args, scope, out, depth);
  }
  return fail("internal error: operator \"" + std::string(op.name) + "\" has no form");
}

bool Evaluator::apply_eager(const OpInfo& op, const ArgList& args, const Scope& scope, Val& out,
                            std::size_t depth) {
  const std::size_t base = stack_.size();
  for (std::size_t i = 0; i < args.size; ++i) {
    Val v;
    if (!eval(args.items[i], scope, v, depth + 1)) {
      stack_.resize(base);
      return unwind_arg(args, i);
    }
    stack_.push_back(std::move(v));
  }
  bool ok = op.fn(*this, scope, Args(stack_.data() + base, args.size), out) && settle_meter();
  stack_.resize(base);
  return ok;
}

bool Evaluator::eval_array(const json& rule, const Scope& scope, Val& out, std::size_t depth) {
  if (depth >= max_depth_) {
    return fail("rule nested deeper than max_depth " + std::to_string(max_depth_));
  }
  // An array of plain values evaluates to itself: borrow it instead of rebuilding it.
  if (std::none_of(rule.begin(), rule.end(), [](const json& e) { return e.is_structured(); })) {
    out.point(rule);
    return true;
  }
  json result = json::array();
  result.get_ref<json::array_t&>().reserve(rule.size());
  std::size_t bytes = 0;
  for (std::size_t i = 0; i < rule.size(); ++i) {
    Val v;
    if (!eval(rule[i], scope, v, depth + 1)) {
      trail_.push_back(std::to_string(i));
      return false;
    }
    if (!admit(v.get(), bytes)) return false;
    result.push_back(std::move(v).take());
  }
  out.set(std::move(result));
  return true;
}

bool Evaluator::eval_arg(const ArgList& args, std::size_t i, const Scope& scope, Val& out,
                         std::size_t depth) {
  const json* rule = args.at(i);
  if (rule == nullptr) {
    out.set(json());
    return true;
  }
  return eval(*rule, scope, out, depth + 1) || unwind_arg(args, i);
}

bool Evaluator::unwind_arg(const ArgList& args, std::size_t i) {
  if (!args.sugar) trail_.push_back(std::to_string(i));
  return false;
}

bool Evaluator::fail(std::string message) {
  message_ = std::move(message);
  return false;
}

bool Evaluator::charge(std::uint64_t n) {
  steps_ += n;
  if (steps_ > limits_.max_steps) {
    return fail("step budget of " + std::to_string(limits_.max_steps) + " exceeded");
  }
  return true;
}

bool Evaluator::admit_bytes(std::size_t bytes) {
  if (bytes > limits_.max_result_bytes) {
    return fail("value built is larger than max_result_bytes (" +
                std::to_string(limits_.max_result_bytes) + ")");
  }
  return true;
}

bool Evaluator::admit(const json& v, std::size_t& running, std::size_t extra_depth) {
  std::size_t room = limits_.max_result_bytes - std::min(running, limits_.max_result_bytes);
  Footprint f = footprint(v, room, kMaxValueDepth);
  if (f.depth + extra_depth > kMaxValueDepth) {
    return fail("value built is nested deeper than " + std::to_string(kMaxValueDepth) + " levels");
  }
  running += f.bytes;
  return admit_bytes(running);
}

bool Evaluator::settle_meter() {
  std::uint64_t work = meter_.work;
  meter_.work = 0;
  if (meter_.overflow) {
    meter_.overflow = false;
    return admit_bytes(limits_.max_result_bytes + 1);
  }
  return work == 0 || charge(work);
}

EvalError Evaluator::error() const {
  EvalError e;
  for (auto it = trail_.rbegin(); it != trail_.rend(); ++it) {
    e.pointer += '/';
    e.pointer += escape_token(*it);
  }
  e.message = message_;
  return e;
}

EvalResult evaluate(const json& rule, const json& data, const EvalLimits& limits) {
  return evaluate(rule, data, limits, nullptr);
}

EvalResult evaluate(const json& rule, const json& data, const EvalLimits& limits,
                    const Host* host) {
  EvalResult result;
  try {
    Evaluator ev(limits, host);
    Val out;
    if (!ev.eval(rule, Scope{&data}, out, 0)) {
      result.error = ev.error();
      return result;
    }
    if (out.borrowed() && out->is_structured()) {
      // Copying JSON recurses: refuse a borrowed result nested too deep to copy safely.
      Footprint f = footprint(out.get(), std::numeric_limits<std::size_t>::max(), kMaxValueDepth);
      if (f.depth > kMaxValueDepth) {
        result.error = EvalError{
            "", "result is nested deeper than " + std::to_string(kMaxValueDepth) + " levels"};
        return result;
      }
    }
    // Values built here may hold Infinity or NaN anywhere; borrowed ones only if the
    // caller put them in the data.
    bool computed = !out.borrowed();
    json value = std::move(out).take();
    if (computed || !value.is_structured()) null_non_finite(value);
    result.value = std::move(value);
  } catch (const std::bad_alloc&) {
    result.error = EvalError{"", "out of memory while evaluating the rule"};
  } catch (const std::exception& e) {
    result.error = EvalError{"", std::string("evaluation failed: ") + e.what()};
  } catch (...) {
    result.error = EvalError{"", "evaluation failed: unknown exception"};
  }
  return result;
}

bool truthy(const json& value) { return is_truthy(value); }

}  // namespace bihuan::expr
