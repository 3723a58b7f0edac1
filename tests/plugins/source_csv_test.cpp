// source.csv, the real library the build made, against CSV and JSON files the test writes:
// RFC 4180 quoting (commas, quotes, line breaks inside fields), UTF-8 with a BOM, equality
// filters from params, chosen columns; a changed file is reloaded at the next query; a
// broken new version keeps the old rows and says so once through the host log.
#include <filesystem>
#include <thread>

#include "plugin_support.hpp"

namespace bihuan::testing {
namespace {

class CsvTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = make_temp_dir("csv");
    write("business.csv",
          "\xEF\xBB\xBFid,name,district,note\r\n"
          "1,海淀区第一食堂,海淀,\"含逗号, 和 \"\"引号\"\"\"\r\n"
          "2,朝阳小吃店,朝阳,\"两行\n备注\"\r\n"
          "3,海淀面馆,海淀,\r\n");
    write("cadres.json", R"([{"business": 1, "cadre": "张三", "role": "包保干部"},
                             {"business": 1, "cadre": "李四", "role": "主要负责人"},
                             {"business": 2, "cadre": "王五", "role": "包保干部", "phone": "138"}])");
    services_ = std::make_shared<HostServices>(
        std::make_shared<VirtualClock>(TimePoint{}),
        [this](PluginLogLevel level, const std::string& who, const std::string& m) {
          std::lock_guard lock(mu_);
          log_.push_back((level == PluginLogLevel::warning ? "warning " : "") + who + ": " + m);
        });
  }
  void TearDown() override { std::filesystem::remove_all(dir_); }

  void write(const std::string& name, const std::string& text) {
    std::ofstream(dir_ + "/" + name, std::ios::binary | std::ios::trunc) << text;
  }
  // Rewrites a file so that its stat() surely differs (size, or mtime set forward).
  void replace(const std::string& name, const std::string& text, int seconds_forward) {
    write(name, text);
    auto p = std::filesystem::path(dir_ + "/" + name);
    std::filesystem::last_write_time(
        p, std::filesystem::last_write_time(p) + std::chrono::seconds(seconds_forward));
  }
  json config() const {
    return {
        {"tables",
         {{"business", {{"file", dir_ + "/business.csv"}}},
          {"cadres", {{"file", dir_ + "/cadres.json"}}}}},
        {"queries",
         {{"business-by-id", {{"table", "business"}, {"filter", {"id"}}}},
          {"in-district", {{"table", "business"}, {"filter", {"district"}}, {"columns", {"name"}}}},
          {"cadres-of",
           {{"table", "cadres"},
            {"filter", {"business", "role"}},
            {"columns", {"cadre", "phone"}}}},
          {"all-cadres", {{"table", "cadres"}}}}}};
  }
  std::shared_ptr<PluginObject> create(const json& config, Problems* problems = nullptr) {
    return create_bundled(lib_, "source.csv", "files", config, services_, problems);
  }
  std::vector<std::string> log() {
    std::lock_guard lock(mu_);
    return log_;
  }

  std::string dir_;
  std::shared_ptr<HostServices> services_;
  std::shared_ptr<PluginLibrary> lib_;
  std::mutex mu_;
  std::vector<std::string> log_;
};

TEST_F(CsvTest, QueriesFilterByEqualityAndQuotedFieldsSurvive) {
  auto src = create(config());
  ASSERT_TRUE(src);
  auto r = src->query("business-by-id", {{"id", "1"}});
  ASSERT_TRUE(r.ok()) << r.body;
  EXPECT_EQ(
      r.value,
      json::parse(
          R"([{"id": "1", "name": "海淀区第一食堂", "district": "海淀", "note": "含逗号, 和 \"引号\""}])"));
  // A number parameter matches the CSV text "2".
  r = src->query("business-by-id", {{"id", 2}});
  ASSERT_TRUE(r.ok()) << r.body;
  EXPECT_EQ(r.value[0]["note"], "两行\n备注");
  r = src->query("in-district", {{"district", "海淀"}});
  ASSERT_TRUE(r.ok()) << r.body;
  EXPECT_EQ(r.value, json::parse(R"([{"name": "海淀区第一食堂"}, {"name": "海淀面馆"}])"));
  r = src->query("cadres-of", {{"business", 1}, {"role", "包保干部"}});
  ASSERT_TRUE(r.ok()) << r.body;
  EXPECT_EQ(r.value, json::parse(R"([{"cadre": "张三", "phone": null}])"));
  r = src->query("all-cadres", json::object());
  ASSERT_TRUE(r.ok()) << r.body;
  EXPECT_EQ(r.value.size(), 3u);
  EXPECT_EQ(src->query("business-by-id", {{"id", "9"}}).value, json::array());
}

