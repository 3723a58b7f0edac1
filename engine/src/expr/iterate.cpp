// The operators that decide what to evaluate: if/?:, and, or (lazy), and map, filter,
// reduce, all, none, some (which evaluate their second argument once per element, with
// the element as the data).
#include "bihuan/expr.hpp"
#include "expr/evaluator.hpp"

namespace bihuan::expr {
namespace {

const json& null_value() {
  static const json kNull;
  return kNull;
}

}  // namespace

bool Evaluator::eval_if(const ArgList& args, const Scope& scope, Val& out, std::size_t depth) {
  std::size_t i = 0;
  for (; i + 1 < args.size; i += 2) {
    Val condition;
    if (!eval_arg(args, i, scope, condition, depth)) return false;
    if (is_truthy(condition.get())) return eval_arg(args, i + 1, scope, out, depth);
  }
  if (i + 1 == args.size) return eval_arg(args, i, scope, out, depth);
  out.set(json());
  return true;
}

bool Evaluator::eval_and_or(bool is_and, const ArgList& args, const Scope& scope, Val& out,
                            std::size_t depth) {
  out.set(json());
  for (std::size_t i = 0; i < args.size; ++i) {
    if (!eval_arg(args, i, scope, out, depth)) return false;
    // "and" returns the first falsy value, "or" the first truthy one; else the last.
    if (is_truthy(out.get()) != is_and) return true;
  }
  return true;
}

bool Evaluator::eval_iterate(Form form, const ArgList& args, const Scope& scope, Val& out,
                             std::size_t depth) {
  Val list;
  if (!eval_arg(args, 0, scope, list, depth)) return false;
  const json* body = args.at(1);
  if (body == nullptr) body = &null_value();
  const json& items = list.get();
  if (!items.is_array() || items.empty()) {
    if (form == Form::map || form == Form::filter) {
      out.set(json::array());
    } else {
      out.set(json(form == Form::none));
    }
    return true;
  }
  json result = json::array();
  std::size_t bytes = 0;
  json* owned = list.owned();
  for (std::size_t i = 0; i < items.size(); ++i) {
    if (!charge(1)) return false;
    const json& item = items[i];
    Val v;
    if (!eval(*body, Scope{&item}, v, depth + 1)) return unwind_arg(args, 1);
    switch (form) {
      case Form::map:
        if (!admit(v.get(), bytes)) return false;
        result.push_back(std::move(v).take());
        break;
      case Form::filter:
        if (is_truthy(v.get())) {
          if (!admit(item, bytes)) return false;
          result.push_back(owned != nullptr ? std::move((*owned)[i]) : item);
        }
        break;
      default:
        // all stops at the first falsy element, none and some at the first truthy one.
        if (is_truthy(v.get()) != (form == Form::all)) {
          out.set(json(form == Form::some));
          return true;
        }
        break;
    }
  }
  switch (form) {
    case Form::map:
    case Form::filter:
      out.set(std::move(result));
      break;
    case Form::some:
      out.set(json(false));
      break;
    default:
      out.set(json(true));
      break;  // all, none
  }
  return true;
}

bool Evaluator::eval_reduce(const ArgList& args, const Scope& scope, Val& out, std::size_t depth) {
  Val list;
  if (!eval_arg(args, 0, scope, list, depth)) return false;
  Val acc;  // the initial value, evaluated in the outer scope, or null
  if (!eval_arg(args, 2, scope, acc, depth)) return false;
  const json* body = args.at(1);
  if (body == nullptr) body = &null_value();
  const json& items = list.get();
  if (items.is_array()) {
    std::size_t unused = 0;
    for (const json& item : items) {
      if (!charge(1)) return false;
      Val next;
      Scope frame{nullptr, &item, &acc.get()};
      if (!eval(*body, frame, next, depth + 1)) return unwind_arg(args, 1);
      if (next.borrowed()) {
        if (&next.get() == &acc.get()) continue;  // the accumulator itself
        // A borrowed result may point into the accumulator we are about to replace.
        if (!acc.borrowed()) {
          unused = 0;
          if (!admit(next.get(), unused)) return false;
          next.set(json(next.get()));
        }
      }
      acc = std::move(next);
    }
  }
  // The result must not point into a list this call built and is about to drop.
  if (acc.borrowed() && !list.borrowed()) {
    std::size_t unused = 0;
    if (!admit(acc.get(), unused)) return false;
    acc.set(json(acc.get()));
  }
  out = std::move(acc);
  return true;
}

}  // namespace bihuan::expr
