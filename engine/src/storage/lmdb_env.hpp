// A small C++ face over LMDB (lmdb.h is included by lmdb_env.cpp, log.cpp, walk.cpp only),
// with the write-ahead log in front of it (log.cpp; docs/storage.md, "The write-ahead log").
//
// Env owns the environment and the named databases. Txn is one read or write
// transaction; Cursor walks one database in key order. Errors are LMDB return codes
// (0 = success) that the caller must look at, never folded into "not found" or "end of
// data"; error_text() turns them into sentences. Not-found is an empty optional.
#pragma once

#include <array>
#include <atomic>
#include <condition_variable>
#include <cstdint>
#include <deque>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "storage/db.hpp"
#include "storage/hex.hpp"
#include "storage/pmap.hpp"
#include "storage/remote.hpp"
#include "storage/wal.hpp"

struct MDB_env;
struct MDB_txn;
struct MDB_cursor;

namespace bihuan::storage {

std::string error_text(int rc);
// Codes of a remote store (remote.hpp; outside LMDB's range and the committer's): its call
// failed (nothing applied), its commit's outcome is unknown (the connection was lost after
// COMMIT), a conditional commit found another value, or the call is not offered there
// (copy_compact). error_text() of all but the conflict gives the store's last sentence on
// the calling thread.
inline constexpr int kRemoteFailed = -30900;
inline constexpr int kRemoteUnknown = -30901;
inline constexpr int kRemoteConflict = -30902;
inline constexpr int kRemoteRefused = -30903;
// Records `sentence` as the calling thread's last remote error and returns `code`.
int remote_error(int code, std::string sentence);
std::string remote_text(int code);  // error_text() of a remote code
const char* db_name(Db db);         // the LMDB database's name ("history" for Db::hist)
bool is_map_full(int rc);
// The environment is damaged or LMDB cannot go on (MDB_PANIC, MDB_CORRUPTED,
// MDB_PAGE_NOTFOUND, MDB_INVALID, MDB_VERSION_MISMATCH, MDB_BAD_DBI, MDB_BAD_RSLOT, and
// MDB_BAD_TXN on a transaction that saw no error before): retrying cannot help.
bool is_fatal(int rc);

class Txn;

// The write-ahead log's frames that LMDB does not hold yet, as readers see them
// (storage/wal.hpp; docs/storage.md, "The write-ahead log"). Immutable once published:
// readers keep the one they began with for their transaction's life.
struct LogView {
  std::uint64_t generation = 0;  // the log's generation these frames come from
  std::uint64_t seen_end = 0;    // the log offset read up to
  std::uint64_t last = 0;        // the lsn of the last frame in it (or of the last applied)
  std::uint64_t bytes = 0;       // keys and values its frames wrote (uncompressed)
  static constexpr std::size_t kDbs = static_cast<std::size_t>(Db::count_);
  std::array<PMap, kDbs> maps;  // the latest write per key
  bool empty() const {
    for (const auto& m : maps)
      if (!m.empty()) return false;
    return true;
  }
  std::size_t entries() const {
    std::size_t n = 0;
    for (const auto& m : maps) n += m.size();
    return n;
  }
};

// The map's resize lock. Every transaction of this process holds it shared for its life,
// and so does an online copy; changing the map size needs it exclusive (LMDB's rule:
// mdb_env_set_mapsize only with no transaction of this process active). A thread that
// holds it shared takes it shared again at once (it may hold several transactions). A
// waiting resize holds back new transactions, so a steady read load cannot starve it,
// except while an online copy holds it: the resize waits for the copy anyway, and reads
// go on meanwhile.
class ResizeLock {
 public:
  void lock_shared(bool long_hold = false);
  void unlock_shared(bool long_hold = false);
  // false (without waiting) if the calling thread holds it shared: it would wait for itself.
  bool lock();
  void unlock();
  // A resize waits for the shared holders (any thread; a hint, read without the lock).
  bool waiting() const { return waiting_flag_.load(std::memory_order_relaxed); }

