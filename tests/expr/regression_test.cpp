// Inputs that once crashed or hung the evaluator (found by fuzz/expr_fuzz.cpp) and
// seeds of the same shapes: check() and evaluate() must return on each of them.
// A file holds a rule, or [rule, data] as the fuzzer reads it.
#include <algorithm>
#include <filesystem>
#include <fstream>
#include <sstream>

#include <gtest/gtest.h>

#include "bihuan/expr.hpp"

namespace bihuan::expr {
namespace {

namespace fs = std::filesystem;

TEST(ExprRegressions, EveryFileEvaluatesWithoutCrashing) {
  const fs::path dir = BIHUAN_SOURCE_DIR "/tests/expr/regressions";
  ASSERT_TRUE(fs::is_directory(dir)) << dir;
  std::vector<fs::path> files;
  for (const auto& entry : fs::directory_iterator(dir)) {
    if (entry.path().extension() == ".json") files.push_back(entry.path());
  }
  std::sort(files.begin(), files.end());
  ASSERT_FALSE(files.empty());
  EvalLimits limits;
  limits.max_steps = 100'000;
  limits.max_depth = 64;
  limits.max_result_bytes = 1 << 20;
  for (const fs::path& file : files) {
    SCOPED_TRACE(file.filename().string());
    std::ifstream in(file, std::ios::binary);
    std::stringstream text;
    text << in.rdbuf();
    json input = json::parse(text.str(), nullptr, false);
    ASSERT_FALSE(input.is_discarded()) << "not JSON";
    // Moved, not copied: copying JSON recurses, and some seeds are thousands deep.
    json rule, data = json::object();
    if (input.is_array() && input.size() == 2) {
      rule = std::move(input[0]);
      data = std::move(input[1]);
    } else {
      rule = std::move(input);
    }
    Problems problems;
    check(rule, problems, "");
    EvalResult r = evaluate(rule, data, limits);
    EXPECT_NE(r.value.has_value(), r.error.has_value());
  }
}

}  // namespace
}  // namespace bihuan::expr
