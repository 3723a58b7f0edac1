// A real PostgreSQL 15 for the tests of this binary: initdb into a temporary directory
// under /tmp, then `postgres` listening on a Unix socket in that directory only (no TCP).
// Started on first use, stopped (fast shutdown) and removed when the tests end; if this
// process dies, the server gets SIGQUIT (PR_SET_PDEATHSIG) and stops too.
//
// PostgreSQL refuses to run as root: when this process is root (CI), initdb and postgres
// run as the system user `postgres` (Debian's postgresql-common makes it), which owns the
// directory; this process connects over the socket either way, as the database role
// `postgres` (initdb -U postgres, trust authentication for local connections).
//
// The programs are looked for in $BIHUAN_PG_BIN, else /usr/lib/postgresql/15/bin; when
// they are missing the tests fail with a message that says to run scripts/setup.sh.
#pragma once

#include <sys/types.h>
#include <string>

namespace bihuan::pg::test {

class PgServer {
 public:
  // The server of this process, started on first call (its failure is kept: ok(), error()).
  static PgServer& get();
  bool ok() const { return error_.empty(); }
  const std::string& error() const { return error_; }
  // A libpq conninfo for database `db` as role postgres over the socket.
  std::string conninfo(const std::string& db = "postgres") const;
  // Creates a new, empty database and returns its conninfo; "" and *error on failure.
  std::string create_database(std::string* error);
  const std::string& socket_dir() const { return dir_; }
  int port() const { return port_; }
  // Stops the server and removes its directory (idempotent).
  void stop();

 private:
  PgServer() = default;
  void start();
  std::string dir_;  // the temporary directory: data/ in it, the socket, the logs
  int port_ = 0;
  pid_t pid_ = -1;  // the postmaster
  std::string error_;
  int databases_ = 0;
};

}  // namespace bihuan::pg::test
