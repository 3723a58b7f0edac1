// History by month (pg_months.hpp).
#include "pg/pg_months.hpp"

#include <algorithm>
#include <charconv>
#include <cstdio>

#include "pg/pg_pool.hpp"
#include "pg/pg_schema.hpp"
#include "storage/hex.hpp"

namespace bihuan::pg {
namespace {

// The month index of now() in UTC, in SQL.
constexpr const char* kNowMonthSql =
    "(extract(year from now() AT TIME ZONE 'UTC')::int * 12 + "
    "extract(month from now() AT TIME ZONE 'UTC')::int - 1)";

// Keys outside every range (none of the engine's: its keys are 8 bytes below the newest
// month's end) still have a place: the store takes any key.
const std::string kOtherDdl =
    std::string("CREATE TABLE ") + kOtherHistoryTable + " PARTITION OF \"history\" DEFAULT;\n";

// A bytea literal of a key ('\x...').
std::string key_literal(std::uint64_t key) {
  char be[8];
  for (int i = 0; i < 8; ++i) be[i] = static_cast<char>(key >> (56 - 8 * i));
  return "'\\x" + storage::hex(std::string_view(be, 8)) + "'::bytea";
}

std::int64_t to_int(std::string_view text) {
  std::int64_t v = -1;
  std::from_chars(text.data(), text.data() + text.size(), v);
  return v;
}

// One statement that may read a whole month: without the connection's statement timeout
// (in a read-only transaction of its own, rolled back after).
Result unlimited(Conn& c, const std::string& sql) {
  Result r = c.query("BEGIN READ ONLY; SET LOCAL statement_timeout = 0; " + sql);
  if (!c.broken() && !c.idle()) c.run("ROLLBACK", nullptr);
  return r;
}

}  // namespace

int month_index_of_ms(std::int64_t ms) {
  using namespace std::chrono;
  // Clamped to years 1..9999 first (four digits in a table's name; and within what
  // year_month_day holds).
  constexpr std::int64_t kFirst = -62135596800000, kLast = 253402300799999;
  sys_days day = floor<days>(sys_time<milliseconds>(milliseconds(std::clamp(ms, kFirst, kLast))));
  year_month_day d{day};
  return static_cast<int>(d.year()) * 12 + static_cast<int>(static_cast<unsigned>(d.month())) - 1;
}

int month_yyyymm(int index) { return (index / 12) * 100 + index % 12 + 1; }

std::optional<int> month_index_of_yyyymm(int yyyymm) {
  int y = yyyymm / 100, m = yyyymm % 100;
  if (y < 1 || y > 9999 || m < 1 || m > 12) return std::nullopt;
  return y * 12 + m - 1;
}

std::string month_table(int index) { return "history_" + std::to_string(month_yyyymm(index)); }

std::optional<int> month_of_table(std::string_view name) {
  if (name.size() != 14 || name.substr(0, 8) != "history_") return std::nullopt;
  return month_index_of_yyyymm(static_cast<int>(to_int(name.substr(8))));
}

std::string new_history_ddl() {
  return std::string(
             "CREATE TABLE bihuan_schema (version int NOT NULL, legacy_month int NOT NULL);\n"
             "INSERT INTO bihuan_schema (version, legacy_month) VALUES (2, ") +
         kNowMonthSql +
         ");\n"
         "CREATE TABLE \"history\" (k bytea PRIMARY KEY, v bytea NOT NULL) PARTITION BY RANGE "
         "(k);\n"
         "CREATE TABLE " +
         kLegacyHistoryTable + " PARTITION OF \"history\" FOR VALUES FROM (MINVALUE) TO (" +
         key_literal(month_first_key(1)) + ");\n" + kOtherDdl;
}

std::string convert_history_ddl() {
  return std::string("ALTER TABLE \"history\" RENAME TO ") + kLegacyHistoryTable +
         ";\n"
         "ALTER TABLE " +
         kLegacyHistoryTable + " RENAME CONSTRAINT history_pkey TO " + kLegacyHistoryTable +
         "_pkey;\n"
         "CREATE TABLE \"history\" (k bytea PRIMARY KEY, v bytea NOT NULL) PARTITION BY RANGE "
         "(k);\n"
         "ALTER TABLE \"history\" ATTACH PARTITION " +
         kLegacyHistoryTable + " FOR VALUES FROM (MINVALUE) TO (" +
         key_literal(month_first_key(1)) + ");\n" + kOtherDdl +
         "ALTER TABLE bihuan_schema ADD COLUMN legacy_month int;\n"
         "UPDATE bihuan_schema SET version = 2, legacy_month = " +
         kNowMonthSql + ";\n";
}

bool HistoryMonths::load(Conn& c, std::string* error) {
  Result r = c.query(
      "SELECT (SELECT legacy_month FROM bihuan_schema), c.relname FROM pg_inherits i JOIN "
      "pg_class c ON c.oid = i.inhrelid WHERE i.inhparent = '\"history\"'::regclass");
  if (!r.ok()) {
    if (error)
      *error =
          server_ + ": cannot list the partitions of table history: " + r.error(c.last_error());
    return false;
  }
  months_.clear();
  for (int i = 0; i < r.rows(); ++i) {
    legacy_ = static_cast<int>(to_int(r.value(i, 0)));
    if (auto m = month_of_table(r.value(i, 1))) months_.insert(*m);
  }
  loaded_ = true;
  return true;
}

bool HistoryMonths::make_months(Conn& c, int from, int to, std::string* error) {
  std::string sql = "BEGIN; SET LOCAL lock_timeout = '500ms'; ";
  sql += kSchemaLock;
  sql += ";\n";
  bool any = false;
  for (int m = from; m <= to; ++m) {
    if (m <= legacy_ || months_.count(m)) continue;
    any = true;
    // CREATE, then ATTACH: ATTACH PARTITION takes SHARE UPDATE EXCLUSIVE on history (commits
    // and reads go on), where CREATE ... PARTITION OF would take ACCESS EXCLUSIVE.
    std::string t = month_table(m);
    sql += "CREATE TABLE IF NOT EXISTS " + t + " (k bytea PRIMARY KEY, v bytea NOT NULL);\n";
    sql += "DO $$ BEGIN IF NOT EXISTS (SELECT 1 FROM pg_inherits WHERE inhrelid = '" + t +
           "'::regclass) THEN ALTER TABLE \"history\" ATTACH PARTITION " + t +
           " FOR VALUES FROM (" + key_literal(month_first_key(m)) + ") TO (" +
           key_literal(month_first_key(m + 1)) + "); END IF; END $$;\n";
  }
  if (!any) return true;
  sql += "COMMIT";
  std::string why;
  if (!c.run(sql, &why)) {
    if (!c.broken() && !c.idle()) c.run("ROLLBACK", nullptr);
    if (error)
      *error = server_ + ": cannot make the history partitions of " +
               std::to_string(month_yyyymm(from)) + ".." + std::to_string(month_yyyymm(to)) + ": " +
               why;
    return false;
  }
  for (int m = from; m <= to; ++m)
    if (m > legacy_) months_.insert(m);
  return true;
}

std::uint64_t HistoryMonths::floor_of(int index) const {
  auto it = months_.upper_bound(index);
  if (it == months_.begin()) return 0;
  return month_first_key(*std::prev(it));
}

std::uint64_t HistoryMonths::floor(std::int64_t now_ms) {
  int m = month_index_of_ms(now_ms);
  std::lock_guard lock(mu_);
  if (m == seen_) return floor_of(m);
  auto now = std::chrono::steady_clock::now();
  if (now < retry_at_) return floor_of(m);
  std::string why;
  auto c = pool_.take(&why);
  bool ok = c && (loaded_ || load(*c, &why)) && make_months(*c, m, m + 2, &why);
  if (c) pool_.give(std::move(c));
  if (ok) {
    seen_ = m;
  } else {
    retry_at_ = now + std::chrono::minutes(1);  // steps stay in the month before
  }
  return floor_of(m);
}

bool HistoryMonths::list(bool count, std::vector<storage::HistoryMonth>* out, std::string* error) {
  auto c = pool_.take(error);
  if (!c) return false;
  Lease lease(pool_, std::move(c));
  std::lock_guard lock(mu_);
  if (!load(*lease, error)) return false;
  Result r = lease->query(
      "SELECT c.relname, pg_total_relation_size(c.oid), (SELECT encode(k, 'hex') FROM "
      "\"history\" ORDER BY k DESC LIMIT 1) FROM pg_inherits i JOIN pg_class c ON c.oid = "
      "i.inhrelid WHERE i.inhparent "
      "= '\"history\"'::regclass ORDER BY c.relname");
  if (!r.ok()) {
    if (error)
      *error = server_ +
               ": cannot list the partitions of table history: " + r.error(lease->last_error());
    return false;
  }
  std::uint64_t newest = 0;  // the same on every row (0: the history is empty)
  if (r.rows() > 0 && r.value(0, 2).size() == 16)
    newest = std::stoull(std::string(r.value(0, 2)), nullptr, 16);
  out->clear();
  for (int i = 0; i < r.rows(); ++i) {
    storage::HistoryMonth h;
    h.table = std::string(r.value(i, 0));
    h.bytes = to_int(r.value(i, 1));
    if (h.table == kLegacyHistoryTable) {
      h.month = 0;
      h.first_key = 0;
      h.end_key = month_first_key(1);
    } else if (auto m = month_of_table(h.table)) {
      h.month = month_yyyymm(*m);
      h.first_key = month_first_key(*m);
      h.end_key = month_first_key(*m + 1);
    } else {
      continue;  // not ours
    }
    h.written = newest >= h.first_key;
    h.current = newest >= h.first_key && newest < h.end_key;
    if (count) {
      Result n = unlimited(
          *lease, "SELECT count(*), (SELECT count(*) FROM " + h.table +
                      " h JOIN inst i ON i.k = substring(h.v from 1 for 8)) FROM " + h.table);
      if (!n.ok() || n.rows() != 1) {
        if (error)
          *error = server_ + ": cannot count the rows of " + h.table + ": " +
                   n.error(lease->last_error());
        return false;
      }
      h.rows = to_int(n.value(0, 0));
      h.live = to_int(n.value(0, 1));
    }
    out->push_back(std::move(h));
  }
  std::sort(out->begin(), out->end(),
            [](const auto& a, const auto& b) { return a.first_key < b.first_key; });
  return true;
}

bool HistoryMonths::detach(int yyyymm, bool keep, std::string* error, bool* held) {
  if (held) *held = false;
  std::vector<storage::HistoryMonth> months;
  if (!list(false, &months, error)) return false;
  auto name = [](int ym) {
    if (ym == 0) return std::string("the legacy partition (") + kLegacyHistoryTable + ")";
    char buf[16];
    std::snprintf(buf, sizeof buf, "%04d-%02d", ym / 100, ym % 100);
    return std::string(buf);
  };
  auto it =
      std::find_if(months.begin(), months.end(), [&](const auto& h) { return h.month == yyyymm; });
  if (it == months.end()) {
    std::string have;
    for (const auto& h : months) have += (have.empty() ? "" : ", ") + name(h.month);
    if (error)
      *error = server_ + ": table history has no partition for " + name(yyyymm) +
               " (it has: " + (have.empty() ? "none" : have) + ")";
    return false;
  }
  bool newer_written = std::any_of(months.begin(), months.end(), [&](const auto& h) {
    return h.first_key > it->first_key && h.written;
  });
  if (it->current || !newer_written) {
    if (held) *held = true;
    if (error)
      *error = server_ + ": " + name(yyyymm) +
               (it->current ? " is where steps are written now (it holds the newest history key)"
                            : " is made ahead: steps will be written there") +
               "; only a month before the one written to can be detached";
    return false;
  }
  auto c = pool_.take(error);
  if (!c) return false;
  Lease lease(pool_, std::move(c));
  // Keys are given out in increasing order, so no step is written to a month before the
  // newest key's: this check stays true until the detach (a restore writes new keys, and
  // deletes old ones). It stops at the first entry of a stored instance.
  Result n = unlimited(*lease, "SELECT encode(i.k, 'hex') FROM " + it->table +
                                   " h JOIN inst i ON i.k = substring(h.v from 1 for 8) LIMIT 1");
  if (!n.ok()) {
    if (error)
      *error = server_ + ": cannot look for stored instances in " + it->table + ": " +
               n.error(lease->last_error());
    return false;
  }
  if (n.rows() != 0) {
    if (held) *held = true;
    if (error)
      *error = server_ + ": " + name(yyyymm) + " holds history entries of instances still " +
               "stored (instance " + std::string(n.value(0, 0)) +
               ", for one): it can be detached once they are archived (bihuan archive run "
               "removes finished instances past their retention)";
    return false;
  }
  std::string sql =
      "BEGIN; SET LOCAL lock_timeout = '2s'; ALTER TABLE \"history\" DETACH "
      "PARTITION " +
      it->table + "; ";
  sql += keep ? "ALTER TABLE " + it->table + " RENAME TO " + it->table + "_detached; "
              : "DROP TABLE " + it->table + "; ";
  sql += "COMMIT";
  std::string why;
  if (!lease->run(sql, &why)) {
    if (!lease->broken() && !lease->idle()) lease->run("ROLLBACK", nullptr);
    if (error) *error = server_ + ": cannot detach " + it->table + ": " + why;
    return false;
  }
  std::lock_guard lock(mu_);
  if (auto m = month_index_of_yyyymm(yyyymm)) months_.erase(*m);
  return true;
}

}  // namespace bihuan::pg
