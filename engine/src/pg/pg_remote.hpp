// storage::Remote (storage/remote.hpp) over PostgreSQL: the engine's store on a server,
// with LMDB's semantics, for any number of threads (issue 26).
//
// The schema is PgStore's (pg_store.hpp: one table per key space, named like its LMDB
// database; created by open() if absent). Connections come from a pool (pg_pool.hpp):
// PgOptions::pool_idle kept for reuse, at most PgOptions::pool_max open; a caller beyond
// that waits until a transaction ends. A connection found lost is dropped, never reused.
//
// Transactions (begin):
// - read: BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY, the snapshot taken at once
//   (one round trip); renew() ends it and takes a new one on the same connection.
// - write: BEGIN (READ COMMITTED), then the store's writer lock,
//   pg_advisory_xact_lock(kWriterLockKey), held until COMMIT or ROLLBACK: write
//   transactions and commit() run one at a time across every process on the database
//   (LMDB's single writer). Each get, put, del, count and cursor page is one statement
//   (a round trip). A cursor sees the transaction's own writes: after a put or del of its
//   transaction, its next move re-reads from where it stands.
// - A RemoteTxn holds its connection for its life and gives it back when destroyed (an
//   uncommitted one is rolled back first). Every RemoteTxn, and every cursor, must be
//   destroyed before the PgRemote that made it. A thread that holds a write transaction
//   and calls begin(true) or commit() waits for itself forever (as with LMDB); one that
//   holds pool_max transactions and begins another waits forever too.
// Cursors read pages of PgOptions::page_rows rows (`WHERE k >= $1 ORDER BY k LIMIT n`,
// then `k > $last`; last() is `ORDER BY k DESC LIMIT 1`), and keep the page before the
// current one, so key() and value() stay valid until the cursor has moved twice more.
//
// The turn (hold_turn .. release_turn; pg_turn.hpp): the writer lock held at session level
// by one connection across transactions. While held, write transactions and commits run
// on that connection, one at a time, and do not wait for the lock.
//
// commit(n, op, expect): BEGIN, the writer lock, the expectation check, the writes, COMMIT
// in one round trip (pg_batch.hpp). n == 0 without expect sends nothing (ok); n == 0 with
// expect checks it under the lock (ok or conflict).
//
// Errors are sentences naming the server, the table and the key in hex, and PostgreSQL's
// message (PgStore's). Waits are bounded by the connect timeouts (PgOptions::connect),
// except the waits for the writer lock and for a connection of the pool, which last as long
// as the transactions that hold them.
#pragma once

#include <cstddef>
#include <cstdint>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>

#include "pg/pg_store.hpp"
#include "storage/remote.hpp"

namespace bihuan::pg {

class ConnPool;
class HistoryMonths;
class Turn;

class PgRemote final : public storage::Remote {
 public:
  // The writer lock's advisory key: FNV-1a 64 of "bihuan-writer" (0xad63d43f259ec9c0) as a
  // signed bigint. (The schema lock, pg_store.cpp, is another key.)
  static constexpr std::int64_t kWriterLockKey = -5952680914774472256;

  // Connects and creates the schema as PgStore::open does; that connection is the pool's
  // first. nullptr and *error on failure.
  static std::unique_ptr<PgRemote> open(const std::string& conninfo, std::string* error,
                                        const PgOptions& options = {});
  ~PgRemote() override;

  std::unique_ptr<storage::RemoteTxn> begin(bool write, std::string* error) override;
  storage::RemoteOutcome commit(std::size_t n, const std::function<storage::OpRef(std::size_t)>& op,
                                const storage::Expect* expect, std::string* error) override;
  std::string describe() const override { return server_; }
  storage::TurnOutcome hold_turn(int wait_ms, storage::Db db, std::string_view key,
                                 std::optional<std::string>* value, std::string* error) override;
  bool holds_turn() const override;
  void release_turn() override;
  bool turn_wanted() override;
  // pg_try_advisory_lock(FNV-1a 64 of "bihuan-role-" + name) at session level, on a
  // connection kept for the role; held while that connection lives.
  bool hold_role(std::string_view name) override;
  // SQL for reports: Db::inst only (pg_schema.hpp, inst_projection_ddl); the backfill runs
  // here, 500 records per round trip.
  void set_projection(storage::Db db, storage::Projection f, bool backfill) override;
  // History by month (pg_months.hpp).
  std::uint64_t history_floor(std::int64_t now_ms) override;
  bool keeps_removed_history() const override { return true; }
  bool history_months(bool count, std::vector<storage::HistoryMonth>* out,
                      std::string* error) override;
  bool detach_history_month(int yyyymm, bool keep, std::string* error,
                            bool* held = nullptr) override;

  // The pool now: connections open (in use and idle), and idle.
  std::size_t open_connections() const;
  std::size_t idle_connections() const;

 private:
  PgRemote(std::unique_ptr<ConnPool> pool, std::string server, const PgOptions& o);
  // A write transaction or commit on the turn's connection: nullptr when the turn is not
  // held, or was lost at BEGIN (then it ended; the caller goes on with the pool).
  std::unique_ptr<storage::RemoteTxn> begin_in_turn(std::string* error);
  std::unique_ptr<ConnPool> pool_;
  std::unique_ptr<Turn> turn_;             // destroyed before pool_
  std::unique_ptr<HistoryMonths> months_;  // destroyed before pool_
  std::mutex roles_mu_;
  std::map<std::string, std::unique_ptr<Conn>, std::less<>> roles_;  // held roles' sessions
  std::string server_;
  PgOptions options_;
  storage::Projection inst_json_;  // set before the first commit (set_projection)
};

}  // namespace bihuan::pg
