// PostgreSQL as the engine's store (issue 26; docs/design-scale-out.md).
//
// A program that links the library bihuan_pg calls enable_postgres() once (any thread,
// idempotent) before Engine::open with EngineOptions::store = "postgresql:<conninfo>",
// where <conninfo> is a libpq connection string ("host=/run/postgresql dbname=bihuan",
// or a URI "postgresql://user@host/db"). Without it, such a store is refused by name.
#pragma once

namespace bihuan {

void enable_postgres();

}  // namespace bihuan
