// JsonLogic evaluation cost of a typical guard (runs on every workflow step).
// Run: ./build/bench/bench_expr --benchmark_repetitions=5 --benchmark_report_aggregates_only=true
#include <benchmark/benchmark.h>

#include "bihuan/expr.hpp"

using bihuan::json;

static void BM_SimpleGuard(benchmark::State& state) {
  const json rule =
      json::parse(R"({"and":[{"==":[{"var":"data.x"},1]},{">":[{"var":"event.payload.n"},2]}]})");
  const json data = json::parse(R"({"data":{"x":1,"name":"order-17","items":[1,2,3]},
      "event":{"name":"approve","payload":{"n":5,"by":"alice"}},"now":"2024-05-01T09:00:00+08:00"})");
  for (auto _ : state) {
    auto r = bihuan::expr::evaluate(rule, data);
    benchmark::DoNotOptimize(r);
  }
}
BENCHMARK(BM_SimpleGuard);

static void BM_MapFilterReduce(benchmark::State& state) {
  const json rule =
      json::parse(R"({"reduce":[{"filter":[{"var":"data.items"},{">":[{"var":""},10]}]},
      {"+":[{"var":"current"},{"var":"accumulator"}]},0]})");
  json items = json::array();
  for (int i = 0; i < 100; ++i) items.push_back(i);
  const json data = {{"data", {{"items", items}}}};
  for (auto _ : state) {
    auto r = bihuan::expr::evaluate(rule, data);
    benchmark::DoNotOptimize(r);
  }
}
BENCHMARK(BM_MapFilterReduce);

BENCHMARK_MAIN();
