// libFuzzer target for the JsonLogic evaluator: any JSON text is a rule, or
// [rule, data] when it is a two-element array. check() and evaluate() must return
// (never crash, hang or run out of memory) under small limits.
//
//   clang++ -std=c++20 -fsanitize=fuzzer,address -I engine/include -I engine/src \
//     fuzz/expr_fuzz.cpp engine/src/expr/*.cpp engine/src/json/problem.cpp -o /tmp/expr_fuzz
//   /tmp/expr_fuzz -max_total_time=60 -max_len=4096 tests/expr/regressions
//
// Crashing inputs go to tests/expr/regressions/crash-<short>.json, which
// tests/expr/regression_test.cpp replays.
#include <cstddef>
#include <cstdint>
#include <string_view>

#include "bihuan/expr.hpp"

namespace {

// Answers the time_* operators like a trivial engine would, so their code paths run.
std::optional<bihuan::json> fake_time(std::string_view op, const bihuan::json& args,
                                      std::string& error) {
  if (args.empty()) {
    error = "no arguments";
    return std::nullopt;
  }
  if (op == "time_before") return bihuan::json(false);
  return args[0];
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* bytes, std::size_t size) {
  using bihuan::json;
  std::string_view text(reinterpret_cast<const char*>(bytes), size);
  json input = json::parse(text, nullptr, /*allow_exceptions=*/false);
  if (input.is_discarded()) return 0;

  // Moved, not copied: copying JSON recurses, and inputs may nest thousands deep.
  json rule, data = json::object();
  if (input.is_array() && input.size() == 2) {
    rule = std::move(input[0]);
    data = std::move(input[1]);
  } else {
    rule = std::move(input);
  }

  bihuan::Problems problems;
  bihuan::expr::check(rule, problems, "/rule");

  bihuan::expr::EvalLimits limits;
  limits.max_steps = 20'000;
  limits.max_depth = 64;
  limits.max_result_bytes = 256u << 10;
  const bihuan::expr::Host host{fake_time};
  const bihuan::expr::Host* hosts[] = {nullptr, &host};
  for (const bihuan::expr::Host* h : hosts) {
    bihuan::expr::EvalResult r = bihuan::expr::evaluate(rule, data, limits, h);
    if (r.ok() == r.error.has_value()) __builtin_trap();  // exactly one of value, error
    if (r.ok()) (void)bihuan::expr::truthy(*r.value);
  }
  return 0;
}
