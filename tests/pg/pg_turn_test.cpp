// The writer's turn of PgRemote (storage::Remote::hold_turn; engine/src/pg/pg_turn.hpp)
// against a real PostgreSQL 15: held across transactions, it keeps every other Remote's
// writes out while its own run without waiting; it is let go, passed on, waited for at
// most the time given, and lost with its connection without losing a commit.
#include <atomic>

#include "pg/pg_remote_fixture.hpp"
#include "storage/lmdb_env.hpp"

namespace bihuan::pg::test {
namespace turn_test {
namespace {

using storage::RemoteOutcome;
using storage::TurnOutcome;

TEST_F(PgRemoteTest, TheTurnKeepsOtherWritersOutAndItsOwnWritesRunWithoutWaiting) {
  auto a = remote(), b = remote();
  ASSERT_TRUE(a && b);
  Admin admin(conninfo_);
  std::string error;
  ASSERT_EQ(apply(*b, {{Db::meta, true, "writer", "b1"}}, &error), RemoteOutcome::ok) << error;
  std::optional<std::string> found;
  ASSERT_EQ(a->hold_turn(1000, Db::meta, "writer", &found, &error), TurnOutcome::held) << error;
  EXPECT_TRUE(a->holds_turn());
  EXPECT_EQ(found, std::optional<std::string>("b1"));  // read after the lock was taken
  EXPECT_FALSE(a->turn_wanted());

  // b's commit waits for the turn; a's own commits and write transactions do not.
  std::atomic<bool> b_done{false};
  RemoteOutcome b_outcome = RemoteOutcome::failed;
  std::string b_error;
  std::thread other([&] {
    b_outcome = apply(*b, {{Db::inst, true, "k", "from b"}}, &b_error);
    b_done = true;
  });
  ASSERT_TRUE(eventually([&] { return lock_waiters(admin) == 1; }));
  EXPECT_TRUE(a->turn_wanted());
  for (int i = 0; i < 3; ++i)
    ASSERT_EQ(apply(*a, {{Db::inst, true, "k", "from a " + std::to_string(i)}}, &error),
              RemoteOutcome::ok)
        << error;
  {
    auto w = a->begin(true, &error);
    ASSERT_TRUE(w) << error;
    ASSERT_TRUE(w->put(Db::inst, "j", "in a's turn", &error)) << error;
    bool unknown = false;
    ASSERT_TRUE(w->commit(&error, &unknown)) << error;
  }
  // A conditional commit in the turn is still checked.
  storage::Expect stale{Db::meta, "writer", std::string_view("a0")};
  EXPECT_EQ(apply(*a, {{Db::inst, true, "k", "never"}}, &error, &stale), RemoteOutcome::conflict);
  EXPECT_FALSE(b_done.load());
  EXPECT_EQ(scan_remote(*b, Db::inst), (Rows{{"j", "in a's turn"}, {"k", "from a 2"}}));

  a->release_turn();
  EXPECT_FALSE(a->holds_turn());
  other.join();
  EXPECT_EQ(b_outcome, RemoteOutcome::ok) << b_error;
  EXPECT_EQ(scan_remote(*a, Db::inst), (Rows{{"j", "in a's turn"}, {"k", "from b"}}));
  a->release_turn();  // not held: nothing happens
}

TEST_F(PgRemoteTest, WaitingForTheTurnEndsAtTheLimitAndItPassesWhenLetGo) {
  auto a = remote(), b = remote();
  ASSERT_TRUE(a && b);
  std::string error;
  ASSERT_EQ(a->hold_turn(1000, Db::meta, "writer", nullptr, &error), TurnOutcome::held) << error;
  std::optional<std::string> found{"x"};
  // b waits 50 ms, then gives up: busy, no error, not held.
  EXPECT_EQ(b->hold_turn(50, Db::meta, "writer", &found, &error), TurnOutcome::busy);
  EXPECT_FALSE(b->holds_turn());
  // Held again by its holder: it still holds it (no second lock to let go of).
  EXPECT_EQ(a->hold_turn(1000, Db::meta, "writer", &found, &error), TurnOutcome::held) << error;
  EXPECT_EQ(found, std::nullopt);  // absent
  ASSERT_EQ(apply(*a, {{Db::meta, true, "writer", "a1"}}, &error), RemoteOutcome::ok) << error;

  // b waits; a lets go once: b has it, and reads what a committed in its turn.
  TurnOutcome got = TurnOutcome::failed;
  std::thread waiter([&] {
    std::string e;
    got = b->hold_turn(10000, Db::meta, "writer", &found, &e);
  });
  ASSERT_TRUE(eventually([&] { return a->turn_wanted(); }));
  a->release_turn();
  waiter.join();
  EXPECT_EQ(got, TurnOutcome::held);
  EXPECT_EQ(found, std::optional<std::string>("a1"));
  EXPECT_TRUE(b->holds_turn());
  // And a's writes now wait for b (its commit waits, then goes through once b lets go).
  std::atomic<bool> a_done{false};
  std::thread writer([&] {
    std::string e;
    EXPECT_EQ(apply(*a, {{Db::inst, true, "after", "b"}}, &e), RemoteOutcome::ok) << e;
    a_done = true;
  });
  ASSERT_TRUE(eventually([&] { return b->turn_wanted(); }));
  EXPECT_FALSE(a_done.load());
  b.reset();  // destroyed while holding: it lets go
  writer.join();
  EXPECT_TRUE(a_done.load());
}

TEST_F(PgRemoteTest, ATurnLostWithItsConnectionEndsAndCommitsGoOnWithoutIt) {
  auto a = remote(), b = remote();
  ASSERT_TRUE(a && b);
  Admin admin(conninfo_);
  std::string error;
  ASSERT_EQ(a->hold_turn(1000, Db::meta, "writer", nullptr, &error), TurnOutcome::held) << error;
  // The server ends the turn's session (an administrator, a failover): the lock goes with it.
  admin.exec(
      "SELECT pg_terminate_backend(pid) FROM pg_locks WHERE locktype = 'advisory' AND granted "
      "AND database = (SELECT oid FROM pg_database WHERE datname = current_database())");
  ASSERT_TRUE(eventually([&] {
    std::string e;
    TurnOutcome t = b->hold_turn(10, Db::meta, "writer", nullptr, &e);
    if (t == TurnOutcome::held) b->release_turn();
    return t == TurnOutcome::held;
  }));
  // a finds out at its next write: the commit runs on a pooled connection, applied once.
  EXPECT_EQ(apply(*a, {{Db::inst, true, "k", "1"}}, &error), RemoteOutcome::ok) << error;
  EXPECT_FALSE(a->holds_turn());
  EXPECT_EQ(scan_remote(*b, Db::inst), (Rows{{"k", "1"}}));
  // And it can take the turn again.
  EXPECT_EQ(a->hold_turn(1000, Db::meta, "writer", nullptr, &error), TurnOutcome::held) << error;
  auto w = a->begin(true, &error);
  ASSERT_TRUE(w) << error;
}

TEST_F(PgRemoteTest, ARoleHasOneHolderAndGoesWithItsSession) {
  auto a = remote(), b = remote();
  ASSERT_TRUE(a && b);
  Admin admin(conninfo_);
  EXPECT_TRUE(a->hold_role("outbox"));
  EXPECT_TRUE(a->hold_role("outbox"));  // still held: no second lock
  EXPECT_FALSE(b->hold_role("outbox"));
  EXPECT_TRUE(b->hold_role("other"));  // roles are separate
  EXPECT_FALSE(a->hold_role("other"));
  // The holder's session ends (a node that died, an administrator): the role is free.
  admin.exec(
      "SELECT pg_terminate_backend(pid) FROM pg_locks WHERE locktype = 'advisory' AND granted "
      "AND pid <> pg_backend_pid() AND database = (SELECT oid FROM pg_database WHERE datname "
      "= current_database())");
  ASSERT_TRUE(eventually([&] { return b->hold_role("outbox"); }));
  EXPECT_FALSE(a->hold_role("outbox"));  // a notices its session ended; b has it now
  // The holder destroyed (a node stopped): the role passes.
  b.reset();
  ASSERT_TRUE(eventually([&] { return a->hold_role("outbox"); }));
  EXPECT_TRUE(a->hold_role("other"));
}

}  // namespace
}  // namespace turn_test
}  // namespace bihuan::pg::test
