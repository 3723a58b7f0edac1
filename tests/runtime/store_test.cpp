// The staged face of a batch's transaction (engine/src/runtime/store.hpp) on a real LMDB
// environment: reads see the overlay over the snapshot, cursors merge the two in key
// order, and rotate() forgets the writes of batches older than the previous one.
#include <gtest/gtest.h>

#include <filesystem>

#include "engine_fixture.hpp"
#include "runtime/store.hpp"

using namespace bihuan;
using bihuan::runtime::Op;
using bihuan::runtime::Overlay;
using bihuan::runtime::Store;
using bihuan::storage::Db;
using bihuan::testing::read_key;

namespace {

class StoreTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = bihuan::testing::make_temp_dir("store");
    std::string error;
    env_ = storage::Env::open(dir_, 16u << 20, false, &error);
    ASSERT_TRUE(env_) << error;
    auto txn = env_->begin(true, nullptr);
    for (const char* k : {"b", "d", "f", "h"})
      ASSERT_EQ(txn->put(Db::timers, k, std::string("base-") + k), 0);
    ASSERT_EQ(txn->put(Db::inst, "i1", "v1"), 0);
    ASSERT_EQ(txn->put(Db::inst, "i2", "v2"), 0);
    ASSERT_EQ(txn->commit(), 0);
  }
  void TearDown() override {
    env_.reset();
    std::filesystem::remove_all(dir_);
  }
  // Every key and value of `db` as the store sees it, from `from` on.
  static std::string walk(Store& s, Db db, std::string_view from = {}) {
    std::string out;
    auto c = s.cursor(db);
    for (bool ok = c->seek(from); ok; ok = c->next())
      out += std::string(c->key()) + "=" + std::string(c->value()) + " ";
    return out;
  }
  std::string dir_;
  std::unique_ptr<storage::Env> env_;
};

}  // namespace

TEST_F(StoreTest, CursorsMergeTheOverlayOverTheSnapshotInKeyOrder) {
  auto snap = env_->begin(false, nullptr);
  Overlay overlay;
  std::vector<Op> log1, log2;
  overlay.rotate(1);
  Store s1(*snap, overlay, 1, log1);
  s1.put(Db::timers, "a", "new-a");  // before every snapshot key
  s1.del(Db::timers, "d");           // a snapshot key deleted
  s1.put(Db::timers, "f", "new-f");  // a snapshot key replaced
  s1.put(Db::timers, "g", "new-g");  // between snapshot keys
  s1.put(Db::timers, "z", "new-z");  // after every snapshot key
  s1.put(Db::children, "c", "other db");
  EXPECT_EQ(walk(s1, Db::timers), "a=new-a b=base-b f=new-f g=new-g h=base-h z=new-z ");
  EXPECT_EQ(walk(s1, Db::timers, "c"), "f=new-f g=new-g h=base-h z=new-z ");
  EXPECT_EQ(walk(s1, Db::timers, "h"), "h=base-h z=new-z ");
  // The next batch sees batch 1's writes (still being committed) and its own.
  overlay.rotate(2);
  Store s2(*snap, overlay, 2, log2);
  s2.del(Db::timers, "a");
  s2.put(Db::timers, "d", "again-d");
  s2.del(Db::timers, "h");
  s2.del(Db::timers, "z");
  EXPECT_EQ(walk(s2, Db::timers), "b=base-b d=again-d f=new-f g=new-g ");
  EXPECT_FALSE(s2.cursor(Db::timers)->seek("h"));
  // The log holds each batch's writes in order, for the committer to replay.
  ASSERT_EQ(log1.size(), 6u);
  EXPECT_FALSE(log1[1].put);
  EXPECT_EQ(log1[1].key, "d");
  ASSERT_EQ(log2.size(), 4u);
  EXPECT_EQ(log2[1].value, "again-d");
}

TEST_F(StoreTest, PointReadsPreferTheNewestBatchAndRotateForgetsOlderOnes) {
  auto snap = env_->begin(false, nullptr);
  Overlay overlay;
  std::vector<Op> log;
  overlay.rotate(1);
  Store s1(*snap, overlay, 1, log);
  s1.put(Db::inst, "i1", "batch1");
  s1.del(Db::inst, "i2");
  s1.put(Db::inst, "i3", "batch1");
  s1.put(Db::timers, "x", "batch1");
  EXPECT_EQ(read_key(s1, Db::inst, "i1"), "batch1");
  EXPECT_FALSE(read_key(s1, Db::inst, "i2"));
  overlay.rotate(2);
  Store s2(*snap, overlay, 2, log);
  s2.put(Db::inst, "i3", "batch2");
  EXPECT_EQ(read_key(s2, Db::inst, "i1"), "batch1");  // the previous batch's write
  EXPECT_FALSE(read_key(s2, Db::inst, "i2"));
  EXPECT_EQ(read_key(s2, Db::inst, "i3"), "batch2");  // this batch's, over the previous one's
  EXPECT_EQ(read_key(s2, Db::timers, "x"), "batch1");
  // Batch 3 starts: batch 1 has committed (the snapshot would now hold it), so only
  // batch 2's writes stay in the overlay.
  overlay.rotate(3);
  Store s3(*snap, overlay, 3, log);
  EXPECT_EQ(read_key(s3, Db::inst, "i1"),
            "v1");  // this old snapshot: batch 1 is gone from the overlay
  EXPECT_EQ(read_key(s3, Db::inst, "i2"), "v2");
  EXPECT_EQ(read_key(s3, Db::inst, "i3"), "batch2");
  EXPECT_FALSE(read_key(s3, Db::timers, "x"));
  EXPECT_EQ(walk(s3, Db::timers), "b=base-b d=base-d f=base-f h=base-h ");
  overlay.clear();
  EXPECT_EQ(read_key(s3, Db::inst, "i3"), std::nullopt);
}

