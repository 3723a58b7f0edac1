// What the PgRemote tests share (pg_remote_test*.cpp): the store on a fresh database, its
// commit of a list of writes, a scan inside a transaction, and waiting for a condition.
#pragma once

#include <chrono>
#include <functional>
#include <thread>

#include "pg/pg_fixture.hpp"
#include "pg/pg_remote.hpp"

namespace bihuan::pg::test {

class PgRemoteTest : public PgStoreTest {
 protected:
  std::unique_ptr<PgRemote> remote(const PgOptions& o = {}) {
    std::string error;
    auto r = PgRemote::open(conninfo_, &error, o);
    EXPECT_TRUE(r) << error;
    return r;
  }
};

inline storage::RemoteOutcome apply(PgRemote& r, const std::vector<Write>& w, std::string* error,
                                    const storage::Expect* expect = nullptr) {
  return r.commit(
      w.size(),
      [&](std::size_t i) {
        return storage::OpRef{w[i].db, w[i].put, w[i].key, w[i].value};
      },
      expect, error);
}

// Every row of db through a cursor of txn (seek "", next).
inline Rows scan_txn(storage::RemoteTxn& txn, Db db) {
  Rows rows;
  auto c = txn.cursor(db);
  for (bool on = c->seek(""); on; on = c->next()) rows.emplace_back(c->key(), c->value());
  EXPECT_EQ(c->error(), "");
  return rows;
}

// Every row of db in a new read transaction.
inline Rows scan_remote(PgRemote& r, Db db) {
  std::string error;
  auto txn = r.begin(false, &error);
  if (!txn) {
    ADD_FAILURE() << error;
    return {};
  }
  return scan_txn(*txn, db);
}

// Polls cond every 5 ms for up to 10 s; true when it held.
inline bool eventually(const std::function<bool()>& cond) {
  for (int i = 0; i < 2000; ++i) {
    if (cond()) return true;
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
  }
  return false;
}

// Transactions of this database waiting for an advisory lock (the writer lock).
inline int lock_waiters(Admin& admin) {
  return std::stoi(admin.exec(
      "SELECT count(*) FROM pg_locks WHERE locktype = 'advisory' AND NOT granted AND database = "
      "(SELECT oid FROM pg_database WHERE datname = current_database())"));
}

}  // namespace bihuan::pg::test
