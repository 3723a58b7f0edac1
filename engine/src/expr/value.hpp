// Values flowing through the evaluator, and the data scope rules read with "var".
//
// Most values a guard touches already exist: literals in the rule and fields of the
// data. A Val borrows those (a pointer) and owns only what an operator computed, so a
// lookup like {"var":"event.payload.n"} never copies.
#pragma once

#include <utility>

#include "bihuan/json.hpp"

namespace bihuan::expr {

class Val {
 public:
  Val() noexcept = default;

  static Val ref(const json& v) noexcept {
    Val r;
    r.ext_ = &v;
    return r;
  }
  static Val own(json v) noexcept {
    Val r;
    r.own_ = std::move(v);
    return r;
  }

  const json& get() const noexcept { return ext_ != nullptr ? *ext_ : own_; }
  const json* operator->() const noexcept { return &get(); }
  bool borrowed() const noexcept { return ext_ != nullptr; }
  // The owned value, for moving parts out of it; nullptr when borrowed.
  json* owned() noexcept { return ext_ != nullptr ? nullptr : &own_; }

  void set(json v) noexcept {
    ext_ = nullptr;
    own_ = std::move(v);
  }
  void point(const json& v) noexcept {
    ext_ = &v;
    own_ = nullptr;
  }
  // The value itself: moved out when owned, copied when borrowed.
  json take() && { return ext_ != nullptr ? json(*ext_) : std::move(own_); }

 private:
  const json* ext_ = nullptr;
  json own_;
};

// What {"var": ...} reads. Inside reduce the scope is the pair {current, accumulator},
// which is never built as an object unless a rule asks for the whole of it.
struct Scope {
  const json* data = nullptr;
  const json* current = nullptr;      // set only inside reduce
  const json* accumulator = nullptr;  // set only inside reduce

  bool is_reduce() const noexcept { return current != nullptr; }
};

}  // namespace bihuan::expr
