// Bihuan's extension operators, and the time host hook.
#include <gtest/gtest.h>

#include "bihuan/expr.hpp"
#include "eval_helpers.hpp"

namespace bihuan::expr {
namespace {

using testing::run;
using testing::value_of;

TEST(ExprExtensions, NowReadsTheDataNow) {
  EXPECT_EQ(value_of(R"({"now":[]})", R"({"now":"2024-05-01T09:00:00+08:00"})"),
            "2024-05-01T09:00:00+08:00");
  EXPECT_EQ(value_of(R"({"now":[]})", "{}"), nullptr);
}

TEST(ExprExtensions, TimeOperatorsNeedTheHost) {
  for (const char* rule :
       {R"({"time_add":["2024-01-01T00:00:00Z", "P1D"]})", R"({"time_diff":["a", "b", "days"]})",
        R"({"time_before":["a", "b"]})"}) {
    EvalResult r = run(rule);
    ASSERT_FALSE(r.ok()) << rule;
    EXPECT_NE(r.error->message.find("needs the engine's time host"), std::string::npos);
  }
  EXPECT_EQ(run(R"({"time_add":["t", "P1D"]})").error->message,
            "operator \"time_add\" needs the engine's time host");
}

TEST(ExprExtensions, TimeOperatorsCallTheHost) {
  std::vector<std::pair<std::string, json>> calls;
  Host host;
  host.call = [&](std::string_view op, const json& args,
                  std::string& error) -> std::optional<json> {
    calls.emplace_back(std::string(op), args);
    if (op == "time_diff") {
      error = "unknown unit \"fortnights\"";
      return std::nullopt;
    }
    return json("2024-01-02T00:00:00Z");
  };
  EvalResult r = run(R"({"time_add":[{"now":[]}, "P1D", "cn"]})",
                     R"({"now":"2024-01-01T00:00:00Z"})", {}, &host);
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(*r.value, "2024-01-02T00:00:00Z");
  ASSERT_EQ(calls.size(), 1u);
  EXPECT_EQ(calls[0].first, "time_add");
  EXPECT_EQ(calls[0].second, json::parse(R"(["2024-01-01T00:00:00Z", "P1D", "cn"])"));

  r = run(R"({"if":[true, {"time_diff":["a", "b", "fortnights"]}]})", "null", {}, &host);
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.error->message, "operator \"time_diff\" failed: unknown unit \"fortnights\"");
  EXPECT_EQ(r.error->pointer, "/if/1/time_diff");
}

TEST(ExprExtensions, Count) {
  EXPECT_EQ(value_of(R"({"count":[[1, 2, 3]]})"), 3);
  EXPECT_EQ(value_of(R"({"count":"h\u00e9llo"})"), 5);
  EXPECT_EQ(value_of(R"({"count":5})"), 0);
  EXPECT_EQ(value_of(R"({"count":{"var":"xs"}})", R"({"xs":[1, 2]})"), 2);
}

TEST(ExprExtensions, Sum) {
  EXPECT_EQ(value_of(R"({"sum":[[1, 2, "3"]]})"), 6);
  EXPECT_EQ(value_of(R"({"sum":{"var":"xs"}})", R"({"xs":[0.5, 0.25]})"), 0.75);
  EXPECT_EQ(value_of(R"({"sum":[[]]})"), 0);
  EXPECT_EQ(value_of(R"({"sum":"12"})"), 0);
}

TEST(ExprExtensions, Unique) {
  EXPECT_EQ(
      value_of(R"({"unique":[[1, 2, 1, "1", 1.0, [1], [1], {"var":"o"}]]})", R"({"o":{"a":1}})"),
      json::parse(R"([1, 2, "1", [1], {"a":1}])"));
  EXPECT_EQ(value_of(R"({"unique":"abc"})"), json::array());
}

TEST(ExprExtensions, ContainsAll) {
  EXPECT_EQ(value_of(R"({"contains_all":[[1, 2, 3], [3, 1]]})"), true);
  EXPECT_EQ(value_of(R"({"contains_all":[[1, 2], [4]]})"), false);
  EXPECT_EQ(value_of(R"({"contains_all":[[1, 2], 2]})"), true);
  EXPECT_EQ(value_of(R"({"contains_all":[[1, 2], []]})"), true);
  EXPECT_EQ(value_of(R"({"contains_all":["abc", ["a"]]})"), false);
  EXPECT_EQ(value_of(R"({"contains_all":[{"var":"roles"}, ["admin", "ops"]]})",
                     R"({"roles":["ops", "dev", "admin"]})"),
            true);
}

TEST(ExprExtensions, Get) {
  EXPECT_EQ(value_of(R"({"get":[{"var":"o"}, "a.b"]})", R"({"o":{"a":{"b":7}}})"), 7);
  EXPECT_EQ(value_of(R"({"get":[{"merge":[[{"x":1, "y":2}]]}, "0.x"]})"), 1);
  EXPECT_EQ(value_of(R"({"get":[{"var":"o"}, "zz", 7]})", R"({"o":{}})"), 7);
  EXPECT_EQ(value_of(R"({"get":[{"var":"o"}, "zz"]})", R"({"o":{}})"), nullptr);
  EXPECT_EQ(value_of(R"({"get":[[10, 20], 1]})"), 20);
  EXPECT_EQ(value_of(R"({"get":[{"var":"o"}, ""]})", R"({"o":[1]})"), json::parse("[1]"));
}

}  // namespace
}  // namespace bihuan::expr
