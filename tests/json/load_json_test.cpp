// The strict loader on hostile input: never a crash, always a located error.
#include <gtest/gtest.h>

#include "bihuan/json.hpp"

using namespace bihuan;

TEST(LoadJson, ReportsLineAndColumnOfSyntaxErrors) {
  Problems p("f.json");
  EXPECT_FALSE(load_json("{\n  \"a\": 1,\n  \"b\": }\n", p));
  ASSERT_EQ(p.items().size(), 1u);
  EXPECT_EQ(p.items()[0].code, "invalid-json");
  EXPECT_EQ(p.items()[0].line, 3u);
  EXPECT_EQ(p.items()[0].column, 8u);
  EXPECT_EQ(p.items()[0].file, "f.json");
}

TEST(LoadJson, RejectsDuplicateKeysWithPointerAndPosition) {
  Problems p;
  EXPECT_FALSE(load_json("{\"s\": {\"A\": 1,\n \"A\": 2}}", p));
  ASSERT_EQ(p.items().size(), 1u);
  EXPECT_EQ(p.items()[0].code, "duplicate-key");
  EXPECT_EQ(p.items()[0].pointer, "/s/A");
  EXPECT_EQ(p.items()[0].line, 1u);  // locate() finds the first occurrence of the key
}

TEST(LoadJson, DeepNestingIsAnErrorNotAStackOverflow) {
  std::string deep(100000, '[');
  deep += std::string(100000, ']');
  Problems p;
  EXPECT_FALSE(load_json(deep, p));
  ASSERT_EQ(p.items().size(), 1u);
  EXPECT_EQ(p.items()[0].code, "too-deep");
  EXPECT_EQ(p.items()[0].column, 257u);  // the 257th '['
}

TEST(LoadJson, InvalidUtf8IsRejected) {
  Problems p;
  EXPECT_FALSE(load_json("{\"a\": \"\xff\xfe\"}", p));
  EXPECT_EQ(p.items().at(0).code, "invalid-json");
}

TEST(LoadJson, HugeStringsAreBounded) {
  std::string big = "\"" + std::string(50u << 20, 'x') + "\"";
  Problems p;
  EXPECT_FALSE(load_json(big, p));
  EXPECT_EQ(p.items().at(0).code, "string-too-long");
}

TEST(LoadJson, HugeNumbersAreAnError) {
  Problems p;
  EXPECT_FALSE(load_json("{\"n\": 1e999999}", p));
  ASSERT_EQ(p.items().size(), 1u);  // out of double range: an error with a position
  EXPECT_EQ(p.items()[0].line, 1u);
  EXPECT_GT(p.items()[0].column, 6u);
  Problems q;
  auto v = load_json("[123456789012345678901234567890]", q);
  ASSERT_TRUE(v);  // beyond 64 bits: kept as a double
  EXPECT_TRUE((*v)[0].is_number_float());
}

TEST(LoadJson, TrailingGarbageAndEmptyInput) {
  Problems p;
  EXPECT_FALSE(load_json("{} x", p));
  EXPECT_FALSE(load_json("", p));
  EXPECT_EQ(p.error_count(), 2u);
}

TEST(LoadJson, ChineseTextSurvives) {
  Problems p;
  auto v = load_json("{\"title\": \"承诺书\"}", p);
  ASSERT_TRUE(v);
  EXPECT_EQ((*v)["title"].get<std::string>(), "承诺书");
}

TEST(Locate, FindsNestedElements) {
  std::string text = "{\n \"a\": [1,\n  {\"b~/c\": true}]\n}";
  auto pos = locate(text, "/a/1/b~0~1c");
  ASSERT_TRUE(pos);
  EXPECT_EQ(pos->line, 3u);
  EXPECT_EQ(pos->column, 12u);
  EXPECT_FALSE(locate(text, "/a/5"));
  EXPECT_FALSE(locate(text, "/zz"));
}
