// PgRemoteTxn and PgRemoteCursor (pg_remote_txn.hpp).
#include "pg/pg_remote_txn.hpp"

#include "pg/pg_schema.hpp"
#include "pg/pg_store.hpp"

namespace bihuan::pg {

using storage::Db;

namespace {

// The snapshot of a read transaction, taken at once (SELECT 1).
constexpr const char* kRemoteReadBegin =
    "BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY; SELECT 1";

}  // namespace

PgRemoteTxn::~PgRemoteTxn() {
  if (!ended_ && !lease_->broken() && !lease_->idle()) lease_->run("ROLLBACK", nullptr);
}

std::string PgRemoteTxn::unusable() const {
  if (!ended_) return "";
  return lease_->server() + ": the transaction has ended (" + ended_why_ + ")";
}

bool PgRemoteTxn::get(Db db, std::string_view key, std::string* value, std::string* error) {
  if (error) error->clear();
  if (std::string why = unusable(); !why.empty()) {
    if (error) *error = why;
    return false;
  }
  Conn& c = *lease_;
  Param p[] = {{key, kByteaOid}};
  Result r = c.exec("SELECT v FROM " + quoted_table(db) + " WHERE k = $1", p);
  if (!r.ok()) {
    if (error)
      *error = c.server() + ": cannot read key " + hex(key) + " of table " + table_name(db) + ": " +
               r.error(c.last_error());
    return false;
  }
  if (r.rows() == 0) return false;
  if (value) value->assign(r.value(0, 0));
  return true;
}

std::unique_ptr<storage::RemoteCursor> PgRemoteTxn::cursor(Db db) {
  return std::make_unique<PgRemoteCursor>(*this, db);
}

std::optional<std::uint64_t> PgRemoteTxn::count(Db db, std::string* error) {
  if (std::string why = unusable(); !why.empty()) {
    if (error) *error = why;
    return std::nullopt;
  }
  Conn& c = *lease_;
  Result r = c.exec("SELECT count(*) FROM " + quoted_table(db));
  if (!r.ok() || r.rows() != 1 || r.value(0, 0).size() != 8) {
    if (error)
      *error = c.server() + ": cannot count the keys of table " + table_name(db) + ": " +
               (r.ok() ? std::string("an unexpected answer") : r.error(c.last_error()));
    return std::nullopt;
  }
  std::uint64_t n = 0;
  for (unsigned char ch : r.value(0, 0)) n = (n << 8) | ch;  // binary int8, big-endian
  return n;
}

std::string PgRemoteTxn::refuse_write(const char* verb, Db db, std::string_view key,
                                      std::size_t value_bytes) const {
  std::string head = lease_->server() + ": cannot " + verb + " key " + hex(key) + " of table " +
                     table_name(db) + ": ";
  if (std::string why = unusable(); !why.empty()) return why;
  if (!write_) return head + "this is a read transaction";
  if (key.empty() || key.size() > PgStore::kMaxKeyBytes)
    return head + "the key has " + std::to_string(key.size()) + " bytes, expected 1 to " +
           std::to_string(PgStore::kMaxKeyBytes) + " (LMDB's limits)";
  if (value_bytes > PgStore::kMaxValueBytes)
    return head + "the value has " + std::to_string(value_bytes) + " bytes, more than bytea holds";
  return "";
}

bool PgRemoteTxn::put(Db db, std::string_view key, std::string_view value, std::string* error) {
  if (std::string why = refuse_write("put", db, key, value.size()); !why.empty()) {
    if (error) *error = why;
    return false;
  }
  ++writes_;
  Conn& c = *lease_;
  std::string projected;
  if (db == Db::inst && inst_json_ && *inst_json_) projected = (*inst_json_)(value).value_or("");
  Param p[] = {{key, kByteaOid}, {value, kByteaOid}, {projected, kByteaOid}};
  Result r = c.exec(put_sql(db, /*many=*/false), std::span<const Param>(p, db == Db::inst ? 3 : 2));
  if (r.ok()) return true;
  if (error)
    *error = c.server() + ": cannot put key " + hex(key) + " of table " + table_name(db) + ": " +
             r.error(c.last_error());
  return false;
}

bool PgRemoteTxn::del(Db db, std::string_view key, std::string* error) {
  if (std::string why = refuse_write("delete", db, key, 0); !why.empty()) {
    if (error) *error = why;
    return false;
  }
  ++writes_;
  Conn& c = *lease_;
  Param p[] = {{key, kByteaOid}};
  Result r = c.exec("DELETE FROM " + quoted_table(db) + " WHERE k = $1", p);
  if (r.ok()) return true;
  if (error)
    *error = c.server() + ": cannot delete key " + hex(key) + " of table " + table_name(db) + ": " +
             r.error(c.last_error());
  return false;
}

bool PgRemoteTxn::commit(std::string* error, bool* unknown) {
  if (unknown) *unknown = false;
  if (std::string why = unusable(); !why.empty()) {
    if (error) *error = why;
    return false;
  }
  ended_ = true;
  ended_why_ = "committed";
  Conn& c = *lease_;
  if (!write_) {  // ends the snapshot; nothing to lose if that fails
    if (!c.broken()) c.run("ROLLBACK", nullptr);
    return true;
  }
  const std::string head = c.server() + ": commit of a write transaction failed: ";
  if (!c.alive()) {  // the session ended before COMMIT was sent (no round trip to tell)
    if (error)
      *error = head + "the connection had been lost: " + c.last_error() + "; nothing was applied";
    return false;
  }
  if (c.failed_txn()) {
    c.run("ROLLBACK", nullptr);
    if (error) *error = head + "a statement of the transaction had failed; nothing was applied";
    return false;
  }
  Result r = c.exec("COMMIT");
  if (r.ok() && r.command() == "COMMIT") return true;
  if (c.broken()) {
    if (unknown) *unknown = true;
    if (error)
      *error = c.server() + ": commit of a write transaction: the connection was lost: " +
               r.error(c.last_error()) +
               "; COMMIT had been sent, so it may or may not have been applied";
    return false;
  }
  if (!c.idle()) c.run("ROLLBACK", nullptr);
  if (error)
    *error = head + "COMMIT: " + (r.ok() ? "answered " + r.command() : r.error(c.last_error())) +
             "; nothing was applied";
  return false;
}

bool PgRemoteTxn::renew(std::string* error) {
  if (std::string why = unusable(); !why.empty()) {
    if (error) *error = why;
    return false;
  }
  Conn& c = *lease_;
  if (write_) {
    if (error) *error = c.server() + ": renew() is for read transactions only";
    return false;
  }
  std::string why;
  if (c.run(std::string("ROLLBACK; ") + kRemoteReadBegin, &why)) return true;
  // Never read outside a snapshot: the transaction ends.
  if (!c.broken() && !c.idle()) c.run("ROLLBACK", nullptr);
  ended_ = true;
  ended_why_ = "renew failed: " + why;
  if (error) *error = c.server() + ": cannot renew a read transaction: " + why;
  return false;
}

std::string_view PgRemoteCursor::key() const {
  return on_ ? page_.value(at_, 0) : std::string_view();
}
std::string_view PgRemoteCursor::value() const {
  return on_ ? page_.value(at_, 1) : std::string_view();
}

bool PgRemoteCursor::load(std::optional<std::string_view> from, bool inclusive, bool last_row) {
  Conn& c = txn_.conn();
  std::size_t limit = last_row ? 1 : txn_.page_rows();
  Result r;
  std::string why = txn_.unusable();
  if (why.empty()) {
    std::string sql = "SELECT k, v FROM " + quoted_table(db_);
    if (from) sql += inclusive ? " WHERE k >= $1" : " WHERE k > $1";
    sql += last_row ? " ORDER BY k DESC" : " ORDER BY k";
    sql += " LIMIT " + std::to_string(limit);
    Param p[] = {{from.value_or(std::string_view()), kByteaOid}};
    seen_ = txn_.writes();
    r = c.exec(sql, std::span<const Param>(p, from ? 1 : 0));
    if (!r.ok())
      why = c.server() + ": cannot read table " + table_name(db_) +
            (from ? " from key " + hex(*from) : std::string(" from its start")) + ": " +
            r.error(c.last_error());
  }
  // The page left stays readable until the next load (key() and value() outlive one move).
  prev_ = std::move(page_);
  on_ = false;
  more_ = false;
  at_ = 0;
  if (!why.empty()) {
    error_ = why;
    page_ = Result();
    return false;
  }
  error_.clear();
  page_ = std::move(r);
  more_ = !last_row && static_cast<std::size_t>(page_.rows()) == limit;
  on_ = page_.rows() > 0;
  return on_;
}

bool PgRemoteCursor::seek(std::string_view key) { return load(key, true); }
bool PgRemoteCursor::last() { return load(std::nullopt, true, /*last_row=*/true); }

bool PgRemoteCursor::next() {
  if (!on_) return false;  // at the end, or after an error (error() still says which)
  if (seen_ != txn_.writes()) {
    // Its transaction wrote since this page was read: read again after the current key
    // (copied: the page holding it is about to become the previous one).
    std::string after(key());
    return load(std::string_view(after), false);
  }
  if (at_ + 1 < page_.rows()) {
    ++at_;
    return true;
  }
  if (!more_) {  // a short page ends the table, as does last()'s row
    on_ = false;
    return false;
  }
  std::string after(key());
  return load(std::string_view(after), false);
}

}  // namespace bihuan::pg
