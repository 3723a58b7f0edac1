// A typical guard must stay cheap: it runs on every workflow step.
#include <chrono>
#include <cstdio>

#include <gtest/gtest.h>

#include "bihuan/expr.hpp"

namespace bihuan::expr {
namespace {

TEST(ExprPerformance, SimpleGuardIsFast) {
  const json rule = json::parse(
      R"({"and":[{"==":[{"var":"data.x"},1]},{">":[{"var":"event.payload.n"},2]}]})");
  const json data = json::parse(
      R"({"data":{"x":1,"name":"order-17","items":[1,2,3]},
          "event":{"type":"approved","payload":{"n":5,"by":"alice"}},
          "now":"2024-05-01T09:00:00+08:00"})");
  constexpr int kRuns = 200'000;
  int truthy_count = 0;
  auto start = std::chrono::steady_clock::now();
  for (int i = 0; i < kRuns; ++i) {
    EvalResult r = evaluate(rule, data);
    truthy_count += r.ok() && truthy(*r.value);
  }
  double ns = std::chrono::duration<double, std::nano>(std::chrono::steady_clock::now() - start).count() / kRuns;
  std::printf("simple guard: %.0f ns per evaluation\n", ns);
  EXPECT_EQ(truthy_count, kRuns);
  // Generous: the machine is shared and tests may run unoptimised.
  EXPECT_LT(ns, 20'000.0);
}

}  // namespace
}  // namespace bihuan::expr
