// check(): unknown operators, arities and var paths, reported with JSON Pointers.
#include <gtest/gtest.h>

#include "bihuan/expr.hpp"

namespace bihuan::expr {
namespace {

Problems check_text(const std::string& rule, const std::string& base = "/guard") {
  Problems problems;
  bool ok = check(json::parse(rule), problems, base);
  EXPECT_EQ(ok, !problems.has_errors());
  return problems;
}

TEST(ExprCheck, AcceptsValidRules) {
  for (const char* rule :
       {R"({"and":[{"==":[{"var":"data.x"},1]},{">":[{"var":"event.payload.n"},2]}]})",
        R"({"map":[{"var":"xs"}, {"*":[{"var":""}, 2]}]})", R"(true)", R"([1, {"var":"a"}])",
        R"({"var":[{"cat":["a", ".b"]}, 0]})", R"({"var":null})", R"({"var":[]})",
        R"({"and":[{"a":1,"b":2}, {}]})", R"({"time_add":[{"now":[]}, "P3D", "cn"]})",
        R"({"contains_all":[{"var":"roles"}, ["admin"]]})", R"({"count":{"var":"xs"}})"}) {
    Problems p = check_text(rule);
    EXPECT_FALSE(p.has_errors()) << rule << ": " << p.items()[0].message;
  }
}

TEST(ExprCheck, UnknownOperatorSuggestsTheClosestName) {
  Problems p = check_text(R"({"and":[true, {"fitler":[[1], true]}]})");
  ASSERT_EQ(p.items().size(), 1u);
  const Problem& e = p.items()[0];
  EXPECT_EQ(e.code, "unknown-operator");
  EXPECT_EQ(e.pointer, "/guard/and/1");
  EXPECT_EQ(e.message.rfind("unknown JsonLogic operator \"fitler\"; did you mean \"filter\"?", 0),
            0u)
      << e.message;
  EXPECT_NE(e.message.find("(known: var, missing, missing_some, if"), std::string::npos);
}

TEST(ExprCheck, NoSuggestionForFarNames) {
  Problems p = check_text(R"({"frobnicate":1})", "");
  ASSERT_EQ(p.items().size(), 1u);
  EXPECT_EQ(p.items()[0].pointer, "");
  EXPECT_EQ(p.items()[0].message.find("did you mean"), std::string::npos);
  EXPECT_EQ(check_text(R"({"AND":[true]})").items()[0].message.find("did you mean \"and\""),
            std::string("unknown JsonLogic operator \"AND\"; ").size());
}

TEST(ExprCheck, Arity) {
  Problems p = check_text(R"({"substr":"abc"})");
  ASSERT_EQ(p.items().size(), 1u);
  EXPECT_EQ(p.items()[0].code, "operator-arity");
  EXPECT_EQ(p.items()[0].message, "operator \"substr\" takes 2 to 3 arguments, got 1");
  EXPECT_EQ(check_text(R"({"==":[1]})").items()[0].message,
            "operator \"==\" takes 2 arguments, got 1");
  EXPECT_EQ(check_text(R"({"!":[]})").items()[0].message, "operator \"!\" takes 1 argument, got 0");
  EXPECT_EQ(check_text(R"({"and":[]})").items()[0].message,
            "operator \"and\" takes at least 1 argument, got 0");
  EXPECT_EQ(check_text(R"({"now":[1]})").items()[0].message,
            "operator \"now\" takes 0 arguments, got 1");
  EXPECT_EQ(check_text(R"({"time_diff":["a", "b"]})").items()[0].message,
            "operator \"time_diff\" takes 3 to 4 arguments, got 2");
  // A single non-array argument is one argument.
  EXPECT_FALSE(check_text(R"({"!":{"var":"a"}})").has_errors());
  EXPECT_FALSE(check_text(R"({"var":"a"})").has_errors());
}

TEST(ExprCheck, VarPath) {
  Problems p = check_text(R"({"var":true})");
  ASSERT_EQ(p.items().size(), 1u);
  EXPECT_EQ(p.items()[0].code, "var-path");
  EXPECT_EQ(p.items()[0].message,
            "operator \"var\" takes a path (string, number or null), got a boolean");
  EXPECT_EQ(check_text(R"({"var":[{"a":1,"b":2}]})").items()[0].code, "var-path");
  EXPECT_EQ(check_text(R"({"var":[["a"]]})").items()[0].code, "var-path");
}

TEST(ExprCheck, WalksIteratorBodiesAndReportsAllProblemsInOrder) {
  Problems p = check_text(
      R"({"if":[{"map":[{"var":"xs"}, {"nope":1}]}, {"substr":[1]}, {"reduce":[[], {"zz":[]}, 0]}]})");
  ASSERT_EQ(p.items().size(), 3u);
  EXPECT_EQ(p.items()[0].pointer, "/guard/if/0/map/1");
  EXPECT_EQ(p.items()[1].pointer, "/guard/if/1");
  EXPECT_EQ(p.items()[2].pointer, "/guard/if/2/reduce/1");
}

TEST(ExprCheck, PointersAreEscaped) {
  Problems p = check_text(R"({"a/b~c":[{"x":1}]})", "/states/a~1b");
  ASSERT_EQ(p.items().size(), 2u);
  EXPECT_EQ(p.items()[0].pointer, "/states/a~1b");
  EXPECT_EQ(p.items()[1].pointer, "/states/a~1b/a~1b~0c/0");
  p = check_text(R"({"!":{"bogus":1}})");
  EXPECT_EQ(p.items()[0].pointer, "/guard/!");
}

TEST(ExprCheck, OperatorNamesListsOfficialAndExtensions) {
  std::vector<std::string> names = operator_names();
  EXPECT_EQ(names.size(), 44u);
  for (const char* name :
       {"var", "missing", "missing_some", "if",  "?:",       "==",        "===",         "!=",
        "!==", "!",       "!!",           "or",  "and",      ">",         ">=",          "<",
        "<=",  "max",     "min",          "+",   "-",        "*",         "/",           "%",
        "map", "filter",  "reduce",       "all", "none",     "some",      "merge",       "in",
        "cat", "substr",  "log",          "now", "time_add", "time_diff", "time_before", "count",
        "sum", "unique",  "contains_all", "get"}) {
    EXPECT_NE(std::find(names.begin(), names.end(), name), names.end()) << name;
  }
}

}  // namespace
}  // namespace bihuan::expr
