// Which store a parameterised suite runs on (the engine's, the food-safety workflows' and the
// HTTP API's fixtures): LMDB, or with BIHUAN_TEST_STORE=postgres (ctest's `pg:*` passes) a
// fresh database per test on the test binary's own PostgreSQL (pg_server.hpp). The binary
// links bihuan_pg and bihuan_test_pgserver.
#pragma once

#include <gtest/gtest.h>

#include <cstdlib>
#include <string>
#include <string_view>

#include "bihuan/postgres.hpp"
#include "pg/pg_server.hpp"

namespace bihuan::testing {

// The suite's store: true when BIHUAN_TEST_STORE=postgres, else LMDB.
inline bool on_pg() {
  const char* s = std::getenv("BIHUAN_TEST_STORE");
  return s && std::string_view(s) == "postgres";
}

// EngineOptions::store for a new test: a fresh PostgreSQL database, or "" (LMDB in the
// data directory). A server that cannot be started fails the test.
inline std::string fresh_store() {
  if (!on_pg()) return {};
  enable_postgres();
  auto& server = pg::test::PgServer::get();
  EXPECT_TRUE(server.ok()) << server.error();
  std::string error;
  std::string conninfo = server.create_database(&error);
  EXPECT_FALSE(conninfo.empty()) << error;
  return "postgresql:" + conninfo;
}

}  // namespace bihuan::testing

// A test about LMDB's own files (or Bihuan's own backup of them) skips itself on
// PostgreSQL.
#define SKIP_ON_PG(why) \
  if (::bihuan::testing::on_pg()) GTEST_SKIP() << "LMDB only: " << (why)