TEST_F(CsvTest, UnknownQueriesAndParametersAreClearErrors) {
  auto src = create(config());
  ASSERT_TRUE(src);
  auto r = src->query("nope", json::object());
  EXPECT_FALSE(r.ok());
  EXPECT_HAS(r.body, "unknown query \"nope\"");
  r = src->query("cadres-of", {{"business", 1}});
  EXPECT_HAS(r.body, "query cadres-of needs parameter \"role\"");
  r = src->query("business-by-id", {{"id", 1}, {"name", "x"}});
  EXPECT_HAS(r.body, "query business-by-id has no parameter \"name\"");
}

TEST_F(CsvTest, BrokenFilesAndUnknownColumnsAreRefusedAtStart) {
  Problems p;
  json c = config();
  c["queries"]["bad"] = {{"table", "business"}, {"filter", {"postcode"}}};
  EXPECT_FALSE(create(c, &p));
  EXPECT_HAS(problems_text(p), "query bad: table business has no column \"postcode\"");
  write("broken.csv", "a,b\n1,2,3\n");
  Problems p2;
  c = config();
  c["tables"]["broken"] = {{"file", dir_ + "/broken.csv"}};
  EXPECT_FALSE(create(c, &p2));
  EXPECT_HAS(problems_text(p2),
             "table broken: " + dir_ + "/broken.csv: record 2 has 3 fields; the header has 2");
  write("quote.csv", "a,b\n\"open,2\n");
  Problems p3;
  c["tables"]["broken"] = {{"file", dir_ + "/quote.csv"}};
  EXPECT_FALSE(create(c, &p3));
  EXPECT_HAS(problems_text(p3), "unterminated quoted field");
  Problems p4;
  c["tables"]["broken"] = {{"file", dir_ + "/missing.csv"}};
  EXPECT_FALSE(create(c, &p4));
  EXPECT_HAS(problems_text(p4), "cannot read " + dir_ + "/missing.csv");
}

TEST_F(CsvTest, AChangedFileIsReloadedAndABrokenOneKeepsTheOldRowsAndIsReportedOnce) {
  auto src = create(config());
  ASSERT_TRUE(src);
  ASSERT_EQ(src->query("in-district", {{"district", "海淀"}}).value.size(), 2u);

  replace("business.csv", "id,name,district,note\n4,新开的店,海淀,\n", 5);
  auto r = src->query("in-district", {{"district", "海淀"}});
  ASSERT_TRUE(r.ok()) << r.body;
  EXPECT_EQ(r.value, json::parse(R"([{"name": "新开的店"}])"));
  auto l = log();
  ASSERT_FALSE(l.empty());
  EXPECT_HAS(l.back(), "table business reloaded");

  // Broken: a record with too few fields. The old rows stay; one warning, not one per query.
  replace("business.csv", "id,name,district,note\n5,坏行\n", 10);
  for (int i = 0; i < 3; ++i) {
    r = src->query("in-district", {{"district", "海淀"}});
    ASSERT_TRUE(r.ok()) << r.body;
    EXPECT_EQ(r.value, json::parse(R"([{"name": "新开的店"}])"));
  }
  l = log();
  std::size_t warnings = 0;
  for (const auto& line : l)
    if (line.rfind("warning files: table business: keeping the previous data (1 rows)", 0) == 0)
      ++warnings;
  EXPECT_EQ(warnings, 1u) << ::testing::PrintToString(l);
  EXPECT_HAS(l.back(), "record 2 has 2 fields; the header has 4");

  // A version that drops a column a query filters on is refused the same way.
  replace("business.csv", "id,name\n6,x\n", 15);
  EXPECT_EQ(src->query("in-district", {{"district", "海淀"}}).value,
            json::parse(R"([{"name": "新开的店"}])"));
  EXPECT_HAS(log().back(), "no column \"district\"");

  // Fixed again: reloaded.
  replace("business.csv", "id,name,district,note\n7,修好了,海淀,ok\n", 20);
  EXPECT_EQ(src->query("in-district", {{"district", "海淀"}}).value,
            json::parse(R"([{"name": "修好了"}])"));

  // JSON tables reload the same way.
  replace("cadres.json", R"([{"business": 1, "cadre": "赵六", "role": "包保干部"}])", 5);
  EXPECT_EQ(src->query("cadres-of", {{"business", 1}, {"role", "包保干部"}}).value,
            json::parse(R"([{"cadre": "赵六", "phone": null}])"));
  replace("cadres.json", R"([{"business": 1,)", 10);
  EXPECT_EQ(src->query("cadres-of", {{"business", 1}, {"role", "包保干部"}}).value.size(), 1u);
  EXPECT_HAS(log().back(), "table cadres: keeping the previous data");
}

}  // namespace
}  // namespace bihuan::testing
