// Storage format migrations on a real format-1 data directory (tests/data/format1, made
// by a format-1 build with make.sh there).
#include <lmdb.h>

#include <fstream>

#include "engine_fixture.hpp"
#include "runtime/engine_impl.hpp"
#include "storage/lmdb_env.hpp"

using namespace bihuan;
using bihuan::testing::at;
using bihuan::testing::EngineTest;
using bihuan::testing::read_key;
namespace fs = std::filesystem;

namespace {

const fs::path kFixture = fs::path(BIHUAN_SOURCE_DIR) / "tests/data/format1";

json expected() {
  std::ifstream in(kFixture / "expected.json");
  return json::parse(in);
}

// The stored format number and whether the format-1 history database still exists.
std::pair<std::uint32_t, bool> raw_format(const std::string& dir) {
  std::string error;
  auto env = storage::Env::open(dir, 64u << 20, false, &error);
  EXPECT_TRUE(env) << error;
  auto txn = env->begin(true, nullptr);
  auto format = read_key(*txn, storage::Db::meta, "format");
  int rc = 0;
  bool legacy = txn->legacy_cursor("hist", &rc) != nullptr;
  EXPECT_EQ(rc, 0);
  return {format ? storage::read_be32(*format) : 0u, legacy};
}

class MigrateTest : public EngineTest {
 protected:
  void SetUp() override {
    EngineTest::SetUp();
    engine_->close();
    engine_.reset();
    fs::remove(fs::path(dir_) / "data.mdb");
    fs::remove(fs::path(dir_) / "lock.mdb");
    fs::copy_file(kFixture / "data.mdb", fs::path(dir_) / "data.mdb");
    fs::permissions(fs::path(dir_) / "data.mdb", fs::perms::owner_write, fs::perm_options::add);
    clock_->set(at("2026-12-01T00:00:00+08:00"));  // after the fixture was made
  }
};

TEST_F(MigrateTest, Format1HistoryMovesIntoTheLogWithEveryHashIntact) {
  SKIP_ON_PG("an LMDB file of format 1");
  ASSERT_EQ(raw_format(dir_), std::make_pair(1u, true));
  open();
  auto want = expected();
  auto report = engine_->verify();
  EXPECT_TRUE(report.ok()) << (report.broken.empty() ? "" : report.broken[0]);
  EXPECT_EQ(report.instances, want["instances"].size());
  std::size_t entries = 0;
  for (const auto& i : want["instances"]) {
    auto h = engine_->history(i["id"]);
    ASSERT_EQ(h.size(), i["entries"].get<std::size_t>()) << i["id"];
    EXPECT_EQ(h.front().hash, i["first"]) << i["id"];
    EXPECT_EQ(h.back().hash, i["newest"]) << i["id"];
    for (std::size_t k = 0; k < h.size(); ++k) EXPECT_EQ(h[k].seq, k + 1);
    entries += h.size();
  }
  EXPECT_EQ(report.entries, entries);
  engine_->close();
  engine_.reset();
  EXPECT_EQ(raw_format(dir_), std::make_pair(runtime::kStorageFormat, false));
}

TEST_F(MigrateTest, MigratedChainsGrowAndTimersFireAfterTheMove) {
  SKIP_ON_PG("an LMDB file of format 1");
  open();
  EventRequest r;
  r.business_key = "m-parent:4";
  r.event = "note";
  r.payload = {{"text", "after the migration"}};
  r.actor = {"clerk-2", {"clerk"}};
  auto sent = engine_->send(r);
  ASSERT_TRUE(sent.ok()) << sent.message;
  auto h = engine_->history(sent.instance->id);
  ASSERT_EQ(h.size(), 3u);  // start, the fixture's note, this note
  EXPECT_EQ(h[2].prev_hash, h[1].hash);
  // A month of the fixture's timers: daily reminders, then the children expire and their
  // parents complete.
  std::size_t pending = engine_->pending_timers();
  EXPECT_GT(pending, 0u);
  EXPECT_GT(engine_->advance_to(at("2027-01-15T00:00:00+08:00")), pending);
  auto parent = engine_->get(sent.instance->id);
  EXPECT_EQ(parent->status, InstanceStatus::completed);
  EXPECT_GT(parent->data["reminded"].get<int>(), 25);
  reopen();
  auto report = engine_->verify();
  EXPECT_TRUE(report.ok()) << (report.broken.empty() ? "" : report.broken[0]);
  EXPECT_EQ(engine_->history(sent.instance->id).size(), parent->version);
}

TEST_F(MigrateTest, AFailedMigrationChangesNothing) {
  SKIP_ON_PG("an LMDB file of format 1");
  {  // a format-1 history key of the wrong length
    std::string error;
    auto env = storage::Env::open(dir_, 64u << 20, false, &error);
    ASSERT_TRUE(env) << error;
    MDB_txn* txn = nullptr;
    ASSERT_EQ(mdb_txn_begin(env->raw(), nullptr, 0, &txn), 0);
    MDB_dbi dbi;
    ASSERT_EQ(mdb_dbi_open(txn, "hist", 0, &dbi), 0);
    std::string key(13, '\xff');
    MDB_val k{key.size(), key.data()}, v{1, const_cast<char*>("x")};
    ASSERT_EQ(mdb_put(txn, dbi, &k, &v, 0), 0);
    ASSERT_EQ(mdb_txn_commit(txn), 0);
  }
  EngineOptions o;
  o.data_dir = dir_;
  o.clock = clock_;
  o.calendars = bihuan::testing::shipped_calendars();
  Problems p;
  EXPECT_FALSE(Engine::open(o, p));
  ASSERT_EQ(p.items().size(), 1u);
  const std::string& m = p.items()[0].message;
  EXPECT_NE(m.find("from storage format 1 to " + std::to_string(runtime::kStorageFormat)),
            std::string::npos)
      << m;
  EXPECT_NE(m.find("13 bytes"), std::string::npos) << m;
  EXPECT_NE(m.find(dir_), std::string::npos) << m;
  EXPECT_EQ(raw_format(dir_), std::make_pair(1u, true));
}

}  // namespace
