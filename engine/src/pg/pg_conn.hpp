// One libpq connection with binary parameters and results (libpq-fe.h is included by
// pg_conn.cpp, and by pg_commit.cpp for pipeline mode; no header of engine/src/pg/ includes
// it).
//
// Every statement is sent with PQexecParams in binary format (parameters and results):
// bytea travels as its bytes, never escaped as text. Errors are sentences that name the
// server (host or socket directory, port, database and user: never the password) and
// PostgreSQL's own message with its SQLSTATE. One thread at a time.
#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>
#include <span>
#include <string>
#include <string_view>
#include <utility>

#include "storage/hex.hpp"

struct pg_conn;
struct pg_result;

namespace bihuan::pg {

// PostgreSQL type oids of the parameters we send.
inline constexpr unsigned kByteaOid = 17;
inline constexpr unsigned kByteaArrayOid = 1001;

// One binary parameter: its bytes and its type oid.
struct Param {
  std::string_view bytes;
  unsigned oid = kByteaOid;
};

// The result of one statement; owns the PGresult. ok() is false when the statement
// failed or none came back (a lost connection): error() then says why.
class Result {
 public:
  Result() = default;
  explicit Result(pg_result* r) : r_(r) {}
  bool ok() const;
  int rows() const;
  // The binary value of (row, col); empty for NULL. Valid while this Result lives.
  std::string_view value(int row, int col) const;
  // PostgreSQL's message and SQLSTATE ("relation \"x\" does not exist (SQLSTATE 42P01)"),
  // or `fallback` (the connection's message) when there is no result.
  std::string error(std::string_view fallback) const;
  // The SQLSTATE of a failed statement ("22012"), "" when there is none.
  std::string sqlstate() const;
  // The command tag ("COMMIT", "ROLLBACK", "INSERT 0 1"), "" when there is no result.
  std::string command() const;
  pg_result* raw() const { return r_.get(); }

 private:
  struct Clear {
    void operator()(pg_result* r) const;
  };
  std::unique_ptr<pg_result, Clear> r_;
};

// Defaults for the connection parameters the caller's conninfo does not set.
struct ConnectDefaults {
  int connect_timeout_s = 10;       // libpq connect_timeout (0: wait forever)
  int tcp_user_timeout_ms = 30000;  // TCP only: a dead peer fails a call after this
  // The server cancels a statement that runs longer (a database that hangs without dying,
  // a lock held by hand): libpq `options=-c statement_timeout=...`, unless the conninfo
  // sets `options` itself. 0: none. Bihuan's own long maintenance (a version-1 history's
  // conversion, a month's detach check, counting a month) lifts it for its transaction.
  int statement_timeout_ms = 60000;
};

class Conn {
 public:
  // Connects with `conninfo` (a libpq keyword/value string or URI). nullptr and *error
  // (the server and libpq's message) when it fails, within connect_timeout_s.
  static std::unique_ptr<Conn> connect(const std::string& conninfo, const ConnectDefaults& d,
                                       std::string* error);
  ~Conn();
  Conn(const Conn&) = delete;
  Conn& operator=(const Conn&) = delete;

  // "PostgreSQL at socket /tmp/x port 5432, database d, user u": the prefix of every error.
  const std::string& server() const { return server_; }
  // One statement, binary parameters and results.
  Result exec(std::string_view sql, std::span<const Param> params = {});
  // One or more statements without parameters (text protocol, results discarded).
  // false and *error (PostgreSQL's message) when any fails.
  bool run(std::string_view sql, std::string* error);
  // One or more statements without parameters in one round trip (text protocol): the
  // last statement's result, or the first failure's.
  Result query(std::string_view sql);
  // libpq's last message, trimmed.
  std::string last_error() const;
  // The connection is gone (the server closed it or the socket failed), or the server has
  // said it is ending the session (a FATAL message that arrived between statements).
  bool broken() const;
  // PQtransactionStatus: idle (no transaction open), or not.
  bool idle() const;
  // A transaction is open and a statement in it failed (it can only roll back).
  bool failed_txn() const;
  // Reads what the server sent while the connection sat unused, without waiting: false
  // when that shows the connection is gone (pg_terminate_backend, a server restart). No
  // round trip; a connection that died silently still looks alive.
  bool alive();
  // Reconnects with the same parameters. false and *error when it fails.
  bool reset(std::string* error);
  int backend_pid() const;
  pg_conn* raw() const { return conn_; }

 private:
  Conn(pg_conn* c, std::string server) : conn_(c), server_(std::move(server)) {}
  static void on_notice(void* self, const pg_result* r);
  pg_conn* conn_;
  bool doomed_ = false;  // a FATAL or PANIC came as a notice: the session is ending
  std::string server_;
};

// Keys in messages: lower-case hex of their first 64 bytes, "..." when cut.
inline std::string hex(std::string_view bytes) { return storage::hex(bytes, 64); }

}  // namespace bihuan::pg
