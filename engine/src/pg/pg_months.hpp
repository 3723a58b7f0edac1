// History by month on PostgreSQL (schema version 2; docs/storage.md, "PostgreSQL", and
// docs/scale-out.md, "History by month").
//
// The `history` table is PARTITION BY RANGE (k). Its keys are be64 log keys (given out in
// increasing order), and a month's partition `history_YYYYMM` holds the key range
// [index << 40, (index + 1) << 40), where index = year * 12 + month - 1 (2027-01: 24324).
// The engine raises its next history key to the floor of the month it executes in
// (storage::Remote::history_floor), so a month's steps land in that month's partition and
// an old month can later be detached whole, not deleted row by row.
//
// `history_legacy` holds the keys below 1 << 40: every step of a store before its first
// month partition is used (a version-1 table converted, or a new store's first month:
// the month of its creation, bihuan_schema.legacy_month, is written there). Months up to
// legacy_month never get a partition of their own. `history_other` (the DEFAULT partition)
// takes any key outside those ranges: the store takes any key, though the engine's never
// go there.
//
// Partitions are made ahead: the month a step executes in and the two after it, when
// history_floor first sees that month (CREATE TABLE, then ALTER TABLE ... ATTACH
// PARTITION, which does not block commits; lock_timeout 500 ms, retried a minute later).
// A floor only names a month whose partition exists, so a failure to make one leaves the
// steps in the month before (never an error).
#pragma once

#include <chrono>
#include <cstdint>
#include <mutex>
#include <optional>
#include <set>
#include <string>
#include <string_view>
#include <vector>

#include "pg/pg_conn.hpp"
#include "storage/remote.hpp"

namespace bihuan::pg {

class ConnPool;

inline constexpr int kMonthShift = 40;
inline constexpr const char* kLegacyHistoryTable = "history_legacy";
inline constexpr const char* kOtherHistoryTable = "history_other";  // DEFAULT: any other key

// The month index of a UTC time in ms (year * 12 + month - 1), the time clamped to years
// 1..9999 (four digits in a table's name).
int month_index_of_ms(std::int64_t ms);
// 24324 -> 202701, and back (nullopt unless YYYYMM with a month 01..12, year 1..9999).
int month_yyyymm(int index);
std::optional<int> month_index_of_yyyymm(int yyyymm);
// The first key of a month's range.
inline std::uint64_t month_first_key(int index) {
  return static_cast<std::uint64_t>(index) << kMonthShift;
}
// "history_202701", and back (nullopt: not a month's table).
std::string month_table(int index);
std::optional<int> month_of_table(std::string_view name);

// The DDL of a new store's `history` (with its legacy partition) and the version-2 schema
// row; and the conversion of a version-1 store (its table becomes the legacy partition:
// PostgreSQL checks its keys, one scan, no copy). Run in ensure_schema's transaction.
std::string new_history_ddl();
std::string convert_history_ddl();

// A PgRemote's months: the floor, the list, detaching. Any thread.
class HistoryMonths {
 public:
  HistoryMonths(ConnPool& pool, std::string server) : pool_(pool), server_(std::move(server)) {}
  // storage::Remote::history_floor's contract. One query the first time; then a round
  // trip only when a new month is seen (making its partitions).
  std::uint64_t floor(std::int64_t now_ms);
  // storage::Remote::history_months / detach_history_month.
  bool list(bool count, std::vector<storage::HistoryMonth>* out, std::string* error);
  bool detach(int yyyymm, bool keep, std::string* error, bool* held = nullptr);

 private:
  bool load(Conn& c, std::string* error);  // legacy_ and months_; under mu_
  bool make_months(Conn& c, int from, int to, std::string* error);  // under mu_
  std::uint64_t floor_of(int index) const;                          // under mu_
  ConnPool& pool_;
  std::string server_;
  std::mutex mu_;
  bool loaded_ = false;
  int legacy_ = 0;        // bihuan_schema.legacy_month (an index)
  std::set<int> months_;  // indexes of the month partitions attached
  int seen_ = -1;         // the month floor() last made partitions for
  std::chrono::steady_clock::time_point retry_at_{};
};

}  // namespace bihuan::pg
