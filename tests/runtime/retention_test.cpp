// Retention (bihuan/retention.hpp): expired instances archived, then removed; archives
// verified and restored; an archive left unrecorded by a crash finished by the next run.
#include <zstd.h>

#include <filesystem>
#include <fstream>

#include "bihuan/changes.hpp"
#include "bihuan/retention.hpp"
#include "cli/cli_run.hpp"
#include "engine_fixture.hpp"
#include "runtime/engine_impl.hpp"

using namespace bihuan;
using bihuan::testing::at;

namespace {

const char* kCase = R"({
  "id": "t.case", "version": 1, "initial": "OPEN", "retention": "P30D",
  "states": {
    "OPEN": {"on": {
      "note": {"set": {"/notes/-": {"var": "event.payload.text"}}},
      "close": {"target": "DONE", "set": {"/closedBy": {"var": "actor.id"}}}}},
    "DONE": {"type": "final", "outcome": "done"}
  }
})";

std::string read_file(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  return {std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>()};
}
std::string unzstd(const std::string& packed) {
  std::string out(ZSTD_getFrameContentSize(packed.data(), packed.size()), '\0');
  out.resize(ZSTD_decompress(out.data(), out.size(), packed.data(), packed.size()));
  return out;
}
void write_zstd(const std::string& path, const std::string& text) {
  std::string packed(ZSTD_compressBound(text.size()), '\0');
  packed.resize(ZSTD_compress(packed.data(), packed.size(), text.data(), text.size(), 1));
  std::ofstream(path, std::ios::binary | std::ios::trunc) << packed;
}

class RetentionTest : public bihuan::testing::EngineTest {
 protected:
  // `n` instances: notes on each; every one but the last `running` closed.
  std::vector<std::string> make_cases(int n, int running = 1) {
    std::vector<std::string> ids;
    for (int i = 0; i < n; ++i) {
      auto s = start("t.case", {{"notes", json::array()}}, "case-" + std::to_string(i));
      EXPECT_TRUE(s.ok()) << s.message;
      ids.push_back(s.instance->id);
      EXPECT_TRUE(send(ids.back(), "note", {{"text", "seen " + std::to_string(i)}}).ok());
    }
    clock_->set(clock_->now() + std::chrono::hours(1));
    for (int i = 0; i + running < n; ++i) EXPECT_TRUE(send(ids[i], "close").ok());
    return ids;
  }
  RetentionRun run_options(std::size_t batch = 500) {
    RetentionRun run;
    run.options.batch = batch;
    run.options.archive_dir = dir_ + "-archives";
    return run;
  }
  void TearDown() override {
    EngineTest::TearDown();
    std::filesystem::remove_all(dir_ + "-archives");
  }
  void expect_store_sound() {
    VerifyReport v = engine_->verify();
    for (const auto& b : v.broken) ADD_FAILURE() << b;
  }
};

}  // namespace

TEST_F(RetentionTest, ABadRetentionIsRefusedAtItsPointer) {
  auto r = engine_->deploy(json::parse(R"({"id": "t.bad", "version": 1, "initial": "A",
      "retention": "thirty days", "states": {"A": {"type": "final"}}})"),
                           "bad.json");
  ASSERT_FALSE(r.ok);
  bool named = false;
  for (const auto& p : r.problems.items()) named = named || p.pointer == "/retention";
  EXPECT_TRUE(named) << (r.problems.items().empty() ? "" : r.problems.items()[0].to_string());
}

