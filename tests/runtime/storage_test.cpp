// The storage format check, map growth and the no-sync mode, on real LMDB files.
#include <sys/stat.h>
#include <unistd.h>

#include <atomic>
#include <future>
#include <thread>

#include "engine_fixture.hpp"
#include "runtime/engine_impl.hpp"
#include "storage/lmdb_env.hpp"

using namespace bihuan;
using bihuan::testing::EngineTest;

namespace {
const char* kSmall = R"({"id": "t.s", "version": 1, "initial": "A", "states": {
  "A": {"on": {"go": {"roles": ["system"], "set": {"/blob/-": {"var": "event.payload.blob"}}},
               "end": {"roles": ["system"], "target": "B"}}},
  "B": {"type": "final", "outcome": "ok"}}})";
}

namespace {
// Closes the fixture's engine, stores `value` as meta/format in a raw LMDB transaction and
// opens an engine on the directory again; returns whether it opened.
bool reopen_with_format(std::unique_ptr<Engine>& engine, const std::string& dir,
                        std::shared_ptr<VirtualClock> clock, const std::string& value,
                        Problems& p) {
  engine->close();
  engine.reset();
  {
    std::string error;
    auto env = bihuan::testing::open_raw(dir);
    EXPECT_TRUE(env) << error;
    if (!env) return false;
    auto txn = env->begin(true, nullptr);
    EXPECT_EQ(txn->put(storage::Db::meta, "format", value), 0);
    EXPECT_EQ(txn->commit(), 0);
  }
  EngineOptions o;
  o.data_dir = dir;
  o.store = bihuan::testing::current_store();
  o.clock = std::move(clock);
  return Engine::open(o, p) != nullptr;
}
}  // namespace

TEST_F(EngineTest, RefusesANewerStorageFormatWithAClearMessage) {
  Problems p;
  EXPECT_FALSE(reopen_with_format(engine_, dir_, clock_, storage::be32(99), p));
  ASSERT_EQ(p.items().size(), 1u);
  EXPECT_NE(p.items()[0].message.find("storage format 99"), std::string::npos)
      << p.items()[0].message;
  EXPECT_NE(p.items()[0].message.find("up to " + std::to_string(runtime::kStorageFormat)),
            std::string::npos);
}

TEST_F(EngineTest, ADamagedFormatNumberIsRefusedWithoutMigrating) {
  Problems p;
  EXPECT_FALSE(reopen_with_format(engine_, dir_, clock_, std::string(2, '\0'), p));
  ASSERT_EQ(p.items().size(), 1u);
  EXPECT_NE(p.items()[0].message.find(dir_ + ": meta/format is damaged (2 bytes"),
            std::string::npos)
      << p.items()[0].message;
  std::string error;
  auto env = bihuan::testing::open_raw(dir_);
  auto txn = env->begin(false, nullptr);
  EXPECT_EQ(bihuan::testing::read_key(*txn, storage::Db::meta, "format"),
            std::string(2, '\0'));  // untouched
}

TEST_F(EngineTest, MapGrowsOnDemandWithoutLosingAStep) {
  EngineOptions o = base_options();
  o.initial_map_bytes = 1u << 20;  // 1 MiB: must grow several times below
  reopen_with(o);
  deploy(kSmall);
  std::string blob(50000, 'x');
  std::vector<std::string> ids;
  for (int i = 0; i < 5; ++i) ids.push_back(start("t.s").instance->id);
  for (int round = 0; round < 10; ++round)
    for (const auto& id : ids) ASSERT_TRUE(send(id, "go", {{"blob", blob}}, Actor::system()).ok());
  reopen();
  for (const auto& id : ids) EXPECT_EQ(engine_->get(id)->version, 11u);
  EXPECT_TRUE(engine_->verify().ok());
}

namespace {
// Rewrites the stored history entry `seq` of instance `id` (the log value: 16 bytes of
// link, then the MessagePack entry) with `edit`, in a raw LMDB transaction.
template <class Edit>
void edit_history(const std::string& dir, const std::string& id, std::uint64_t seq, Edit edit) {
  std::string error;
  auto env = bihuan::testing::open_raw(dir);
  ASSERT_TRUE(env) << error;
  auto txn = env->begin(true, nullptr);
  auto cur = txn->cursor(storage::Db::hist);
  std::uint64_t owner = std::stoull(id, nullptr, 16);
  for (bool ok = cur->first(); ok; ok = cur->next()) {
    std::string value(cur->value());
    ASSERT_GE(value.size(), 16u);
    if (storage::read_be64(value) != owner) continue;
    json e = json::from_msgpack(value.begin() + 16, value.end());
    if (e["q"] != seq) continue;
    std::string link = value.substr(0, 16);
    edit(link, e);
    auto bytes = json::to_msgpack(e);
    std::string key(cur->key());
    ASSERT_EQ(txn->put(storage::Db::hist, key, link + std::string(bytes.begin(), bytes.end())), 0);
    cur.reset();  // LMDB frees a write transaction's cursors at commit: close it first
    ASSERT_EQ(txn->commit(), 0);
    return;
  }
  FAIL() << "no history entry " << seq << " of " << id;
}
}  // namespace

