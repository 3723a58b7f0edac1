// Makes the PostgreSQL store known to storage::open_remote (storage/remote.hpp): after
// enable(), the spec "postgresql:<conninfo>" opens a PgRemote (pg_remote.hpp) with
// <conninfo> as the libpq connection string ("postgresql:host=/run/pg dbname=bihuan"), and
// "postgresql://user@host/db" is taken whole as a libpq URI. Default PgOptions.
// Idempotent; any thread.
#pragma once

namespace bihuan::pg {

void enable();

}  // namespace bihuan::pg
