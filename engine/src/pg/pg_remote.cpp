// PgRemote (pg_remote.hpp) and its registration (pg_enable.hpp).
#include "pg/pg_remote.hpp"

#include <algorithm>

#include "pg/pg_batch.hpp"
#include "pg/pg_enable.hpp"
#include "pg/pg_months.hpp"
#include "pg/pg_pool.hpp"
#include "pg/pg_remote_txn.hpp"
#include "pg/pg_schema.hpp"
#include "pg/pg_turn.hpp"

namespace bihuan::pg {
namespace {

const std::string& writer_lock_sql() {
  static const std::string sql =
      "SELECT pg_advisory_xact_lock(" + std::to_string(PgRemote::kWriterLockKey) + ")";
  return sql;
}

// A batch's outcome as the store's; nullopt: refused at BEGIN because its connection was
// lost (nothing ran: another connection may try).
std::optional<storage::RemoteOutcome> remote_outcome(BatchOutcome o, bool lost_at_begin) {
  using storage::RemoteOutcome;
  switch (o) {
    case BatchOutcome::ok:
      return RemoteOutcome::ok;
    case BatchOutcome::conflict:
      return RemoteOutcome::conflict;
    case BatchOutcome::unknown:
      return RemoteOutcome::unknown;
    case BatchOutcome::failed:
      break;
  }
  if (lost_at_begin) return std::nullopt;
  return RemoteOutcome::failed;
}

}  // namespace

PgRemote::PgRemote(std::unique_ptr<ConnPool> pool, std::string server, const PgOptions& o)
    : pool_(std::move(pool)),
      turn_(std::make_unique<Turn>(*pool_, kWriterLockKey, server)),
      months_(std::make_unique<HistoryMonths>(*pool_, server)),
      server_(std::move(server)),
      options_(o) {}

PgRemote::~PgRemote() {
  turn_.reset();
  months_.reset();
  std::lock_guard lock(roles_mu_);
  for (auto& [name, c] : roles_) pool_->discard(std::move(c));  // ends the session: let go
}

bool PgRemote::hold_role(std::string_view name) {
  std::lock_guard lock(roles_mu_);
  auto it = roles_.find(name);
  if (it != roles_.end()) {
    if (it->second->alive()) return true;
    pool_->discard(std::move(it->second));  // the session ended, and the role with it
    roles_.erase(it);
  }
  std::string key_text = "bihuan-role-" + std::string(name);
  std::uint64_t h = 14695981039346656037ull;  // FNV-1a 64
  for (unsigned char ch : key_text) h = (h ^ ch) * 1099511628211ull;
  auto c = pool_->take(nullptr);
  if (!c) return false;
  Result r =
      c->query("SELECT pg_try_advisory_lock(" + std::to_string(static_cast<std::int64_t>(h)) + ")");
  if (r.ok() && r.rows() == 1 && r.value(0, 0) == "t") {
    roles_.emplace(std::string(name), std::move(c));
    return true;
  }
  pool_->give(std::move(c));
  return false;
}

void PgRemote::set_projection(storage::Db db, storage::Projection f, bool backfill) {
  if (db != storage::Db::inst) return;
  inst_json_ = std::move(f);
  if (!inst_json_ || !backfill) return;
  // The records stored without one (a version-1 database converted, a PgStore's writes):
  // projected now, a page at a time, each only if its value is still the one read.
  std::string after;
  for (;;) {
    std::string error;
    auto c = pool_->take(&error);
    if (!c) return;  // the next open tries again
    Lease lease(*pool_, std::move(c));
    Param p[] = {{after, kByteaOid}};
    Result page =
        lease->exec("SELECT k, v FROM \"inst\" WHERE j IS NULL AND k > $1 ORDER BY k LIMIT 500", p);
    if (!page.ok() || page.rows() == 0) return;
    std::vector<std::string_view> keys, values, texts_view;
    std::vector<std::string> texts;
    texts.reserve(static_cast<std::size_t>(page.rows()));
    for (int i = 0; i < page.rows(); ++i) {
      auto text = inst_json_(page.value(i, 1));
      if (!text) continue;  // not a record: stays NULL (verify names it)
      keys.push_back(page.value(i, 0));
      values.push_back(page.value(i, 1));
      texts.push_back(std::move(*text));
      texts_view.push_back(texts.back());
    }
    after = std::string(page.value(page.rows() - 1, 0));
    if (!keys.empty()) {
      auto arg = [](const std::vector<std::string_view>& items) {
        return std::string(bytea_array(items).bytes);
      };
      std::string k = arg(keys), v = arg(values), j = arg(texts_view);
      Param q[] = {{k, kByteaArrayOid}, {v, kByteaArrayOid}, {j, kByteaArrayOid}};
      lease->exec(
          "UPDATE \"inst\" SET j = convert_from(u.j, 'UTF8')::jsonb FROM "
          "unnest($1::bytea[], $2::bytea[], $3::bytea[]) AS u(k, v, j) WHERE \"inst\".k = u.k "
          "AND \"inst\".v = u.v",
          q);
    }
    if (page.rows() < 500) return;
  }
}

std::uint64_t PgRemote::history_floor(std::int64_t now_ms) { return months_->floor(now_ms); }
bool PgRemote::history_months(bool count, std::vector<storage::HistoryMonth>* out,
                              std::string* error) {
  return months_->list(count, out, error);
}
bool PgRemote::detach_history_month(int yyyymm, bool keep, std::string* error, bool* held) {
  return months_->detach(yyyymm, keep, error, held);
}

storage::TurnOutcome PgRemote::hold_turn(int wait_ms, storage::Db db, std::string_view key,
                                         std::optional<std::string>* value, std::string* error) {
  return turn_->hold(wait_ms, db, key, value, error);
}
bool PgRemote::holds_turn() const { return turn_->held(); }
void PgRemote::release_turn() { turn_->release(); }
bool PgRemote::turn_wanted() { return turn_->wanted(); }

std::unique_ptr<storage::RemoteTxn> PgRemote::begin_in_turn(std::string* error) {
  auto c = turn_->take();
  if (!c) return nullptr;
  std::string why;
  // The lock is the session's already: granted at once.
  if (c->run("BEGIN; " + writer_lock_sql(), &why))
    return std::make_unique<PgRemoteTxn>(*turn_, std::move(c), true, options_.page_rows,
                                         &inst_json_);
  if (!c->broken() && !c->idle()) c->run("ROLLBACK", nullptr);
  bool lost = c->broken();
  turn_->give(std::move(c));  // a broken one ends the turn
  if (!lost && error) *error = server_ + ": cannot begin a write transaction in the turn: " + why;
  return nullptr;
}

std::unique_ptr<PgRemote> PgRemote::open(const std::string& conninfo, std::string* error,
                                         const PgOptions& options) {
  auto conn = connect_with_schema(conninfo, options.connect, error);
  if (!conn) return nullptr;
  PgOptions o = options;
  o.page_rows = std::max<std::size_t>(o.page_rows, 1);
  o.pool_max = std::max<std::size_t>(o.pool_max, 1);
  std::string server = conn->server();
  auto pool =
      std::make_unique<ConnPool>(conninfo, o.connect, o.pool_idle, o.pool_max, std::move(conn));
  return std::unique_ptr<PgRemote>(new PgRemote(std::move(pool), std::move(server), o));
}

std::size_t PgRemote::open_connections() const { return pool_->open_count(); }
std::size_t PgRemote::idle_connections() const { return pool_->idle_count(); }

std::unique_ptr<storage::RemoteTxn> PgRemote::begin(bool write, std::string* error) {
  if (write && turn_->held()) {
    std::string why;
    if (auto txn = begin_in_turn(&why)) return txn;
    if (!why.empty()) {
      if (error) *error = why;
      return nullptr;
    }
  }
  const std::string sql =
      write ? "BEGIN; " + writer_lock_sql()
            : std::string("BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY; SELECT 1");
  // A pooled connection may have died unnoticed: then another one is tried.
  for (std::size_t attempt = 0;; ++attempt) {
    bool reused = false;
    auto c = pool_->take(error, &reused);
    if (!c) return nullptr;
    std::string why;
    if (c->run(sql, &why))
      return std::make_unique<PgRemoteTxn>(*pool_, std::move(c), write, options_.page_rows,
                                           &inst_json_);
    bool lost = c->broken();
    if (!lost && !c->idle()) c->run("ROLLBACK", nullptr);
    pool_->give(std::move(c));
    if (lost && reused && attempt <= options_.pool_idle) continue;
    if (error)
      *error = server_ + ": cannot begin a " + (write ? "write" : "read") + " transaction: " + why;
    return nullptr;
  }
}

storage::RemoteOutcome PgRemote::commit(std::size_t n,
                                        const std::function<storage::OpRef(std::size_t)>& op,
                                        const storage::Expect* expect, std::string* error) {
  using storage::RemoteOutcome;
  Batch batch;
  std::string refusal = batch.plan(n, op, &inst_json_);
  if (!refusal.empty()) {
    if (error)
      *error = server_ + ": commit of " + std::to_string(n) + " writes failed: " + refusal +
               "; nothing was applied";
    return RemoteOutcome::failed;
  }
  if (batch.empty() && !expect) return RemoteOutcome::ok;
  batch.guard(writer_lock_sql(), expect);
  if (auto c = turn_->take()) {
    Lease lease(*turn_, std::move(c));  // a broken one ends the turn when given back
    bool lost_at_begin = false;
    BatchOutcome o = batch.run(*lease, error, &lost_at_begin);
    if (auto r = remote_outcome(o, lost_at_begin)) return *r;
    // The turn's connection was gone before BEGIN: nothing ran; on with the pool's.
  }
  for (std::size_t attempt = 0;; ++attempt) {
    bool reused = false;
    auto c = pool_->take(error, &reused);
    if (!c) return RemoteOutcome::failed;
    Lease lease(*pool_, std::move(c));
    bool lost_at_begin = false;
    BatchOutcome o = batch.run(*lease, error, &lost_at_begin);
    if (auto r = remote_outcome(o, lost_at_begin)) return *r;
    // Refused at BEGIN by a connection that died while pooled: nothing ran; retry.
    if (!reused || attempt > options_.pool_idle) return RemoteOutcome::failed;
  }
}

void enable() {
  storage::register_remote(
      "postgresql",
      [](const std::string& rest, std::string* error) -> std::unique_ptr<storage::Remote> {
        // "postgresql://..." arrives as "//...": libpq reads it whole as a URI.
        std::string conninfo = rest.starts_with("//") ? "postgresql:" + rest : rest;
        return PgRemote::open(conninfo, error);
      });
}

}  // namespace bihuan::pg
