// Private to the runtime: upgrades of older storage formats (docs/storage.md). "Migrate"
// means moving instances between definition versions (step_migrate.cpp, migration_plan.cpp).
#pragma once

#include <cstdint>
#include <string>

#include "storage/lmdb_env.hpp"

namespace bihuan::runtime {

// Rewrites the data of storage format `from` (older than the current one) into the
// current format inside `txn`, and records the new format in `meta`. Returns an LMDB
// code (MDB_MAP_FULL: grow the map and run it again on a fresh transaction) and, on a
// problem that is not LMDB's, a sentence in *error with a nonzero result.
int upgrade_format(storage::Txn& txn, std::uint32_t from, std::string* error);

}  // namespace bihuan::runtime