TEST_F(EngineTest, TamperedHistoryIsDetected) {
  deploy(kSmall);
  auto id = start("t.s").instance->id;
  ASSERT_TRUE(send(id, "go", {{"blob", "a"}}, Actor::system()).ok());
  engine_->close();
  engine_.reset();
  edit_history(dir_, id, 2,
               [](std::string&, json& e) { e["a"] = "mallory"; });  // rewrite who did it
  open();
  auto report = engine_->verify();
  ASSERT_EQ(report.broken.size(), 1u);
  EXPECT_NE(report.broken[0].find("tampered"), std::string::npos) << report.broken[0];
}

TEST_F(EngineTest, TamperedHistoryLinkIsDetected) {
  deploy(kSmall);
  auto a = start("t.s").instance->id;
  auto b = start("t.s").instance->id;
  ASSERT_TRUE(send(a, "go", {{"blob", "a"}}, Actor::system()).ok());
  ASSERT_TRUE(send(b, "go", {{"blob", "b"}}, Actor::system()).ok());
  engine_->close();
  engine_.reset();
  // a's second entry now links to b's first: a's chain leaves a, and one entry is orphaned.
  edit_history(dir_, a, 2, [](std::string& link, json&) { link.replace(8, 8, storage::be64(2)); });
  open();
  auto report = engine_->verify();
  ASSERT_FALSE(report.ok());
  std::string all;
  for (const auto& line : report.broken) all += line + "\n";
  EXPECT_NE(all.find("belongs to instance " + b), std::string::npos) << all;
  EXPECT_NE(all.find("history log holds 4 entries"), std::string::npos) << all;
  EXPECT_EQ(engine_->history(b).size(), 2u);  // b is untouched
}

TEST_F(EngineTest, MapGrowsUnderBatchedEventsAndTimers) {
  EngineOptions o = base_options();
  o.initial_map_bytes = 1u << 20;
  reopen_with(o);
  deploy(R"({"id": "t.g", "version": 1, "initial": "A", "states": {
    "A": {"timers": [{"id": "t", "after": "PT1H", "target": "B", "set": {"/copy": {"var": "data.blob"}}}],
          "on": {"note": {"roles": ["system"], "set": {"/blob": {"var": "event.payload.blob"}}}}},
    "B": {"type": "final", "outcome": "ok"}}})");
  std::vector<std::string> ids;
  for (int i = 0; i < 300; ++i) ids.push_back(start("t.g").instance->id);
  std::atomic<int> ok{0}, failed{0};
  for (int round = 0; round < 5; ++round) {
    std::vector<std::promise<void>> done(300);
    for (int i = 0; i < 300; ++i) {
      EventRequest r;
      r.instance_id = ids[i];
      r.event = "note";
      r.payload = {{"blob", std::string(2000, 'a' + round) + std::to_string(i)}};
      r.actor = Actor::system();
      engine_->send_async(r, [&, i](StepResult res) {
        (res.ok() ? ok : failed)++;
        done[i].set_value();
      });
    }
    for (auto& d : done) d.get_future().wait();
  }
  EXPECT_EQ(ok.load(), 1500);
  EXPECT_EQ(failed.load(), 0);
  EXPECT_EQ(engine_->advance_to(clock_->now() + std::chrono::hours(2)), 300u);
  EXPECT_EQ(engine_->pending_timers(), 0u);
  EXPECT_TRUE(engine_->verify().ok());
}

