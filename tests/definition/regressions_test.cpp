// Hostile definition text: compile_definition_text() must answer every input with a
// Definition or with errors, never crash, throw or hang.
//
// Replays every file in tests/definition/regressions/ (inputs found by
// fuzz/definition_fuzz.cpp, kept byte for byte, and hand-made ones), then inputs too big
// to commit, generated here: 100,000-deep nesting, a 50 MB string, thousands of states.
// Hangs are caught by CTest's timeout, not by a timing assertion.
#include <gtest/gtest.h>

#include <algorithm>
#include <cctype>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>
#include <vector>

#include "bihuan/definition.hpp"
#include "bihuan/schema.hpp"
#include "definition_test_support.hpp"

namespace fs = std::filesystem;
using namespace bihuan;

namespace {

const fs::path kDir = fs::path(BIHUAN_SOURCE_DIR) / "tests/definition/regressions";

std::string read_text(const fs::path& p) { return bihuan::definition_test::read_file(p); }
using bihuan::definition_test::shipped_calendars;

// Compiles `text` and checks the contract: a Definition exactly when no error is
// reported, a Definition is complete, and every problem says something.
std::shared_ptr<const Definition> compile_hostile(std::string_view text) {
  Problems problems("hostile.json");
  DefinitionContext ctx;
  ctx.calendars = &shipped_calendars();
  std::shared_ptr<const Definition> def;
  EXPECT_NO_THROW(def = compile_definition_text(text, problems, ctx));
  if (def) {
    EXPECT_FALSE(problems.has_errors());
    // The schema requires these; a Definition without them slipped past a check.
    EXPECT_FALSE(def->id.empty());
    EXPECT_GE(def->initial, 0);
  } else {
    EXPECT_GE(problems.error_count(), 1u) << "rejected without saying why";
  }
  for (const auto& p : problems.items()) {
    EXPECT_FALSE(p.message.empty()) << "problem without a message: " << p.to_string();
    EXPECT_FALSE(p.code.empty()) << "problem without a code: " << p.to_string();
  }
  return def;
}

bool has_code(std::string_view text, const std::string& code) {
  Problems problems;
  DefinitionContext ctx;
  ctx.calendars = &shipped_calendars();
  compile_definition_text(text, problems, ctx);
  return std::any_of(problems.items().begin(), problems.items().end(),
                     [&](const Problem& p) { return p.code == code; });
}

std::vector<std::string> regression_files() {
  std::vector<std::string> out;
  if (!fs::is_directory(kDir)) return out;
  for (const auto& e : fs::directory_iterator(kDir))
    if (e.is_regular_file() && e.path().filename() != "README.md")
      out.push_back(e.path().filename().string());
  std::sort(out.begin(), out.end());
  return out;
}

class DefinitionRegression : public testing::TestWithParam<std::string> {};

TEST_P(DefinitionRegression, AnsweredWithADefinitionOrErrors) {
  compile_hostile(read_text(kDir / GetParam()));
}

INSTANTIATE_TEST_SUITE_P(Files, DefinitionRegression, testing::ValuesIn(regression_files()),
                         [](const testing::TestParamInfo<std::string>& param) {
                           std::string name = param.param;
                           for (char& c : name)
                             if (!std::isalnum(static_cast<unsigned char>(c))) c = '_';
                           return name;
                         });

TEST(DefinitionRegressions, DirectoryHoldsTheHandMadeCases) {
  auto files = regression_files();
  for (const char* name :
       {"random-bytes.bin", "invalid-utf8-in-string.json", "huge-number-1e400.json",
        "huge-number-integer.json", "number-as-duration.json", "emoji-state.json", "nul-byte.json"})
    EXPECT_NE(std::find(files.begin(), files.end(), name), files.end()) << name;
}

TEST(DefinitionRegressions, HugeNumbersAreExplained) {
  Problems problems;
  DefinitionContext ctx;
  EXPECT_FALSE(compile_definition_text(read_text(kDir / "huge-number-1e400.json"), problems, ctx));
  ASSERT_EQ(problems.items().size(), 1u);
  const Problem& p = problems.items()[0];
  EXPECT_EQ(p.code, "invalid-json");
  EXPECT_EQ(p.message, "number overflow parsing '1e400'");
  EXPECT_EQ(p.line, 1u);
  EXPECT_EQ(p.column, 28u);
}

// A well-formed definition with `middle` spliced in as the value of the state's title.
std::string with_title(const std::string& middle) {
  return R"({"id":"gen","version":1,"initial":"A","states":{"A":{"title":)" + middle +
         R"(,"on":{"go":{"roles":["system"],"target":"DONE"}}},"DONE":{"type":"final","outcome":"done"}}})";
}

TEST(DefinitionRegressions, HundredThousandDeepArrays) {
  const std::size_t depth = 100'000;
  EXPECT_FALSE(compile_hostile(std::string(depth, '[')));
  EXPECT_FALSE(compile_hostile(std::string(depth, '[') + std::string(depth, ']')));
  EXPECT_TRUE(has_code(std::string(depth, '[') + std::string(depth, ']'), "too-deep"));
}

TEST(DefinitionRegressions, HundredThousandDeepObjectsInsideADefinition) {
  const std::size_t depth = 100'000;
  std::string middle;
  middle.reserve(depth * 6 + 1);
  for (std::size_t i = 0; i < depth; ++i) middle += R"({"a":)";
  middle += "1";
  middle.append(depth, '}');
  EXPECT_FALSE(compile_hostile(with_title(middle)));
  // Unbalanced: the closers never come.
  EXPECT_FALSE(compile_hostile(with_title(middle.substr(0, depth * 5))));
}

TEST(DefinitionRegressions, DeepButAllowedNesting) {
  // Inside the loader's depth limit, every later stage (schema, expressions) recurses.
  std::string guard;
  for (int i = 0; i < 240; ++i) guard += R"({"!":)";
  guard += "true";
  guard.append(240, '}');
  std::string text =
      R"({"id":"gen","version":1,"initial":"A","states":{"A":{"on":{"go":{"roles":["system"],"guard":)" +
      guard + R"(,"target":"DONE"}}},"DONE":{"type":"final","outcome":"done"}}})";
  compile_hostile(text);
  std::string title;
  for (int i = 0; i < 250; ++i) title += "[";
  title.append(250, ']');
  compile_hostile(with_title(title));
}

TEST(DefinitionRegressions, FiftyMegabyteTitle) {
  std::string title = "\"" + std::string(50u << 20, 'x') + "\"";
  std::string text = with_title(title);
  EXPECT_FALSE(compile_hostile(text));
  EXPECT_TRUE(has_code(text, "string-too-long"));
  // The same size as many small strings is within every limit but the document's.
  std::string many = "[";
  for (std::size_t i = 0; many.size() < (50u << 20); ++i)
    many += i ? ",\"abcdefghijklmnopqrstuvwxyz\"" : "\"a\"";
  many += "]";
  compile_hostile(with_title(many));
}

TEST(DefinitionRegressions, FiftyMegabyteKey) {
  std::string text = with_title("{\"" + std::string(50u << 20, 'k') + "\":\"x\"}");
  EXPECT_FALSE(compile_hostile(text));
  EXPECT_TRUE(has_code(text, "string-too-long"));
}

TEST(DefinitionRegressions, LongStringsAgainstSchemaPatterns) {
  // The schema's duration pattern ("\\d+") and language-tag pattern ("(-[A-Za-z0-9]{1,8})*")
  // once ran in std::regex's recursive matcher: ~30 KB overflowed an 8 MB stack.
  const std::string digits(1u << 20, '1');
  std::string text =
      R"({"id":"gen","version":1,"initial":"A","states":{"A":{"deadline":{"after":"P)" + digits +
      R"(D"},"on":{"go":{"roles":["system"],"target":"DONE"}}},"DONE":{"type":"final","outcome":"done"}}})";
  EXPECT_FALSE(compile_hostile(text));
  EXPECT_TRUE(has_code(text, "bad-duration"));
  std::string tag = "en";
  while (tag.size() < (1u << 20)) tag += "-a1b2c3d4";
  EXPECT_TRUE(compile_hostile(with_title("{\"" + tag + "\":\"x\"}")));  // a long, valid tag
  EXPECT_FALSE(compile_hostile(with_title("{\"" + tag + "-\":\"x\"}")));
  EXPECT_TRUE(compile_hostile(with_title(R"({"en-GB":"x"})")));
}

