// Batch (pg_batch.hpp): a batch's writes as one PostgreSQL transaction in one round trip;
// and PgStore::commit on it.
#include <libpq-fe.h>

#include <algorithm>
#include <vector>

#include "pg/pg_batch.hpp"
#include "pg/pg_schema.hpp"

namespace bihuan::pg {
namespace {

// Bytes of keys and values per INSERT statement: far below the protocol's 1 GB message.
constexpr std::size_t kStatementBytes = std::size_t{64} << 20;

void put_be32(std::string& out, std::uint32_t v) {
  for (int shift = 24; shift >= 0; shift -= 8) out += static_cast<char>((v >> shift) & 0xff);
}

std::string span_text(const char* verb, std::size_t n, Db db,
                      const std::vector<std::string_view>& keys) {
  std::string out = std::to_string(n) + " " + verb + (n == 1 ? "" : "s") + " " +
                    (verb[0] == 'p' ? "into" : "from") + " table " + table_name(db) + " (key" +
                    (keys.size() > 1 ? "s " : " ") + hex(keys.front());
  if (keys.size() > 1) out += " .. " + hex(keys.back());
  return out + ")";
}

bool send_statement(PGconn* c, const std::string& sql, const std::vector<BatchArg>& args) {
  std::vector<Oid> types;
  std::vector<const char*> values;
  std::vector<int> lengths, formats(args.size(), 1);
  for (const auto& a : args) {
    types.push_back(a.oid);
    values.push_back(a.null ? nullptr : a.bytes.data());
    lengths.push_back(static_cast<int>(a.bytes.size()));
  }
  return PQsendQueryParams(
             c, sql.c_str(), static_cast<int>(args.size()), args.empty() ? nullptr : types.data(),
             args.empty() ? nullptr : values.data(), args.empty() ? nullptr : lengths.data(),
             args.empty() ? nullptr : formats.data(), 1) == 1;
}

}  // namespace

// A one-dimensional bytea[] in PostgreSQL's binary array format.
BatchArg bytea_array(const std::vector<std::string_view>& items) {
  std::size_t bytes = 20;
  for (auto s : items) bytes += 4 + s.size();
  std::string out;
  out.reserve(bytes);
  put_be32(out, 1);  // dimensions
  put_be32(out, 0);  // no NULLs
  put_be32(out, kByteaOid);
  put_be32(out, static_cast<std::uint32_t>(items.size()));
  put_be32(out, 1);  // lower bound
  for (auto s : items) {
    put_be32(out, static_cast<std::uint32_t>(s.size()));
    out.append(s);
  }
  return {std::move(out), false, kByteaArrayOid};
}

std::string Batch::plan(std::size_t n, const std::function<Write(std::size_t)>& op,
                        const storage::Projection* inst_json) {
  writes_ = n;
  std::vector<Write> writes;
  writes.reserve(n);
  for (std::size_t i = 0; i < n; ++i) writes.push_back(op(i));
  constexpr auto kDbs = static_cast<std::size_t>(Db::count_);
  std::vector<std::vector<std::size_t>> per(kDbs);
  for (std::size_t i = 0; i < writes.size(); ++i) {
    const Write& w = writes[i];
    auto d = static_cast<std::size_t>(w.db);
    if (d >= kDbs)
      return "write " + std::to_string(i) + " names no key space (" + std::to_string(d) + ")";
    if (w.key.empty() || w.key.size() > PgStore::kMaxKeyBytes)
      return "write " + std::to_string(i) + " to table " + table_name(w.db) + " has a key of " +
             std::to_string(w.key.size()) + " bytes" +
             (w.key.empty() ? std::string() : " (" + hex(w.key) + ")") + ", expected 1 to " +
             std::to_string(PgStore::kMaxKeyBytes) + " (LMDB's limits)";
    if (w.put && w.value.size() > PgStore::kMaxValueBytes)
      return "write " + std::to_string(i) + " to table " + table_name(w.db) + " key " + hex(w.key) +
             " has a value of " + std::to_string(w.value.size()) + " bytes, more than bytea holds";
    per[d].push_back(i);
  }
  for (std::size_t d = 0; d < kDbs; ++d) {
    auto& idx = per[d];
    if (idx.empty()) continue;
    // Sorted by key, the later write of a key last; keep that one.
    std::stable_sort(idx.begin(), idx.end(),
                     [&](std::size_t a, std::size_t b) { return writes[a].key < writes[b].key; });
    std::vector<std::string_view> del_keys, put_keys, put_values, put_json;
    std::vector<std::string> json_texts;  // owns put_json's bytes (reserved: never moves)
    std::size_t put_bytes = 0;
    auto db = static_cast<Db>(d);
    std::string table = quoted_table(db);
    const bool projected = db == Db::inst;
    if (projected) json_texts.reserve(idx.size());
    auto flush_puts = [&] {
      if (put_keys.empty()) return;
      std::vector<BatchArg> args{bytea_array(put_keys), bytea_array(put_values)};
      if (projected) args.push_back(bytea_array(put_json));
      stmts_.push_back({put_sql(db, /*many=*/true), std::move(args),
                        span_text("put", put_keys.size(), db, put_keys)});
      put_keys.clear();
      put_values.clear();
      put_json.clear();
      put_bytes = 0;
    };
    for (std::size_t j = 0; j < idx.size(); ++j) {
      const Write& w = writes[idx[j]];
      if (j + 1 < idx.size() && writes[idx[j + 1]].key == w.key) continue;  // a later one wins
      if (!w.put) {
        del_keys.push_back(w.key);
        continue;
      }
      if (put_bytes + w.key.size() + w.value.size() > kStatementBytes) flush_puts();
      put_keys.push_back(w.key);
      put_values.push_back(w.value);
      put_bytes += w.key.size() + w.value.size();
      if (projected) {
        json_texts.push_back(inst_json && *inst_json ? (*inst_json)(w.value).value_or("") : "");
        put_json.push_back(json_texts.back());
        put_bytes += json_texts.back().size();
      }
    }
    if (!del_keys.empty())
      stmts_.push_back({"DELETE FROM " + table + " WHERE k = ANY($1::bytea[])",
                        {bytea_array(del_keys)},
                        span_text("delete", del_keys.size(), db, del_keys)});
    flush_puts();
  }
  return "";
}

void Batch::guard(const std::string& lock_sql, const storage::Expect* expect) {
  std::vector<BatchStatement> first;
  if (!lock_sql.empty()) first.push_back({lock_sql, {}, "the writer lock"});
  if (expect) {
    std::string what = "the expectation that key " + hex(expect->key) + " of table " +
                       table_name(expect->db) +
                       (expect->value ? " holds the value " + storage::hex(*expect->value, 32) +
                                            " (" + std::to_string(expect->value->size()) + " bytes)"
                                      : std::string(" is absent"));
    BatchArg key{std::string(expect->key), false, kByteaOid};
    BatchArg value{std::string(expect->value.value_or("")), !expect->value, kByteaOid};
    first.push_back({"SELECT 1 / (CASE WHEN (SELECT v FROM " + quoted_table(expect->db) +
                         " WHERE k = $1) IS NOT DISTINCT FROM $2 THEN 1 ELSE 0 END)",
                     {std::move(key), std::move(value)},
                     std::move(what),
                     true});
  }
  stmts_.insert(stmts_.begin(), std::make_move_iterator(first.begin()),
                std::make_move_iterator(first.end()));
}

BatchOutcome Batch::run(Conn& conn, std::string* error, bool* lost_at_begin) {
  if (lost_at_begin) *lost_at_begin = false;
  const std::string head = conn.server() + ": commit of " + std::to_string(writes_) + " writes";
  auto fail = [&](const std::string& why) {
    if (error) *error = head + " failed: " + why + "; nothing was applied";
    return BatchOutcome::failed;
  };
  PGconn* c = conn.raw();
  if (PQenterPipelineMode(c) != 1) return fail("cannot enter pipeline mode: " + conn.last_error());
  // Sent: BEGIN, the statements, COMMIT, then a Sync. Results come back in that order.
  bool sent = send_statement(c, "BEGIN", {});
  for (std::size_t i = 0; sent && i < stmts_.size(); ++i)
    sent = send_statement(c, stmts_[i].sql, stmts_[i].args);
  bool commit_queued = sent && send_statement(c, "COMMIT", {});  // may run from here on
  sent = commit_queued && PQpipelineSync(c) == 1;
  std::string first_error;  // the first statement that failed, and why
  std::size_t failed_at = 0;
  bool refused = false;   // a statement before COMMIT failed: COMMIT cannot apply
  bool conflict = false;  // that statement was the expectation check, and it did not hold
  bool commit_ok = false;
  if (!sent) first_error = "cannot send the statements: " + conn.last_error();
  // Read every result up to the Sync, or until the connection is gone.
  std::size_t at = 0;  // 0: BEGIN, 1..stmts: the statements, stmts + 1: COMMIT
  for (int nulls = 0; sent && nulls < 2;) {
    Result r(PQgetResult(c));
    if (!r.raw()) {  // the end of one statement's results (twice running: nothing pending)
      if (conn.broken()) break;
      ++nulls;
      continue;
    }
    nulls = 0;
    auto status = PQresultStatus(r.raw());
    if (status == PGRES_PIPELINE_SYNC) break;
    if (status == PGRES_PIPELINE_ABORTED) {
      ++at;
      continue;
    }
    if (!r.ok() && first_error.empty()) {
      std::string what = at == 0               ? std::string("BEGIN")
                         : at <= stmts_.size() ? stmts_[at - 1].what
                                               : std::string("COMMIT");
      first_error = what + ": " + r.error(conn.last_error());
      failed_at = at;
      refused = at <= stmts_.size();
      conflict = at > 0 && refused && stmts_[at - 1].expectation && r.sqlstate() == "22012";
    }
    if (at == stmts_.size() + 1) commit_ok = r.ok() && r.command() == "COMMIT";
    ++at;
  }
  bool lost = conn.broken();  // the session ended: what it did not commit is rolled back
  if (!sent && !lost) {
    // Half a pipeline sent on a live connection (libpq refused a message): end the session
    // (its transaction rolls back unless COMMIT got through) and start a new one.
    conn.reset(nullptr);
    lost = true;
  }
  if (!lost) PQexitPipelineMode(c);
  if (commit_ok && first_error.empty()) return BatchOutcome::ok;
  if (lost && first_error.empty()) first_error = "the connection was lost: " + conn.last_error();
  if (!lost && !conn.idle()) conn.run("ROLLBACK", nullptr);
  if (conflict) {
    if (error)
      *error = head + ": " + stmts_[failed_at - 1].what + " did not hold; nothing was applied";
    return BatchOutcome::conflict;
  }
  // Lost with COMMIT on its way, its answer not read and nothing refused before it: the
  // server may have committed.
  if (lost && commit_queued && !refused && !commit_ok) {
    if (error)
      *error = head + ": " + first_error +
               "; COMMIT had been sent, so it may or may not have been applied";
    return BatchOutcome::unknown;
  }
  if (lost && refused && failed_at == 0 && lost_at_begin) *lost_at_begin = true;
  return fail(first_error.empty() ? "COMMIT did not succeed" : first_error);
}

bool PgStore::commit(std::size_t n, const std::function<Write(std::size_t)>& op, std::string* error,
                     bool* outcome_unknown) {
  if (outcome_unknown) *outcome_unknown = false;
  Batch batch;
  std::string refusal = batch.plan(n, op);
  if (!refusal.empty()) {
    if (error)
      *error = server() + ": commit of " + std::to_string(n) + " writes failed: " + refusal +
               "; nothing was applied";
    return false;
  }
  if (batch.empty()) return true;
  if (!ready(error)) return false;
  BatchOutcome o = batch.run(*conn_, error);
  if (o == BatchOutcome::unknown && outcome_unknown) *outcome_unknown = true;
  return o == BatchOutcome::ok;
}

}  // namespace bihuan::pg