TEST_F(RetentionTest, OnlyInstancesEndedLongerAgoThanTheirRetentionGo) {
  deploy(kCase);
  auto ids = make_cases(5);
  clock_->set(clock_->now() + std::chrono::hours(24 * 29));
  RetentionReport early = run_retention(*engine_, run_options());
  EXPECT_TRUE(early.error.empty()) << early.error;
  EXPECT_EQ(early.removed, 0u);
  EXPECT_EQ(early.scanned, 5u);
  EXPECT_TRUE(early.archives.empty());

  clock_->set(clock_->now() + std::chrono::hours(24 * 2));
  RetentionReport rep = run_retention(*engine_, run_options(3));
  ASSERT_TRUE(rep.error.empty()) << rep.error;
  EXPECT_EQ(rep.expired, 4u);
  EXPECT_EQ(rep.removed, 4u);
  ASSERT_EQ(rep.archives.size(), 2u);  // batches of 3: 3 + 1
  for (int i = 0; i < 4; ++i) EXPECT_FALSE(engine_->get(ids[i])) << i;
  ASSERT_TRUE(engine_->get(ids[4]));  // still running
  EXPECT_TRUE(engine_->history(ids[0]).empty());
  EXPECT_FALSE(engine_->get_by_business_key("case-0"));
  std::size_t archived = 0;
  for (const auto& a : rep.archives) {
    ArchiveCheck c = verify_archive(a);
    EXPECT_TRUE(c.ok()) << a << ": " << (c.problems.empty() ? "" : c.problems[0]);
    archived += c.instances;
  }
  EXPECT_EQ(archived, 4u);
  expect_store_sound();
  // The running one still steps; a second run finds nothing more.
  EXPECT_TRUE(send(ids[4], "note", {{"text", "later"}}).ok());
  RetentionReport again = run_retention(*engine_, run_options());
  EXPECT_EQ(again.removed, 0u);
  EXPECT_TRUE(again.archives.empty());
}

TEST_F(RetentionTest, ArchiveVerifyRestoreGivesBackTheSameInstances) {
  deploy(kCase);
  auto ids = make_cases(3, 0);
  TimePoint middle = clock_->now() - std::chrono::minutes(30);
  std::vector<json> views, histories, pasts;
  for (const auto& id : ids) {
    views.push_back(engine_->get(id)->to_json(*TimeZone::utc()));
    json h = json::array();
    for (const auto& e : engine_->history(id)) h.push_back(e.to_json(*TimeZone::utc()));
    histories.push_back(h);
    pasts.push_back(engine_->as_of(id, middle)->to_json(*TimeZone::utc()));
  }
  RetentionRun run = run_options();
  run.retention = Duration{};  // PT0S: every finished instance
  RetentionReport rep = run_retention(*engine_, run);
  ASSERT_TRUE(rep.error.empty()) << rep.error;
  ASSERT_EQ(rep.removed, 3u);
  ASSERT_EQ(rep.archives.size(), 1u);
  for (const auto& id : ids) EXPECT_FALSE(engine_->get(id));

  RestoreReport back = restore_archive(*engine_, rep.archives[0]);
  ASSERT_TRUE(back.error.empty()) << back.error;
  EXPECT_EQ(back.restored, 3u);
  for (std::size_t i = 0; i < ids.size(); ++i) {
    auto v = engine_->get(ids[i]);
    ASSERT_TRUE(v) << ids[i];
    EXPECT_EQ(v->to_json(*TimeZone::utc()), views[i]);
    json h = json::array();
    for (const auto& e : engine_->history(ids[i])) h.push_back(e.to_json(*TimeZone::utc()));
    EXPECT_EQ(h, histories[i]);
    EXPECT_EQ(engine_->as_of(ids[i], middle)->to_json(*TimeZone::utc()), pasts[i]);
    EXPECT_TRUE(engine_->verify_instance(ids[i]).ok());
  }
  EXPECT_TRUE(engine_->get_by_business_key("case-1"));
  expect_store_sound();
  // Restoring again changes nothing.
  RestoreReport twice = restore_archive(*engine_, rep.archives[0]);
  EXPECT_EQ(twice.restored, 0u);
  EXPECT_EQ(twice.present, 3u);
}

