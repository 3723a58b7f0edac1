// bihuan/postgres.hpp: the public switch that makes "postgresql:<conninfo>" a store.
#include "bihuan/postgres.hpp"

#include "pg/pg_enable.hpp"

namespace bihuan {

void enable_postgres() { pg::enable(); }

}  // namespace bihuan
