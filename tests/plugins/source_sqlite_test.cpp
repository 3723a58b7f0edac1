// source.sqlite, the real library the build made, against a SQLite database the test
// writes: named queries with parameters bound by name, JSON rows with Chinese text intact,
// read-only (writes refused at configuration and by the connection), clear errors for an
// unknown query, a missing or unknown parameter, bad SQL and a missing file, and a query
// time limit.
#include <sqlite3.h>

#include <filesystem>

#include "plugin_support.hpp"

namespace bihuan::testing {
namespace {

class SqliteTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = make_temp_dir("sqlite");
    db_ = dir_ + "/food.db";
    sqlite3* db = nullptr;
    ASSERT_EQ(sqlite3_open(db_.c_str(), &db), SQLITE_OK);
    const char* sql = R"sql(
      CREATE TABLE business (id INTEGER PRIMARY KEY, name TEXT, district TEXT, score REAL, licence BLOB, closed TEXT);
      INSERT INTO business VALUES (1, '海淀区第一食堂', '海淀', 92.5, x'00ff10', NULL);
      INSERT INTO business VALUES (2, '朝阳小吃店', '朝阳', 71.0, NULL, NULL);
      INSERT INTO business VALUES (3, '海淀面馆', '海淀', 88, NULL, '2026-01-01');
      CREATE TABLE binding (business INTEGER, cadre TEXT, role TEXT);
      INSERT INTO binding VALUES (1, '张三', '包保干部'), (1, '李四', '主要负责人'), (2, '王五', '包保干部');
    )sql";
    ASSERT_EQ(sqlite3_exec(db, sql, nullptr, nullptr, nullptr), SQLITE_OK);
    sqlite3_close(db);
  }
  void TearDown() override { std::filesystem::remove_all(dir_); }

  json config(json queries, json extra = json::object()) const {
    json c = {{"database", db_}, {"queries", std::move(queries)}};
    c.update(extra);
    return c;
  }
  std::shared_ptr<PluginObject> create(const json& config, Problems* problems = nullptr) {
    return create_bundled(lib_, "source.sqlite", "db", config, nullptr, problems);
  }
  std::string refused(const json& config) {
    Problems p;
    EXPECT_FALSE(create(config, &p));
    return problems_text(p);
  }

  std::string dir_, db_;
  std::shared_ptr<PluginLibrary> lib_;
};

const json kQueries = {
    {"business-by-id",
     {{"sql", "SELECT id, name, score, licence, closed FROM business WHERE id = :id"},
      {"params", {"id"}}}},
    {"cadres-of",
     {{"sql",
       "SELECT cadre, role FROM binding WHERE business = $business AND role = @role ORDER BY "
       "cadre"}}},
    {"in-district",
     {{"sql",
       "SELECT name FROM business WHERE district = :district AND closed IS NULL ORDER BY id"}}},
    {"count", {{"sql", "SELECT count(*) AS n FROM business"}}}};

TEST_F(SqliteTest, NamedQueriesBindParametersByNameAndReturnJsonRows) {
  auto db = create(config(kQueries));
  ASSERT_TRUE(db);
  EXPECT_EQ(db->info().kind, PluginKind::data_source);
  auto r = db->query("business-by-id", {{"id", 1}});
  ASSERT_TRUE(r.ok()) << r.body;
  EXPECT_EQ(
      r.value,
      json::parse(
          R"([{"id": 1, "name": "海淀区第一食堂", "score": 92.5, "licence": "AP8Q", "closed": null}])"));
  r = db->query("cadres-of", {{"business", 1}, {"role", "包保干部"}});
  ASSERT_TRUE(r.ok()) << r.body;
  EXPECT_EQ(r.value, json::parse(R"([{"cadre": "张三", "role": "包保干部"}])"));
  r = db->query("in-district", {{"district", "海淀"}});
  ASSERT_TRUE(r.ok()) << r.body;
  EXPECT_EQ(r.value, json::parse(R"([{"name": "海淀区第一食堂"}])"));
  r = db->query("business-by-id", {{"id", 99}});
  ASSERT_TRUE(r.ok()) << r.body;
  EXPECT_EQ(r.value, json::array());
  r = db->query("count", json::object());
  ASSERT_TRUE(r.ok()) << r.body;
  EXPECT_EQ(r.value[0]["n"], 3);
  // A string parameter compares as text: "1" is not the integer 1 in SQLite... but the
  // column's INTEGER affinity converts it, as SQLite does.
  EXPECT_EQ(db->query("business-by-id", {{"id", "2"}}).value[0]["name"], "朝阳小吃店");
}

