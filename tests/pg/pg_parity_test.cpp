// PgStore against real LMDB (storage::Env in a temporary directory): the same writes give
// the same key spaces, walked in the same order, and seeks land on the same keys; keys
// with 0x00, 0xff and prefixes of each other included.
#include <unistd.h>

#include <deque>
#include <filesystem>
#include <random>

#include "pg/pg_fixture.hpp"
#include "storage/lmdb_env.hpp"
#include "temp_dir.hpp"

namespace bihuan::pg::test {
namespace {

class ParityTest : public PgStoreTest {
 protected:
  void SetUp() override {
    PgStoreTest::SetUp();
    if (HasFatalFailure()) return;
    std::string error;
    env_ = storage::Env::open(dir_.path, std::size_t{64} << 20, /*nosync=*/true, &error);
    ASSERT_TRUE(env_) << error;
  }
  // The same writes to both, each as one transaction.
  void apply(PgStore& store, const std::vector<Write>& w) {
    int rc = 0;
    auto txn = env_->begin(true, &rc);
    ASSERT_TRUE(txn) << storage::error_text(rc);
    for (const auto& x : w)
      ASSERT_EQ(x.put ? txn->put(x.db, x.key, x.value) : txn->del(x.db, x.key), 0)
          << storage::hex(x.key);
    ASSERT_EQ(txn->commit(), 0);
    std::string error;
    ASSERT_TRUE(store.commit(w, &error)) << error;
  }
  Rows lmdb_scan(Db db) {
    int rc = 0;
    auto txn = env_->begin(false, &rc);
    Rows rows;
    if (!txn) {
      ADD_FAILURE() << storage::error_text(rc);
      return rows;
    }
    auto c = txn->cursor(db);
    for (bool on = c->first(); on; on = c->next()) rows.emplace_back(c->key(), c->value());
    EXPECT_EQ(c->status(), 0);
    return rows;
  }
  // A read snapshot of the store and one of LMDB (nullptr, with a failure added, if not).
  std::pair<std::unique_ptr<PgRead>, std::unique_ptr<storage::Txn>> snapshots(PgStore& store) {
    std::string error;
    auto read = store.read(&error);
    if (!read) ADD_FAILURE() << error;
    int rc = 0;
    auto txn = env_->begin(false, &rc);
    if (!txn) ADD_FAILURE() << storage::error_text(rc);
    return {std::move(read), std::move(txn)};
  }
  // Seeks `probe` and takes `steps` more keys, in LMDB and in the store: the same keys.
  void compare_seek(PgRead& read, storage::Txn& txn, Db db, const std::string& probe, int steps) {
    auto l = txn.cursor(db);
    auto p = read.cursor(db);
    bool lon = l->seek(probe), pon = p->seek(probe);
    for (int i = 0; i <= steps; ++i) {
      ASSERT_EQ(lon, pon) << table_name(db) << " probe " << storage::hex(probe) << " step " << i;
      if (!lon) break;
      ASSERT_EQ(p->key(), l->key()) << table_name(db) << " probe " << storage::hex(probe);
      ASSERT_EQ(p->value(), l->value());
      lon = l->next();
      pon = p->next();
    }
    EXPECT_EQ(l->status(), 0);
    EXPECT_EQ(p->status(), "");
  }
  bihuan::test::TempDir dir_{"bihuan-pg-lmdb"};
  std::unique_ptr<storage::Env> env_;
};

// Keys that compare differently under memcmp-then-length than under text rules.
const std::vector<std::string> kTricky = {std::string("\x00", 1),
                                          std::string("\x00\x00", 2),
                                          std::string("\x00\x01", 2),
                                          std::string("\x01", 1),
                                          "a",
                                          std::string("a\x00", 2),
                                          "a\x01",
                                          "ab",
                                          "abc",
                                          "B",
                                          "\x7f",
                                          "\x80",
                                          "\xfe\xff",
                                          "\xff",
                                          "\xff\xff",
                                          std::string("\xff\x00", 2),
                                          "\xff\xff\xff"};

TEST_F(ParityTest, TrickyKeysSortAsInLmdb) {
  auto store = open();
  ASSERT_TRUE(store);
  std::vector<Write> w;
  for (std::size_t i = 0; i < kTricky.size(); ++i)
    w.push_back({Db::sidx, true, kTricky[i], std::string(i, '\0')});
  apply(*store, w);
  Rows lmdb = lmdb_scan(Db::sidx);
  ASSERT_EQ(lmdb.size(), kTricky.size());
  EXPECT_EQ(scan(*store, Db::sidx), lmdb);

  auto [read, txn] = snapshots(*store);
  ASSERT_TRUE(read && txn);
  std::vector<std::string> probes = kTricky;
  for (const auto& k : kTricky) {
    probes.push_back(k + std::string("\x00", 1));
    probes.push_back(k.substr(0, k.size() - 1) + "\x80");
    probes.push_back(k + "\xff\xff\xff\xff");
  }
  for (const auto& probe : probes)
    if (!probe.empty()) compare_seek(*read, *txn, Db::sidx, probe, 3);
  // The last key and the end after it.
  auto c = read->cursor(Db::sidx);
  ASSERT_TRUE(c->last());
  EXPECT_EQ(c->key(), lmdb.back().first);
  EXPECT_FALSE(c->next());
  EXPECT_EQ(c->status(), "");
}

TEST_F(ParityTest, LmdbRefusesTheKeysTheStoreRefuses) {
  int rc = 0;
  auto txn = env_->begin(true, &rc);
  ASSERT_TRUE(txn) << storage::error_text(rc);
  EXPECT_NE(txn->put(Db::inst, "", "x"), 0);  // LMDB: an empty key is MDB_BAD_VALSIZE
  EXPECT_NE(txn->put(Db::inst, std::string(PgStore::kMaxKeyBytes + 1, 'k'), "x"), 0);
  EXPECT_EQ(txn->put(Db::inst, std::string(PgStore::kMaxKeyBytes, 'k'), "x"), 0);
  txn->abort();
}

// Random batches (seeded) over several key spaces, with keys from a small alphabet so that
// overwrites, deletes of present keys and prefixes are common; the store reads in pages of
// 7 rows so that scans and seeks cross pages.
TEST_F(ParityTest, RandomBatchesGiveTheSameKeySpaces) {
  PgOptions o;
  o.page_rows = 7;
  auto store = open(o);
  ASSERT_TRUE(store);
  const Db dbs[] = {Db::meta, Db::inst, Db::hist, Db::timers, Db::sidx, Db::due, Db::attref};
  const char alphabet[] = {'\x00', '\x01', 'a', '\x7f', '\x80', '\xff'};
  std::mt19937_64 rng(20261207);
  auto key = [&] {
    std::string k(1 + rng() % 4, '\0');
    for (auto& ch : k) ch = alphabet[rng() % sizeof alphabet];
    return k;
  };
  std::deque<std::string> keep;  // the strings the writes view (a deque does not move them)
  std::size_t ops = 0;
  for (int batch = 0; batch < 40; ++batch) {
    std::vector<Write> w;
    int n = 1 + static_cast<int>(rng() % 120);
    for (int i = 0; i < n; ++i) {
      Db db = dbs[rng() % std::size(dbs)];
      keep.push_back(key());
      const std::string& k = keep.back();
      if (rng() % 10 < 4) {
        w.push_back({db, false, k, ""});
      } else {
        std::string v(rng() % 40, '\0');
        for (auto& ch : v) ch = static_cast<char>(rng());
        keep.push_back(std::move(v));
        w.push_back({db, true, k, keep.back()});
      }
    }
    ops += w.size();
    apply(*store, w);
    if (HasFatalFailure()) return;
  }
  std::size_t rows = 0;
  for (unsigned i = 0; i < static_cast<unsigned>(Db::count_); ++i) {
    auto db = static_cast<Db>(i);
    Rows lmdb = lmdb_scan(db);
    rows += lmdb.size();
    EXPECT_EQ(scan(*store, db), lmdb) << table_name(db);
  }
  EXPECT_GT(rows, 300u) << "too few rows to compare (" << ops << " writes)";

  auto [read, txn] = snapshots(*store);
  ASSERT_TRUE(read && txn);
  for (int i = 0; i < 300; ++i) {
    compare_seek(*read, *txn, dbs[rng() % std::size(dbs)], key(), 8);
    if (HasFatalFailure()) return;
  }
  for (Db db : dbs) {
    auto l = txn->cursor(db);
    auto p = read->cursor(db);
    ASSERT_EQ(l->last(), p->last());
    EXPECT_EQ(p->key(), l->key());
  }
}

}  // namespace
}  // namespace bihuan::pg::test
