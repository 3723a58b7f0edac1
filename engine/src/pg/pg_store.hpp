// The engine's key-value store over PostgreSQL, with LMDB's semantics (issue 26, step 1a;
// docs/design-scale-out.md, "Built so far"). PgStore is one connection for one thread;
// PgRemote (pg_remote.hpp) is the storage::Remote the engine uses, over a pool of
// connections, on the same schema (pg_schema.hpp) and the same one-round-trip commit
// (pg_batch.hpp).
//
// One table per key space of storage/db.hpp, named like its LMDB database ("history" for
// Db::hist, "outbox_due" for Db::due), `k bytea PRIMARY KEY, v bytea NOT NULL`, and the
// table bihuan_schema(version) with one row. Tables are unqualified: they live in the
// connection's search_path (a conninfo may set options='-c search_path=...').
//
// Order: bytea compares like memcmp, then the shorter first: LMDB's default key order, so
// seek/next walk the same keys in the same order as storage::Cursor. Keys are 1 to 511
// bytes (LMDB's limit; an empty key is refused by both), values 0 to kMaxValueBytes.
//
// Thread model: a PgStore is one libpq connection and may be used by one thread at a
// time, with one transaction at a time (a PgRead, or a commit); its PgRead and PgCursor
// objects belong to that thread too. Several PgStore objects (in one process or many)
// may work on one database at once: that is PostgreSQL's concurrency.
//
// Errors are sentences naming the server (socket directory or host, port, database, user;
// never the password), the table, the key in hex where there is one, and PostgreSQL's
// message. A lost connection fails the call in progress with such a sentence (never a crash
// or a hang past the timeouts: connect_timeout 10 s and, over TCP, tcp_user_timeout 30 s,
// unless the conninfo sets them); the next read() or commit() reconnects first.
#pragma once

#include <cstddef>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <string_view>

#include "pg/pg_conn.hpp"
#include "storage/db.hpp"

namespace bihuan::pg {

using storage::Db;

// The table of a key space: LMDB's database name ("history" for Db::hist).
const char* table_name(Db db);

// One write of a commit: a put, or a delete (value ignored): the engine's own
// storage::OpRef (storage/db.hpp), so the committer's writes pass through unchanged.
using Write = storage::OpRef;

struct PgOptions {
  std::size_t page_rows = 1000;  // rows a cursor reads per query (at least 1)
  ConnectDefaults connect;
  // PgRemote's pool (pg_remote.hpp): connections kept for reuse, and open at most (at
  // least 1; a caller past it waits for one to be given back).
  std::size_t pool_idle = 8;
  std::size_t pool_max = 32;
};

class PgRead;

class PgStore {
 public:
  // 2: history by month (pg_months.hpp); a version-1 database is converted at open.
  static constexpr int kSchemaVersion = 2;
  static constexpr std::size_t kMaxKeyBytes = 511;                              // LMDB's default
  static constexpr std::size_t kMaxValueBytes = (std::size_t{1} << 30) - 1024;  // bytea: 1 GB

  // Connects and creates the schema if it is absent (under an advisory lock, so several
  // nodes may open a new database at once). nullptr and *error when the server cannot be
  // reached (within the connect timeout), or the database holds a schema version newer
  // than kSchemaVersion (refused, nothing changed), or a statement fails.
  static std::unique_ptr<PgStore> open(const std::string& conninfo, std::string* error,
                                       const PgOptions& options = {});
  ~PgStore();

  // A read transaction: REPEATABLE READ READ ONLY, its snapshot taken at once and kept for
  // its life. nullptr and *error if the connection cannot be (re)made or a transaction of
  // this store is open. End it (destroy it) before the next read() or commit().
  std::unique_ptr<PgRead> read(std::string* error);

  // Applies the n writes (op(0) .. op(n-1), in order: a later write of a key wins) as ONE
  // PostgreSQL transaction, all or nothing, in one round trip (libpq pipeline mode). The
  // views op(i) returns must stay valid until commit returns. false and *error on failure:
  // then nothing was applied, except when *outcome_unknown is set true (the connection was
  // lost after COMMIT was sent: it may or may not have been applied; the caller resolves it,
  // e.g. by its idempotency records). Keys and values out of range are refused before
  // anything is sent. Concurrent commits: rows are locked table by table, each table's
  // deletes (keys sorted) before its puts (keys sorted), so commits that only put the same
  // keys wait for each other; commits that delete and put the same keys crosswise may
  // deadlock, and PostgreSQL then refuses one of them (SQLSTATE 40P01: nothing applied; it
  // may be retried).
  bool commit(std::size_t n, const std::function<Write(std::size_t)>& op, std::string* error,
              bool* outcome_unknown = nullptr);
  bool commit(std::span<const Write> writes, std::string* error, bool* outcome_unknown = nullptr) {
    return commit(
        writes.size(), [&](std::size_t i) { return writes[i]; }, error, outcome_unknown);
  }

  const std::string& server() const { return conn_->server(); }
  // The server process of this connection (pg_terminate_backend in tests).
  int backend_pid() const { return conn_->backend_pid(); }

 private:
  friend class PgRead;
  friend class PgCursor;
  PgStore(std::unique_ptr<Conn> conn, const PgOptions& o) : conn_(std::move(conn)), options_(o) {}
  bool ready(std::string* error);  // reconnects a lost connection; no transaction open
  std::unique_ptr<Conn> conn_;
  PgOptions options_;
  bool in_txn_ = false;  // a PgRead is open
};

class PgCursor;

// A read-only snapshot. Ends (ROLLBACK) when destroyed, which must happen before its
// PgStore is destroyed.
class PgRead {
 public:
  ~PgRead();
  // The value of `key`; nullopt with *error empty: not found; nullopt with *error set: the
  // read failed.
  std::optional<std::string> get(Db db, std::string_view key, std::string* error);
  // A cursor over db in this snapshot (never nullptr); valid while this PgRead lives.
  std::unique_ptr<PgCursor> cursor(Db db);

 private:
  friend class PgStore;
  friend class PgCursor;
  explicit PgRead(PgStore& store) : store_(store) {}
  PgStore& store_;
};

// Walks one table in key order, leveldb-style like storage::Cursor: the positioning calls
// return true when the cursor is on an item, false at the end of the data OR on an error;
// status() tells which ("" at the end; else the error sentence). It reads pages of
// PgOptions::page_rows rows (`WHERE k >= $1 ORDER BY k LIMIT n`, then `k > $last`), so a
// scan holds one page in memory. No prev(): nothing walks a read transaction backwards.
class PgCursor {
 public:
  ~PgCursor();
  bool seek(std::string_view key);  // the first key >= key
  bool first();
  bool last();
  bool next();
  // The current item; valid until the cursor moves.
  std::string_view key() const;
  std::string_view value() const;
  const std::string& status() const { return status_; }

 private:
  friend class PgRead;
  PgCursor(PgRead& read, Db db) : read_(read), db_(db) {}
  // Loads a page: rows after (or from, when `inclusive`) `from`, or from the start when
  // `from` is nullopt; or the last row when `last_row`. true when positioned on a row.
  bool load(std::optional<std::string_view> from, bool inclusive, bool last_row = false);
  PgRead& read_;
  Db db_;
  Result page_;
  int at_ = 0;         // row of page_ the cursor is on
  bool on_ = false;    // on an item
  bool more_ = false;  // rows may follow page_ (it was full)
  std::string status_;
};

}  // namespace bihuan::pg
