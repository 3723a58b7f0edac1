// Bounded evaluation: depth, steps, size of values built; errors instead of crashes.
#include <chrono>

#include <gtest/gtest.h>

#include "bihuan/expr.hpp"
#include "eval_helpers.hpp"

namespace bihuan::expr {
namespace {

using Clock = std::chrono::steady_clock;

// {"!":{"!":...{"!":true}}} nested `depth` times, built without recursion.
json deep_not(std::size_t depth) {
  json rule = true;
  for (std::size_t i = 0; i < depth; ++i) {
    json wrapper = json::object();
    wrapper["!"] = std::move(rule);
    rule = std::move(wrapper);
  }
  return rule;
}

json deep_array(std::size_t depth) {
  json rule = 1;
  for (std::size_t i = 0; i < depth; ++i) {
    json wrapper = json::array();
    wrapper.push_back(std::move(rule));
    rule = std::move(wrapper);
  }
  return rule;
}

json range(std::size_t n) {
  json a = json::array();
  for (std::size_t i = 0; i < n; ++i) a.push_back(i);
  return a;
}

double seconds_since(Clock::time_point start) {
  return std::chrono::duration<double>(Clock::now() - start).count();
}

TEST(ExprLimits, HundredThousandDeepRuleFailsQuickly) {
  for (const json& rule : {deep_not(100'000), deep_array(100'000)}) {
    auto start = Clock::now();
    EvalResult r = evaluate(rule, json::object());
    ASSERT_FALSE(r.ok());
    EXPECT_NE(r.error->message.find("nested deeper than max_depth 128"), std::string::npos)
        << r.error->message;
    EXPECT_EQ(r.error->pointer.size() % 2, 0u);  // "/!" or "/0" per level

    Problems problems;
    EXPECT_FALSE(check(rule, problems, "/guard"));
    ASSERT_EQ(problems.items().size(), 1u);
    EXPECT_EQ(problems.items()[0].code, "rule-too-deep");
    EXPECT_LT(seconds_since(start), 2.0);
  }
}

TEST(ExprLimits, DeepLiteralDataIsNotCopiedUnbounded) {
  // An object with two keys is data, not logic: 100,000 levels of it as a result.
  json data = 1;
  for (int i = 0; i < 100'000; ++i) {
    json wrapper = json::object();
    wrapper["a"] = std::move(data);
    wrapper["b"] = 0;
    data = std::move(wrapper);
  }
  json rule = json::object();
  rule["log"] = std::move(data);
  EvalResult r = evaluate(rule, json::object());
  ASSERT_FALSE(r.ok());
  EXPECT_NE(r.error->message.find("nested deeper"), std::string::npos) << r.error->message;
  Problems problems;
  EXPECT_TRUE(check(rule, problems, ""));  // literal data is not walked
}

TEST(ExprLimits, MaxDepthIsConfigurable) {
  EvalLimits limits;
  limits.max_depth = 5;
  EXPECT_TRUE(evaluate(deep_not(5), json(), limits).ok());
  EvalResult r = evaluate(deep_not(6), json(), limits);
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.error->pointer, "/!/!/!/!/!");
}

TEST(ExprLimits, StepBudgetStopsLongReduce) {
  json data = {{"xs", range(1'000'000)}};
  json rule = json::parse(
      R"({"reduce":[{"var":"xs"}, {"+":[{"var":"accumulator"}, {"var":"current"}]}, 0]})");
  EvalLimits limits;
  limits.max_steps = 1000;
  auto start = Clock::now();
  EvalResult r = evaluate(rule, data, limits);
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.error->message, "step budget of 1000 exceeded");
  EXPECT_LT(seconds_since(start), 1.0);
  // With the default budget a smaller reduce completes.
  data["xs"] = range(1000);
  EXPECT_EQ(evaluate(rule, data).value, json(499500));
}

