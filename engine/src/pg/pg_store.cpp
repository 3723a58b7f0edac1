// PgStore's connection and schema, reads and cursors (the commit is in pg_commit.cpp).
#include "pg/pg_store.hpp"

#include <algorithm>

#include "pg/pg_months.hpp"
#include "pg/pg_schema.hpp"

namespace bihuan::pg {
namespace {

// LMDB's database names (storage::db_name; tests/pg checks that they agree).
const char* kTables[] = {"meta",   "defs", "inst",   "history",  "bkey",       "idem",
                         "timers", "sidx", "outbox", "children", "outbox_due", "dead",
                         "ridx",   "uidx", "gone",   "attref"};
static_assert(sizeof(kTables) / sizeof(kTables[0]) == static_cast<unsigned>(Db::count_));

// Creates what is absent; refuses a newer version. In the caller's transaction.
bool ensure_schema(Conn& c, std::string* error) {
  auto fail = [&](const std::string& what, const std::string& why) {
    if (error) *error = c.server() + ": " + what + ": " + why;
    return false;
  };
  std::string why;
  if (!c.run(kSchemaLock, &why)) return fail("cannot take the schema lock", why);
  Result exists = c.exec("SELECT to_regclass('bihuan_schema') IS NOT NULL");
  if (!exists.ok() || exists.rows() != 1)
    return fail("cannot look for table bihuan_schema", exists.error(c.last_error()));
  bool fresh = exists.value(0, 0) == std::string_view("\0", 1);  // binary bool: 0 or 1
  int version = PgStore::kSchemaVersion;
  if (!fresh) {
    Result v = c.exec("SELECT version FROM bihuan_schema");
    if (!v.ok()) return fail("cannot read table bihuan_schema", v.error(c.last_error()));
    if (v.rows() != 1)
      return fail("table bihuan_schema is damaged",
                  "it holds " + std::to_string(v.rows()) + " rows, expected one (the version)");
    std::string_view b = v.value(0, 0);
    if (b.size() != 4) return fail("table bihuan_schema is damaged", "its version is not an int");
    std::uint32_t stored = 0;
    for (unsigned char ch : b) stored = (stored << 8) | ch;
    version = static_cast<int>(stored);
    if (version < 1)
      return fail("table bihuan_schema is damaged",
                  "its version is " + std::to_string(version) + ", expected 1 or more");
    if (version > PgStore::kSchemaVersion)
      return fail("refusing the database", "its schema version is " + std::to_string(version) +
                                               ", newer than this build's " +
                                               std::to_string(PgStore::kSchemaVersion) +
                                               " (upgrade Bihuan)");
  }
  // Version 2 keeps the history by month (pg_months.hpp): a version-1 table becomes its
  // legacy partition.
  std::string ddl;
  if (fresh)
    ddl += new_history_ddl();
  else if (version == 1)
    ddl += convert_history_ddl();
  for (unsigned i = 0; i < static_cast<unsigned>(Db::count_); ++i)
    if (static_cast<Db>(i) != Db::hist)
      ddl += "CREATE TABLE IF NOT EXISTS " + quoted_table(static_cast<Db>(i)) +
             " (k bytea PRIMARY KEY, v bytea NOT NULL);\n";
  if (fresh || version == 1) ddl += inst_projection_ddl();
  if (!c.run(ddl, &why))
    return fail(version == 1 ? "cannot convert the schema from version 1 to 2 (history by month)"
                             : "cannot create the tables",
                why);
  return true;
}

}  // namespace

const char* table_name(Db db) {
  auto i = static_cast<unsigned>(db);
  return i < static_cast<unsigned>(Db::count_) ? kTables[i] : "(no such key space)";
}

std::string quoted_table(Db db) { return std::string("\"") + table_name(db) + "\""; }

std::string inst_projection_ddl() {
  return "ALTER TABLE \"inst\" ADD COLUMN j jsonb;\n"
         "CREATE INDEX inst_unprojected ON \"inst\" (k) WHERE j IS NULL;\n"
         "CREATE VIEW bihuan_instances AS SELECT encode(k, 'hex') AS id, "
         "j->>'definition' AS definition, (j->>'definitionVersion')::bigint AS "
         "definition_version, j->>'state' AS state, j->>'status' AS status, "
         "(j->>'version')::bigint AS version, j->>'businessKey' AS business_key, "
         "j->>'unit' AS unit, j->>'outcome' AS outcome, j->>'parent' AS parent, "
         "(j->>'created')::timestamptz AS created, (j->>'updated')::timestamptz AS updated, "
         "j->'data' AS data, j->'readers' AS readers FROM \"inst\";\n";
}

std::string put_sql(Db db, bool many) {
  // inst's projection: UTF-8 JSON as bytea, empty for NULL.
  auto json = [](const char* bytes) {
    return std::string("convert_from(NULLIF(") + bytes + ", ''::bytea), 'UTF8')::jsonb";
  };
  std::string columns = " (k, v) ", rows, update = " ON CONFLICT (k) DO UPDATE SET v = EXCLUDED.v";
  if (db != Db::inst) {
    rows = many ? "SELECT * FROM unnest($1::bytea[], $2::bytea[])" : "VALUES ($1, $2)";
  } else {
    columns = " (k, v, j) ";
    rows = many ? "SELECT u.k, u.v, " + json("u.j") +
                      " FROM unnest($1::bytea[], $2::bytea[], $3::bytea[]) AS u(k, v, j)"
                : "VALUES ($1, $2, " + json("$3") + ")";
    update += ", j = EXCLUDED.j";
  }
  return "INSERT INTO " + quoted_table(db) + columns + rows + update;
}

std::unique_ptr<Conn> connect_with_schema(const std::string& conninfo, const ConnectDefaults& d,
                                          std::string* error) {
  auto conn = Conn::connect(conninfo, d, error);
  if (!conn) return nullptr;
  std::string why;
  // A version-1 history's conversion scans it: no statement timeout for this transaction.
  if (!conn->run("BEGIN; SET LOCAL statement_timeout = 0", &why)) {
    if (error) *error = conn->server() + ": cannot begin the schema transaction: " + why;
    return nullptr;
  }
  if (!ensure_schema(*conn, error)) {
    conn->run("ROLLBACK", nullptr);
    return nullptr;
  }
  if (!conn->run("COMMIT", &why)) {
    if (error) *error = conn->server() + ": cannot commit the schema: " + why;
    return nullptr;
  }
  return conn;
}

std::unique_ptr<PgStore> PgStore::open(const std::string& conninfo, std::string* error,
                                       const PgOptions& options) {
  auto conn = connect_with_schema(conninfo, options.connect, error);
  if (!conn) return nullptr;
  PgOptions o = options;
  o.page_rows = std::max<std::size_t>(o.page_rows, 1);
  return std::unique_ptr<PgStore>(new PgStore(std::move(conn), o));
}

PgStore::~PgStore() = default;

bool PgStore::ready(std::string* error) {
  if (in_txn_) {
    if (error)
      *error = server() +
               ": a read transaction of this PgStore is open (one transaction at a time on "
               "its connection): end it first";
    return false;
  }
  if (conn_->broken() && !conn_->reset(error)) return false;
  if (!conn_->idle()) {
    std::string why;
    if (!conn_->run("ROLLBACK", &why)) {
      if (error) *error = server() + ": cannot end an earlier transaction: " + why;
      return false;
    }
  }
  return true;
}

std::unique_ptr<PgRead> PgStore::read(std::string* error) {
  if (!ready(error)) return nullptr;
  // SELECT 1 takes the snapshot now, not at the first read.
  std::string why;
  if (!conn_->run("BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY; SELECT 1", &why)) {
    if (error) *error = server() + ": cannot begin a read transaction: " + why;
    conn_->run("ROLLBACK", nullptr);
    return nullptr;
  }
  in_txn_ = true;
  return std::unique_ptr<PgRead>(new PgRead(*this));
}

PgRead::~PgRead() {
  if (!store_.conn_->broken()) store_.conn_->run("ROLLBACK", nullptr);
  store_.in_txn_ = false;
}

std::optional<std::string> PgRead::get(Db db, std::string_view key, std::string* error) {
  if (error) error->clear();
  Conn& c = *store_.conn_;
  Param p[] = {{key, kByteaOid}};
  Result r = c.exec("SELECT v FROM " + quoted_table(db) + " WHERE k = $1", p);
  if (!r.ok()) {
    if (error)
      *error = c.server() + ": cannot read key " + hex(key) + " of table " + table_name(db) + ": " +
               r.error(c.last_error());
    return std::nullopt;
  }
  if (r.rows() == 0) return std::nullopt;
  return std::string(r.value(0, 0));
}

std::unique_ptr<PgCursor> PgRead::cursor(Db db) {
  return std::unique_ptr<PgCursor>(new PgCursor(*this, db));
}

PgCursor::~PgCursor() = default;

std::string_view PgCursor::key() const { return on_ ? page_.value(at_, 0) : std::string_view(); }
std::string_view PgCursor::value() const { return on_ ? page_.value(at_, 1) : std::string_view(); }

bool PgCursor::load(std::optional<std::string_view> from, bool inclusive, bool last_row) {
  Conn& c = *read_.store_.conn_;
  std::size_t limit = last_row ? 1 : read_.store_.options_.page_rows;
  std::string sql = "SELECT k, v FROM " + quoted_table(db_);
  if (from) sql += inclusive ? " WHERE k >= $1" : " WHERE k > $1";
  sql += last_row ? " ORDER BY k DESC" : " ORDER BY k";
  sql += " LIMIT " + std::to_string(limit);
  Param p[] = {{from.value_or(std::string_view()), kByteaOid}};
  Result r = c.exec(sql, std::span<const Param>(p, from ? 1 : 0));
  on_ = false;
  if (!r.ok()) {
    status_ = c.server() + ": cannot read table " + table_name(db_) +
              (from ? " from key " + hex(*from) : std::string(" from its start")) + ": " +
              r.error(c.last_error());
    page_ = Result();
    more_ = false;
    return false;
  }
  status_.clear();
  page_ = std::move(r);
  at_ = 0;
  more_ = !last_row && static_cast<std::size_t>(page_.rows()) == limit;
  on_ = page_.rows() > 0;
  return on_;
}

bool PgCursor::seek(std::string_view key) { return load(key, true); }
bool PgCursor::first() { return load(std::nullopt, true); }
bool PgCursor::last() { return load(std::nullopt, true, /*last_row=*/true); }

bool PgCursor::next() {
  if (!on_) return false;  // at the end, or after an error (status() still says which)
  if (at_ + 1 < page_.rows()) {
    ++at_;
    return true;
  }
  if (!more_) {  // a short page ends the table (in this snapshot), as does last()'s row
    on_ = false;
    return false;
  }
  // The key the next page starts after lives in the page that load() replaces: copy it.
  std::string after(page_.value(at_, 0));
  return load(std::string_view(after), false);
}

}  // namespace bihuan::pg
