// Test helpers: evaluate rule text against data text.
#pragma once

#include <string>

#include <gtest/gtest.h>

#include "bihuan/expr.hpp"

namespace bihuan::expr::testing {

inline EvalResult run(const std::string& rule, const std::string& data = "null",
                      const EvalLimits& limits = {}, const Host* host = nullptr) {
  return evaluate(json::parse(rule), json::parse(data), limits, host);
}

// The value of a rule that must evaluate; a failure shows the error.
inline json value_of(const std::string& rule, const std::string& data = "null") {
  EvalResult r = run(rule, data);
  EXPECT_TRUE(r.ok()) << rule << ": " << (r.error ? r.error->message : std::string());
  return r.value.value_or(json("<error>"));
}

}  // namespace bihuan::expr::testing