TEST_F(StoreTest, DirectModeWritesStraightIntoTheTransaction) {
  auto txn = env_->begin(true, nullptr);
  Store s(*txn);
  EXPECT_EQ(s.put(Db::inst, "i9", "direct"), 0);
  EXPECT_EQ(s.del(Db::timers, "b"), 0);
  EXPECT_EQ(s.del(Db::timers, "missing"), 0);
  EXPECT_EQ(s.put_owned(Db::inst, "i8", "owned"), 0);
  EXPECT_EQ(s.writes(), 4u);
  EXPECT_EQ(read_key(*txn, Db::inst, "i9"), "direct");
  EXPECT_EQ(read_key(*txn, Db::inst, "i8"), "owned");
  EXPECT_EQ(walk(s, Db::timers), "d=base-d f=base-f h=base-h ");
  txn->abort();
}

// History is logged for the committer but kept out of the overlay (no step reads it);
// put_owned logs what it is given, like put.
TEST_F(StoreTest, StagedHistoryGoesToTheLogOnly) {
  auto snap = env_->begin(false, nullptr);
  Overlay overlay;
  std::vector<Op> log;
  overlay.rotate(1);
  Store s(*snap, overlay, 1, log);
  EXPECT_EQ(s.put_owned(Db::hist, std::string("h1"), std::string("entry"), true), 0);
  EXPECT_EQ(s.put_owned(Db::inst, std::string("i4"), std::string("owned")), 0);
  EXPECT_FALSE(read_key(s, Db::hist, "h1"));
  EXPECT_EQ(read_key(s, Db::inst, "i4"), "owned");
  EXPECT_EQ(s.writes(), 2u);
  ASSERT_EQ(log.size(), 2u);
  EXPECT_EQ(log[0].db, Db::hist);
  EXPECT_TRUE(log[0].append);
  EXPECT_EQ(log[0].value, "entry");
  EXPECT_EQ(log[1].key, "i4");
  EXPECT_EQ(log[1].value, "owned");
}

// The committed cache (a remote store): a committed batch's writes and the batch's reads
// stay after rotate(), over a snapshot that lacks them; clear() drops them all.
TEST_F(StoreTest, TheCommittedCacheKeepsWhatCommittedBatchesWroteAndRead) {
  auto snap = env_->begin(false, nullptr);
  Overlay overlay;
  overlay.keep_committed(true);
  std::vector<Op> log;
  overlay.rotate(1);
  Store s1(*snap, overlay, 1, log);
  s1.put(Db::inst, "i1", "batch1");
  s1.del(Db::inst, "i2");
  s1.put(Db::timers, "x", "batch1");
  overlay.rotate(2);
  Store s2(*snap, overlay, 2, log);
  EXPECT_EQ(read_key(s2, Db::inst, "i9"), std::nullopt);  // read from the store: absent
  overlay.rotate(3);
  Store s3(*snap, overlay, 3, log);
  // Batch 1 committed: its writes are kept although this old snapshot lacks them.
  EXPECT_EQ(read_key(s3, Db::inst, "i1"), "batch1");
  EXPECT_EQ(read_key(s3, Db::inst, "i2"), std::nullopt);
  EXPECT_FALSE(read_key(s3, Db::timers, "x"));  // ordered key spaces are not kept
  // Another writer puts i9 behind our back: the kept "absent" still answers (the next
  // commit's stamp conflict is what makes the writer start over).
  {
    auto w = env_->begin(true, nullptr);
    ASSERT_EQ(w->put(Db::inst, "i9", "theirs"), 0);
    ASSERT_EQ(w->commit(), 0);
  }
  auto fresh = env_->begin(false, nullptr);
  overlay.rotate(4);
  Store s4(*fresh, overlay, 4, log);
  EXPECT_EQ(read_key(s4, Db::inst, "i9"), std::nullopt);
  overlay.clear();  // starting from the store
  EXPECT_EQ(read_key(s4, Db::inst, "i9"), "theirs");
  EXPECT_EQ(read_key(s4, Db::inst, "i1"), "v1");
  // Without keep_committed nothing of it happens.
  Overlay plain;
  plain.rotate(1);
  Store p1(*fresh, plain, 1, log);
  EXPECT_EQ(read_key(p1, Db::inst, "i9"), "theirs");
  p1.put(Db::inst, "i9", "mine");
  plain.rotate(2);
  plain.rotate(3);
  Store p3(*fresh, plain, 3, log);
  EXPECT_EQ(read_key(p3, Db::inst, "i9"), "theirs");
}
