// Storage errors are errors, never "absent" (issue 19): a store whose pages LMDB cannot
// use answers reads with "unavailable", stops the engine (fail-stop: logged once with the
// data file, writes refused, metrics say so), and engine options out of range are
// refused at open. A dropped timer firing is counted and logged.
#include <gtest/gtest.h>

#include <fcntl.h>
#include <unistd.h>

#include <mutex>

#include "engine_fixture.hpp"

namespace bihuan::testing {
namespace {

const char* kTwo = R"({"id": "t.two", "version": 1, "initial": "A", "states": {
  "A": {"on": {"go": {"roles": ["system"], "target": "B"}, "ask": {"roles": ["USER"], "target": "B"}}},
  "B": {"type": "final", "outcome": "ok"}}})";

// Points the main database's root, in both meta pages of data.mdb, past the end of the
// file (what a damaged disk block leaves): every search of a named database then fails
// with MDB_PAGE_NOTFOUND, a fatal code. Returns how many meta pages it changed.
int damage_main_root(const std::string& dir) {
  int fd = ::open((std::filesystem::path(dir) / "data.mdb").c_str(), O_RDWR);
  if (fd < 0) return -1;
  // Meta page: page header (16 bytes), magic, version, address, map size, then two MDB_db
  // of 48 bytes (free pages, main); md_root is the last 8 bytes of an MDB_db.
  const off_t page = 4096, root_at = 16 + 4 + 4 + 8 + 8 + 48 + 40;
  int n = 0;
  for (off_t meta = 0; meta < 2; ++meta) {
    std::uint64_t root = 0, far = std::uint64_t{1} << 40;
    if (pread(fd, &root, 8, meta * page + root_at) != 8 || root == 0 ||
        root > (std::uint64_t{1} << 32))
      continue;
    if (pwrite(fd, &far, 8, meta * page + root_at) == 8) ++n;
  }
  ::close(fd);
  return n;
}

struct LogLines {
  std::mutex mu;
  std::vector<std::string> lines;
  std::function<void(const std::string&)> sink() {
    return [this](const std::string& line) {
      std::lock_guard lock(mu);
      lines.push_back(line);
    };
  }
  std::vector<json> with_level(const std::string& level) {
    std::lock_guard lock(mu);
    std::vector<json> out;
    for (const auto& l : lines) {
      json j = json::parse(l);
      if (j.value("level", "") == level) out.push_back(j);
    }
    return out;
  }
};

class StorageErrorsTest : public EngineTest {
 protected:
  void SetUp() override {
    EngineTest::SetUp();
    EngineOptions o = base_options();
    o.log = log_.sink();
    reopen_with(o);
    deploy(kTwo);
  }
  LogLines log_;
};

TEST_F(StorageErrorsTest, ADamagedStoreIsUnavailableNotAbsentAndStopsTheEngine) {
  SKIP_ON_PG("damaged pages of data.mdb");
  std::vector<std::string> ids;
  for (int i = 0; i < 5; ++i)
    ids.push_back(start("t.two", json::object(), "k" + std::to_string(i)).instance->id);
  ASSERT_EQ(engine_->checkpoint(), "");  // the steps in the B-tree, not only in the log
  ASSERT_GT(damage_main_root(dir_), 0);

  // A read that cannot read says so: it is not "no such instance".
  std::string why;
  EXPECT_FALSE(engine_->get(ids[0], &why));
  EXPECT_NE(why.find("could not be read"), std::string::npos) << why;
  EXPECT_FALSE(engine_->get_by_business_key("k1", &why));
  EXPECT_FALSE(why.empty());
  InstanceQuery q;
  auto page = engine_->query(q);
  EXPECT_TRUE(page.unavailable);
  EXPECT_TRUE(page.items.empty());
  EXPECT_FALSE(page.error.empty());
  q.definition = "t.two";
  EXPECT_TRUE(engine_->query(q).unavailable);
  EXPECT_TRUE(engine_->history_page({ids[0], "", 0}).unavailable);
  EXPECT_TRUE(engine_->inbox_page({Actor{"u1", {"USER"}}, 10, ""}).unavailable);
  EXPECT_TRUE(engine_->stats({}).unavailable);

  // Fail-stop: logged once, with the data file; metrics say so; writes are refused.
  EngineMetrics m = engine_->metrics();
  EXPECT_TRUE(m.failed);
  EXPECT_NE(m.failure.find(dir_ + "/data.mdb"), std::string::npos) << m.failure;
  auto fatal = log_.with_level("fatal");
  ASSERT_EQ(fatal.size(), 1u);
  EXPECT_EQ(fatal[0].value("file", ""), dir_ + "/data.mdb");
  EXPECT_EQ(fatal[0].value("dataDir", ""), dir_);

  // A retried start with an idempotency key is refused, never applied as new.
  StartRequest again;
  again.definition = "t.two";
  again.idempotency_key = "once";
  auto r = engine_->start(again);
  EXPECT_FALSE(r.ok());
  EXPECT_TRUE(r.error == StepError::storage_error || r.error == StepError::storage_unavailable)
      << to_string(r.error);
  EXPECT_NE(r.message.find("data.mdb"), std::string::npos) << r.message;
  auto sent = send(ids[1], "go", json::object(), Actor::system());
  EXPECT_EQ(sent.error, StepError::storage_error);
  EXPECT_EQ(log_.with_level("fatal").size(), 1u);  // once
}

