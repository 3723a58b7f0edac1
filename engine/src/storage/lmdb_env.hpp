// A small C++ face over LMDB (the only room that includes lmdb.h is lmdb_env.cpp).
//
// Env owns the environment and the named databases. Txn is one read or write
// transaction; Cursor walks one database in key order. Errors are LMDB return codes
// (0 = success); error_text() turns them into sentences. Not-found is an empty optional.
#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <shared_mutex>
#include <string>
#include <string_view>

struct MDB_env;
struct MDB_txn;
struct MDB_cursor;

namespace bihuan::storage {

enum class Db : unsigned {
  meta,      // "format" -> u32 storage format version, "created" -> ISO time
  defs,      // id \0 be64(version) -> definition JSON text
  inst,      // be64(instance id) -> msgpack instance record
  hist,      // "history": be64(global seq) -> be64(instance) be64(previous seq) msgpack entry
  bkey,      // business key -> be64(instance id) of the newest instance with that key
  idem,      // scope \0 key -> msgpack idempotency record
  timers,    // be64(due ms) be64(instance id) be32(timer seq) -> msgpack timer
  sidx,      // definition \0 state \0 be64(instance id) -> "" (query/inbox index)
  outbox,    // be64(seq) -> msgpack message (waiting or retrying; dead letters are in `dead`)
  children,  // be64(parent) be64(child) -> ""
  due,       // "outbox_due": channel \0 be64(due ms) be64(seq) -> "" (one per `outbox` record)
  dead,      // be64(seq) -> msgpack message (dead letters)
  count_
};

std::string error_text(int rc);
const char* db_name(Db db);  // the LMDB database's name ("history" for Db::hist)
bool is_map_full(int rc);

class Txn;

class Env {
 public:
  // Opens or creates the environment in `dir`. nosync = MDB_NOSYNC (simulation only).
  static std::unique_ptr<Env> open(const std::string& dir, std::size_t map_bytes, bool nosync,
                                   std::string* error);
  // Opens an existing environment read-only: nothing is created, an absent database has
  // no handle (its uses fail). For the structural walk (storage/walk.hpp, walk.cpp).
  static std::unique_ptr<Env> open_read_only(const std::string& dir, std::string* error);
  ~Env();

  std::unique_ptr<Txn> begin(bool write, int* rc);
  // Doubles the map size. Must be called with no transaction open in this process (the
  // caller holds resize_lock() exclusively).
  int grow();
  std::size_t map_size() const { return map_bytes_; }
  int copy_compact(const std::string& dir) const;
  int sync();
  // Readers hold it shared for the life of a read txn; grow() needs it exclusive.
  std::shared_mutex& resize_lock() { return resize_; }
  unsigned dbi(Db db) const { return dbis_[static_cast<unsigned>(db)]; }
  MDB_env* raw() const { return env_; }
  // Keeps the page cache at 4 KiB granularity for the pages LMDB will write next. On
  // kernels whose ext4 page cache uses large folios (6.16 and later), a run of new pages
  // written with one writev lands in one folio of up to 256 KiB; rewriting any 4 KiB page
  // of it later dirties the whole folio, and fdatasync writes all of it (measured: 5-8x
  // the bytes). So, in durable mode, the file is lengthened (fallocate: never
  // shortened, no byte changed) to kCacheAheadBytes past the last used page and those
  // pages are brought into the cache as 4 KiB folios
  // (POSIX_FADV_WILLNEED on a POSIX_FADV_RANDOM descriptor) before LMDB writes them.
  // Called after each write commit (not at open), by the thread that committed (one at a
  // time); best effort (errors are ignored: LMDB reports real I/O errors itself).
  void cache_ahead();
  // Bytes of data.mdb that LMDB uses: (last page number + 1) * page size.
  std::uint64_t used_bytes() const;
  static constexpr std::uint64_t kCacheAheadBytes = std::uint64_t{2} << 20;

 private:
  Env() = default;
  MDB_env* env_ = nullptr;
  unsigned dbis_[static_cast<unsigned>(Db::count_)] = {};
  std::size_t map_bytes_ = 0;
  int ahead_fd_ = -1;
  std::uint64_t page_bytes_ = 0, cached_end_ = 0;
  std::shared_mutex resize_;
};

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
  int del();  // deletes the current item

 private:
  friend class Txn;
  bool load(int op, std::string_view k = {});
  MDB_cursor* cursor_ = nullptr;
  std::string_view key_, value_;
};

// get, put and del go through one cursor per database, kept for the transaction's life:
// LMDB skips the search from the root when the key falls on the page the cursor is on,
// so a put after a get of the same key, keys in order, and appends cost one page search.
class Txn {
 public:
  ~Txn();  // aborts if neither committed nor aborted
  std::optional<std::string_view> get(Db db, std::string_view key, int* rc = nullptr);
  int put(Db db, std::string_view key, std::string_view value, bool append = false);
  int del(Db db, std::string_view key);  // MDB_NOTFOUND is returned as 0 (already gone)
  std::unique_ptr<Cursor> cursor(Db db, int* rc = nullptr);
  // A named database of an older format, for migrations: a cursor over it if it exists
  // (nullptr and *rc = 0 if it does not), and deleting it. Write transactions only.
  std::unique_ptr<Cursor> legacy_cursor(const char* name, int* rc);
  int drop_legacy(const char* name);
  std::size_t entries(Db db);  // number of records in db
  int commit();
  void abort();
  bool writable() const { return write_; }

 private:
  friend class Env;
  Txn(Env& env, MDB_txn* txn, bool write) : env_(env), txn_(txn), write_(write) {}
  MDB_cursor* at(Db db, int* rc);  // the database's cursor, opened on first use
  void close_cursors();            // before the transaction ends (LMDB frees write cursors then)
  Env& env_;
  MDB_txn* txn_;
  bool write_;
  MDB_cursor* cursors_[static_cast<std::size_t>(Db::count_)] = {};
};

// Big-endian fixed-width encodings that sort like the numbers they hold.
std::string be64(std::uint64_t v);
std::string be32(std::uint32_t v);
std::uint64_t read_be64(std::string_view s, std::size_t at = 0);
std::uint32_t read_be32(std::string_view s, std::size_t at = 0);

}  // namespace bihuan::storage
