// PgRemote (engine/src/pg/pg_remote.hpp) against a real PostgreSQL 15: write transactions
// that read their own writes, the writer lock, the conditional commit, snapshots, cursors
// and count. The pool and failures are in pg_remote_pool_test.cpp.
#include <mutex>

#include "pg/pg_remote_fixture.hpp"
#include "storage/lmdb_env.hpp"

namespace bihuan::pg::test {
namespace remote_test {
namespace {

using storage::RemoteOutcome;

std::string get_or(storage::RemoteTxn& txn, Db db, std::string_view key, const char* absent) {
  std::string v, error;
  if (txn.get(db, key, &v, &error)) return v;
  EXPECT_EQ(error, "");
  return absent;
}

TEST_F(PgRemoteTest, AWriteTransactionReadsItsOwnWrites) {
  PgOptions o;
  o.page_rows = 2;
  auto r = remote(o);
  ASSERT_TRUE(r);
  std::string error;
  ASSERT_EQ(
      apply(*r,
            {{Db::inst, true, "a", "1"}, {Db::inst, true, "c", "1"}, {Db::inst, true, "e", "1"}},
            &error),
      RemoteOutcome::ok)
      << error;
  auto w = r->begin(true, &error);
  ASSERT_TRUE(w) << error;
  auto c = w->cursor(Db::inst);
  ASSERT_TRUE(c->seek(""));  // its page holds a and c: both read before the writes
  EXPECT_EQ(c->key(), "a");
  ASSERT_TRUE(w->put(Db::inst, "b", "2", &error)) << error;
  ASSERT_TRUE(w->del(Db::inst, "c", &error)) << error;
  ASSERT_TRUE(w->put(Db::inst, "d", "2", &error)) << error;
  ASSERT_TRUE(w->put(Db::inst, "e", "2", &error)) << error;
  ASSERT_TRUE(w->del(Db::inst, "zz", &error)) << error;  // absent: not an error
  EXPECT_EQ(get_or(*w, Db::inst, "b", "-"), "2");
  EXPECT_EQ(get_or(*w, Db::inst, "c", "-"), "-");
  EXPECT_EQ(get_or(*w, Db::inst, "e", "-"), "2");
  // The cursor moves on from a: it sees b (new), not c (deleted), then d and e's new value.
  Rows rows{{std::string(c->key()), std::string(c->value())}};
  while (c->next()) rows.emplace_back(c->key(), c->value());
  EXPECT_EQ(c->error(), "");
  EXPECT_EQ(rows, (Rows{{"a", "1"}, {"b", "2"}, {"d", "2"}, {"e", "2"}}));
  EXPECT_EQ(scan_txn(*w, Db::inst), rows);
  EXPECT_EQ(w->count(Db::inst, &error).value_or(99), 4u) << error;
  // Not visible outside before COMMIT (a read transaction needs no writer lock).
  EXPECT_EQ(scan_remote(*r, Db::inst), (Rows{{"a", "1"}, {"c", "1"}, {"e", "1"}}));
  bool unknown = true;
  ASSERT_TRUE(w->commit(&error, &unknown)) << error;
  EXPECT_FALSE(unknown);
  EXPECT_EQ(scan_remote(*r, Db::inst), rows);
  // Ended: every call says so.
  EXPECT_FALSE(w->put(Db::inst, "x", "1", &error));
  EXPECT_NE(error.find("the transaction has ended"), std::string::npos) << error;
  EXPECT_FALSE(w->commit(&error, &unknown));
}

TEST_F(PgRemoteTest, AReadTransactionRefusesWritesAndKeysOutOfRangeAreRefused) {
  auto r = remote();
  ASSERT_TRUE(r);
  std::string error;
  auto t = r->begin(false, &error);
  ASSERT_TRUE(t) << error;
  EXPECT_FALSE(t->put(Db::inst, "a", "1", &error));
  EXPECT_NE(error.find("cannot put key 61 of table inst: this is a read transaction"),
            std::string::npos)
      << error;
  EXPECT_FALSE(t->del(Db::inst, "a", &error));
  EXPECT_NE(error.find("read transaction"), std::string::npos) << error;
  t.reset();
  auto w = r->begin(true, &error);
  ASSERT_TRUE(w) << error;
  EXPECT_FALSE(w->put(Db::sidx, "", "1", &error));
  EXPECT_NE(error.find("0 bytes, expected 1 to 511"), std::string::npos) << error;
  EXPECT_FALSE(w->renew(&error));
  EXPECT_NE(error.find("read transactions only"), std::string::npos) << error;
  EXPECT_TRUE(w->put(Db::sidx, std::string(511, 'k'), "1", &error)) << error;
}

TEST_F(PgRemoteTest, DestroyingAnUncommittedWriteTransactionRollsItBack) {
  auto r = remote();
  ASSERT_TRUE(r);
  std::string error;
  {
    auto w = r->begin(true, &error);
    ASSERT_TRUE(w) << error;
    ASSERT_TRUE(w->put(Db::inst, "a", "1", &error)) << error;
  }
  EXPECT_TRUE(scan_remote(*r, Db::inst).empty());
  // The writer lock went with it: the next writer does not wait.
  ASSERT_EQ(apply(*r, {{Db::inst, true, "b", "2"}}, &error), RemoteOutcome::ok) << error;
  EXPECT_EQ(scan_remote(*r, Db::inst), (Rows{{"b", "2"}}));
}

TEST_F(PgRemoteTest, WriteTransactionsAndCommitsWaitForTheWriterLock) {
  auto r = remote();
  ASSERT_TRUE(r);
  Admin admin(conninfo_);
  ASSERT_TRUE(admin.ok());
  std::mutex mu;
  std::vector<std::string> events;
  auto note = [&](const std::string& e) {
    std::lock_guard lock(mu);
    events.push_back(e);
  };
  std::string error;
  auto first = r->begin(true, &error);
  ASSERT_TRUE(first) << error;
  ASSERT_TRUE(first->put(Db::inst, "x", "from first", &error)) << error;

  std::string seen, second_error;
  std::thread second([&] {
    auto w = r->begin(true, &second_error);
    note("second begun");
    if (!w) return;
    // READ COMMITTED after the lock: it sees what the first committed.
    std::string v;
    w->get(Db::inst, "x", &v, &second_error);
    seen = v;
    w->put(Db::inst, "x", "from second", &second_error);
    bool unknown = false;
    w->commit(&second_error, &unknown);
  });
  ASSERT_TRUE(eventually([&] { return lock_waiters(admin) == 1; }));
  note("first commits");
  bool unknown = false;
  ASSERT_TRUE(first->commit(&error, &unknown)) << error;
  second.join();
  EXPECT_EQ(second_error, "");
  EXPECT_EQ(events, (std::vector<std::string>{"first commits", "second begun"}));
  EXPECT_EQ(seen, "from first");
  EXPECT_EQ(scan_remote(*r, Db::inst), (Rows{{"x", "from second"}}));

  // commit() waits for an open write transaction too; an abort releases it.
  events.clear();
  auto third = r->begin(true, &error);
  ASSERT_TRUE(third) << error;
  ASSERT_TRUE(third->put(Db::inst, "x", "never", &error)) << error;
  RemoteOutcome outcome = RemoteOutcome::failed;
  std::thread committer([&] {
    outcome = apply(*r, {{Db::inst, true, "y", "1"}}, &second_error);
    note("commit done");
  });
  ASSERT_TRUE(eventually([&] { return lock_waiters(admin) == 1; }));
  note("third aborts");
  third.reset();
  committer.join();
  EXPECT_EQ(outcome, RemoteOutcome::ok) << second_error;
  EXPECT_EQ(events, (std::vector<std::string>{"third aborts", "commit done"}));
  EXPECT_EQ(scan_remote(*r, Db::inst), (Rows{{"x", "from second"}, {"y", "1"}}));
}

TEST_F(PgRemoteTest, AConditionalCommitAppliesOnlyWhenTheExpectationHolds) {
  auto r = remote();
  ASSERT_TRUE(r);
  std::string error;
  ASSERT_EQ(apply(*r, {{Db::idem, true, "k", "v1"}, {Db::idem, true, "empty", ""}}, &error),
            RemoteOutcome::ok)
      << error;
  storage::Expect holds{Db::idem, "k", std::string_view("v1")};
  ASSERT_EQ(apply(*r, {{Db::idem, true, "k", "v2"}, {Db::inst, true, "a", "1"}}, &error, &holds),
            RemoteOutcome::ok)
      << error;
  // The same expectation no longer holds: nothing applied.
  EXPECT_EQ(apply(*r, {{Db::idem, true, "k", "v3"}, {Db::inst, true, "b", "1"}}, &error, &holds),
            RemoteOutcome::conflict);
  EXPECT_NE(error.find("key 6b of table idem holds the value 7631 (2 bytes) did not hold"),
            std::string::npos)
      << error;
  EXPECT_NE(error.find("nothing was applied"), std::string::npos) << error;
  storage::Expect absent{Db::idem, "new", std::nullopt};
  ASSERT_EQ(apply(*r, {{Db::idem, true, "new", "n"}}, &error, &absent), RemoteOutcome::ok) << error;
  EXPECT_EQ(apply(*r, {{Db::idem, true, "new", "again"}}, &error, &absent),
            RemoteOutcome::conflict);
  EXPECT_NE(error.find("key 6e6577 of table idem is absent did not hold"), std::string::npos)
      << error;
  // An empty value is present: neither "absent" nor another value matches it.
  storage::Expect empty_absent{Db::idem, "empty", std::nullopt};
  EXPECT_EQ(apply(*r, {{Db::inst, true, "c", "1"}}, &error, &empty_absent),
            RemoteOutcome::conflict);
  storage::Expect empty_value{Db::idem, "empty", std::string_view("")};
  EXPECT_EQ(apply(*r, {{Db::inst, true, "d", "1"}}, &error, &empty_value), RemoteOutcome::ok)
      << error;
  storage::Expect missing_value{Db::idem, "missing", std::string_view("")};
  EXPECT_EQ(apply(*r, {{Db::inst, true, "e", "1"}}, &error, &missing_value),
            RemoteOutcome::conflict);
  // No writes: the expectation alone is checked; none at all sends nothing.
  storage::Expect now{Db::idem, "k", std::string_view("v2")};
  EXPECT_EQ(apply(*r, {}, &error, &now), RemoteOutcome::ok) << error;
  EXPECT_EQ(apply(*r, {}, &error, &holds), RemoteOutcome::conflict);
  EXPECT_EQ(apply(*r, {}, &error), RemoteOutcome::ok) << error;

  EXPECT_EQ(scan_remote(*r, Db::idem), (Rows{{"empty", ""}, {"k", "v2"}, {"new", "n"}}));
  EXPECT_EQ(scan_remote(*r, Db::inst), (Rows{{"a", "1"}, {"d", "1"}}));
}

TEST_F(PgRemoteTest, AReadTransactionIsOneSnapshotUntilRenewed) {
  auto r = remote();
  ASSERT_TRUE(r);
  std::string error;
  ASSERT_EQ(apply(*r, {{Db::inst, true, "a", "1"}, {Db::inst, true, "b", "1"}}, &error),
            RemoteOutcome::ok)
      << error;
  auto t = r->begin(false, &error);
  ASSERT_TRUE(t) << error;
  ASSERT_EQ(
      apply(*r,
            {{Db::inst, true, "a", "2"}, {Db::inst, false, "b", ""}, {Db::inst, true, "c", "2"}},
            &error),
      RemoteOutcome::ok)
      << error;
  EXPECT_EQ(get_or(*t, Db::inst, "a", "-"), "1");
  EXPECT_EQ(scan_txn(*t, Db::inst), (Rows{{"a", "1"}, {"b", "1"}}));
  EXPECT_EQ(t->count(Db::inst, &error).value_or(99), 2u) << error;
  ASSERT_TRUE(t->renew(&error)) << error;
  EXPECT_EQ(get_or(*t, Db::inst, "a", "-"), "2");
  EXPECT_EQ(scan_txn(*t, Db::inst), (Rows{{"a", "2"}, {"c", "2"}}));
  bool unknown = true;
  EXPECT_TRUE(t->commit(&error, &unknown)) << error;
  EXPECT_FALSE(unknown);
  EXPECT_FALSE(t->renew(&error));
  EXPECT_NE(error.find("the transaction has ended"), std::string::npos) << error;
}

TEST_F(PgRemoteTest, CursorsPageAndKeepThePageTheyLeft) {
  PgOptions o;
  o.page_rows = 2;
  auto r = remote(o);
  ASSERT_TRUE(r);
  std::vector<std::string> keys, values;
  std::vector<Write> w;
  for (std::uint64_t i = 1; i <= 9; ++i) keys.push_back(storage::be64(i * 10));
  // Values big enough to have memory of their own in libpq's result, so that one freed
  // too early reads as garbage (or faults) rather than as what it was.
  for (const auto& k : keys) values.push_back("value of " + k + std::string(300000, 'v'));
  for (std::size_t i = 0; i < keys.size(); ++i) w.push_back({Db::hist, true, keys[i], values[i]});
  std::string error;
  ASSERT_EQ(apply(*r, w, &error), RemoteOutcome::ok) << error;
  auto t = r->begin(false, &error);
  ASSERT_TRUE(t) << error;
  auto c = t->cursor(Db::hist);
  ASSERT_TRUE(c->seek(storage::be64(25)));  // between keys: the next one
  EXPECT_EQ(c->key(), storage::be64(30));
  // Every move, the item before it still reads as it did (across page loads).
  std::string_view prev_k = c->key(), prev_v = c->value();
  std::string prev_k_copy(prev_k), prev_v_copy(prev_v);
  std::size_t n = 1;
  while (c->next()) {
    ++n;
    EXPECT_EQ(prev_k, prev_k_copy);
    EXPECT_TRUE(prev_v == prev_v_copy);  // (300 KB: not printed)
    EXPECT_TRUE(c->value() == "value of " + std::string(c->key()) + std::string(300000, 'v'));
    prev_k = c->key();
    prev_v = c->value();
    prev_k_copy = prev_k;
    prev_v_copy = prev_v;
  }
  EXPECT_EQ(c->error(), "");
  EXPECT_EQ(n, 7u);  // 30 .. 90 across four pages
  EXPECT_FALSE(c->next());
  EXPECT_EQ(c->key(), "");
  ASSERT_TRUE(c->last());
  EXPECT_EQ(c->key(), storage::be64(90));
  EXPECT_EQ(c->value(), values.back());
  EXPECT_FALSE(c->next());
  EXPECT_FALSE(c->seek(storage::be64(91)));  // past the end: not an error
  EXPECT_EQ(c->error(), "");
  ASSERT_TRUE(c->seek(""));
  EXPECT_EQ(c->key(), storage::be64(10));
  auto empty = t->cursor(Db::timers);
  EXPECT_FALSE(empty->seek(""));
  EXPECT_FALSE(empty->last());
  EXPECT_EQ(empty->error(), "");
  EXPECT_EQ(t->count(Db::hist, &error).value_or(99), 9u) << error;
  EXPECT_EQ(t->count(Db::timers, &error).value_or(99), 0u) << error;
}

TEST_F(PgRemoteTest, FailedReadsAreSentencesNamingServerTableAndKey) {
  auto r = remote();
  ASSERT_TRUE(r);
  Admin admin(conninfo_);
  ASSERT_TRUE(admin.ok());
  admin.exec("DROP TABLE timers");
  std::string error, v;
  auto t = r->begin(false, &error);
  ASSERT_TRUE(t) << error;
  auto c = t->cursor(Db::timers);
  EXPECT_FALSE(c->seek("a"));
  EXPECT_NE(c->error().find("cannot read table timers from key 61"), std::string::npos)
      << c->error();
  EXPECT_NE(c->error().find("socket " + PgServer::get().socket_dir()), std::string::npos)
      << c->error();
  ASSERT_TRUE(t->renew(&error)) << error;  // the failed statement ended nothing for good
  EXPECT_FALSE(t->get(Db::timers, "ab", &v, &error));
  EXPECT_NE(error.find("cannot read key 6162 of table timers"), std::string::npos) << error;
  EXPECT_NE(error.find("does not exist"), std::string::npos) << error;
  ASSERT_TRUE(t->renew(&error)) << error;
  EXPECT_FALSE(t->count(Db::timers, &error));
  EXPECT_NE(error.find("cannot count the keys of table timers"), std::string::npos) << error;
  EXPECT_NE(r->describe().find("socket " + PgServer::get().socket_dir()), std::string::npos)
      << r->describe();
}

// A database that hangs without dying (here: a table locked by hand) fails a commit after
// the statement timeout with PostgreSQL's sentence, nothing applied; once the lock goes,
// commits go on. A conninfo's own `options` wins over the default.
TEST_F(PgRemoteTest, AStatementThatHangsFailsAfterTheStatementTimeoutAndNothingIsApplied) {
  PgOptions o;
  o.connect.statement_timeout_ms = 300;
  auto r = remote(o);
  ASSERT_TRUE(r);
  Admin admin(conninfo_);
  admin.exec("BEGIN; LOCK TABLE inst IN ACCESS EXCLUSIVE MODE");
  std::string error;
  // The lock is held until after the commit returns: only the timeout can end its wait.
  EXPECT_EQ(apply(*r, {{Db::inst, true, "k", "v"}, {Db::meta, true, "m", "v"}}, &error),
            RemoteOutcome::failed);
  EXPECT_NE(error.find("canceling statement due to statement timeout (SQLSTATE 57014)"),
            std::string::npos)
      << error;
  admin.exec("COMMIT");
  EXPECT_TRUE(scan_remote(*r, Db::meta).empty());  // nothing of it was applied
  ASSERT_EQ(apply(*r, {{Db::inst, true, "k", "v"}}, &error), RemoteOutcome::ok) << error;

  // The conninfo's options win: no timeout (the default given here, 1 ms, would cancel
  // the wait); the commit is seen waiting for the lock, and applies once it goes.
  PgOptions quick;
  quick.connect.statement_timeout_ms = 1;
  std::string why;
  auto patient = PgRemote::open(conninfo_ + " options='-c statement_timeout=0'", &why, quick);
  ASSERT_TRUE(patient) << why;
  admin.exec("BEGIN; LOCK TABLE inst IN ACCESS EXCLUSIVE MODE");
  RemoteOutcome outcome = RemoteOutcome::failed;
  std::string patient_error;
  std::thread commit([&] {
    outcome = apply(*patient, {{Db::inst, true, "k", "w"}}, &patient_error);
  });
  Admin watcher(conninfo_);
  EXPECT_TRUE(eventually([&] {
    return watcher.exec(
               "SELECT count(*) FROM pg_locks WHERE locktype = 'relation' AND NOT "
               "granted AND database = (SELECT oid FROM pg_database WHERE datname = "
               "current_database())") == "1";
  }));
  admin.exec("COMMIT");
  commit.join();
  EXPECT_EQ(outcome, RemoteOutcome::ok) << patient_error;
  EXPECT_EQ(scan_remote(*r, Db::inst), (Rows{{"k", "w"}}));
}

}  // namespace
}  // namespace remote_test
}  // namespace bihuan::pg::test