TEST_F(RetentionTest, VerifyNamesTheAlteredEntryAndTheBatchHash) {
  deploy(kCase);
  auto ids = make_cases(2, 0);
  RetentionRun run = run_options();
  run.retention = Duration{};
  RetentionReport rep = run_retention(*engine_, run);
  ASSERT_EQ(rep.archives.size(), 1u);
  std::string path = rep.archives[0];
  std::string text = unzstd(read_file(path));
  // The readable form of an entry changed: caught, and the batch hash no longer matches.
  std::string altered = text;
  auto at_note = altered.find("seen 1");
  ASSERT_NE(at_note, std::string::npos);
  altered.replace(at_note, 6, "seen 9");
  write_zstd(path, altered);
  ArchiveCheck c = verify_archive(path);
  EXPECT_FALSE(c.ok());
  std::string all;
  for (const auto& p : c.problems) all += p + "\n";
  EXPECT_NE(all.find("instance " + ids[1] + ": entry 2: the readable entry differs"),
            std::string::npos)
      << all;
  EXPECT_NE(all.find("the batch hash does not match"), std::string::npos) << all;
  // A file cut short.
  write_zstd(path, text.substr(0, text.size() / 2));
  EXPECT_FALSE(verify_archive(path).ok());
  // Not an archive at all.
  std::ofstream(path, std::ios::trunc) << "hello";
  ArchiveCheck junk = verify_archive(path);
  EXPECT_FALSE(junk.ok());
  EXPECT_FALSE(junk.readable);
}

TEST_F(RetentionTest, AnArchiveLeftUnrecordedIsFinishedByTheNextRunAndNothingIsArchivedTwice) {
  deploy(kCase);
  auto ids = make_cases(4, 0);
  RetentionRun run = run_options(2);
  run.retention = Duration{};
  run.max_batches = 1;
  RetentionReport first = run_retention(*engine_, run);
  ASSERT_EQ(first.archives.size(), 1u);
  std::string name = std::filesystem::path(first.archives[0]).filename().string();
  // As if the process had stopped right after the rename: the instances are still there
  // and the store does not know the archive.
  ASSERT_EQ(restore_archive(*engine_, first.archives[0]).restored, 2u);
  reopen_after_raw_edit(
      [&](storage::Txn& txn) { ASSERT_EQ(txn.del(storage::Db::meta, "archive/" + name), 0); });
  run.max_batches = SIZE_MAX;
  RetentionReport second = run_retention(*engine_, run);
  ASSERT_TRUE(second.error.empty()) << second.error;
  EXPECT_EQ(second.recovered, 1u);
  EXPECT_EQ(second.removed, 4u);  // 2 finished + 2 in a new archive
  ASSERT_EQ(second.archives.size(), 2u);
  std::map<std::string, int> times;
  for (const auto& a : second.archives) {
    std::string text = unzstd(read_file(a));
    for (const auto& id : ids)
      if (text.find("\"instance\":\"" + id + "\"") != std::string::npos) ++times[id];
  }
  for (const auto& id : ids) {
    EXPECT_EQ(times[id], 1) << id;
    EXPECT_FALSE(engine_->get(id));
  }
  expect_store_sound();
}

TEST_F(RetentionTest, TheChangeFeedGoesOnAfterRemovedStepsAlsoAfterReopen) {
  deploy(kCase);
  auto ids = make_cases(3, 1);
  ChangePage before = changes(*engine_, "", 1000);
  std::string cursor = before.next_cursor;
  RetentionRun run = run_options();
  run.retention = Duration{};
  ASSERT_EQ(run_retention(*engine_, run).removed, 2u);
  reopen();  // the removed newest keys are not given out again
  ASSERT_TRUE(send(ids[2], "close").ok());
  ChangePage after = changes(*engine_, cursor, 1000);
  ASSERT_TRUE(after.error.empty()) << after.error;
  ASSERT_EQ(after.items.size(), 1u);
  EXPECT_EQ(after.items[0].instance_id, ids[2]);
  EXPECT_EQ(after.items[0].entry.event, "close");
  // From the start, the feed now holds only what is still stored.
  EXPECT_EQ(changes(*engine_, "", 1000).items.size(), engine_->history(ids[2]).size());
}