TEST(SchemaErrors, AMissingMemberIsReportedBesideADeeperError) {
  Problems problems;
  auto schema = JsonSchema::compile(json::parse(R"({"type":"object","required":["date","note"],
                      "properties":{"note":{"type":"string","minLength":5}}})"),
                                    problems, "");
  ASSERT_TRUE(schema);
  Problems why;
  EXPECT_FALSE(schema->validate(json::parse(R"({"note":"ab"})"), why, "/payload"));
  bool missing = false, short_note = false;
  for (const auto& p : why.items()) {
    missing |= p.pointer == "/payload" && p.message.find("'date'") != std::string::npos;
    short_note |= p.pointer == "/payload/note";
  }
  EXPECT_TRUE(missing);
  EXPECT_TRUE(short_note);
}

TEST(SchemaPatterns, MatchLongStringsAndRefuseBackReferences) {
  Problems problems;
  auto digits =
      JsonSchema::compile(json::parse(R"({"type":"string","pattern":"^\\d+$"})"), problems, "");
  ASSERT_TRUE(digits);
  EXPECT_TRUE(digits->accepts(json(std::string(1u << 20, '7'))));
  EXPECT_FALSE(digits->accepts(json(std::string(1u << 20, '7') + "x")));
  auto untyped = JsonSchema::compile(json::parse(R"({"pattern":"^\\d+$"})"), problems, "");
  ASSERT_TRUE(untyped);
  EXPECT_TRUE(untyped->accepts(json(42)));  // "pattern" constrains strings only
  Problems why;
  EXPECT_FALSE(digits->validate(json("12a"), why, "/data"));
  ASSERT_EQ(why.items().size(), 1u);
  EXPECT_EQ(why.items()[0].pointer, "/data");
  EXPECT_EQ(why.items()[0].message, "Failed to match regex specified by 'pattern' constraint.");

  // Nested quantifiers: exponential for a backtracking matcher, polynomial here.
  auto nested = JsonSchema::compile(json::parse(R"({"pattern":"^(a+)+$"})"), problems, "");
  ASSERT_TRUE(nested);
  EXPECT_FALSE(nested->accepts(json(std::string(5000, 'a') + "b")));

  // In property names, and a member merely named "pattern" is not the keyword.
  auto names = JsonSchema::compile(
      json::parse(
          R"({"propertyNames":{"pattern":"^[a-z]+$"},"properties":{"pattern":{"type":"integer"}},
                      "enum":[{"pattern":"x"},{"pattern":1}]})"),
      problems, "");
  ASSERT_TRUE(names);
  EXPECT_TRUE(names->accepts(json::parse(R"({"pattern":1})")));
  EXPECT_FALSE(names->accepts(json::parse(R"({"pattern":"x"})")));
  EXPECT_FALSE(names->accepts(json::parse(R"({"Pattern":1})")));
  EXPECT_FALSE(names->accepts(json::parse(R"({"p":1})")));
  EXPECT_FALSE(problems.has_errors());

  Problems bad;
  EXPECT_FALSE(JsonSchema::compile(json::parse(R"({"pattern":"(a)\\1"})"), bad, "/dataSchema"));
  EXPECT_FALSE(JsonSchema::compile(json::parse(R"({"pattern":"("})"), bad, "/dataSchema"));
  EXPECT_FALSE(JsonSchema::compile(json::parse(R"({"pattern":1})"), bad, "/dataSchema"));
  ASSERT_EQ(bad.error_count(), 3u);
  for (const auto& p : bad.items()) EXPECT_EQ(p.code, "invalid-schema");
}

