// The embedding example (examples/embed) builds and does what docs/embedding.md says.
#include <gtest/gtest.h>

#include <cstdio>
#include <filesystem>
#include <random>
#include <sstream>

#include "bihuan/json.hpp"

namespace {

std::vector<bihuan::json> run_example(const std::string& dir, int& rc) {
  std::string cmd = std::string(BIHUAN_EMBED_EXAMPLE) + " " + dir;
  FILE* p = popen(cmd.c_str(), "r");
  std::vector<bihuan::json> lines;
  char buf[4096];
  while (p && std::fgets(buf, sizeof buf, p))
    lines.push_back(bihuan::json::parse(buf, nullptr, false));
  rc = p ? pclose(p) : -1;
  return lines;
}

}  // namespace

TEST(EmbeddingExample, StartsSendsAndQueriesThroughTheLibraryAndContinuesOnASecondRun) {
  std::random_device rd;
  auto dir = std::filesystem::temp_directory_path() / ("bihuan-embed-" + std::to_string(rd()));
  int rc = -1;
  auto lines = run_example(dir.string(), rc);
  EXPECT_EQ(rc, 0);
  ASSERT_EQ(lines.size(), 5u);
  EXPECT_EQ(lines[0]["state"], "submitted");
  EXPECT_EQ(lines[1]["state"], "director") << "2500 > 1000 needs the director";
  EXPECT_EQ(lines[2]["error"], "role-not-allowed");
  EXPECT_EQ(lines[3]["state"], "paid");
  EXPECT_EQ(lines[4]["completed"], 1);
  EXPECT_EQ(lines[4]["outcome"], "paid");
  EXPECT_EQ(lines[4]["historyEntries"], 3);
  EXPECT_EQ(lines[4]["verified"], true);
  // A second run opens the same data: the deploy is a no-op and the business key is taken
  // by a completed claim, so a new one starts.
  auto again = run_example(dir.string(), rc);
  EXPECT_EQ(rc, 0);
  ASSERT_EQ(again.size(), 5u);
  EXPECT_EQ(again[4]["completed"], 2);
  std::filesystem::remove_all(dir);
}