// Issue 22: "a period's statistics are identical before and after archiving". Instances of
// two months in two townships, some archived: every grouping, for an unscoped caller and
// for a township's office, counts the same before, after archiving and after a restore
// (which must not count an instance twice). archived=false counts only what is stored.
TEST_F(RetentionTest, AStatisticsPeriodCountsTheSameBeforeAndAfterArchivingAndRestore) {
  deploy(R"({"id": "t.unitcase", "version": 1, "initial": "OPEN", "retention": "P30D",
    "access": {"unit": {"var": "data.unit"}, "readers": {"var": "data.readers"}},
    "dataSchema": {"type": "object", "properties": {"unit": {"type": "string"}}},
    "states": {
      "OPEN": {"on": {"close": {"target": "DONE"}, "drop": {"target": "DROPPED"}}},
      "DONE": {"type": "final", "outcome": "done"},
      "DROPPED": {"type": "final", "outcome": "dropped"}}})");
  std::vector<std::string> ids;
  for (int month = 0; month < 2; ++month) {
    for (int i = 0; i < 6; ++i) {
      std::string unit = i % 2 ? "HX/GM/T01" : "HX/GM/T02";
      auto s = start("t.unitcase",
                     {{"unit", unit}, {"readers", {"actor:u1"}}, {"grade", i % 3 ? "B" : "A"}});
      ASSERT_TRUE(s.ok()) << s.message;
      ids.push_back(s.instance->id);
      if (i < 4) {
        auto sent = send(ids.back(), i % 2 ? "close" : "drop");
        ASSERT_TRUE(sent.ok()) << sent.message;
      }
    }
    if (month == 0) clock_->set(clock_->now() + std::chrono::hours(24 * 31));
  }
  const Actor township{"adm-T01", {"ADMIN"}, {{"unit", "HX/GM/T01"}}};
  auto snapshot = [&](std::optional<Actor> viewer, bool archived = true) {
    std::vector<std::string> out;
    for (const char* by : {"status", "outcome", "state", "created:month", "unit", "/grade"}) {
      StatsQuery q;
      q.definition = "t.unitcase";
      q.group_by = {by, "created:month"};
      q.viewer = viewer;
      q.archived = archived;
      StatsResult r = engine_->stats(q);
      EXPECT_TRUE(r.error.empty()) << r.error;
      std::string line = std::string(by) + " total " + std::to_string(r.total) + ":";
      for (const auto& g : r.groups) line += " " + g.key.dump() + "=" + std::to_string(g.count);
      out.push_back(line);
    }
    return out;
  };
  const auto all_before = snapshot(std::nullopt), township_before = snapshot(township);
  ASSERT_EQ(all_before[0].substr(0, 15), "status total 12");

  // Month 1's four ended instances are past their 30 days; month 2's are not yet.
  RetentionReport rep = run_retention(*engine_, run_options());
  ASSERT_TRUE(rep.error.empty()) << rep.error;
  ASSERT_EQ(rep.removed, 4u);
  EXPECT_FALSE(engine_->get(ids[0]));
  EXPECT_EQ(snapshot(std::nullopt), all_before);
  EXPECT_EQ(snapshot(township), township_before);
  {
    StatsQuery q;
    q.definition = "t.unitcase";
    EXPECT_EQ(engine_->stats(q).archived, 4u);
    q.archived = false;
    StatsResult live = engine_->stats(q);
    EXPECT_EQ(live.total, 8u);
    EXPECT_EQ(live.archived, 0u);
    q.archived = true;
    q.viewer = township;  // two of the four were the township's
    EXPECT_EQ(engine_->stats(q).archived, 2u);
  }
  expect_store_sound();

  // A restore brings them back live: counted once, not twice.
  for (const auto& a : rep.archives) {
    RestoreReport back = restore_archive(*engine_, a);
    ASSERT_TRUE(back.error.empty()) << back.error;
  }
  EXPECT_TRUE(engine_->get(ids[0]));
  EXPECT_EQ(snapshot(std::nullopt), all_before);
  EXPECT_EQ(snapshot(township), township_before);
  StatsQuery q;
  EXPECT_EQ(engine_->stats(q).archived, 0u);
  expect_store_sound();
}

