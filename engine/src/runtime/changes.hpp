// The change feed read from the history log (runtime/changes.cpp; bihuan/changes.hpp).
#pragma once

#include "bihuan/changes.hpp"
#include "storage/lmdb_env.hpp"

namespace bihuan::runtime {

// The feed's cursor: hex of be64(log key) of the last step returned ("" before the first).
std::string change_cursor(std::uint64_t log_key);
// The log key a cursor names (0 for ""); nullopt if it is not a cursor of the feed.
std::optional<std::uint64_t> parse_change_cursor(const std::string& cursor);

// Up to `limit` (1..100,000) entries of the history log after `cursor`, in key order,
// within `txn` (one snapshot). Why keys are commit order: every commit appends its steps
// at the end of the log (MDB_APPEND) with keys above every key committed before, so a
// snapshot holds a prefix of all keys ever given out, and a key once passed is never
// committed later; keys of removed steps are never given out again (meta
// `history-next`, docs/storage.md). An LMDB error sets error and unavailable.
// `skip_removed` (a store that keeps removed history): entries of instances with no record
// are passed over, at most kMaxSkipped per page (then a shorter page, its nextCursor after
// them).
inline constexpr std::size_t kMaxSkipped = 100000;
ChangePage read_changes(storage::Txn& txn, const std::string& cursor, std::size_t limit,
                        bool skip_removed = false);

}  // namespace bihuan::runtime
