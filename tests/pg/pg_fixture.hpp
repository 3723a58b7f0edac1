// What the PgStore tests share: a fresh database per test on the binary's real server
// (pg_server.hpp), a second connection for what a test does behind the store's back, and
// a full scan.
#pragma once

#include <gtest/gtest.h>
#include <libpq-fe.h>

#include <string>
#include <utility>
#include <vector>

#include "pg/pg_server.hpp"
#include "pg/pg_store.hpp"

namespace bihuan::pg::test {

using Rows = std::vector<std::pair<std::string, std::string>>;

// Another connection to the test's database (libpq, text results).
class Admin {
 public:
  explicit Admin(const std::string& conninfo) : c_(PQconnectdb(conninfo.c_str())) {}
  ~Admin() { PQfinish(c_); }
  bool ok() const { return PQstatus(c_) == CONNECTION_OK; }
  // Runs sql; its first value as text ("" when none); *error when it fails.
  std::string exec(const std::string& sql, std::string* error = nullptr) {
    PGresult* r = PQexec(c_, sql.c_str());
    auto st = PQresultStatus(r);
    std::string out;
    if (st != PGRES_COMMAND_OK && st != PGRES_TUPLES_OK) {
      std::string why = PQresultErrorMessage(r);
      if (error)
        *error = why;
      else
        ADD_FAILURE() << sql << ": " << why;
    } else if (PQntuples(r) > 0 && PQnfields(r) > 0) {
      out = PQgetvalue(r, 0, 0);
    }
    PQclear(r);
    return out;
  }

 private:
  PGconn* c_;
};

// Deferred constraint triggers that run at COMMIT: an insert into `dead` makes the commit
// fail (nothing applied); an insert into `gone` ends the session inside it (the outcome
// is unknown to the client).
inline void install_commit_traps(Admin& admin) {
  admin.exec(
      "CREATE FUNCTION refuse() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN RAISE EXCEPTION "
      "'refused at commit'; END $$");
  admin.exec(
      "CREATE CONSTRAINT TRIGGER refuse AFTER INSERT ON dead DEFERRABLE INITIALLY DEFERRED FOR "
      "EACH ROW EXECUTE FUNCTION refuse()");
  admin.exec(
      "CREATE FUNCTION die() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN PERFORM "
      "pg_terminate_backend(pg_backend_pid()); PERFORM pg_sleep(5); RETURN NULL; END $$");
  admin.exec(
      "CREATE CONSTRAINT TRIGGER die AFTER INSERT ON gone DEFERRABLE INITIALLY DEFERRED FOR EACH "
      "ROW EXECUTE FUNCTION die()");
}

class PgStoreTest : public ::testing::Test {
 protected:
  void SetUp() override {
    auto& server = PgServer::get();
    ASSERT_TRUE(server.ok()) << server.error();
    std::string error;
    conninfo_ = server.create_database(&error);
    ASSERT_FALSE(conninfo_.empty()) << error;
  }
  std::unique_ptr<PgStore> open(const PgOptions& o = {}) {
    std::string error;
    auto s = PgStore::open(conninfo_, &error, o);
    EXPECT_TRUE(s) << error;
    return s;
  }
  std::string conninfo_;
};

// Every row of db in the store's snapshot now, through a cursor (first, next).
inline Rows scan(PgStore& store, Db db, std::string* error = nullptr) {
  std::string why;
  auto read = store.read(&why);
  Rows rows;
  if (!read) {
    ADD_FAILURE() << why;
    return rows;
  }
  auto c = read->cursor(db);
  for (bool on = c->first(); on; on = c->next()) rows.emplace_back(c->key(), c->value());
  if (error)
    *error = c->status();
  else
    EXPECT_EQ(c->status(), "");
  return rows;
}

inline bool commit(PgStore& store, const std::vector<Write>& writes, std::string* error) {
  return store.commit(writes, error);
}

}  // namespace bihuan::pg::test