// tests/data/format4: made by a format-4 build (make.sh there): five instances of m.case,
// c2 and c4 closed. Format 5 adds only the (empty) archived records, format 6 the
// attachment reference index (none here): it opens, is marked with the current format,
// verifies, and its instances count as before.
TEST_F(RetentionTest, AFormat4StoreOpensInTheCurrentFormatAndCountsAsBefore) {
  SKIP_ON_PG("an LMDB file of format 4");
  open_fixture("format4");
  expect_store_sound();
  StatsQuery q;
  q.group_by = {"status"};
  StatsResult r = engine_->stats(q);
  EXPECT_EQ(r.total, 5u);
  EXPECT_EQ(r.archived, 0u);
  ASSERT_EQ(r.groups.size(), 2u);
  EXPECT_EQ(r.groups[0].count, 2u);  // completed
  EXPECT_EQ(r.groups[1].count, 3u);  // running
  EXPECT_EQ(stored_format(), runtime::kStorageFormat);
  EXPECT_EQ(runtime::kStorageFormat, 7u);
}

// An instance the outbox still names is held (kept and counted) until its messages are
// delivered: a notifier that has not run yet must still find the instance.
TEST_F(RetentionTest, AnInstanceTheOutboxNamesIsHeldUntilItsMessagesAreDelivered) {
  deploy(R"({"id": "t.notified", "version": 1, "initial": "OPEN", "retention": "P1D",
    "states": {
      "OPEN": {"on": {"close": {"target": "DONE"}}},
      "DONE": {"type": "final", "outcome": "done",
               "onEntry": [{"notify": "log", "to": "x", "template": "closed"}]}}})");
  auto s = start("t.notified");
  ASSERT_TRUE(s.ok()) << s.message;
  const std::string id = s.instance->id;
  ASSERT_TRUE(send(id, "close").ok());
  auto waiting = engine_->outbox();
  ASSERT_EQ(waiting.size(), 1u);
  EXPECT_EQ(waiting[0].instance_id, id);
  clock_->set(clock_->now() + std::chrono::hours(48));

  RetentionReport held = run_retention(*engine_, run_options());
  ASSERT_TRUE(held.error.empty()) << held.error;
  EXPECT_EQ(held.expired, 1u);
  EXPECT_EQ(held.held, 1u);
  EXPECT_EQ(held.removed, 0u);
  EXPECT_TRUE(held.archives.empty());
  EXPECT_TRUE(engine_->get(id));

  ASSERT_TRUE(engine_->ack_outbox(waiting[0].seq));
  RetentionReport gone = run_retention(*engine_, run_options());
  ASSERT_TRUE(gone.error.empty()) << gone.error;
  EXPECT_EQ(gone.removed, 1u);
  EXPECT_FALSE(engine_->get(id));
  expect_store_sound();
}

