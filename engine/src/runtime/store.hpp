// What a batch's steps read and write: the face of the batch's transaction.
//
// Direct: reads and writes go straight to a write transaction (no-sync mode, timer sweeps,
// deploys). Staged (the durable pipeline): the batch runs on the executor while the
// previous batch is still being committed, so it reads a read snapshot under an Overlay of
// the writes of batches not yet in that snapshot, and its writes go to the overlay and to
// an op log that the committer replays, in order, into its write transaction.
#pragma once

#include <map>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "storage/lmdb_env.hpp"

namespace bihuan::runtime {

// One write of a staged batch.
struct Op {
  storage::Db db;
  bool put;     // false: delete
  bool append;  // MDB_APPEND (history and outbox keys only grow)
  std::string key, value;
};

// Writes of staged batches not yet visible in the executor's snapshot (nullopt: deleted;
// history is left out: it is append-only and no step reads it).
// At most two batches are in flight: the one being committed and the one being executed,
// so point lookups use two generations of hash maps, and rotate() at the start of a
// batch drops the older one (whose batch has committed: the caller guarantees it).
// Databases read through cursors (timers, children) keep one ordered map, each entry
// tagged with its batch number. Executor thread only.
class Overlay {
 public:
  using Value = std::optional<std::string>;
  struct Tagged {
    Value value;
    std::uint64_t batch = 0;
  };
  using Ordered = std::map<std::string, Tagged, std::less<>>;  // key: one byte of Db, then the key

  static bool ordered(storage::Db db) {
    return db == storage::Db::timers || db == storage::Db::children;
  }
  // nullptr: not written by a batch in flight.
  const Value* find(storage::Db db, std::string_view key) const;
  void set(storage::Db db, std::string_view key, Value value, std::uint64_t batch);
  // Starts batch `batch`: the writes of batch - 1 stay, older ones go (into the committed
  // cache, when kept).
  void rotate(std::uint64_t batch);
  void clear();  // everything, the committed cache too

  // The committed cache (a remote store, where every read is a round trip): what this
  // engine's committed batches wrote, and what its batches read from the store, i.e. the
  // store as of its last commit, point keys only (not history, not Overlay::ordered()).
  // Sound while no other writer commits: one that does makes this engine's next commit
  // conflict (its writer stamp), and the writer then starts from the store (clear()).
  // Emptied at a rotate() that finds it holding more than kCacheBytes of keys and values
  // (counted as added, replaced values included), so views stay valid within a batch.
  void keep_committed(bool on) { keep_ = on; }
  bool keeps() const { return keep_; }
  // A value read from the store (nullopt: absent) for `db`/`key`; the cached entry.
  const Value* remember(storage::Db db, std::string_view key, Value value);
  static constexpr std::size_t kCacheBytes = std::size_t{256} << 20;
  const Ordered& ordered_map() const { return ordered_; }

 private:
  struct Hash {
    using is_transparent = void;
    std::size_t operator()(std::string_view s) const { return std::hash<std::string_view>()(s); }
  };
  using Point = std::unordered_map<std::string, Value, Hash, std::equal_to<>>;
  static constexpr auto kDbs = static_cast<std::size_t>(storage::Db::count_);
  Point gen_[2][kDbs];  // [cur_] this batch, [1 - cur_] the previous one
  int cur_ = 0;
  Ordered ordered_;
  bool keep_ = false;
  Point cache_[kDbs];       // the committed cache (keep_)
  std::size_t cached_ = 0;  // bytes of keys and values put into cache_ since it was emptied
};

// A cursor over one database as the batch sees it (overlay merged over the snapshot).
// As storage::Cursor: false from a positioning call is the end OR an error; status() says.
class StoreCursor {
 public:
  // overlay: nullptr in direct mode, and for databases that are not Overlay::ordered().
  StoreCursor(std::unique_ptr<storage::Cursor> base, const Overlay* overlay, storage::Db db);
  bool seek(std::string_view key);  // first key >= key
  bool first() { return seek({}); }
  bool next();
  std::string_view key() const { return key_; }
  std::string_view value() const { return value_; }
  int status() const { return base_->status(); }  // 0, or the LMDB error that ended the walk

 private:
  bool settle();  // moves past deleted keys; sets key_/value_ from the smaller source
  std::unique_ptr<storage::Cursor> base_;
  bool base_ok_ = false;
  const Overlay* overlay_;
  std::string prefix_;  // the database's byte in overlay keys
  Overlay::Ordered::const_iterator it_;
  bool from_base_ = false, from_overlay_ = false;
  std::string_view key_, value_;
};

class Store {
 public:
  explicit Store(storage::Txn& write) : txn_(write) {}
  Store(storage::Txn& snapshot, Overlay& overlay, std::uint64_t batch, std::vector<Op>& log)
      : txn_(snapshot), overlay_(&overlay), batch_(batch), log_(&log) {}

  // The view is valid until the next write to the same database (LMDB moves data within
  // a page it writes; the overlay replaces the value of a key written again).
  // nullopt with rc 0: not found; with rc != 0: the read failed.
  std::optional<std::string_view> get(storage::Db db, std::string_view key, int& rc);
  int put(storage::Db db, std::string_view key, std::string_view value, bool append = false);
  // The same, taking the strings (a staged batch's op log keeps them without a copy).
  int put_owned(storage::Db db, std::string&& key, std::string&& value, bool append = false);
  int del(storage::Db db, std::string_view key);        // deleting a missing key is not an error
  std::unique_ptr<StoreCursor> cursor(storage::Db db);  // never nullptr; see status()
  std::size_t writes() const { return writes_; }        // put and del calls so far
  // The smallest key put into Db::timers since the last call (nullopt: none). A timer
  // sweep resumes its walk there when a firing armed a timer before the walk's position
  // (engine_impl.cpp, the sweep), rather than from the first key: over an overlay, the
  // first key is reached only past every timer the batch has fired (deleted keys).
  std::optional<std::string> take_lowest_timer_put();

 private:
  void note_timer_put(storage::Db db, std::string_view key);
  std::size_t writes_ = 0;
  bool timer_put_ = false;
  std::string lowest_timer_put_;
  storage::Txn& txn_;
  Overlay* overlay_ = nullptr;
  std::uint64_t batch_ = 0;
  std::vector<Op>* log_ = nullptr;
};

}  // namespace bihuan::runtime