// Env::cache_ahead (docs/storage.md): in durable mode the file is allocated past the last
// page LMDB uses; it is never shortened (another process may have made it longer), no byte
// LMDB wrote changes, and the file reopens as it was.
TEST_F(EngineTest, DurableModeAllocatesAheadNeverShortensAndKeepsEveryRecord) {
  std::string dir = dir_ + "/ahead", error, path = dir + "/data.mdb";
  const std::string blob(1000, 'b');
  std::uint64_t used = 0;
  auto size_of = [&] {
    struct stat st {};
    EXPECT_EQ(stat(path.c_str(), &st), 0);
    return static_cast<std::uint64_t>(st.st_size);
  };
  {
    auto env = storage::Env::open(dir, 64u << 20, false, &error);
    ASSERT_TRUE(env) << error;
    for (int round = 0; round < 3; ++round) {
      auto txn = env->begin(true, nullptr);
      for (std::uint64_t i = 0; i < 2000; ++i)
        ASSERT_EQ(
            txn->put(storage::Db::inst, storage::be64(round * 2000 + i), blob + std::to_string(i)),
            0);
      ASSERT_EQ(txn->commit(), 0);
    }
    used = env->used_bytes();
    ASSERT_GT(used, 6000u * 1000);
    EXPECT_GE(size_of(), used + storage::Env::kCacheAheadBytes / 2)
        << "allocated past the last used page";
    EXPECT_LE(size_of(), used + storage::Env::kCacheAheadBytes);
    // As if another process had just extended the file further: it must stay that long.
    ASSERT_EQ(truncate(path.c_str(), static_cast<off_t>(used + (16u << 20))), 0);
    auto txn = env->begin(true, nullptr);
    for (std::uint64_t i = 0; i < 2000; ++i)
      ASSERT_EQ(txn->put(storage::Db::inst, storage::be64(6000 + i), blob), 0);
    ASSERT_EQ(txn->commit(), 0);
    EXPECT_EQ(size_of(), used + (16u << 20));
    used = env->used_bytes();
  }
  std::uint64_t size_before = size_of();
  auto env = storage::Env::open(dir, 64u << 20, false, &error);
  ASSERT_TRUE(env) << error;
  EXPECT_EQ(env->used_bytes(), used);
  EXPECT_EQ(size_of(), size_before) << "opening alone changes nothing";
  auto txn = env->begin(false, nullptr);
  int rc = 0;
  EXPECT_EQ(txn->entries(storage::Db::inst, rc), 8000u);
  EXPECT_EQ(rc, 0);
  auto v = txn->get(storage::Db::inst, storage::be64(4000 + 1999), rc);
  EXPECT_EQ(rc, 0);
  ASSERT_TRUE(v);
  EXPECT_EQ(*v, blob + "1999");
}

// A long read yields to a map resize (runtime/scan.hpp): while a scan holds its read
// transaction, a resize waits for it and holds back every new transaction of the process.
// The scan sees the resize waiting, takes a new snapshot in between, and goes on after its
// last key: the resize is done before the scan ends, and no key is lost or read twice.
// Before ScanCursor the resize could only happen after the scan's transaction ended.
TEST(ScanCursorTest, ALongScanLetsAWaitingMapResizeGoFirstAndLosesNoKey) {
  const std::string dir = bihuan::testing::make_temp_dir("scan");
  std::string error;
  auto env = storage::Env::open(dir, 1u << 20, false, &error);
  ASSERT_TRUE(env) << error;
  {
    auto txn = env->begin(true, nullptr);
    ASSERT_TRUE(txn);
    for (std::uint64_t i = 0; i < 5000; ++i)
      ASSERT_EQ(txn->put(storage::Db::inst, storage::be64(i), "v"), 0);
    ASSERT_EQ(txn->commit(), 0);
  }
  const std::size_t before = env->map_size();
  int rc = 0;
  auto txn = env->begin(false, &rc);
  ASSERT_TRUE(txn) << rc;
  runtime::ScanCursor cur(*env, *txn, storage::Db::inst, 1000000);  // no renewal by count
  std::vector<std::uint64_t> seen;
  bool ok = cur.first();
  for (int i = 0; ok && i < 100; ++i, ok = cur.next())
    seen.push_back(storage::read_be64(cur.key()));
  ASSERT_TRUE(ok);
  std::atomic<int> grown{-1};
  std::thread resize([&] { grown = env->grow(); });
  // The resize thread announces itself before it waits (a condition, not a timer).
  auto limit = std::chrono::steady_clock::now() + std::chrono::seconds(30);
  while (!env->growth_waiting() && std::chrono::steady_clock::now() < limit)
    std::this_thread::yield();
  ASSERT_TRUE(env->growth_waiting());
  for (; ok; ok = cur.next()) seen.push_back(storage::read_be64(cur.key()));
  EXPECT_EQ(cur.status(), 0);
  // Still inside the scan's transaction: the resize has already happened.
  EXPECT_EQ(env->map_size(), before * 2);
  EXPECT_EQ(cur.renewals(), 1u);
  txn.reset();
  resize.join();
  EXPECT_EQ(grown.load(), 0);
  ASSERT_EQ(seen.size(), 5000u);
  for (std::uint64_t i = 0; i < seen.size(); ++i) ASSERT_EQ(seen[i], i);
  env.reset();
  std::filesystem::remove_all(dir);
}
