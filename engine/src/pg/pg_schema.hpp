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

// SQL for reports (schema version 2; docs/scale-out.md, "SQL for reports"): `inst` has a
// column `j jsonb`, the record as JSON (storage::Remote::set_projection), NULL where none
// was given; the partial index inst_unprojected finds those; the view bihuan_instances
// reads it as columns. Run once, when a database is made or converted from version 1.
std::string inst_projection_ddl();
// The statement that puts into db: one row ($1 key, $2 value[, $3 projection]) or `many`
// (unnest of $1 keys, $2 values[, $3 projections] as bytea[]). For `inst` the projection
// is always a parameter: its UTF-8 JSON, or empty for NULL.
std::string put_sql(storage::Db db, bool many);

// Connects and creates the schema if it is absent, in one transaction under the schema
// lock (PgStore::open's contract). nullptr and *error on failure.
std::unique_ptr<Conn> connect_with_schema(const std::string& conninfo, const ConnectDefaults& d,
                                          std::string* error);

}  // namespace bihuan::pg