TEST(ExprLimits, StepBudgetCountsComparisonsOfBigValues) {
  json data = {{"xs", range(100'000)}};
  EvalLimits limits;
  limits.max_steps = 1000;
  EvalResult r = evaluate(json::parse(R"({"in":[-1, {"var":"xs"}]})"), data, limits);
  ASSERT_FALSE(r.ok());
  EXPECT_NE(r.error->message.find("step budget"), std::string::npos);
}

TEST(ExprLimits, DoublingStringsAreBounded) {
  EvalLimits limits;
  limits.max_result_bytes = 1 << 20;
  json rule = {
      {"reduce",
       {range(100), json::parse(R"({"cat":[{"var":"accumulator"},{"var":"accumulator"}]})"), "x"}}};
  auto start = Clock::now();
  EvalResult r = evaluate(rule, json(), limits);
  ASSERT_FALSE(r.ok());
  EXPECT_NE(r.error->message.find("max_result_bytes"), std::string::npos) << r.error->message;
  EXPECT_EQ(r.error->pointer, "/reduce/1/cat");
  EXPECT_LT(seconds_since(start), 1.0);
}

TEST(ExprLimits, DoublingArraysAreBounded) {
  EvalLimits limits;
  limits.max_result_bytes = 1 << 20;
  for (const char* body : {R"({"merge":[{"var":"accumulator"},{"var":"accumulator"}]})",
                           R"([{"var":"accumulator"},{"var":"accumulator"}])", R"({"var":""})"}) {
    json rule = {{"reduce", {range(10'000), json::parse(body), json::array({1})}}};
    auto start = Clock::now();
    EvalResult r = evaluate(rule, json(), limits);
    ASSERT_FALSE(r.ok()) << body;
    EXPECT_LT(seconds_since(start), 2.0) << body;
  }
}

TEST(ExprLimits, MapResultIsBounded) {
  EvalLimits limits;
  limits.max_result_bytes = 10'000;
  json data = {{"xs", range(10'000)}};
  EvalResult r = evaluate(json::parse(R"({"map":[{"var":"xs"}, {"cat":["item ", {"var":""}]}]})"),
                          data, limits);
  ASSERT_FALSE(r.ok());
  EXPECT_NE(r.error->message.find("max_result_bytes"), std::string::npos);
}

TEST(ExprLimits, UnknownOperatorIsAnErrorNamingIt) {
  EvalResult r = testing::run(R"({"and":[true, {"frobnicate":[1]}]})");
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.error->message, "unknown JsonLogic operator \"frobnicate\"");
  EXPECT_EQ(r.error->pointer, "/and/1");
  r = testing::run(R"({"map":[[1], {"if":[true, {"a/b~":1}]}]})");
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.error->pointer, "/map/1/if/1");
  r = testing::run(R"({"!":{"nope":1}})");
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.error->pointer, "/!");
  r = testing::run(R"([1, {"x/y":2}])");
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.error->pointer, "/1");
}

TEST(ExprLimits, MultiplyWithoutArgumentsIsAnError) {
  EvalResult r = testing::run(R"({"*":[]})");
  ASSERT_FALSE(r.ok());
  EXPECT_NE(r.error->message.find("\"*\""), std::string::npos);
}

TEST(ExprLimits, NeverThrowsOnOddInput) {
  for (const char* rule :
       {R"({"var":[[[]]]})", R"({"substr":[]})", R"({"in":[]})", R"({"missing_some":[]})",
        R"({"missing_some":[1, "abc"]})", R"({"reduce":[]})", R"({"map":[]})", R"({"-":[]})",
        R"({"if":[[]]})", R"({"get":[]})", R"({"count":[]})", R"({"unique":[]})",
        R"({"contains_all":[]})", R"({"sum":[]})", R"({"now":[]})"}) {
    EXPECT_NO_THROW((void)testing::run(rule)) << rule;
  }
}

}  // namespace
}  // namespace bihuan::expr
