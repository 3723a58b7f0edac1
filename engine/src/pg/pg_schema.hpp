// What PgStore and PgRemote share: a connection whose database holds the schema
// (pg_store.hpp, "One table per key space"), and table names in SQL.
#pragma once

#include <memory>
#include <string>

#include "pg/pg_conn.hpp"
#include "storage/db.hpp"

namespace bihuan::pg {

// Serialises schema changes among nodes (creation, conversion, history partitions): an
// advisory lock held until the end of the caller's transaction.
inline constexpr const char* kSchemaLock = "SELECT pg_advisory_xact_lock(8244657926390751026)";

// The table of db, double-quoted for SQL ("\"history\"").
std::string quoted_table(storage::Db db);

// Connects and creates the schema if it is absent, in one transaction under the schema
// lock (PgStore::open's contract). nullptr and *error on failure.
std::unique_ptr<Conn> connect_with_schema(const std::string& conninfo, const ConnectDefaults& d,
                                          std::string* error);

}  // namespace bihuan::pg