 private:
  std::size_t& held_here();  // shared holds of this lock by the calling thread
  std::mutex mu_;
  std::condition_variable cv_;
  std::size_t shared_ = 0, long_ = 0, waiting_ = 0;
  bool exclusive_ = false;
  std::atomic<bool> waiting_flag_{false};  // waiting_ > 0
};

class Env {
 public:
  // Opens or creates the environment in `dir`. nosync = MDB_NOSYNC (simulation only).
  // Also opens or creates the write-ahead log <dir>/wal.log, and recovers: the frames after
  // meta/"wal_applied" are applied to LMDB in one synced transaction and the log is reset
  // (every process that opens the directory does this; other processes notice the reset).
  static std::unique_ptr<Env> open(const std::string& dir, std::size_t map_bytes, bool nosync,
                                   std::string* error);
  // Opens an existing environment read-only: nothing is created, an absent database has
  // no handle (its uses fail). For the structural walk (storage/walk.hpp, walk.cpp).
  static std::unique_ptr<Env> open_read_only(const std::string& dir, std::string* error);
  // An environment over a remote store (remote.hpp) instead of LMDB: `dir` is still the
  // data directory (attachments, the start check), the store holds the key spaces. No log,
  // no map: checkpoint(), sync() and grow() do nothing, copy_compact() is refused; a logged
  // commit is the store's one-transaction commit.
  static std::unique_ptr<Env> open_remote(const std::string& dir, std::unique_ptr<Remote> remote);
  ~Env();
  // The remote store, or nullptr (LMDB).
  Remote* remote() const { return remote_.get(); }

  // A read or write transaction; nullptr and *rc on failure. A map grown by another
  // process (MDB_MAP_RESIZED) is adopted first, once no transaction of this process is
  // open; a thread that holds a transaction of this environment gets MDB_MAP_RESIZED
  // instead (it would wait for itself). A Txn ends on the thread that began it.
  // With the log: a read transaction sees LMDB under the LogView it began with (every
  // acknowledged commit). A write transaction holds the log's exclusive lock for its life
  // and begins by applying the LogView to LMDB (a checkpoint); its commit resets the log.
  std::unique_ptr<Txn> begin(bool write, int* rc);

  // The logged commit (the durable pipeline's committer). While it lives it holds the log's
  // exclusive lock; it has read the frames other processes appended (foreign()).
  class LogCommit {
   public:
    // Frames or resets of other processes seen by this environment so far (a counter):
    // a change since the committer's last commit means another process wrote.
    std::uint64_t foreign() const { return foreign_; }
    // One frame of `n` writes (op(i)), one fdatasync, then readers see it. 0 or an errno;
    // on failure nothing is published.
    // With a remote store and `expect`: applied only if it holds (else kRemoteConflict and
    // nothing applied); kRemoteUnknown if the outcome is unknown. The log ignores `expect`
    // (it holds the writer lock and foreign() says whether another process wrote).
    int append(std::size_t n, const std::function<OpRef(std::size_t)>& op,
               const Expect* expect = nullptr);
    // A lone step whose caller waits: its frame is written and flushed as one request,
    // awaited by polling rather than sleeping (Wal::append_start). Not for group commits.
    void poll_flush(bool on) { poll_flush_ = on; }