TEST(DefinitionRegressions, BeyondTheDocumentSizeLimit) {
  std::string text = with_title("\"" + std::string(65u << 20, ' ') + "\"");
  EXPECT_FALSE(compile_hostile(text));
  EXPECT_TRUE(has_code(text, "document-too-large"));
}

TEST(DefinitionRegressions, ThousandsOfStates) {
  // A chain A0 -> A1 -> ... -> DONE: wide, not deep; checks must stay near linear.
  const int n = 5'000;
  std::string states;
  for (int i = 0; i < n; ++i) {
    std::string next = i + 1 < n ? "A" + std::to_string(i + 1) : "DONE";
    states += "\"A" + std::to_string(i) + R"(":{"on":{"go":{"roles":["system"],"target":")" + next +
              R"("}},"deadline":{"after":"P1D"}},)";
  }
  std::string text = R"({"id":"wide","version":1,"initial":"A0","states":{)" + states +
                     R"("DONE":{"type":"final","outcome":"done"}}})";
  auto def = compile_hostile(text);
  ASSERT_TRUE(def);
  EXPECT_EQ(def->states.size(), static_cast<std::size_t>(n + 1));
}

}  // namespace

// The date/time formats are checked by our own scanner (Valijson compiled a regex per
// check); the grammar is RFC 3339 with any number of year digits.
TEST(JsonSchemaFormats, DateTimeDateAndTimeAcceptExactlyTheRfc3339Shapes) {
  Problems p;
  auto of = [&](const char* format) {
    return bihuan::JsonSchema::compile(json{{"format", format}}, p, "");
  };
  auto dt = of("date-time"), d = of("date"), t = of("time");
  ASSERT_TRUE(dt && d && t);
  for (const char* ok : {"2023-04-03T09:00:00+08:00", "2023-04-03t09:00:00z",
                         "2024-02-29T23:59:60.123Z", "12023-12-31T00:00:00-23:59"})
    EXPECT_TRUE(dt->accepts(ok)) << ok;
  for (const char* bad :
       {"2023-04-03 09:00:00+08:00", "2023-04-31T09:00:00Z", "2023-02-30T09:00:00Z",
        "2023-13-01T09:00:00Z", "2023-04-03T24:00:00Z", "2023-04-03T09:60:00Z",
        "2023-04-03T09:00:61Z", "2023-04-03T09:00:00", "2023-04-03T09:00:00.Z",
        "2023-04-03T09:00:00+8:00", "2023-04-03T09:00:00|08:00", "2023-4-03T09:00:00Z",
        "-04-03T09:00:00Z", "2023-04-03T09:00:00Z ", "", "2023-00-10T09:00:00Z",
        "2023-04-00T09:00:00Z"})
    EXPECT_FALSE(dt->accepts(bad)) << bad;
  EXPECT_TRUE(d->accepts("2023-06-30"));
  EXPECT_FALSE(d->accepts("2023-06-31"));
  EXPECT_FALSE(d->accepts("2023-06-30T00:00:00Z"));
  EXPECT_TRUE(t->accepts("09:30:00+08:00"));
  EXPECT_FALSE(t->accepts("09:30+08:00"));
  EXPECT_TRUE(dt->accepts(42)) << "format applies to strings only";
}