TEST_F(SqliteTest, UnknownQueriesAndMissingOrUnknownParametersAreClearErrors) {
  auto db = create(config(kQueries));
  ASSERT_TRUE(db);
  auto r = db->query("no-such", json::object());
  EXPECT_FALSE(r.ok());
  EXPECT_HAS(
      r.body,
      "unknown query \"no-such\" (configured: business-by-id, cadres-of, count, in-district)");
  r = db->query("cadres-of", {{"business", 1}});
  EXPECT_FALSE(r.ok());
  EXPECT_HAS(r.body, "query cadres-of needs parameter \"role\"");
  r = db->query("business-by-id", {{"id", 1}, {"idd", 2}});
  EXPECT_FALSE(r.ok());
  EXPECT_HAS(r.body, "query business-by-id has no parameter \"idd\" (it takes: id)");
}

TEST_F(SqliteTest, BadSqlWritesPositionalParametersAndMissingFilesAreRefusedAtStart) {
  EXPECT_HAS(refused(config({{"broken", {{"sql", "SELEC name FROM business"}}}})),
             "query broken: near \"SELEC\"");
  EXPECT_HAS(refused(config({{"nope", {{"sql", "SELECT * FROM nowhere"}}}})),
             "query nope: no such table: nowhere");
  EXPECT_HAS(refused(config({{"wipe", {{"sql", "DELETE FROM business"}}}})),
             "query wipe: the statement would write");
  EXPECT_HAS(refused(config({{"q", {{"sql", "SELECT * FROM business WHERE id = ?"}}}})),
             "use named parameters");
  EXPECT_HAS(refused(config({{"two", {{"sql", "SELECT 1; SELECT 2"}}}})), "only one SQL statement");
  EXPECT_HAS(
      refused(config(
          {{"q", {{"sql", "SELECT * FROM business WHERE id = :id"}, {"params", {"ident"}}}}})),
      "parameter \"ident\" is listed but the SQL has no :ident");
  json missing = config(kQueries);
  missing["database"] = dir_ + "/absent.db";
  EXPECT_HAS(refused(missing), "cannot open the database " + dir_ + "/absent.db read-only");
  EXPECT_HAS(refused({{"database", db_}}), "/plugins/db");  // no queries: schema error
  std::ofstream(dir_ + "/not.db")
      << "this is not a database, just text that is long enough to have a header";
  json not_db = config(kQueries);
  not_db["database"] = dir_ + "/not.db";
  EXPECT_HAS(refused(not_db), "not.db");
}

TEST_F(SqliteTest, TheConnectionIsReadOnlyEvenForStatementsThatLookHarmless) {
  // A read-only statement cannot write, and the file cannot change under a query_only
  // connection: check the database is unchanged after all the queries above.
  auto db = create(config({{"pragma", {{"sql", "SELECT * FROM pragma_query_only"}}}}));
  ASSERT_TRUE(db);
  auto r = db->query("pragma", json::object());
  ASSERT_TRUE(r.ok()) << r.body;
  EXPECT_EQ(r.value[0]["query_only"], 1);
}

TEST_F(SqliteTest, AQueryOverItsTimeLimitIsStoppedWithAClearError) {
  // A recursive CTE that would count for a very long time.
  auto db = create(config({{"slow",
                            {{"sql",
                              "WITH RECURSIVE c(x) AS (SELECT 1 UNION ALL SELECT x + 1 FROM c) "
                              "SELECT max(x) AS m FROM c"}}}},
                          {{"timeoutMs", 200}}));
  ASSERT_TRUE(db);
  auto t0 = std::chrono::steady_clock::now();
  auto r = db->query("slow", json::object());
  EXPECT_FALSE(r.ok());
  EXPECT_HAS(r.body, "query slow exceeded its time limit of 200 ms");
  EXPECT_LT(std::chrono::steady_clock::now() - t0, std::chrono::seconds(10));
  // The connection is usable afterwards.
  EXPECT_FALSE(db->query("slow", json::object()).ok());
}

TEST_F(SqliteTest, TooManyRowsIsAnError) {
  auto db = create(config({{"all", {{"sql", "SELECT * FROM binding"}}}}, {{"maxRows", 2}}));
  ASSERT_TRUE(db);
  auto r = db->query("all", json::object());
  EXPECT_FALSE(r.ok());
  EXPECT_HAS(r.body, "more than maxRows (2)");
}

}  // namespace
}  // namespace bihuan::testing
