// SQL for reports on PostgreSQL (docs/scale-out.md, "SQL for reports"): every instance
// record the engine writes is also a row of the view bihuan_instances, with its state's
// name, status, keys, times and data as jsonb, as the engine sees it after each step; data
// jsonb cannot hold (a NUL in a string) is stored with U+FFFD, never failing the step.
#include "engine_fixture.hpp"
#include "pg/pg_fixture.hpp"

using namespace bihuan;

namespace {

const char* kReport = R"({
  "id": "t.report", "version": 1, "initial": "OPEN",
  "states": {
    "OPEN": {"on": {"check": {"target": "CHECKED", "set": {"/n": {"+": [{"var": "data.n"}, 1]}}}}},
    "CHECKED": {"on": {"close": {"target": "DONE"}}},
    "DONE": {"type": "final", "outcome": "done"}
  }
})";

class SqlViewTest : public bihuan::testing::EngineTest {};

TEST_F(SqlViewTest, EveryInstanceIsARowOfTheViewAsTheEngineSeesIt) {
  if (!bihuan::testing::on_pg()) GTEST_SKIP() << "the view is a PostgreSQL store's";
  deploy(kReport);
  auto a = start("t.report", {{"n", 1}, {"name", std::string("a\0b", 3)}}, "biz-a");
  auto b = start("t.report", {{"n", 5}}, "biz-b");
  ASSERT_TRUE(a.ok() && b.ok()) << a.message << b.message;
  ASSERT_TRUE(send(a.instance->id, "check").ok());
  ASSERT_TRUE(send(b.instance->id, "check").ok());
  ASSERT_TRUE(send(b.instance->id, "close").ok());
  pg::test::Admin admin(store_.substr(std::string("postgresql:").size()));
  auto q = [&](const std::string& sql) { return admin.exec(sql); };
  const std::string at_a = " FROM bihuan_instances WHERE id = '" + a.instance->id + "'";
  EXPECT_EQ(q("SELECT state || ' ' || status || ' ' || version || ' ' || business_key" + at_a),
            "CHECKED running 2 biz-a");
  EXPECT_EQ(q("SELECT data->>'n'" + at_a), "2");
  EXPECT_EQ(q("SELECT data->>'name'" + at_a),
            "a\xEF\xBF\xBD"
            "b");  // NUL: U+FFFD
  EXPECT_EQ(q("SELECT definition || ' v' || definition_version" + at_a), "t.report v1");
  EXPECT_EQ(q("SELECT extract(epoch FROM updated - created)::int" + at_a), "0");  // same clock
  EXPECT_EQ(q("SELECT state || ' ' || status || ' ' || outcome FROM bihuan_instances WHERE id = '" +
              b.instance->id + "'"),
            "DONE completed done");
  // An office's own report: instances per state.
  EXPECT_EQ(q("SELECT string_agg(state || '=' || n, ',' ORDER BY state) FROM (SELECT state, "
              "count(*) AS n FROM bihuan_instances WHERE definition = 't.report' GROUP BY "
              "state) s"),
            "CHECKED=1,DONE=1");
  // Records written without the projection (another tool, an older build) are projected
  // when a server's engine opens the store (sql_view_backfill), not by a CLI command's.
  q("UPDATE inst SET j = NULL");
  EXPECT_EQ(q("SELECT count(*) FROM bihuan_instances WHERE state IS NULL"), "2");
  reopen();
  EXPECT_EQ(q("SELECT count(*) FROM bihuan_instances WHERE state IS NULL"), "2");
  EngineOptions server = base_options();
  server.sql_view_backfill = true;
  reopen_with(server);
  EXPECT_EQ(q("SELECT count(*) FROM bihuan_instances WHERE state IS NULL"), "0");
  EXPECT_EQ(q("SELECT data->>'n'" + at_a), "2");
  // Turned off (EngineOptions::sql_view, "sqlView": false): a record written is no longer
  // projected, and its row shows the id only, never a stale state.
  EngineOptions off = base_options();
  off.sql_view = false;
  reopen_with(off);
  ASSERT_TRUE(send(a.instance->id, "close").ok());
  EXPECT_EQ(q("SELECT (state IS NULL) || ' ' || (data IS NULL)" + at_a), "true true");
  EXPECT_EQ(q("SELECT state FROM bihuan_instances WHERE id = '" + b.instance->id + "'"), "DONE");
}

}  // namespace
