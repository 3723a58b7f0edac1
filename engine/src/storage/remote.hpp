// A store on another server (PostgreSQL: library bihuan_pg, engine/src/pg/) behind the
// same Env, Txn and Cursor faces as LMDB (lmdb_env.hpp; issue 26, docs/design-scale-out.md).
// This header has no third-party include: the engine compiles against it alone, and a
// backend library implements it and registers a factory (register_remote).
//
// Semantics the engine relies on (the same as LMDB's; the PostgreSQL tests check them):
// - Keys are 1 to 511 bytes in memcmp order, then the shorter first; values 0 bytes or more.
// - A read transaction is one snapshot for its life (renew() takes a new one).
// - A write transaction sees its own writes (get and cursors) and is all or nothing. Write
//   transactions and commit() are serialised by one writer lock of the store (LMDB's
//   single writer), held from begin until commit or abort.
// - commit() is one transaction: all of its writes or none; the later write of a key wins.
// Errors are sentences naming the server, the table and the key (never a password).
//
// Threads: Remote is used by any number of threads at once (a pool of connections). A
// RemoteTxn and its cursors belong to the thread that began it, one at a time.
#pragma once

#include <cstddef>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "bihuan/history_month.hpp"
#include "storage/db.hpp"

namespace bihuan::storage {

// Walks one key space in key order, leveldb-style: a positioning call returns true when
// on an item; false at the end OR on an error, and error() tells which ("" at the end).
// key() and value() are valid until the cursor has moved twice more (it keeps the page it
// left), and while its transaction lives.
class RemoteCursor {
 public:
  virtual ~RemoteCursor() = default;
  virtual bool seek(std::string_view key) = 0;  // the first key >= key ("" : the first)
  virtual bool last() = 0;
  virtual bool next() = 0;
  virtual std::string_view key() const = 0;
  virtual std::string_view value() const = 0;
  virtual const std::string& error() const = 0;
};

class RemoteTxn {
 public:
  virtual ~RemoteTxn() = default;  // aborts (ROLLBACK) if not committed
  // true and *value: found. false with *error empty: not found; with *error: failed.
  virtual bool get(Db db, std::string_view key, std::string* value, std::string* error) = 0;
  // Never nullptr; a cursor that cannot read says so in error().
  virtual std::unique_ptr<RemoteCursor> cursor(Db db) = 0;
  // The number of keys in db; nullopt and *error on failure.
  virtual std::optional<std::uint64_t> count(Db db, std::string* error) = 0;
  // Write transactions only. A delete of a missing key is not an error.
  virtual bool put(Db db, std::string_view key, std::string_view value, std::string* error) = 0;
  virtual bool del(Db db, std::string_view key, std::string* error) = 0;
  // Write: COMMIT (false and *error: nothing was applied, or *unknown: the connection was
  // lost after COMMIT was sent). Read: ends the snapshot. Either way the transaction ends.
  virtual bool commit(std::string* error, bool* unknown) = 0;
  // Read transactions only: a new snapshot on the same object; cursors and values read
  // before are invalid after.
  virtual bool renew(std::string* error) = 0;
};

// What a conditional commit expects to find: db/key holding `value` (nullopt: absent).
struct Expect {
  Db db;
  std::string_view key;
  std::optional<std::string_view> value;
};

enum class RemoteOutcome {
  ok,        // applied
  conflict,  // the expectation did not hold: nothing applied
  failed,    // nothing applied; *error says why
  unknown,   // the connection was lost after COMMIT was sent: applied or not
};

// A JSON text kept beside each value put into a key space, for SQL readers of the store
// (Remote::set_projection); nullopt: none (NULL).
using Projection = std::function<std::optional<std::string>(std::string_view value)>;

// A partition of a store's history by month (Remote::history_months).
using HistoryMonth = bihuan::HistoryMonth;

// What hold_turn() found (Remote::hold_turn).
enum class TurnOutcome {
  held,    // this Remote holds the turn now
  busy,    // another holder kept it past the wait: not held
  failed,  // *error says why: not held
  none,    // the store has no turns (one writer, or not implemented): not held
};

class Remote {
 public:
  virtual ~Remote() = default;
  // A read (snapshot) or write transaction; nullptr and *error on failure. A write
  // transaction waits for the writer lock.
  virtual std::unique_ptr<RemoteTxn> begin(bool write, std::string* error) = 0;
  // The n writes op(0) .. op(n-1) as one transaction under the writer lock, in one round
  // trip where the backend can; if `expect` is given and does not hold inside that
  // transaction (after the lock is taken), nothing is applied (conflict).
  virtual RemoteOutcome commit(std::size_t n, const std::function<OpRef(std::size_t)>& op,
                               const Expect* expect, std::string* error) = 0;
  // The writer's turn, for several processes on one store (docs/design-scale-out.md,
  // "Turns"): the store's writer lock held by this Remote ACROSS transactions, so its
  // process executes and commits batch after batch with no other process's commit in
  // between (its snapshots stay current, nothing it executes is refused for a conflict).
  // While held, this Remote's write transactions and commits run inside the turn, one at a
  // time; other Remotes' wait for release_turn(). Nothing relies on the turn for
  // correctness: commits stay conditional (Expect), and a turn lost with its connection
  // (the server ends the session, and with it the lock) only costs re-execution.
  // hold_turn waits at most wait_ms for the lock; held: *value (if given) is db/key as
  // read after the lock was taken (nullopt: absent).
  virtual TurnOutcome hold_turn(int /*wait_ms*/, Db /*db*/, std::string_view /*key*/,
                                std::optional<std::string>* /*value*/, std::string* /*error*/) {
    return TurnOutcome::none;
  }
  // The turn is held (false after it was lost with its connection).
  virtual bool holds_turn() const { return false; }
  // Lets go of the turn (after any transaction inside it ended). No-op when not held.
  virtual void release_turn() {}
  // Another process waits for the turn or the writer lock now (a round trip).
  virtual bool turn_wanted() { return false; }
  // A role of the store ("outbox": who delivers it): true while this Remote holds it.
  // Taken when free, without waiting; one holder at a time; it goes with its holder's
  // session, so a process that dies lets go of it. Default: a store of one process.
  virtual bool hold_role(std::string_view /*name*/) { return true; }
  // History by month (docs/scale-out.md, "History by month"): the smallest log key a step
  // executed at now_ms (engine clock, UTC) is given; the engine raises its next key to it.
  // 0: no floor. Never decreases for a later now_ms on one Remote.
  virtual std::uint64_t history_floor(std::int64_t /*now_ms*/) { return 0; }
  // Retention leaves a removed instance's history entries in the store, to go with their
  // month (detach_history_month), instead of deleting them: readers of the log skip
  // entries of instances not stored (docs/retention.md, "History by month").
  virtual bool keeps_removed_history() const { return false; }
  // The history's months, oldest first; `count`: rows and live too (a scan of each).
  virtual bool history_months(bool /*count*/, std::vector<HistoryMonth>* /*out*/,
                              std::string* error) {
    if (error) *error = describe() + " keeps its history in one table, not by month";
    return false;
  }
  // Detaches month yyyymm (0: the legacy partition) from the history and drops it (`keep`:
  // renames it <table>_detached instead). Refused with a sentence while an instance still
  // stored has an entry there, or when steps are written there (the month of the newest
  // key, or a later one): then *held (if given) is set true.
  virtual bool detach_history_month(int /*yyyymm*/, bool /*keep*/, std::string* error,
                                    bool* /*held*/ = nullptr) {
    if (error) *error = describe() + " keeps its history in one table, not by month";
    return false;
  }
  // SQL for reports (docs/scale-out.md, "SQL for reports"): from now on every put into
  // `db` also stores f(value) beside it (PostgreSQL: `inst.j jsonb`, read through the view
  // bihuan_instances). With `backfill`, values stored without one (written before, or by
  // a Remote without it) are projected here, before it returns. f is called on the
  // committing thread for each put and must be thread-safe. Call it before the first
  // commit. Default: ignored (PostgreSQL projects Db::inst only).
  virtual void set_projection(Db /*db*/, Projection /*f*/, bool /*backfill*/) {}
  // The store for messages: "PostgreSQL at /tmp/x:5432, database d, user u".
  virtual std::string describe() const = 0;
};

// A store named by a URL-like text "scheme:rest" ("postgresql:host=... dbname=..."): the
// factory registered for the scheme opens it. Any thread; a later registration replaces.
using RemoteFactory =
    std::function<std::unique_ptr<Remote>(const std::string& rest, std::string* error)>;
void register_remote(const std::string& scheme, RemoteFactory factory);
// nullptr and *error if no factory has the scheme or it fails.
std::unique_ptr<Remote> open_remote(const std::string& spec, std::string* error);

}  // namespace bihuan::storage
