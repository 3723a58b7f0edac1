// Long scans in bounded chunks. A scan over many records (statistics, the inbox, scoped
// lists, the instances behind a filter) reads through one read transaction, and every
// transaction of this process holds the map's resize lock shared: a map resize waits for
// it, and while a resize waits every new transaction waits too (storage/lmdb_env.hpp,
// ResizeLock). So a scan of a million records would stall every client for its length
// whenever the writer needs a larger map. A ScanCursor ends its transaction's snapshot and
// takes a new one (Txn::renew) when a resize waits, or after `chunk` records in any case
// (an old snapshot also keeps LMDB from reusing pages), and goes on after the last key
// it returned.
//
// Consistency: within a chunk, one snapshot. Across chunks, each key is returned at most
// once and in order, but the store may have changed between chunks: a record is read as
// of its own chunk, and an index entry that moved (an instance that changed state while
// a state-index scan went past it) may be seen in both places or in neither. Callers that
// count say so (`StatsResult::snapshots`).
#pragma once

#include <cstddef>
#include <memory>
#include <string>
#include <string_view>

#include "storage/lmdb_env.hpp"

namespace bihuan::runtime {

class ScanCursor {
 public:
  // `chunk` >= 1: records between renewals at most (EngineOptions::scan_chunk).
  ScanCursor(storage::Env& env, storage::Txn& txn, storage::Db db, std::size_t chunk)
      : env_(env), txn_(txn), db_(db), chunk_(chunk), cur_(txn.cursor(db)) {}

  // As storage::Cursor: true on an item; false at the end or on an error (status()).
  bool seek(std::string_view key) { return cur_->seek(key); }
  bool first() { return cur_->first(); }
  // The next key. Between two records it may renew the transaction: then every value
  // read from the transaction before is invalid (copy what you keep before calling next).
  bool next() {
    if (++read_ >= chunk_ || env_.growth_waiting()) return renew_and_next();
    return cur_->next();
  }
  std::string_view key() const { return cur_->key(); }
  std::string_view value() const { return cur_->value(); }
  int status() const { return rc_ ? rc_ : cur_->status(); }
  std::size_t renewals() const { return renewals_; }

 private:
  bool renew_and_next() {
    read_ = 0;
    std::string last(cur_->key());
    cur_.reset();
    if ((rc_ = txn_.renew()) != 0) return false;
    ++renewals_;
    cur_ = txn_.cursor(db_);
    if (!cur_->seek(last)) return false;
    return cur_->key() == last ? cur_->next() : true;
  }
  storage::Env& env_;
  storage::Txn& txn_;
  storage::Db db_;
  std::size_t chunk_, read_ = 0, renewals_ = 0;
  std::unique_ptr<storage::Cursor> cur_;
  int rc_ = 0;
};

}  // namespace bihuan::runtime