   private:
    friend class Env;
    LogCommit(Env& env, std::optional<Wal::Lock> lock) : env_(env), lock_(std::move(lock)) {}
    Env& env_;
    std::optional<Wal::Lock> lock_;  // none with a remote store
    std::uint64_t foreign_ = 0;
    bool poll_flush_ = false;
  };
  // nullptr if the environment has no log (read-only) or *rc is an error.
  std::unique_ptr<LogCommit> log_begin(int* rc);
  bool logged() const { return wal_ != nullptr || remote_ != nullptr; }
  // Applies the log to LMDB and resets it. Most of it under LMDB's writer lock only
  // (commits go on appending), in rounds until at most kLockedEntries writes are left;
  // those under the log's lock, with the reset. 0 at once if there is nothing to apply.
  int checkpoint();
  static constexpr std::size_t kLockedEntries = 2048;
  // Bytes of frames in the log now (a hint, any thread).
  std::uint64_t log_bytes() const;
  // What this process's view holds (any thread; one look at the view). `content`: bytes of
  // keys and values its frames wrote: with compressed frames, what a checkpoint has to
  // apply and recovery to read, unlike log_bytes(). `memory`: bytes its maps hold, with
  // the paths newer versions replaced (PMap's arenas), freed when a checkpoint starts the
  // view again.
  struct LogSize {
    std::uint64_t content = 0, memory = 0;
  };
  LogSize log_size() const;
  std::uint64_t log_content_bytes() const { return log_size().content; }
  std::uint64_t foreign_changes() const { return foreign_.load(std::memory_order_acquire); }
  // Why the log could not be read the last time (a damaged frame: file, lsn, what), or "".
  std::string log_error() const;
  // Doubles the map size: waits until no transaction or copy of this process is open
  // (EBUSY if the calling thread holds one).
  int grow();
  // The map size now (any thread).
  std::size_t map_size() const { return map_bytes_.load(std::memory_order_relaxed); }
  // A map resize is waiting for this process's transactions to end (any thread): a long
  // read should end its transaction soon (Txn::renew).
  bool growth_waiting() const { return resize_.waiting(); }
  // Compacted copy into an empty directory. The map does not change size meanwhile.
  int copy_compact(const std::string& dir);
  int sync();
  unsigned dbi(Db db) const { return dbis_[static_cast<unsigned>(db)]; }
  const std::string& dir() const { return dir_; }
  MDB_env* raw() const { return env_; }  // for tests that write an older format
  static constexpr const char* kWalAppliedKey = "wal_applied";
  // The first fatal LMDB code (is_fatal) any call on this environment returned, or 0.
  int fatal() const { return fatal_.load(std::memory_order_acquire); }
  // Called once, on the thread that met it, with the first fatal code (set before use).
  void on_fatal(std::function<void(int rc)> f) { on_fatal_ = std::move(f); }
  // Keeps the page cache at 4 KiB granularity for the pages LMDB will write next. On
  // kernels whose ext4 page cache uses large folios (6.16 and later), a run of new pages
  // written with one writev lands in one folio of up to 256 KiB; rewriting any 4 KiB page
  // of it later dirties the whole folio, and fdatasync writes all of it (measured: 5-8x
  // the bytes). So, in durable mode, the file is lengthened (fallocate: never
  // shortened, no byte changed) to kCacheAheadBytes past the last used page and those
  // pages are brought into the cache as 4 KiB folios
  // (POSIX_FADV_WILLNEED on a POSIX_FADV_RANDOM descriptor) before LMDB writes them.
  // Called after each write commit (not at open), by the thread that committed; one thread
  // at a time (another that comes meanwhile skips it); best effort (errors are ignored:
  // LMDB reports real I/O errors itself).
  void cache_ahead();
  // Bytes of data.mdb that LMDB uses: (last page number + 1) * page size.
  std::uint64_t used_bytes() const;
  static constexpr std::uint64_t kCacheAheadBytes = std::uint64_t{2} << 20;

