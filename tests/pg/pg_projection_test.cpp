// SQL for reports (storage::Remote::set_projection; pg_schema.hpp, inst_projection_ddl)
// against a real PostgreSQL 15: a projection given to PgRemote is stored beside every inst
// put (commits and write transactions alike), the records stored without one are
// projected when it is given, a put without one clears it (never a stale row), and the
// view bihuan_instances reads it.
#include "pg/pg_remote_fixture.hpp"
#include "storage/lmdb_env.hpp"

namespace bihuan::pg::test {
namespace projection_test {
namespace {

using storage::RemoteOutcome;

// "skip..." values are not records: no projection.
std::optional<std::string> fake(std::string_view v) {
  if (v.substr(0, 4) == "skip") return std::nullopt;
  return "{\"definition\": \"d-" + std::string(v) + "\", \"state\": \"S\", \"data\": {\"n\": 1}}";
}

TEST_F(PgRemoteTest, RecordsAreProjectedBesideTheirValueAndReadThroughTheView) {
  auto r = remote();
  ASSERT_TRUE(r);
  Admin admin(conninfo_);
  std::string error;
  ASSERT_EQ(apply(*r, {{Db::inst, true, "a", "va"}, {Db::inst, true, "s", "skip"}}, &error),
            RemoteOutcome::ok)
      << error;
  EXPECT_EQ(admin.exec("SELECT count(*) FROM bihuan_instances WHERE definition IS NULL"), "2");
  // Given now: "a" is projected at once; "s" is not a record and stays NULL.
  r->set_projection(Db::inst, fake, true);
  EXPECT_EQ(admin.exec("SELECT definition FROM bihuan_instances WHERE id = '61'"), "d-va");
  EXPECT_EQ(admin.exec("SELECT count(*) FROM bihuan_instances WHERE definition IS NULL"), "1");
  // Commits and write transactions project each put; an overwrite projects it again.
  ASSERT_EQ(apply(*r, {{Db::inst, true, "b", "vb"}, {Db::inst, true, "a", "va2"}}, &error),
            RemoteOutcome::ok)
      << error;
  {
    auto txn = r->begin(true, &error);
    ASSERT_TRUE(txn) << error;
    ASSERT_TRUE(txn->put(Db::inst, "c", "vc", &error)) << error;
    ASSERT_TRUE(txn->put(Db::meta, "m", "not projected", &error)) << error;
    bool unknown = false;
    ASSERT_TRUE(txn->commit(&error, &unknown)) << error;
  }
  EXPECT_EQ(admin.exec("SELECT string_agg(definition || ':' || state || ':' || (data->>'n'), ',' "
                       "ORDER BY id) FROM bihuan_instances WHERE definition IS NOT NULL"),
            "d-va2:S:1,d-vb:S:1,d-vc:S:1");
  // A writer without the projection clears it: the view never shows a stale record.
  auto plain = remote();
  ASSERT_TRUE(plain);
  ASSERT_EQ(apply(*plain, {{Db::inst, true, "b", "vb3"}}, &error), RemoteOutcome::ok) << error;
  EXPECT_EQ(admin.exec("SELECT definition IS NULL FROM bihuan_instances WHERE id = '62'"), "t");
  // The store itself is unchanged by it: keys and values as written.
  EXPECT_EQ(scan_remote(*r, Db::inst),
            (Rows{{"a", "va2"}, {"b", "vb3"}, {"c", "vc"}, {"s", "skip"}}));
}

}  // namespace
}  // namespace projection_test
}  // namespace bihuan::pg::test