TEST_F(StorageErrorsTest, ASoundStoreReadsWithoutUnavailable) {
  auto id = start("t.two").instance->id;
  std::string why = "stale";
  ASSERT_TRUE(engine_->get(id, &why));
  EXPECT_TRUE(why.empty());
  EXPECT_FALSE(engine_->get("00000000000000ff", &why));  // none: not unavailable
  EXPECT_TRUE(why.empty());
  EXPECT_FALSE(engine_->query({}).unavailable);
  EXPECT_FALSE(engine_->stats({}).unavailable);
  EXPECT_FALSE(engine_->metrics().failed);
  EXPECT_TRUE(log_.with_level("fatal").empty());
}

TEST(EngineOptionsCheck, OptionsOutOfRangeAreRefusedNamingTheOption) {
  auto dir = make_temp_dir("options");
  struct Case {
    const char* option;
    void (*set)(EngineOptions&);
  };
  const Case cases[] = {
      {"max_batch", [](EngineOptions& o) { o.max_batch = 0; }},
      {"max_batch", [](EngineOptions& o) { o.max_batch = 1000000; }},
      {"max_cascade", [](EngineOptions& o) { o.max_cascade = 0; }},
      {"initial_map_bytes", [](EngineOptions& o) { o.initial_map_bytes = 4096; }},
      {"data_dir", [](EngineOptions& o) { o.data_dir.clear(); }},
  };
  for (const auto& c : cases) {
    EngineOptions o;
    o.data_dir = dir;
    o.clock = std::make_shared<VirtualClock>(at("2033-04-03T09:00:00Z"));
    c.set(o);
    Problems p;
    EXPECT_FALSE(Engine::open(o, p)) << c.option;
    ASSERT_EQ(p.items().size(), 1u) << c.option;
    EXPECT_EQ(p.items()[0].pointer, std::string("/") + c.option);
    EXPECT_NE(p.items()[0].message.find(std::string("EngineOptions::") + c.option),
              std::string::npos)
        << p.items()[0].message;
  }
  EngineOptions fine;
  fine.data_dir = dir;
  fine.max_batch = 1;
  Problems p;
  auto engine = Engine::open(fine, p);
  EXPECT_TRUE(engine);
  if (engine) engine->close();
  std::filesystem::remove_all(dir);
}

const char* kTimed = R"({"id": "t.timed", "version": 1, "initial": "A", "states": {
  "A": {"timers": [{"id": "t", "after": "PT1H", "event": "ring"}],
        "on": {"ring": {"roles": ["system"], "guard": {"==": [{"var": "data.never"}, 1]}, "target": "B"}}},
  "B": {"type": "final", "outcome": "ok"}}})";

TEST_F(StorageErrorsTest, ARefusedTimerFiringIsCountedAndLogged) {
  deploy(kTimed);
  auto id = start("t.timed").instance->id;
  EXPECT_EQ(engine_->advance_to(clock_->now() + std::chrono::hours(2)), 1u);
  EngineMetrics m = engine_->metrics();
  EXPECT_EQ(m.timers_refused, 1u);
  EXPECT_EQ(m.timers_dropped, 0u);
  auto warns = log_.with_level("warn");
  ASSERT_EQ(warns.size(), 1u);
  EXPECT_EQ(warns[0].value("instance", ""), id);
  EXPECT_NE(warns[0].value("reason", "").find("guard-false"), std::string::npos) << warns[0].dump();
}

TEST_F(StorageErrorsTest, ATimerWhoseInstanceIsGoneIsDroppedCountedAndLogged) {
  deploy(kTimed);
  auto id = start("t.timed").instance->id;
  // The record goes (a hand edit), its timer key stays.
  reopen_after_raw_edit([&](storage::Txn& txn) {
    ASSERT_EQ(txn.del(storage::Db::inst, storage::be64(std::stoull(id, nullptr, 16))), 0);
  });
  EngineOptions o = base_options();
  o.log = log_.sink();
  reopen_with(o);
  engine_->advance_to(clock_->now() + std::chrono::hours(2));
  EXPECT_EQ(engine_->metrics().timers_dropped, 1u);
  EXPECT_EQ(engine_->pending_timers(), 0u);
  auto warns = log_.with_level("warn");
  ASSERT_EQ(warns.size(), 1u);
  EXPECT_EQ(warns[0].value("instance", ""), id);
  EXPECT_NE(warns[0].value("msg", "").find("dropped"), std::string::npos);
}

}  // namespace
}  // namespace bihuan::testing
