// JavaScript semantics of the official operators beyond the conformance suite: loose
// equality, ordering, number parsing and printing, strings, arrays.
#include <cmath>

#include <gtest/gtest.h>

#include "bihuan/expr.hpp"
#include "eval_helpers.hpp"

namespace bihuan::expr {
namespace {

using testing::value_of;

TEST(ExprCoercion, LooseEqualityFollowsJavaScript) {
  EXPECT_EQ(value_of(R"({"==":[null, 0]})"), false);
  EXPECT_EQ(value_of(R"({"==":[null, null]})"), true);
  EXPECT_EQ(value_of(R"({"==":[[1], 1]})"), true);
  EXPECT_EQ(value_of(R"({"==":[[], false]})"), true);
  EXPECT_EQ(value_of(R"({"==":["", 0]})"), true);
  EXPECT_EQ(value_of(R"({"==":["0", false]})"), true);
  EXPECT_EQ(value_of(R"({"==":[true, "1"]})"), true);
  EXPECT_EQ(value_of(R"({"==":[true, "true"]})"), false);
  EXPECT_EQ(value_of(R"({"==":[1, " 1.0 "]})"), true);
  EXPECT_EQ(value_of(R"({"==":[255, "0xff"]})"), true);
  EXPECT_EQ(value_of(R"({"==":["abc", "abc"]})"), true);
  EXPECT_EQ(value_of(R"({"==":[{"var":"o"}, "[object Object]"]})", R"({"o":{"a":1}})"), true);
  EXPECT_EQ(value_of(R"({"!=":[1, "2"]})"), true);
}

TEST(ExprCoercion, ArraysCompareByIdentityLikeJavaScript) {
  EXPECT_EQ(value_of(R"({"==":[[1], [1]]})"), false);
  EXPECT_EQ(value_of(R"({"===":[{"var":"a"}, {"var":"a"}]})", R"({"a":[1]})"), true);
  EXPECT_EQ(value_of(R"({"===":[{"var":"a"}, {"var":"b"}]})", R"({"a":[1],"b":[1]})"), false);
  EXPECT_EQ(value_of(R"({"in":[[1], [[1]]]})"), false);
}

TEST(ExprCoercion, StrictEquality) {
  EXPECT_EQ(value_of(R"({"===":[1, 1.0]})"), true);
  EXPECT_EQ(value_of(R"({"===":[null, null]})"), true);
  EXPECT_EQ(value_of(R"({"===":[0, false]})"), false);
  EXPECT_EQ(value_of(R"({"!==":["a", "a"]})"), false);
}

TEST(ExprCoercion, Ordering) {
  EXPECT_EQ(value_of(R"({"<":["a", "b"]})"), true);
  EXPECT_EQ(value_of(R"({"<":["10", "9"]})"), true);  // both strings: text order
  EXPECT_EQ(value_of(R"({"<":["10", 9]})"), false);   // a number: numeric order
  EXPECT_EQ(value_of(R"({"<":[null, 1]})"), true);
  EXPECT_EQ(value_of(R"({"<":["abc", 1]})"), false);
  EXPECT_EQ(value_of(R"({">=":["abc", 1]})"), false);
  EXPECT_EQ(value_of(R"({"<=":[null, 0]})"), true);
  EXPECT_EQ(value_of(R"({"<":[[2], [10]]})"), false);  // "2" < "10" as text
  EXPECT_EQ(value_of(R"({"<=":[1, 1, 1]})"), true);
  EXPECT_EQ(value_of(R"({"<":[0, {"var":"t"}, 100]})", R"({"t":37})"), true);
  EXPECT_EQ(value_of(R"({">":[{"var":"t"}, "2"]})", R"({"t":"10"})"), false);
  // UTF-16 order: U+FF5E (one unit) sorts after U+1F600 (a surrogate pair).
  EXPECT_EQ(value_of(R"({"<":["\ud83d\ude00", "\uff5e"]})"), true);
}

TEST(ExprCoercion, Arithmetic) {
  EXPECT_EQ(value_of(R"({"+":"3.14"})"), 3.14);
  EXPECT_EQ(value_of(R"({"+":["3px", 1]})"), 4);        // parseFloat
  EXPECT_EQ(value_of(R"({"-":["3px", 1]})"), nullptr);  // Number("3px") is NaN
  EXPECT_EQ(value_of(R"({"+":[null, 1]})"), nullptr);   // parseFloat(null) is NaN
  EXPECT_EQ(value_of(R"({"-":[null, 1]})"), -1);
  EXPECT_EQ(value_of(R"({"*":["2", "3"]})"), 6);
  EXPECT_EQ(value_of(R"({"*":["2"]})"), "2");  // json-logic-js returns a lone factor as is
  EXPECT_EQ(value_of(R"({"%":[-7, 2]})"), -1);
  EXPECT_EQ(value_of(R"({"%":[7.5, 2]})"), 1.5);
  EXPECT_EQ(value_of(R"({"+":[0.1, 0.2]})"), 0.30000000000000004);
  EXPECT_EQ(value_of(R"({"max":[1, "3", 2]})"), 3);
  EXPECT_EQ(value_of(R"({"min":[1, "x"]})"), nullptr);
  EXPECT_EQ(value_of(R"({"-":""})"), 0);
  EXPECT_EQ(value_of(R"({"+":"0x10"})"), 0);
  EXPECT_EQ(value_of(R"({"-":["0x10", 0]})"), 16);
  EXPECT_EQ(value_of(R"({"+":" 12 "})"), 12);
  EXPECT_EQ(value_of(R"({"+":"1e3"})"), 1000);
  EXPECT_EQ(value_of(R"({"-":["1e400", 0]})"), nullptr);
  EXPECT_EQ(value_of(R"({"-":["1e-400", 0]})"), 0);
}

TEST(ExprCoercion, IntegralResultsAreIntegers) {
  EXPECT_TRUE(value_of(R"({"*":[2, 3]})").is_number_integer());
  EXPECT_TRUE(value_of(R"({"/":[4, 2]})").is_number_integer());
  EXPECT_TRUE(value_of(R"({"+":"3.0"})").is_number_integer());
  EXPECT_TRUE(value_of(R"({"/":[1, 3]})").is_number_float());
}

TEST(ExprCoercion, NonFiniteResultsBecomeNull) {
  EXPECT_EQ(value_of(R"({"/":[1, 0]})"), nullptr);
  EXPECT_EQ(value_of(R"({"/":[0, 0]})"), nullptr);
  EXPECT_EQ(value_of(R"({"*":[1e200, 1e200]})"), nullptr);
  EXPECT_EQ(value_of(R"({"+":"Infinity"})"), nullptr);
  EXPECT_EQ(value_of(R"({"map":[[0, 1], {"/":[1, {"var":""}]}]})"), json::parse("[null, 1]"));
  EXPECT_EQ(value_of(R"([{"/":[1, 0]}, {"-":[{"/":[1, 0]}]}])"), json::parse("[null, null]"));
  // Inside the evaluation Infinity is still Infinity, as in JavaScript.
  EXPECT_EQ(value_of(R"({"<":[1e308, {"/":[1, 0]}]})"), true);
  EXPECT_EQ(value_of(R"({"cat":[{"/":[1, 0]}, {"/":[0, 0]}]})"), "InfinityNaN");
}

TEST(ExprCoercion, NumbersPrintLikeJavaScript) {
  EXPECT_EQ(value_of(R"({"cat":[1.5, " ", 1.0, " ", null, true, [1, [2, null]]]})"),
            "1.5 1 true1,2,");
  EXPECT_EQ(value_of(R"({"cat":[1e21]})"), "1e+21");
  EXPECT_EQ(value_of(R"({"cat":[1e20]})"), "100000000000000000000");
  EXPECT_EQ(value_of(R"({"cat":[0.000001]})"), "0.000001");
  EXPECT_EQ(value_of(R"({"cat":[1e-7]})"), "1e-7");
  EXPECT_EQ(value_of(R"({"cat":[-1.5e-10]})"), "-1.5e-10");
  EXPECT_EQ(value_of(R"({"cat":[123.456]})"), "123.456");
  EXPECT_EQ(value_of(R"({"cat":[{"var":"o"}]})", R"({"o":{}})"), "[object Object]");
}

TEST(ExprCoercion, Substr) {
  EXPECT_EQ(value_of(R"({"substr":["jsonlogic", 20]})"), "");
  EXPECT_EQ(value_of(R"({"substr":["jsonlogic", -20]})"), "jsonlogic");
  EXPECT_EQ(value_of(R"({"substr":["h\u00e9llo w\u00f6rld", 1, 4]})"), "\u00e9llo");
  EXPECT_EQ(value_of(R"({"substr":[12345, 1, 2]})"), "23");
  EXPECT_EQ(value_of(R"({"substr":["abc", 0, -5]})"), "");
  EXPECT_EQ(value_of(R"({"substr":["abc", "1"]})"), "bc");
}

TEST(ExprCoercion, In) {
  EXPECT_EQ(value_of(R"({"in":[1, "a1b"]})"), true);
  EXPECT_EQ(value_of(R"({"in":["", ""]})"), false);
  EXPECT_EQ(value_of(R"({"in":["a", null]})"), false);
  EXPECT_EQ(value_of(R"({"in":[1, [1, 2]]})"), true);
  EXPECT_EQ(value_of(R"({"in":["1", [1, 2]]})"), false);
}

TEST(ExprCoercion, VarPaths) {
  EXPECT_EQ(value_of(R"({"var":"a.0.b"})", R"({"a":[{"b":5}]})"), 5);
  EXPECT_EQ(value_of(R"({"var":["x", {"+":[1, 2]}]})", "{}"), 3);
  EXPECT_EQ(value_of(R"({"var":"a.01"})", R"({"a":[1, 2]})"), nullptr);
  EXPECT_EQ(value_of(R"({"var":"a.b"})", R"({"a":"str"})"), nullptr);
  EXPECT_EQ(value_of(R"({"var":["a", 5]})", R"({"a":null})"), nullptr);  // present, null
  EXPECT_EQ(value_of(R"({"var":1.5})", R"({"1":{"5":"x"}})"), "x");
  EXPECT_EQ(value_of(R"({"var":""})", R"({"a":1})"), json::parse(R"({"a":1})"));
}

TEST(ExprCoercion, MissingTreatsEmptyStringAsMissing) {
  EXPECT_EQ(value_of(R"({"missing":["a", "b", "c"]})", R"({"a":"", "b":0})"),
            json::parse(R"(["a", "c"])"));
  EXPECT_EQ(value_of(R"({"missing_some":[1, ["a"]]})", "{}"), json::parse(R"(["a"])"));
  // One array argument is the list of keys; a key that is an array is var's [path, default].
  EXPECT_EQ(value_of(R"({"missing":[["a", 1]]})", "{}"), json::parse(R"(["a", 1])"));
  EXPECT_EQ(value_of(R"({"missing":[[["a", 1]]]})", "{}"), json::parse("[]"));
}

TEST(ExprCoercion, ArrayOperators) {
  EXPECT_EQ(value_of(R"({"merge":[[1, [2]], 3]})"), json::parse("[1, [2], 3]"));
  EXPECT_EQ(value_of(R"({"map":[{"merge":[[1], [2]]}, {"var":""}]})"), json::parse("[1, 2]"));
  EXPECT_EQ(value_of(R"({"filter":[{"merge":[[1, 2, 3]]}, {">":[{"var":""}, 1]}]})"),
            json::parse("[2, 3]"));
  EXPECT_EQ(value_of(R"({"all":[5, true]})"), false);
  EXPECT_EQ(value_of(R"({"none":[5, true]})"), true);
  EXPECT_EQ(value_of(R"({"some":[[0, 0, 1], {"var":""}]})"), true);
  EXPECT_EQ(value_of(R"({"map":[[{"a":1,"b":2}], {"var":"b"}]})"), json::parse("[2]"));
}

TEST(ExprCoercion, Reduce) {
  EXPECT_EQ(
      value_of(R"({"reduce":[[1, 2], {"cat":[{"var":"accumulator"}, {"var":"current"}]}, ""]})"),
      "12");
  // The initial value is evaluated in the outer scope.
  EXPECT_EQ(value_of(R"({"reduce":[[1, 2], {"+":[{"var":"accumulator"}, {"var":"current"}]},
                                 {"var":"start"}]})",
                     R"({"start":10})"),
            13);
  // Results that point into a list the rule built itself survive the list.
  EXPECT_EQ(value_of(R"({"reduce":[[{"var":"x"}, 2], {"var":"current"}, 0]})", R"({"x":1})"), 2);
  EXPECT_EQ(
      value_of(R"({"reduce":[{"map":[[1, 2, 3], {"*":[{"var":""}, 2]}]}, {"var":"current"}]})"), 6);
  EXPECT_EQ(value_of(R"({"reduce":[[[1], [2]], {"var":"current.0"}, {"merge":[[9]]}]})"), 2);
  EXPECT_EQ(value_of(R"({"reduce":[[1, 2], {"var":"accumulator"}, {"merge":[[9]]}]})"),
            json::parse("[9]"));
  EXPECT_EQ(value_of(R"({"reduce":[[1], {"var":""}, 0]})"),
            json::parse(R"({"accumulator":0, "current":1})"));
  EXPECT_EQ(value_of(R"({"reduce":["x", {"var":"current"}, 7]})"), 7);
}

