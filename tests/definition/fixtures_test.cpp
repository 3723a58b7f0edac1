// Data-driven validator tests: every fixture states the exact problems it must produce.
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <sstream>

#include "bihuan/definition.hpp"
#include "definition_test_support.hpp"

namespace fs = std::filesystem;
using namespace bihuan;

namespace {

std::string read(const fs::path& p) { return bihuan::definition_test::read_file(p); }
using bihuan::definition_test::shipped_calendars;

using Key = std::tuple<std::string, std::string, std::string>;  // severity, code, pointer

std::multiset<Key> actual_of(const Problems& problems) {
  std::multiset<Key> out;
  for (const auto& p : problems.items())
    out.emplace(p.severity == Severity::error ? "error" : "warning", p.code, p.pointer);
  return out;
}

std::multiset<Key> expected_of(const fs::path& file) {
  std::multiset<Key> out;
  if (!fs::exists(file)) return out;
  auto doc = json::parse(read(file));
  for (const auto& e : doc)
    out.emplace(e.value("severity", "error"), e.at("code").get<std::string>(),
                e.at("pointer").get<std::string>());
  return out;
}

std::string describe(const std::multiset<Key>& keys) {
  std::string out;
  for (const auto& [s, c, p] : keys) out += "  " + s + " " + c + " at \"" + p + "\"\n";
  return out.empty() ? "  (none)\n" : out;
}

std::vector<fs::path> fixtures(const char* sub) {
  std::vector<fs::path> out;
  fs::path dir = fs::path(BIHUAN_SOURCE_DIR) / "tests/definition/fixtures" / sub;
  if (!fs::exists(dir)) return out;
  for (const auto& e : fs::directory_iterator(dir)) {
    auto name = e.path().filename().string();
    if (e.path().extension() == ".json" && name.find(".expected.") == std::string::npos)
      out.push_back(e.path());
  }
  std::sort(out.begin(), out.end());
  return out;
}

void expect_exact(const fs::path& file) {
  Problems problems(file.string());
  DefinitionContext ctx;
  ctx.calendars = &shipped_calendars();
  compile_definition_text(read(file), problems, ctx);
  fs::path expected = file;
  expected.replace_extension(".expected.json");
  auto want = expected_of(expected);
  auto got = actual_of(problems);
  std::string detail;
  for (const auto& p : problems.items()) detail += "  " + p.to_string() + "\n";
  EXPECT_EQ(got, want) << file << "\nexpected:\n" << describe(want) << "got:\n" << detail;
  for (const auto& p : problems.items()) {
    EXPECT_FALSE(p.message.empty()) << p.to_string();
    if (p.code != "invalid-json") {
      EXPECT_GT(p.line, 0u) << "no line:column for " << p.to_string();
    }
  }
}

}  // namespace

TEST(DefinitionFixtures, ValidOnesHaveNoErrors) {
  auto files = fixtures("valid");
  ASSERT_FALSE(files.empty());
  for (const auto& f : files) expect_exact(f);
}

TEST(DefinitionFixtures, InvalidOnesReportExactlyTheExpectedProblems) {
  auto files = fixtures("invalid");
  ASSERT_GE(files.size(), 15u);
  for (const auto& f : files) {
    SCOPED_TRACE(f.string());
    fs::path expected = f;
    expected.replace_extension(".expected.json");
    ASSERT_TRUE(fs::exists(expected)) << "missing " << expected;
    expect_exact(f);
  }
}

TEST(ShippedWorkflows, ValidateWithoutErrors) {
  std::vector<fs::path> files;
  for (const auto& e :
       fs::recursive_directory_iterator(fs::path(BIHUAN_SOURCE_DIR) / "workflows")) {
    auto p = e.path();
    if (p.extension() != ".json") continue;
    if (p.string().find("/schema/") != std::string::npos ||
        p.string().find("/calendars/") != std::string::npos ||
        p.string().find("/policies/") != std::string::npos)  // simulate --compare's policies
      continue;
    if (p.string().find("/data/") != std::string::npos ||
        p.string().find("/config") != std::string::npos)
      continue;
    files.push_back(p);
  }
  ASSERT_GE(files.size(), 4u);
  for (const auto& f : files) {
    Problems problems(f.string());
    DefinitionContext ctx;
    ctx.calendars = &shipped_calendars();
    auto def = compile_definition_text(read(f), problems, ctx);
    std::string detail;
    for (const auto& p : problems.items()) detail += "  " + p.to_string() + "\n";
    EXPECT_TRUE(def) << f << "\n" << detail;
    EXPECT_EQ(problems.error_count(), 0u) << detail;
  }
}