 private:
  friend class Txn;
  friend class Cursor;
  Env() = default;
  int check(int rc, int earlier = 0);  // records a fatal code (earlier: the txn's first error)
  int adopt_size();                    // MDB_MAP_RESIZED: take the size another process set
  void read_size();                    // map_bytes_ from LMDB
  // The log (log.cpp). current_view: the published LogView. ingest: reads the frames
  // other processes appended (or their reset) into a new view, under a lock of the log.
  std::shared_ptr<const LogView> current_view() const;
  void publish(std::shared_ptr<const LogView> v);
  int ingest();                              // takes the shared lock itself
  int ingest_locked(const Wal::Lock& lock);  // the caller holds `lock` (and ingest_mu_)
  std::shared_ptr<const LogView> view_for_read(int* rc);  // ingests if the log moved
  bool view_stale(const LogView& v) const;                // the log moved since v
  int recover(std::string* error);                        // at open
  // A write transaction of LMDB alone (no log lock, the view not applied): recovery and
  // the checkpoint's unlocked rounds. A map another process grew is adopted first.
  std::unique_ptr<Txn> begin_unlogged(int* rc);
  int apply_view(Txn& txn, const LogView& v);  // puts v's writes into txn
  int apply_unlocked(const LogView& v);        // apply_view in a write transaction of its own
  int checkpoint_locked();                     // a write transaction (apply, commit, reset)
  std::unique_ptr<Txn> begin_remote(bool write, int* rc);  // begin() on a remote store
  // A logged commit on the remote store (remote_env.cpp).
  int remote_commit(std::size_t n, const std::function<OpRef(std::size_t)>& op,
                    const Expect* expect);
  std::uint64_t applied_lsn(MDB_txn* txn) const;  // meta/"wal_applied" in txn (0: none)
  std::unique_ptr<Wal> wal_;
  std::unique_ptr<Remote> remote_;
  mutable std::mutex view_mu_;
  std::shared_ptr<const LogView> view_;  // guarded by view_mu_
  std::mutex ingest_mu_;                 // one ingest at a time in this process
  std::atomic<std::uint64_t> foreign_{0};
  std::string log_error_;  // the last damage ingest met (guarded by view_mu_)
  MDB_env* env_ = nullptr;
  std::string dir_;
  unsigned dbis_[static_cast<unsigned>(Db::count_)] = {};
  std::atomic<std::size_t> map_bytes_{0};
  int ahead_fd_ = -1;
  std::mutex ahead_mu_;  // cache_ahead(), one thread at a time
  std::uint64_t page_bytes_ = 0, cached_end_ = 0;
  ResizeLock resize_;
  std::atomic<int> fatal_{0};
  std::function<void(int)> on_fatal_;
};

// Walks one database in key order, leveldb-style: the positioning calls return true when
// the cursor is on an item, false at the end of the data OR on an error; status() tells
// which (0: the end; else the LMDB code). A loop over a cursor must look at status()
// after it, or it takes a failed read for the end of the data.
class Cursor {
 public:
  ~Cursor();
  // Positions at the first key >= `key`; false if none.
  bool seek(std::string_view key);
  bool first();
  bool last();
  bool next();
  bool prev();
  std::string_view key() const { return key_; }
  std::string_view value() const { return value_; }
  int status() const { return rc_; }  // 0, or the error that ended the walk
  int del();                          // deletes the current item

