// History by month on PostgreSQL (engine/src/pg/pg_months.hpp; storage::Remote's
// history_floor, history_months, detach_history_month) against a real PostgreSQL 15: a
// new store's history is partitioned, partitions are made ahead as months come, a step's
// key lands in its month's table, a month is detached only when no stored instance has an
// entry there and steps are written after it, and a version-1 database is converted with
// its rows.
#include "pg/pg_months.hpp"

#include "pg/pg_remote_fixture.hpp"
#include "storage/lmdb_env.hpp"

namespace bihuan::pg::test {
namespace months_test {
namespace {

using storage::RemoteOutcome;

// The first ms of month index m (UTC): from the first day, by days.
std::int64_t ms_of_month(int m) {
  // Walk days from the epoch: a month's first day is within 31 * 12 * years; a search by
  // month_index_of_ms keeps this exact without a calendar of our own.
  std::int64_t lo = 0, hi = std::int64_t{4102444800000};  // 2100-01-01
  while (lo < hi) {
    std::int64_t mid = lo + (hi - lo) / 2;
    if (month_index_of_ms(mid) < m)
      lo = mid + 1;
    else
      hi = mid;
  }
  return lo;
}

int legacy_month(Admin& admin) {
  return std::stoi(admin.exec("SELECT legacy_month FROM bihuan_schema"));
}

// The table a history key's row is stored in.
std::string table_of(Admin& admin, std::uint64_t key) {
  return admin.exec("SELECT tableoid::regclass FROM history WHERE k = '\\x" +
                    storage::hex(storage::be64(key)) + "'");
}

// The legacy and month partitions (not the DEFAULT one, history_other).
std::string partitions(Admin& admin) {
  return admin.exec(
      "SELECT count(*) FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid WHERE "
      "i.inhparent = 'history'::regclass AND c.relname <> 'history_other'");
}

std::string entry_of(std::uint64_t instance) { return storage::be64(instance) + "entry"; }

TEST_F(PgRemoteTest, ANewStoreKeepsItsHistoryByMonthAndMakesMonthsAhead) {
  auto r = remote();
  ASSERT_TRUE(r);
  Admin admin(conninfo_);
  EXPECT_EQ(admin.exec("SELECT relkind FROM pg_class WHERE relname = 'history'"), "p");
  EXPECT_EQ(admin.exec("SELECT version FROM bihuan_schema"), "2");
  int legacy = legacy_month(admin);
  EXPECT_EQ(legacy, month_index_of_ms(std::chrono::duration_cast<std::chrono::milliseconds>(
                                          std::chrono::system_clock::now().time_since_epoch())
                                          .count()));
  EXPECT_EQ(partitions(admin), "1");
  // The store's first month, and any before it, write to the legacy partition; the two
  // months after it are made ahead.
  EXPECT_EQ(r->history_floor(ms_of_month(legacy) + 5), 0u);
  EXPECT_EQ(r->history_floor(ms_of_month(legacy - 30)), 0u);
  EXPECT_EQ(partitions(admin), "3");
  // The next month: it and the two after it are made; its floor is its first key.
  std::uint64_t next = r->history_floor(ms_of_month(legacy + 1) + 1000);
  EXPECT_EQ(next, month_first_key(legacy + 1));
  EXPECT_EQ(partitions(admin), "4");
  std::string error;
  ASSERT_EQ(apply(*r,
                  {{Db::hist, true, storage::be64(5), entry_of(1)},
                   {Db::hist, true, storage::be64(next), entry_of(1)},
                   {Db::hist, true, storage::be64(next + 1), entry_of(2)}},
                  &error),
            RemoteOutcome::ok)
      << error;
  EXPECT_EQ(table_of(admin, 5), kLegacyHistoryTable);
  EXPECT_EQ(table_of(admin, next), month_table(legacy + 1));
  // A get and a cursor read across the partitions, in key order.
  auto rows = scan_remote(*r, Db::hist);
  ASSERT_EQ(rows.size(), 3u);
  EXPECT_EQ(rows[0].first, storage::be64(5));
  EXPECT_EQ(rows[2].first, storage::be64(next + 1));
  // Months the clock skips to are made when it gets there; the floor never names a month
  // without a partition.
  EXPECT_EQ(r->history_floor(ms_of_month(legacy + 7)), month_first_key(legacy + 7));
  EXPECT_EQ(partitions(admin), "7");
  // Another node finds the months already made.
  auto other = remote();
  ASSERT_TRUE(other);
  EXPECT_EQ(other->history_floor(ms_of_month(legacy + 2)), month_first_key(legacy + 2));
  std::vector<storage::HistoryMonth> months;
  ASSERT_TRUE(other->history_months(true, &months, &error)) << error;
  ASSERT_EQ(months.size(), 8u);  // legacy, +1 .. +4 (the other node made +4), +7 .. +9
  EXPECT_EQ(months[0].month, 0);
  EXPECT_EQ(months[0].rows, 1);
  EXPECT_EQ(months[1].month, month_yyyymm(legacy + 1));
  EXPECT_EQ(months[1].rows, 2);
  EXPECT_EQ(months[1].live, 0);  // no instance record names 1 or 2
  EXPECT_TRUE(months[1].current);
  EXPECT_FALSE(months[2].written);
}

TEST_F(PgRemoteTest, AMonthIsDetachedOnlyWhenNoStoredInstanceHasAnEntryAndStepsAreWrittenAfter) {
  auto r = remote();
  ASSERT_TRUE(r);
  Admin admin(conninfo_);
  int legacy = legacy_month(admin);
  int a = legacy + 1, b = legacy + 2;
  std::uint64_t ka = r->history_floor(ms_of_month(a)), kb = r->history_floor(ms_of_month(b));
  ASSERT_EQ(ka, month_first_key(a));
  std::string error;
  ASSERT_EQ(apply(*r,
                  {{Db::inst, true, storage::be64(1), "record 1"},
                   {Db::hist, true, storage::be64(ka), entry_of(1)},
                   {Db::hist, true, storage::be64(ka + 1), entry_of(2)},
                   {Db::hist, true, storage::be64(kb), entry_of(1)}},
                  &error),
            RemoteOutcome::ok)
      << error;
  bool held = false;
  // Instance 1 is stored and has an entry in a: kept, naming it.
  EXPECT_FALSE(r->detach_history_month(month_yyyymm(a), false, &error, &held));
  EXPECT_TRUE(held);
  EXPECT_NE(error.find("holds history entries of instances still stored (instance "
                       "0000000000000001"),
            std::string::npos)
      << error;
  // b holds the newest key: steps are written there.
  EXPECT_FALSE(r->detach_history_month(month_yyyymm(b), false, &error, &held));
  EXPECT_TRUE(held);
  EXPECT_NE(error.find("is where steps are written now"), std::string::npos) << error;
  // b + 1 was made ahead: nothing is written there yet, nor after it.
  EXPECT_FALSE(r->detach_history_month(month_yyyymm(b + 1), false, &error, &held));
  EXPECT_TRUE(held);
  EXPECT_NE(error.find("is made ahead: steps will be written there"), std::string::npos) << error;
  // A month without a partition: the error lists those there are.
  EXPECT_FALSE(r->detach_history_month(190001, false, &error, &held));
  EXPECT_FALSE(held);
  EXPECT_NE(error.find("no partition for 1900-01 (it has: the legacy partition (history_legacy)"),
            std::string::npos)
      << error;
  // Instance 1 removed (its record gone; its entries stay): a goes whole, entries and all.
  ASSERT_EQ(apply(*r, {{Db::inst, false, storage::be64(1), ""}}, &error), RemoteOutcome::ok)
      << error;
  ASSERT_TRUE(r->detach_history_month(month_yyyymm(a), false, &error, &held)) << error;
  EXPECT_EQ(admin.exec("SELECT count(*) FROM history"), "1");
  EXPECT_EQ(admin.exec("SELECT to_regclass('" + month_table(a) + "') IS NULL"), "t");
  // The legacy partition (empty, steps written after it) goes too; kept under a new name
  // when asked.
  ASSERT_TRUE(r->detach_history_month(0, true, &error, &held)) << error;
  EXPECT_EQ(admin.exec("SELECT to_regclass('history_legacy_detached') IS NOT NULL"), "t");
  std::vector<storage::HistoryMonth> months;
  ASSERT_TRUE(r->history_months(false, &months, &error)) << error;
  ASSERT_FALSE(months.empty());
  EXPECT_EQ(months[0].month, month_yyyymm(b));
  // Reads and writes go on.
  ASSERT_EQ(apply(*r, {{Db::hist, true, storage::be64(kb + 1), entry_of(3)}}, &error),
            RemoteOutcome::ok)
      << error;
  EXPECT_EQ(scan_remote(*r, Db::hist).size(), 2u);
}

TEST_F(PgRemoteTest, AVersionOneDatabaseIsConvertedAtOpenAndKeepsItsRows) {
  Admin admin(conninfo_);
  admin.exec(
      "CREATE TABLE bihuan_schema (version int NOT NULL); INSERT INTO bihuan_schema VALUES (1);"
      "CREATE TABLE history (k bytea PRIMARY KEY, v bytea NOT NULL);"
      "INSERT INTO history VALUES ('\\x0000000000000001', 'one'), ('\\x0000000000000002', "
      "'two');"
      "CREATE TABLE inst (k bytea PRIMARY KEY, v bytea NOT NULL);"
      "INSERT INTO inst VALUES ('\\x0000000000000009', 'record')");
  auto r = remote();
  ASSERT_TRUE(r);
  EXPECT_EQ(admin.exec("SELECT version FROM bihuan_schema"), "2");
  EXPECT_EQ(admin.exec("SELECT relkind FROM pg_class WHERE relname = 'history'"), "p");
  EXPECT_EQ(table_of(admin, 2), kLegacyHistoryTable);
  EXPECT_EQ(scan_remote(*r, Db::hist),
            (Rows{{storage::be64(1), "one"}, {storage::be64(2), "two"}}));
  EXPECT_EQ(scan_remote(*r, Db::inst), (Rows{{storage::be64(9), "record"}}));
  // Version 2's view for SQL reports is there; the old record is not projected yet (no
  // projection was given: an engine gives one when it opens).
  EXPECT_EQ(admin.exec("SELECT id || ' ' || (definition IS NULL) FROM bihuan_instances"),
            "0000000000000009 true");  // bool || text is text
  // Opened again: nothing to convert.
  auto again = remote();
  ASSERT_TRUE(again);
  EXPECT_EQ(scan_remote(*again, Db::hist).size(), 2u);
  int legacy = legacy_month(admin);
  EXPECT_EQ(again->history_floor(ms_of_month(legacy + 1)), month_first_key(legacy + 1));
}

// Months of any time: UTC, clamped to years 1..9999 (a table's name has four digits), and
// names that are not a month's table are not taken for one.
TEST(HistoryMonthNames, MonthsOfAnyTimeAndTheirTables) {
  EXPECT_EQ(month_yyyymm(month_index_of_ms(0)), 197001);
  EXPECT_EQ(month_yyyymm(month_index_of_ms(1798761599999)), 202612);  // 2026-12-31T23:59:59.999Z
  EXPECT_EQ(month_yyyymm(month_index_of_ms(1798761600000)), 202701);
  EXPECT_EQ(month_yyyymm(month_index_of_ms(-1)), 196912);
  EXPECT_EQ(month_yyyymm(month_index_of_ms(INT64_MAX)), 999912);
  EXPECT_EQ(month_yyyymm(month_index_of_ms(INT64_MIN)), 101);
  EXPECT_EQ(month_table(month_index_of_ms(1798761600000)), "history_202701");
  EXPECT_EQ(month_of_table("history_202701"), month_index_of_yyyymm(202701));
  for (const char* not_a_month : {"history_legacy", "history_other", "history_202713",
                                  "history_202701_detached", "history_2027011", "inst"})
    EXPECT_EQ(month_of_table(not_a_month), std::nullopt) << not_a_month;
}

}  // namespace
}  // namespace months_test
}  // namespace bihuan::pg::test
