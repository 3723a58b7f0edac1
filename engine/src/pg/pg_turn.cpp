// Turn (pg_turn.hpp).
#include "pg/pg_turn.hpp"

#include <libpq-fe.h>

#include "pg/pg_schema.hpp"

namespace bihuan::pg {
namespace {

// A bytea literal of `bytes` ('\x..'::bytea).
std::string bytea_literal(std::string_view bytes) {
  static const char* digits = "0123456789abcdef";
  std::string out = "'\\x";
  for (unsigned char b : bytes) {
    out += digits[b >> 4];
    out += digits[b & 15];
  }
  return out + "'::bytea";
}

// A bytea value in text format ("\x0a1b..") as bytes; nullopt if it is not one.
std::optional<std::string> bytea_text(std::string_view text) {
  if (!text.starts_with("\\x") || text.size() % 2) return std::nullopt;
  auto nibble = [](char c) -> int {
    if (c >= '0' && c <= '9') return c - '0';
    if (c >= 'a' && c <= 'f') return c - 'a' + 10;
    return -1;
  };
  std::string out;
  for (std::size_t i = 2; i < text.size(); i += 2) {
    int hi = nibble(text[i]), lo = nibble(text[i + 1]);
    if (hi < 0 || lo < 0) return std::nullopt;
    out += static_cast<char>(hi * 16 + lo);
  }
  return out;
}

}  // namespace

Turn::~Turn() {
  release();
  std::lock_guard lock(mu_);
  if (conn_) pool_.give(std::move(conn_));
}

bool Turn::held() const {
  std::lock_guard lock(mu_);
  return held_;
}

storage::TurnOutcome Turn::hold(int wait_ms, storage::Db db, std::string_view key,
                                std::optional<std::string>* value, std::string* error) {
  using storage::TurnOutcome;
  std::unique_lock lock(mu_);
  free_.wait(lock, [&] { return !busy_; });
  if (!conn_) {
    conn_ = pool_.take(error);
    if (!conn_) return TurnOutcome::failed;
  }
  const std::string k = std::to_string(key_);
  // One round trip. The read runs after the lock is granted, in a statement of its own
  // (READ COMMITTED: a snapshot taken then), so it sees the last holder's commits.
  std::string sql = (held_ ? std::string()
                           : "SET lock_timeout = " + std::to_string(wait_ms > 0 ? wait_ms : 1) +
                                 "; SELECT pg_advisory_lock(" + k + "); SET lock_timeout = 0; ") +
                    "SELECT v FROM " + quoted_table(db) + " WHERE k = " + bytea_literal(key);
  Result r = conn_->query(sql);
  auto let_go = [&] {
    conn_->run("SELECT pg_advisory_unlock(" + k + ")", nullptr);
    held_ = false;
  };
  if (r.ok()) {
    held_ = true;
    if (value) {
      if (r.rows() == 0) {
        value->reset();
      } else if (!(*value = bytea_text(r.value(0, 0)))) {
        if (error)
          *error = server_ + ": the turn's read of table " + table_name(db) +
                   " returned a value that is not bytea text";
        let_go();
        return TurnOutcome::failed;
      }
    }
    return TurnOutcome::held;
  }
  if (!held_ && r.sqlstate() == "55P03" && !conn_->broken()) return TurnOutcome::busy;
  if (error) *error = server_ + ": cannot take the writer's turn: " + r.error(conn_->last_error());
  if (conn_->broken()) {
    held_ = false;
    pool_.discard(std::move(conn_));
  } else {
    let_go();  // a lock taken before a later statement failed is kept by the session
  }
  return TurnOutcome::failed;
}

void Turn::release() {
  std::unique_lock lock(mu_);
  free_.wait(lock, [&] { return !busy_; });
  if (!held_) return;
  held_ = false;
  if (!conn_) return;
  if (!conn_->run("SELECT pg_advisory_unlock(" + std::to_string(key_) + ")", nullptr) ||
      conn_->broken()) {
    // Not let go (or gone): end the session, which lets go of everything. Given back to
    // the pool, a live one would be kept, and the lock with it.
    pool_.discard(std::move(conn_));
  }
}

bool Turn::wanted() {
  auto c = pool_.take(nullptr);
  if (!c) return false;
  Lease lease(pool_, std::move(c));
  auto key = static_cast<std::uint64_t>(key_);
  // An advisory lock on a bigint key: classid the high 32 bits, objid the low, objsubid 1.
  Result r = lease->query(
      "SELECT 1 FROM pg_locks WHERE locktype = 'advisory' AND NOT granted AND classid = " +
      std::to_string(key >> 32) + " AND objid = " + std::to_string(key & 0xffffffffu) +
      " AND objsubid = 1 AND database = (SELECT oid FROM pg_database WHERE datname = "
      "current_database()) LIMIT 1");
  return r.ok() && r.rows() > 0;
}

std::unique_ptr<Conn> Turn::take() {
  std::unique_lock lock(mu_);
  free_.wait(lock, [&] { return !busy_; });
  if (!held_ || !conn_) return nullptr;
  busy_ = true;
  return std::move(conn_);
}

void Turn::give(std::unique_ptr<Conn> c) {
  {
    std::lock_guard lock(mu_);
    busy_ = false;
    if (c && c->broken()) {
      held_ = false;  // the session ended, and the lock with it
      pool_.give(std::move(c));
    } else {
      conn_ = std::move(c);
    }
  }
  free_.notify_all();
}

}  // namespace bihuan::pg