 private:
  friend class Txn;
  explicit Cursor(Txn& txn) : txn_(txn) {}
  bool load(int op, std::string_view k = {});
  // Under a LogView (a read transaction with frames not in LMDB): the view's entries of
  // this database merged over LMDB's, deletions skipped (log.cpp). prev() is not offered
  // then (EINVAL in status()); nothing uses it on a read transaction.
  bool merged() const { return map_ != nullptr; }
  // The LMDB cursor: MDB_FIRST, MDB_SET_RANGE (key), MDB_NEXT, MDB_PREV, MDB_LAST.
  bool base_step(int op, std::string_view key = {});
  bool settle();  // from base_ and it_: the smaller key, past deletions
  bool merged_seek(std::string_view key);
  bool merged_next();
  bool merged_last();
  bool remote_load(int op, std::string_view k);  // load() on a remote cursor
  Txn& txn_;
  MDB_cursor* cursor_ = nullptr;
  std::unique_ptr<RemoteCursor> remote_;  // instead of cursor_, on a remote store
  Db db_ = Db::count_;
  int rc_ = 0;
  std::string_view key_, value_;
  const PMap* map_ = nullptr;  // the view's map of this database
  PMap::Iter it_;
  bool base_ok_ = false;  // the LMDB cursor is on an item (base_key_, base_value_)
  std::string_view base_key_, base_value_;
  bool on_base_ = false, on_map_ = false;  // where key_ came from (both: the view's value)
};

// get, put and del go through one cursor per database, kept for the transaction's life:
// LMDB skips the search from the root when the key falls on the page the cursor is on,
// so a put after a get of the same key, keys in order, and appends cost one page search.
// Every call says how it went (an LMDB code; not-found is an empty optional with rc 0).
class Txn {
 public:
  ~Txn();  // aborts if neither committed nor aborted
  // nullopt with rc 0: not found; nullopt with rc != 0: the read failed.
  std::optional<std::string_view> get(Db db, std::string_view key, int& rc);
  int put(Db db, std::string_view key, std::string_view value, bool append = false);
  int del(Db db, std::string_view key);  // MDB_NOTFOUND is returned as 0 (already gone)
  // Never nullptr: a cursor that cannot be opened reports it in status() and finds nothing.
  std::unique_ptr<Cursor> cursor(Db db);
  // A named database of an older format, for migrations: a cursor over it if it exists
  // (nullptr and *rc = 0 if it does not), and deleting it. Write transactions only.
  std::unique_ptr<Cursor> legacy_cursor(const char* name, int* rc);
  int drop_legacy(const char* name);
  std::size_t entries(Db db, int& rc);  // number of records in db (0 and rc on failure)
  int commit();
  void abort();
  bool writable() const { return write_; }
  // A read transaction only: ends this snapshot and begins a new one on the same object
  // (mdb_txn_reset, then mdb_txn_renew), releasing the resize lock in between, so that a
  // waiting map resize goes first. Every Cursor of this transaction and every value read
  // from it are invalid afterwards (open new cursors); the transaction's own get/put
  // cursors are reopened on first use. A long scan calls it between chunks (runtime/scan.hpp).
  // 0, or the LMDB error of the new snapshot (then the transaction is unusable).
  int renew();

 private:
  friend class Env;
  friend class Cursor;
  Txn(Env& env, MDB_txn* txn, bool write) : env_(env), txn_(txn), write_(write) {}
  Txn(Env& env, std::unique_ptr<RemoteTxn> remote, bool write)
      : env_(env), txn_(nullptr), write_(write), remote_(std::move(remote)) {}
  // The remote store's side of get .. abort (remote_env.cpp).
  std::optional<std::string_view> remote_get(Db db, std::string_view key, int& rc);
  int remote_commit();
  int commit_logged();             // a write transaction with the log: commit, then reset the log
  MDB_cursor* at(Db db, int* rc);  // the database's cursor, opened on first use
  void close_cursors();            // before the transaction ends (LMDB frees write cursors then)
  int check(int rc);               // Env::check, and the first error of this transaction
  void release();                  // the resize lock, once the transaction has ended
  Env& env_;
  MDB_txn* txn_;
  bool write_;
  int first_error_ = 0;
  MDB_cursor* cursors_[static_cast<std::size_t>(Db::count_)] = {};
  std::shared_ptr<const LogView> view_;     // a read transaction's frames not in LMDB
  std::optional<Wal::Lock> log_lock_;       // a write transaction's, with the log
  std::shared_ptr<const LogView> applied_;  // ... the view it applied
  std::unique_ptr<RemoteTxn> remote_;       // instead of txn_, on a remote store
  std::deque<std::string> got_;             // values read from it (views stay valid)
};

// Big-endian fixed-width encodings that sort like the numbers they hold.
std::string be64(std::uint64_t v);
std::string be32(std::uint32_t v);
std::uint64_t read_be64(std::string_view s, std::size_t at = 0);
// The bytes of lower-case hex text (cursors); nullopt if it is not.
std::optional<std::string> unhex(std::string_view text);
std::uint32_t read_be32(std::string_view s, std::size_t at = 0);

}  // namespace bihuan::storage