// Issue 26: history by month. On PostgreSQL a removed instance's entries stay in their
// month's partition until no stored instance has an entry there, and then the month goes
// whole (RetentionReport::months_detached); on LMDB they are deleted with the instance.
// Either way the change feed, verify and a restore give the same answers: removed steps
// leave the feed, a restored instance's steps are in it once (the old copies a month still
// held are deleted), and the store stays sound.
TEST_F(RetentionTest, RemovedHistoryGoesWithItsMonthAndTheFeedAndVerifyAgree) {
  deploy(kCase);
  // A month after the one the store was made in (whose steps go to its first partition).
  auto wall = std::chrono::time_point_cast<Millis>(std::chrono::system_clock::now());
  clock_->set(TimePoint(wall.time_since_epoch() + std::chrono::hours(24 * 40)));
  auto month_of = [](TimePoint t) {
    std::chrono::year_month_day d{
        std::chrono::floor<std::chrono::days>(std::chrono::sys_time<Millis>(t.time_since_epoch()))};
    return static_cast<int>(d.year()) * 100 + static_cast<int>(static_cast<unsigned>(d.month()));
  };
  const int first_month = month_of(clock_->now());
  auto ids = make_cases(2, 1);  // a closed, c running, both in first_month
  const std::string a = ids[0], c = ids[1];
  // Two months on, b starts: steps are written after first_month.
  clock_->set(clock_->now() + std::chrono::hours(24 * 62));
  auto b = start("t.case", {{"notes", json::array()}}, "case-b");
  ASSERT_TRUE(b.ok()) << b.message;
  auto feed_count = [&](const std::string& id) {
    ChangePage p = changes(*engine_, "", 1000);
    EXPECT_TRUE(p.error.empty()) << p.error;
    return std::count_if(p.items.begin(), p.items.end(),
                         [&](const Change& ch) { return ch.instance_id == id; });
  };
  ASSERT_EQ(feed_count(a), 3);

  // a goes; c still has entries in first_month, which stays.
  RetentionRun run = run_options();
  RetentionReport rep = run_retention(*engine_, run);
  ASSERT_TRUE(rep.error.empty()) << rep.error;
  ASSERT_EQ(rep.removed, 1u);
  EXPECT_TRUE(rep.months_detached.empty());
  EXPECT_EQ(feed_count(a), 0);
  EXPECT_EQ(feed_count(c), 2);
  EXPECT_EQ(feed_count(b.instance->id), 1);
  expect_store_sound();

  // Restored: its steps are in the feed once, at new keys; the store is sound (on
  // PostgreSQL the copies first_month still held were deleted: verify counts a stored
  // instance's entries, and would find three too many).
  RestoreReport back = restore_archive(*engine_, rep.archives[0]);
  ASSERT_TRUE(back.error.empty()) << back.error;
  ASSERT_EQ(back.restored, 1u);
  EXPECT_EQ(feed_count(a), 3);
  EXPECT_EQ(engine_->history(a).size(), 3u);
  expect_store_sound();

  // c closes; a month on, a and c go, and first_month with them (on PostgreSQL).
  ASSERT_TRUE(send(c, "close").ok());
  clock_->set(clock_->now() + std::chrono::hours(24 * 31));
  rep = run_retention(*engine_, run);
  ASSERT_TRUE(rep.error.empty()) << rep.error;
  EXPECT_EQ(rep.removed, 2u);
  if (bihuan::testing::on_pg())
    EXPECT_EQ(rep.months_detached, std::vector<int>{first_month});
  else
    EXPECT_TRUE(rep.months_detached.empty());
  EXPECT_EQ(feed_count(a), 0);
  EXPECT_EQ(feed_count(c), 0);
  EXPECT_EQ(changes(*engine_, "", 1000).items.size(), 1u);  // b's start
  expect_store_sound();
  // Steps go on; b's history and a new instance's are whole.
  ASSERT_TRUE(send(b.instance->id, "note", {{"text", "later"}}).ok());
  EXPECT_EQ(engine_->history(b.instance->id).size(), 2u);
  expect_store_sound();

  // The months as an operator sees them (`bihuan archive months`, on the same store).
  using bihuan::testing::run_bihuan;
  char now_month[16];
  std::snprintf(now_month, sizeof now_month, "%04d-%02d", month_of(clock_->now()) / 100,
                month_of(clock_->now()) % 100);
  auto listed = run_bihuan(dir_, {"archive", "months", "-D", dir_, "--count", "--format", "json"});
  auto detach_now = run_bihuan(dir_, {"archive", "months", "-D", dir_, "--detach", now_month});
  if (!bihuan::testing::on_pg()) {
    EXPECT_EQ(listed.rc, 1);
    EXPECT_NE(listed.err.find("is LMDB: its history is one table"), std::string::npos)
        << listed.err;
    return;
  }
  ASSERT_EQ(listed.rc, 0) << listed.err;
  json months = json::parse(listed.out);
  ASSERT_TRUE(months.is_array());
  std::int64_t rows = 0, live = 0;
  for (const auto& m : months) {
    EXPECT_NE(m["table"], "history_" + std::to_string(first_month));
    rows += m.value("rows", 0);
    live += m.value("liveRows", 0);
  }
  // a's 3 restored entries and c's close (removed, left to their month), b's 2 (stored).
  EXPECT_EQ(rows, 6);
  EXPECT_EQ(live, 2);
  EXPECT_EQ(detach_now.rc, 1);
  EXPECT_NE(detach_now.err.find("is where steps are written now"), std::string::npos)
      << detach_now.err;
}
