// PgRemote's pool of connections (engine/src/pg/pg_pool.hpp) under concurrency and lost
// connections, failed and unknown commits, and the "postgresql:" scheme of open_remote.
#include <atomic>

#include "pg/pg_enable.hpp"
#include "pg/pg_remote_fixture.hpp"
#include "storage/lmdb_env.hpp"

namespace bihuan::pg::test {
namespace remote_pool_test {
namespace {

using storage::RemoteOutcome;

// Ends every other session on the test's database and waits until they are gone.
void terminate_others(Admin& admin) {
  const std::string others =
      "FROM pg_stat_activity WHERE datname = current_database() AND pid <> pg_backend_pid()";
  admin.exec("SELECT count(pg_terminate_backend(pid)) " + others);
  EXPECT_TRUE(eventually([&] { return admin.exec("SELECT count(*) " + others) == "0"; }));
}

TEST_F(PgRemoteTest, ManyThreadsShareThePool) {
  PgOptions o;
  o.pool_idle = 2;
  o.pool_max = 4;
  auto r = remote(o);
  ASSERT_TRUE(r);
  constexpr int kThreads = 8, kRounds = 40;
  std::atomic<int> failures{0};
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t)
    threads.emplace_back([&, t] {
      for (int i = 0; i < kRounds; ++i) {
        std::string error, key = storage::be64(t * 1000 + i), v;
        // One of each: a commit, a write transaction, a read of both.
        std::vector<Write> w{{Db::inst, true, key, "c"}};
        if (apply(*r, w, &error) != RemoteOutcome::ok) {
          ADD_FAILURE() << error;
          ++failures;
          continue;
        }
        auto wt = r->begin(true, &error);
        bool unknown = false;
        if (!wt || !wt->put(Db::hist, key, "w", &error) || !wt->commit(&error, &unknown)) {
          ADD_FAILURE() << error;
          ++failures;
          continue;
        }
        wt.reset();
        auto rt = r->begin(false, &error);
        if (!rt || !rt->get(Db::inst, key, &v, &error) || v != "c" ||
            !rt->get(Db::hist, key, &v, &error) || v != "w") {
          ADD_FAILURE() << "thread " << t << " round " << i << ": " << error << v;
          ++failures;
        }
        if (r->open_connections() > 4) ++failures;
      }
    });
  for (auto& th : threads) th.join();
  EXPECT_EQ(failures.load(), 0);
  EXPECT_LE(r->open_connections(), 4u);
  EXPECT_LE(r->idle_connections(), 2u);
  EXPECT_EQ(r->open_connections(), r->idle_connections());  // nothing leased now
  std::string error;
  auto t = r->begin(false, &error);
  ASSERT_TRUE(t) << error;
  EXPECT_EQ(t->count(Db::inst, &error).value_or(0), std::uint64_t{kThreads * kRounds}) << error;
  EXPECT_EQ(t->count(Db::hist, &error).value_or(0), std::uint64_t{kThreads * kRounds}) << error;
}

TEST_F(PgRemoteTest, PastTheMaximumABeginWaitsForAConnection) {
  PgOptions o;
  o.pool_max = 1;
  auto r = remote(o);
  ASSERT_TRUE(r);
  std::string error;
  auto held = r->begin(false, &error);
  ASSERT_TRUE(held) << error;
  std::atomic<bool> done{false};
  std::string other_error;
  std::thread other([&] {
    auto t = r->begin(false, &other_error);
    EXPECT_TRUE(t) << other_error;
    done = true;
  });
  // A bounded look: it must not get one while the only connection is held.
  std::this_thread::sleep_for(std::chrono::milliseconds(200));
  EXPECT_FALSE(done.load());
  EXPECT_EQ(r->open_connections(), 1u);
  held.reset();
  other.join();
  EXPECT_TRUE(done.load());
  EXPECT_EQ(r->open_connections(), 1u);
}

TEST_F(PgRemoteTest, ConnectionsTerminatedWhileIdleAreDroppedAndTheNextCallWorks) {
  auto r = remote();
  ASSERT_TRUE(r);
  Admin admin(conninfo_);
  ASSERT_TRUE(admin.ok());
  std::string error;
  {  // Two connections in the pool.
    auto a = r->begin(false, &error), b = r->begin(false, &error);
    ASSERT_TRUE(a && b) << error;
  }
  EXPECT_EQ(r->idle_connections(), 2u);
  terminate_others(admin);
  auto t = r->begin(true, &error);
  ASSERT_TRUE(t) << error;
  ASSERT_TRUE(t->put(Db::inst, "a", "1", &error)) << error;
  bool unknown = true;
  ASSERT_TRUE(t->commit(&error, &unknown)) << error;
  t.reset();
  terminate_others(admin);
  EXPECT_EQ(apply(*r, {{Db::inst, true, "b", "2"}}, &error), RemoteOutcome::ok) << error;
  EXPECT_EQ(scan_remote(*r, Db::inst), (Rows{{"a", "1"}, {"b", "2"}}));
  EXPECT_EQ(r->open_connections(), 1u);  // the dead ones are gone
}

TEST_F(PgRemoteTest, AConnectionLostInATransactionFailsItAndIsDropped) {
  auto r = remote();
  ASSERT_TRUE(r);
  Admin admin(conninfo_);
  ASSERT_TRUE(admin.ok());
  std::string error, v;
  ASSERT_EQ(apply(*r, {{Db::inst, true, "a", "1"}}, &error), RemoteOutcome::ok) << error;
  {
    auto t = r->begin(false, &error);
    ASSERT_TRUE(t) << error;
    terminate_others(admin);
    EXPECT_FALSE(t->get(Db::inst, "a", &v, &error));
    EXPECT_NE(error.find("cannot read key 61 of table inst"), std::string::npos) << error;
    auto c = t->cursor(Db::inst);
    EXPECT_FALSE(c->seek(""));
    EXPECT_NE(c->error(), "");
  }
  EXPECT_EQ(r->open_connections(), 0u);
  {
    auto w = r->begin(true, &error);
    ASSERT_TRUE(w) << error;
    ASSERT_TRUE(w->put(Db::inst, "b", "2", &error)) << error;
    terminate_others(admin);
    bool unknown = true;
    EXPECT_FALSE(w->commit(&error, &unknown));
    EXPECT_FALSE(unknown) << error;  // the put never reached a COMMIT
    EXPECT_NE(error.find("nothing was applied"), std::string::npos) << error;
  }
  EXPECT_EQ(scan_remote(*r, Db::inst), (Rows{{"a", "1"}}));
}

// Deferred constraint triggers run at COMMIT: one refuses it, one ends the session in it.
TEST_F(PgRemoteTest, FailuresAtCommitAreFailedOrUnknown) {
  auto r = remote();
  ASSERT_TRUE(r);
  Admin admin(conninfo_);
  ASSERT_TRUE(admin.ok());
  install_commit_traps(admin);
  std::string error;
  EXPECT_EQ(apply(*r, {{Db::inst, true, "a", "1"}, {Db::dead, true, "d", "1"}}, &error),
            RemoteOutcome::failed);
  EXPECT_NE(error.find("COMMIT: refused at commit"), std::string::npos) << error;
  EXPECT_EQ(apply(*r, {{Db::inst, true, "b", "1"}, {Db::gone, true, "g", "1"}}, &error),
            RemoteOutcome::unknown);
  EXPECT_NE(error.find("may or may not have been applied"), std::string::npos) << error;

  bool unknown = true;
  auto w = r->begin(true, &error);
  ASSERT_TRUE(w) << error;
  ASSERT_TRUE(w->put(Db::dead, "d", "1", &error)) << error;
  EXPECT_FALSE(w->commit(&error, &unknown));
  EXPECT_FALSE(unknown);
  EXPECT_NE(error.find("refused at commit"), std::string::npos) << error;
  EXPECT_NE(error.find("nothing was applied"), std::string::npos) << error;
  w = r->begin(true, &error);
  ASSERT_TRUE(w) << error;
  ASSERT_TRUE(w->put(Db::gone, "g", "1", &error)) << error;
  EXPECT_FALSE(w->commit(&error, &unknown));
  EXPECT_TRUE(unknown) << error;
  EXPECT_NE(error.find("may or may not have been applied"), std::string::npos) << error;
  w.reset();
  // A statement that failed inside a write transaction fails its commit.
  admin.exec("DROP TABLE timers");
  w = r->begin(true, &error);
  ASSERT_TRUE(w) << error;
  ASSERT_TRUE(w->put(Db::inst, "c", "1", &error)) << error;
  EXPECT_FALSE(w->put(Db::timers, "t", "1", &error));
  EXPECT_NE(error.find("cannot put key 74 of table timers"), std::string::npos) << error;
  EXPECT_FALSE(w->commit(&error, &unknown));
  EXPECT_FALSE(unknown);
  EXPECT_NE(error.find("a statement of the transaction had failed"), std::string::npos) << error;
  w.reset();
  // None of it was applied (the session died inside COMMIT before committing).
  EXPECT_TRUE(scan_remote(*r, Db::inst).empty());
  EXPECT_TRUE(scan_remote(*r, Db::gone).empty());
  EXPECT_EQ(apply(*r, {{Db::inst, true, "e", "1"}}, &error), RemoteOutcome::ok) << error;
}

TEST_F(PgRemoteTest, ThePostgresqlSchemeOpensAPgRemote) {
  std::string error;
  EXPECT_FALSE(storage::open_remote("nosuch:x", &error));
  EXPECT_NE(error.find("\"nosuch:...\" is not known"), std::string::npos) << error;
  enable();
  enable();  // idempotent
  auto r = storage::open_remote("postgresql:" + conninfo_, &error);
  ASSERT_TRUE(r) << error;
  EXPECT_NE(r->describe().find("socket " + PgServer::get().socket_dir()), std::string::npos)
      << r->describe();
  ASSERT_EQ(r->commit(
                1,
                [&](std::size_t) {
                  return storage::OpRef{Db::meta, true, "format", "x"};
                },
                nullptr, &error),
            RemoteOutcome::ok)
      << error;
  auto t = r->begin(false, &error);
  ASSERT_TRUE(t) << error;
  EXPECT_EQ(scan_txn(*t, Db::meta), (Rows{{"format", "x"}}));
  EXPECT_FALSE(
      storage::open_remote("postgresql:host=/tmp/bihuan-pg-nowhere port=5999 dbname=d", &error));
  EXPECT_NE(error.find("cannot connect"), std::string::npos) << error;
}

}  // namespace
}  // namespace remote_pool_test
}  // namespace bihuan::pg::test
