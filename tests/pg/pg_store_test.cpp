// PgStore (engine/src/pg) against a real PostgreSQL 15: round trips, the commit's rules
// (last write wins, all or nothing, limits), snapshots, paging, lost connections and
// servers that are not there, the schema version.
#include <unistd.h>

#include <chrono>
#include <thread>

#include "pg/pg_fixture.hpp"
#include "storage/lmdb_env.hpp"

namespace bihuan::pg::test {
namespace {

constexpr auto kAllDbs = static_cast<unsigned>(Db::count_);

TEST(PgTables, AreNamedLikeLmdbDatabases) {
  for (unsigned i = 0; i < kAllDbs; ++i)
    EXPECT_STREQ(table_name(static_cast<Db>(i)), storage::db_name(static_cast<Db>(i)));
}

TEST_F(PgStoreTest, RoundTripInEveryKeySpace) {
  auto store = open();
  ASSERT_TRUE(store);
  std::vector<std::string> keys, values;
  for (unsigned i = 0; i < kAllDbs; ++i) {
    keys.push_back(std::string("k\0", 2) + static_cast<char>(i));
    values.push_back(std::string("v\0\xff", 3) + table_name(static_cast<Db>(i)));
  }
  std::vector<Write> w;
  for (unsigned i = 0; i < kAllDbs; ++i) {
    w.push_back({static_cast<Db>(i), true, keys[i], values[i]});
    w.push_back({static_cast<Db>(i), true, "empty", ""});
    w.push_back({static_cast<Db>(i), true, "gone", "soon"});
  }
  std::string error;
  ASSERT_TRUE(commit(*store, w, &error)) << error;
  w.clear();
  for (unsigned i = 0; i < kAllDbs; ++i) w.push_back({static_cast<Db>(i), false, "gone", ""});
  ASSERT_TRUE(commit(*store, w, &error)) << error;

  auto read = store->read(&error);
  ASSERT_TRUE(read) << error;
  for (unsigned i = 0; i < kAllDbs; ++i) {
    auto db = static_cast<Db>(i);
    SCOPED_TRACE(table_name(db));
    auto v = read->get(db, keys[i], &error);
    ASSERT_TRUE(v) << error;
    EXPECT_EQ(*v, values[i]);
    v = read->get(db, "empty", &error);
    ASSERT_TRUE(v) << error;
    EXPECT_EQ(*v, "");  // an empty value is a value, not an absence
    EXPECT_FALSE(read->get(db, "gone", &error));
    EXPECT_EQ(error, "");
    EXPECT_FALSE(read->get(db, "never", &error));
    EXPECT_EQ(error, "");
  }
}

TEST_F(PgStoreTest, LaterWriteOfAKeyWins) {
  auto store = open();
  ASSERT_TRUE(store);
  std::string error;
  ASSERT_TRUE(commit(*store, {{Db::inst, true, "b", "old"}, {Db::inst, true, "c", "old"}}, &error))
      << error;
  ASSERT_TRUE(commit(*store,
                     {{Db::inst, true, "a", "1"},
                      {Db::inst, false, "a", ""},
                      {Db::inst, true, "a", "2"},  // put, delete, put: "2"
                      {Db::inst, false, "b", ""},
                      {Db::inst, true, "b", "new"},  // delete, put: "new"
                      {Db::inst, true, "c", "x"},
                      {Db::inst, false, "c", ""},  // put, delete: gone
                      {Db::inst, false, "d", ""},  // delete of an absent key: nothing
                      {Db::hist, true, "a", "other table"}},
                     &error))
      << error;
  EXPECT_EQ(scan(*store, Db::inst), (Rows{{"a", "2"}, {"b", "new"}}));
  EXPECT_EQ(scan(*store, Db::hist), (Rows{{"a", "other table"}}));
  // An empty commit is no transaction at all.
  EXPECT_TRUE(commit(*store, {}, &error)) << error;
}

TEST_F(PgStoreTest, KeysOutOfLmdbsLimitsAreRefusedBeforeAnythingIsSent) {
  auto store = open();
  ASSERT_TRUE(store);
  std::string error, longest(PgStore::kMaxKeyBytes, '\x01');
  EXPECT_FALSE(commit(*store, {{Db::inst, true, "fine", "1"}, {Db::sidx, true, "", "x"}}, &error));
  EXPECT_NE(error.find("key of 0 bytes"), std::string::npos) << error;
  EXPECT_NE(error.find("table sidx"), std::string::npos) << error;
  EXPECT_NE(error.find("nothing was applied"), std::string::npos) << error;
  EXPECT_FALSE(commit(*store, {{Db::inst, true, longest + "x", "1"}}, &error));
  EXPECT_NE(error.find("512 bytes"), std::string::npos) << error;
  EXPECT_TRUE(scan(*store, Db::inst).empty());
  ASSERT_TRUE(commit(*store, {{Db::inst, true, longest, "1"}}, &error)) << error;
  EXPECT_EQ(scan(*store, Db::inst), (Rows{{longest, "1"}}));
}

TEST_F(PgStoreTest, ACommitThatFailsMidwayAppliesNothing) {
  auto store = open();
  ASSERT_TRUE(store);
  std::string error;
  ASSERT_TRUE(commit(*store, {{Db::inst, true, "kept", "before"}}, &error)) << error;
  Admin admin(conninfo_);
  ASSERT_TRUE(admin.ok());
  admin.exec("DROP TABLE timers");
  // inst's statements run first (tables in enum order), then timers' fails.
  EXPECT_FALSE(commit(*store,
                      {{Db::inst, true, "kept", "after"},
                       {Db::inst, true, "new", "x"},
                       {Db::timers, true, std::string("\x00\x01", 2), "t"}},
                      &error));
  EXPECT_NE(error.find("1 put into table timers (key 0001)"), std::string::npos) << error;
  EXPECT_NE(error.find("does not exist"), std::string::npos) << error;
  EXPECT_NE(error.find("socket " + PgServer::get().socket_dir()), std::string::npos) << error;
  EXPECT_NE(error.find("nothing was applied"), std::string::npos) << error;
  EXPECT_EQ(scan(*store, Db::inst), (Rows{{"kept", "before"}}));
  // The same connection goes on.
  ASSERT_TRUE(commit(*store, {{Db::inst, true, "new", "y"}}, &error)) << error;
  EXPECT_EQ(scan(*store, Db::inst), (Rows{{"kept", "before"}, {"new", "y"}}));
  // A cursor on the missing table says so.
  auto read = store->read(&error);
  ASSERT_TRUE(read) << error;
  auto c = read->cursor(Db::timers);
  EXPECT_FALSE(c->seek("a"));
  EXPECT_NE(c->status().find("cannot read table timers from key 61"), std::string::npos)
      << c->status();
}

// Waits until the backend is gone (pg_terminate_backend only signals it).
void terminate(Admin& admin, int pid) {
  auto p = std::to_string(pid);
  admin.exec("SELECT pg_terminate_backend(" + p + ")");
  for (int i = 0; i < 500; ++i) {
    if (admin.exec("SELECT count(*) FROM pg_stat_activity WHERE pid = " + p) == "0") return;
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  ADD_FAILURE() << "backend " << p << " still there";
}

TEST_F(PgStoreTest, ALostConnectionFailsTheCallAndTheNextCallReconnects) {
  auto store = open();
  ASSERT_TRUE(store);
  Admin admin(conninfo_);
  ASSERT_TRUE(admin.ok());
  std::string error;
  ASSERT_TRUE(commit(*store, {{Db::inst, true, "a", "1"}}, &error)) << error;

  terminate(admin, store->backend_pid());
  bool unknown = true;
  EXPECT_FALSE(store->commit(std::vector<Write>{{Db::inst, true, "b", "lost"}}, &error, &unknown));
  EXPECT_FALSE(unknown) << error;  // refused at BEGIN: nothing ran
  EXPECT_NE(error.find("socket " + PgServer::get().socket_dir()), std::string::npos) << error;
  EXPECT_NE(error.find("nothing was applied"), std::string::npos) << error;
  EXPECT_EQ(scan(*store, Db::inst), (Rows{{"a", "1"}}));  // a read first: reconnected
  ASSERT_TRUE(commit(*store, {{Db::inst, true, "c", "3"}}, &error)) << error;
  EXPECT_EQ(scan(*store, Db::inst), (Rows{{"a", "1"}, {"c", "3"}}));

  // In a read transaction: its reads fail; the next read() reconnects.
  {
    auto read = store->read(&error);
    ASSERT_TRUE(read) << error;
    terminate(admin, store->backend_pid());
    EXPECT_FALSE(read->get(Db::inst, "a", &error));
    EXPECT_NE(error.find("cannot read key 61 of table inst"), std::string::npos) << error;
    auto c = read->cursor(Db::inst);
    EXPECT_FALSE(c->first());
    EXPECT_NE(c->status(), "");
  }
  EXPECT_EQ(scan(*store, Db::inst), (Rows{{"a", "1"}, {"c", "3"}}));
}

// Deferred constraint triggers run at COMMIT: one refuses it, one ends the session in it.
TEST_F(PgStoreTest, AFailureAtCommitIsNothingAppliedOrAnUnknownOutcome) {
  auto store = open();
  ASSERT_TRUE(store);
  Admin admin(conninfo_);
  ASSERT_TRUE(admin.ok());
  install_commit_traps(admin);
  std::string error;
  bool unknown = true;
  EXPECT_FALSE(
      store->commit(std::vector<Write>{{Db::inst, true, "a", "1"}, {Db::dead, true, "d", "1"}},
                    &error, &unknown));
  EXPECT_FALSE(unknown);
  EXPECT_NE(error.find("COMMIT: refused at commit"), std::string::npos) << error;
  EXPECT_NE(error.find("nothing was applied"), std::string::npos) << error;

  EXPECT_FALSE(
      store->commit(std::vector<Write>{{Db::inst, true, "b", "1"}, {Db::gone, true, "g", "1"}},
                    &error, &unknown));
  EXPECT_TRUE(unknown) << error;
  EXPECT_NE(error.find("may or may not have been applied"), std::string::npos) << error;
  // (It was not: the session ended inside COMMIT.) The next call reconnects.
  EXPECT_TRUE(scan(*store, Db::gone).empty());
  ASSERT_TRUE(commit(*store, {{Db::inst, true, "c", "1"}}, &error)) << error;
  EXPECT_EQ(scan(*store, Db::inst), (Rows{{"c", "1"}}));
  EXPECT_TRUE(scan(*store, Db::gone).empty());
}

TEST_F(PgStoreTest, AReadKeepsItsSnapshotWhileAnotherStoreCommits) {
  auto reader = open(), writer = open();
  ASSERT_TRUE(reader && writer);
  std::string error;
  ASSERT_TRUE(commit(*writer, {{Db::inst, true, "a", "1"}, {Db::inst, true, "b", "1"}}, &error))
      << error;
  auto read = reader->read(&error);
  ASSERT_TRUE(read) << error;
  ASSERT_TRUE(commit(
      *writer, {{Db::inst, true, "a", "2"}, {Db::inst, false, "b", ""}, {Db::inst, true, "c", "2"}},
      &error))
      << error;
  EXPECT_EQ(read->get(Db::inst, "a", &error).value_or("?"), "1");
  auto c = read->cursor(Db::inst);
  Rows rows;
  for (bool on = c->first(); on; on = c->next()) rows.emplace_back(c->key(), c->value());
  EXPECT_EQ(c->status(), "");
  EXPECT_EQ(rows, (Rows{{"a", "1"}, {"b", "1"}}));
  // One transaction at a time on a store.
  EXPECT_FALSE(commit(*reader, {{Db::inst, true, "z", "z"}}, &error));
  EXPECT_NE(error.find("a read transaction of this PgStore is open"), std::string::npos) << error;
  EXPECT_FALSE(reader->read(&error));
  read.reset();
  EXPECT_EQ(scan(*reader, Db::inst), (Rows{{"a", "2"}, {"c", "2"}}));
}

// Two stores (threads) upserting the same keys, given in opposite orders: the keys are
// sorted before they are sent, so both lock rows in one order and neither deadlocks.
TEST_F(PgStoreTest, CommitsOfTheSameKeysInOppositeOrdersDoNotDeadlock) {
  auto a = open(), b = open();
  ASSERT_TRUE(a && b);
  std::vector<std::string> keys;
  for (std::uint64_t i = 0; i < 40; ++i) keys.push_back(storage::be64(i));
  auto run = [&](PgStore& store, bool reversed, std::string* failure) {
    for (int round = 0; round < 20 && failure->empty(); ++round) {
      std::vector<Write> w;
      std::string v = (reversed ? "b" : "a") + std::to_string(round);
      for (std::size_t i = 0; i < keys.size(); ++i)
        w.push_back({Db::inst, true, keys[reversed ? keys.size() - 1 - i : i], v});
      std::string error;
      if (!store.commit(w, &error)) *failure = error;
    }
  };
  std::string fa, fb;
  std::thread ta(run, std::ref(*a), false, &fa), tb(run, std::ref(*b), true, &fb);
  ta.join();
  tb.join();
  EXPECT_EQ(fa, "");
  EXPECT_EQ(fb, "");
  EXPECT_EQ(scan(*a, Db::inst).size(), keys.size());
}

TEST_F(PgStoreTest, CursorsReadInPages) {
  PgOptions o;
  o.page_rows = 3;
  auto store = open(o);
  ASSERT_TRUE(store);
  std::vector<std::string> keys;
  std::vector<Write> w;
  for (std::uint64_t i = 0; i < 10; ++i) keys.push_back(storage::be64(i * 10));
  for (const auto& k : keys) w.push_back({Db::hist, true, k, "v" + k});
  std::string error;
  ASSERT_TRUE(commit(*store, w, &error)) << error;
  Rows all = scan(*store, Db::hist);
  ASSERT_EQ(all.size(), 10u);
  for (std::size_t i = 0; i < all.size(); ++i) EXPECT_EQ(all[i].first, keys[i]);

  auto read = store->read(&error);
  ASSERT_TRUE(read) << error;
  auto c = read->cursor(Db::hist);
  ASSERT_TRUE(c->seek(storage::be64(25)));  // between keys: the next one
  EXPECT_EQ(c->key(), storage::be64(30));
  std::size_t n = 1;
  while (c->next()) ++n;
  EXPECT_EQ(c->status(), "");
  EXPECT_EQ(n, 7u);  // 30 .. 90 across three pages
  EXPECT_FALSE(c->next());
  EXPECT_EQ(c->key(), "");
  ASSERT_TRUE(c->last());
  EXPECT_EQ(c->key(), storage::be64(90));
  EXPECT_EQ(c->value(), "v" + storage::be64(90));
  EXPECT_FALSE(c->next());
  EXPECT_FALSE(c->seek(storage::be64(91)));
  EXPECT_EQ(c->status(), "");
  ASSERT_TRUE(c->seek(""));  // the empty key sorts first
  EXPECT_EQ(c->key(), storage::be64(0));
  auto empty = read->cursor(Db::timers);
  EXPECT_FALSE(empty->first());
  EXPECT_FALSE(empty->last());
  EXPECT_EQ(empty->status(), "");
}

TEST_F(PgStoreTest, ABatchOfManyWritesIsOneCommit) {
  auto store = open();
  ASSERT_TRUE(store);
  std::vector<std::string> keys;
  for (std::uint64_t i = 0; i < 5000; ++i) keys.push_back(storage::be64(i));
  std::vector<Write> w;
  for (std::size_t i = 0; i < keys.size(); ++i)
    w.push_back({static_cast<Db>(i % kAllDbs), true, keys[i], keys[i]});
  std::string error;
  ASSERT_TRUE(commit(*store, w, &error)) << error;
  std::size_t total = 0;
  for (unsigned i = 0; i < kAllDbs; ++i) total += scan(*store, static_cast<Db>(i)).size();
  EXPECT_EQ(total, 5000u);
}

TEST_F(PgStoreTest, OpeningAgainFindsTheSchema) {
  auto a = open();
  ASSERT_TRUE(a);
  std::string error;
  ASSERT_TRUE(commit(*a, {{Db::meta, true, "format", "x"}}, &error)) << error;
  auto b = open();
  ASSERT_TRUE(b);
  EXPECT_EQ(scan(*b, Db::meta), (Rows{{"format", "x"}}));
  Admin admin(conninfo_);
  EXPECT_EQ(admin.exec("SELECT version FROM bihuan_schema"), "2");
  EXPECT_EQ(admin.exec("SELECT count(*) FROM bihuan_schema"), "1");
}

TEST_F(PgStoreTest, ANewerSchemaVersionIsRefused) {
  ASSERT_TRUE(open());
  Admin admin(conninfo_);
  admin.exec("UPDATE bihuan_schema SET version = 3");
  std::string error;
  EXPECT_FALSE(PgStore::open(conninfo_, &error));
  EXPECT_NE(error.find("schema version is 3, newer than this build's 2"), std::string::npos)
      << error;
  admin.exec("DELETE FROM bihuan_schema");
  EXPECT_FALSE(PgStore::open(conninfo_, &error));
  EXPECT_NE(error.find("bihuan_schema is damaged: it holds 0 rows"), std::string::npos) << error;
  admin.exec("INSERT INTO bihuan_schema VALUES (0, 0)");
  EXPECT_FALSE(PgStore::open(conninfo_, &error));
  EXPECT_NE(error.find("its version is 0, expected 1 or more"), std::string::npos) << error;
}

TEST(PgStoreOpen, AServerThatIsNotThereIsAClearErrorInBoundedTime) {
  std::string dir = "/tmp/bihuan-pg-nowhere-" + std::to_string(::getpid()), error;
  auto t0 = std::chrono::steady_clock::now();
  EXPECT_FALSE(PgStore::open("host=" + dir + " port=5999 dbname=d user=u password=sekret", &error));
  EXPECT_NE(error.find("PostgreSQL at socket " + dir + " port 5999, database d"), std::string::npos)
      << error;
  EXPECT_NE(error.find("cannot connect"), std::string::npos) << error;
  EXPECT_EQ(error.find("sekret"), std::string::npos) << error;

  // TCP to a port nobody listens on (refused at once); the connect timeout bounds the rest.
  EXPECT_FALSE(PgStore::open("postgresql://u:sekret@127.0.0.1:1/d?connect_timeout=3", &error));
  EXPECT_NE(error.find("PostgreSQL at 127.0.0.1 port 1, database d"), std::string::npos) << error;
  EXPECT_EQ(error.find("sekret"), std::string::npos) << error;
  EXPECT_LT(std::chrono::steady_clock::now() - t0, std::chrono::seconds(8));
}

}  // namespace
}  // namespace bihuan::pg::test
