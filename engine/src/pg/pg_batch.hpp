// A batch of writes as ONE PostgreSQL transaction in ONE round trip (libpq pipeline mode):
// PgStore::commit and PgRemote::commit (pg_commit.cpp).
//
// The writes are collapsed to the last one per (table, key), then sent per table, tables in
// enum order and keys sorted (two committers lock rows in the same order, so they wait
// for each other rather than deadlock), as
//   DELETE FROM t WHERE k = ANY($1::bytea[])
//   INSERT INTO t (k, v) SELECT * FROM unnest($1::bytea[], $2::bytea[])
//     ON CONFLICT (k) DO UPDATE SET v = EXCLUDED.v
// between BEGIN and COMMIT. Guards may run first, right after BEGIN: a lock statement
// (PgRemote's writer lock), then an expectation check
//   SELECT 1 / (CASE WHEN (SELECT v FROM t WHERE k = $1) IS NOT DISTINCT FROM $2
//               THEN 1 ELSE 0 END)
// ($2 NULL: "absent"), whose division_by_zero (SQLSTATE 22012) is the conflict; only that
// statement's 22012 counts as one. Everything is sent, then one Sync, then the results are
// read. A failed statement makes the server skip the rest (COMMIT included) up to the
// Sync, and we roll back: nothing is applied.
#pragma once

#include <cstddef>
#include <functional>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "pg/pg_conn.hpp"
#include "pg/pg_store.hpp"
#include "storage/remote.hpp"

namespace bihuan::pg {

enum class BatchOutcome {
  ok,        // committed
  conflict,  // the expectation did not hold: nothing applied
  failed,    // nothing applied
  unknown,   // the connection was lost after COMMIT was sent
};

// One parameter of a statement: bytes (or NULL) of a type.
struct BatchArg {
  std::string bytes;
  bool null = false;
  unsigned oid = kByteaArrayOid;
};

struct BatchStatement {
  std::string sql;
  std::vector<BatchArg> args;
  std::string what;          // for messages: "3 puts into table inst (keys 0001 .. 0009)"
  bool expectation = false;  // the expectation check: its 22012 is the conflict
};

// A one-dimensional bytea[] in PostgreSQL's binary array format (no NULL elements).
BatchArg bytea_array(const std::vector<std::string_view>& items);

class Batch {
 public:
  // Plans the n writes op(0) .. op(n-1) (the views must stay valid until run returns).
  // "" or why a write is refused (a key or value out of range): then nothing may be sent.
  // `inst_json` (may be null): the projection of each put into inst (pg_schema.hpp,
  // put_sql), called here.
  std::string plan(std::size_t n, const std::function<Write(std::size_t)>& op,
                   const storage::Projection* inst_json = nullptr);
  // Guards, run first in this order after BEGIN: `lock_sql` (a statement without
  // parameters, "" for none), then expect->db/key must hold expect->value (nullopt: be
  // absent; nullptr: no check). Copies what it needs.
  void guard(const std::string& lock_sql, const storage::Expect* expect);
  // Nothing to send (no writes, no guards).
  bool empty() const { return stmts_.empty(); }
  // Sends it all on conn (no transaction open on it) and reads the results. *error: a
  // sentence naming conn's server, for every outcome but ok. *lost_at_begin: the
  // connection turned out to be gone at BEGIN (nothing ran; another connection may retry).
  BatchOutcome run(Conn& conn, std::string* error, bool* lost_at_begin = nullptr);

 private:
  std::size_t writes_ = 0;  // n, for messages
  std::vector<BatchStatement> stmts_;
};

}  // namespace bihuan::pg