TEST(ExprCoercion, IfAndOrReturnOperands) {
  EXPECT_EQ(value_of(R"({"if":[{"var":"x"}, [{"var":"y"}], 99]})", R"({"x":true,"y":42})"),
            json::parse("[42]"));
  EXPECT_EQ(value_of(R"({"and":[{"var":"a"}, {"var":"b"}]})", R"({"a":[1],"b":"z"})"), "z");
  EXPECT_EQ(value_of(R"({"or":[0, {"var":"a"}]})", R"({"a":{"k":1}})"), json::parse(R"({"k":1})"));
  EXPECT_EQ(value_of(R"({"log":{"var":"a"}})", R"({"a":[1,2]})"), json::parse("[1,2]"));
}

TEST(ExprTruthy, FollowsTruthyMd) {
  EXPECT_FALSE(truthy(json(0)));
  EXPECT_FALSE(truthy(json(0.0)));
  EXPECT_FALSE(truthy(json(std::nan(""))));
  EXPECT_TRUE(truthy(json(1)));
  EXPECT_TRUE(truthy(json(-1)));
  EXPECT_FALSE(truthy(json::array()));
  EXPECT_TRUE(truthy(json::parse("[1,2]")));
  EXPECT_FALSE(truthy(json("")));
  EXPECT_TRUE(truthy(json("anything")));
  EXPECT_TRUE(truthy(json("0")));
  EXPECT_FALSE(truthy(json(nullptr)));
  EXPECT_FALSE(truthy(json(false)));
  EXPECT_TRUE(truthy(json::object()));
}

}  // namespace
}  // namespace bihuan::expr
