// Test helper: JSON equality with numbers compared by value (1 == 1.0), as the
// conformance suite's README asks.
#pragma once

#include "bihuan/json.hpp"

namespace bihuan::expr::testing {

inline bool same_json(const json& a, const json& b) {
  if (a.is_number() && b.is_number()) return a.get<double>() == b.get<double>();
  if (a.type() != b.type()) return false;
  if (a.is_array()) {
    if (a.size() != b.size()) return false;
    for (std::size_t i = 0; i < a.size(); ++i) {
      if (!same_json(a[i], b[i])) return false;
    }
    return true;
  }
  if (a.is_object()) {
    if (a.size() != b.size()) return false;
    for (auto it = a.begin(); it != a.end(); ++it) {
      auto other = b.find(it.key());
      if (other == b.end() || !same_json(it.value(), *other)) return false;
    }
    return true;
  }
  return a == b;
}

}  // namespace bihuan::expr::testing
