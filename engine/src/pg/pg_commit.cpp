// PgStore::commit: a batch's writes as one PostgreSQL transaction in one round trip.
//
// The writes are collapsed to the last one per (table, key), then sent per table, tables in
// enum order and keys sorted (two committers lock rows in the same order, so they wait
// for each other rather than deadlock), as
//   DELETE FROM t WHERE k = ANY($1::bytea[])
//   INSERT INTO t (k, v) SELECT * FROM unnest($1::bytea[], $2::bytea[])
//     ON CONFLICT (k) DO UPDATE SET v = EXCLUDED.v
// between BEGIN and COMMIT, in libpq's pipeline mode: everything is sent, then one Sync,
// then the results are read. A failed statement makes the server skip the rest (COMMIT
// included) up to the Sync, and we roll back: nothing is applied.
#include <libpq-fe.h>

#include <algorithm>
#include <vector>

#include "pg/pg_store.hpp"

namespace bihuan::pg {
namespace {

// Bytes of keys and values per INSERT statement: far below the protocol's 1 GB message.
constexpr std::size_t kStatementBytes = std::size_t{64} << 20;

void put_be32(std::string& out, std::uint32_t v) {
  for (int shift = 24; shift >= 0; shift -= 8) out += static_cast<char>((v >> shift) & 0xff);
}

// A one-dimensional bytea[] in PostgreSQL's binary array format.
std::string bytea_array(const std::vector<std::string_view>& items) {
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
  return out;
}

// One statement of the pipeline and what to say if it fails.
struct Statement {
  std::string sql;
  std::vector<std::string> arrays;  // its parameters (bytea[] each)
  std::string what;                 // "3 puts into table inst (keys 0001 .. 0009)"
};

std::string span_text(const char* verb, std::size_t n, Db db,
                      const std::vector<std::string_view>& keys) {
  std::string out = std::to_string(n) + " " + verb + (n == 1 ? "" : "s") + " " +
                    (verb[0] == 'p' ? "into" : "from") + " table " + table_name(db) + " (key" +
                    (keys.size() > 1 ? "s " : " ") + hex(keys.front());
  if (keys.size() > 1) out += " .. " + hex(keys.back());
  return out + ")";
}

// The last write per key of each table, as statements. "" or the refusal of a write.
std::string plan(const std::vector<Write>& writes, std::vector<Statement>& out) {
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
    std::vector<std::string_view> del_keys, put_keys, put_values;
    std::size_t put_bytes = 0;
    auto db = static_cast<Db>(d);
    std::string table = std::string("\"") + table_name(db) + "\"";
    auto flush_puts = [&] {
      if (put_keys.empty()) return;
      out.push_back({"INSERT INTO " + table +
                         " (k, v) SELECT * FROM unnest($1::bytea[], $2::bytea[]) "
                         "ON CONFLICT (k) DO UPDATE SET v = EXCLUDED.v",
                     {bytea_array(put_keys), bytea_array(put_values)},
                     span_text("put", put_keys.size(), db, put_keys)});
      put_keys.clear();
      put_values.clear();
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
    }
    if (!del_keys.empty())
      out.push_back({"DELETE FROM " + table + " WHERE k = ANY($1::bytea[])",
                     {bytea_array(del_keys)},
                     span_text("delete", del_keys.size(), db, del_keys)});
    flush_puts();
  }
  return "";
}

bool send(PGconn* c, const std::string& sql, const std::vector<std::string>& arrays) {
  std::vector<Oid> types(arrays.size(), kByteaArrayOid);
  std::vector<const char*> values;
  std::vector<int> lengths, formats(arrays.size(), 1);
  for (const auto& a : arrays) {
    values.push_back(a.data());
    lengths.push_back(static_cast<int>(a.size()));
  }
  return PQsendQueryParams(c, sql.c_str(), static_cast<int>(arrays.size()),
                           arrays.empty() ? nullptr : types.data(),
                           arrays.empty() ? nullptr : values.data(),
                           arrays.empty() ? nullptr : lengths.data(),
                           arrays.empty() ? nullptr : formats.data(), 1) == 1;
}

}  // namespace

bool PgStore::commit(std::size_t n, const std::function<Write(std::size_t)>& op, std::string* error,
                     bool* outcome_unknown) {
  if (outcome_unknown) *outcome_unknown = false;
  std::vector<Write> writes;
  writes.reserve(n);
  for (std::size_t i = 0; i < n; ++i) writes.push_back(op(i));
  std::vector<Statement> stmts;
  std::string refusal = plan(writes, stmts);
  auto fail = [&](const std::string& why) {
    if (error)
      *error = server() + ": commit of " + std::to_string(n) + " writes failed: " + why +
               "; nothing was applied";
    return false;
  };
  if (!refusal.empty()) return fail(refusal);
  if (stmts.empty()) return true;
  if (!ready(error)) return false;

  PGconn* c = conn_->raw();
  if (PQenterPipelineMode(c) != 1)
    return fail("cannot enter pipeline mode: " + conn_->last_error());
  // Sent: BEGIN, the statements, COMMIT, then a Sync. Results come back in that order.
  bool sent = send(c, "BEGIN", {});
  for (std::size_t i = 0; sent && i < stmts.size(); ++i)
    sent = send(c, stmts[i].sql, stmts[i].arrays);
  bool commit_queued = sent && send(c, "COMMIT", {});  // the server may run it from here on
  sent = commit_queued && PQpipelineSync(c) == 1;
  std::string first_error;  // the first statement that failed, and why
  bool refused = false;     // a statement before COMMIT failed: COMMIT cannot apply
  bool commit_ok = false;
  if (!sent) first_error = "cannot send the statements: " + conn_->last_error();
  // Read every result up to the Sync, or until the connection is gone.
  std::size_t at = 0;  // 0: BEGIN, 1..stmts: the statements, stmts + 1: COMMIT
  for (int nulls = 0; sent && nulls < 2;) {
    Result r(PQgetResult(c));
    if (!r.raw()) {  // the end of one statement's results (twice running: nothing pending)
      if (conn_->broken()) break;
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
      std::string what = at == 0              ? std::string("BEGIN")
                         : at <= stmts.size() ? stmts[at - 1].what
                                              : std::string("COMMIT");
      first_error = what + ": " + r.error(conn_->last_error());
      refused = at <= stmts.size();
    }
    if (at == stmts.size() + 1) commit_ok = r.ok();
    ++at;
  }
  bool lost = conn_->broken();  // the session ended: what it did not commit is rolled back
  if (!sent && !lost) {
    // Half a pipeline sent on a live connection (libpq refused a message): end the session
    // (its transaction rolls back unless COMMIT got through) and start a new one.
    conn_->reset(nullptr);
    lost = true;
  }
  if (!lost) PQexitPipelineMode(c);
  if (commit_ok && first_error.empty()) return true;
  if (lost && first_error.empty()) first_error = "the connection was lost: " + conn_->last_error();
  if (!lost && !conn_->idle()) conn_->run("ROLLBACK", nullptr);
  // Lost with COMMIT on its way, its answer not read and nothing refused before it: the
  // server may have committed.
  if (lost && commit_queued && !refused && !commit_ok) {
    if (outcome_unknown) *outcome_unknown = true;
    if (error)
      *error = server() + ": commit of " + std::to_string(n) + " writes: " + first_error +
               "; COMMIT had been sent, so it may or may not have been applied";
    return false;
  }
  return fail(first_error.empty() ? "COMMIT did not succeed" : first_error);
}

}  // namespace bihuan::pg
