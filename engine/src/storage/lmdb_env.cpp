#include "storage/lmdb_env.hpp"

#include <fcntl.h>
#include <lmdb.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <filesystem>
#include <vector>

namespace bihuan::storage {
namespace {

const char* kDbNames[] = {"meta",   "defs", "inst",   "history",  "bkey",       "idem",
                          "timers", "sidx", "outbox", "children", "outbox_due", "dead",
                          "ridx",   "uidx", "gone",   "attref"};
static_assert(sizeof(kDbNames) / sizeof(kDbNames[0]) == static_cast<unsigned>(Db::count_));

MDB_val val(std::string_view s) { return MDB_val{s.size(), const_cast<char*>(s.data())}; }
std::string_view view(const MDB_val& v) { return {static_cast<const char*>(v.mv_data), v.mv_size}; }

}  // namespace

const char* db_name(Db db) { return kDbNames[static_cast<unsigned>(db)]; }

std::string error_text(int rc) {
  if (rc == kRemoteFailed || rc == kRemoteUnknown || rc == kRemoteConflict || rc == kRemoteRefused)
    return remote_text(rc);
  return mdb_strerror(rc);
}
bool is_map_full(int rc) { return rc == MDB_MAP_FULL || rc == MDB_MAP_RESIZED; }

bool is_fatal(int rc) {
  switch (rc) {
    case MDB_PANIC:
    case MDB_CORRUPTED:
    case MDB_PAGE_NOTFOUND:
    case MDB_INVALID:
    case MDB_VERSION_MISMATCH:
    case MDB_BAD_DBI:
    case MDB_BAD_RSLOT:
    case MDB_BAD_TXN:
      return true;
    default:
      return false;
  }
}

std::size_t& ResizeLock::held_here() {
  // Per thread, per lock (a thread may use several environments).
  thread_local std::vector<std::pair<const ResizeLock*, std::size_t>> held;
  for (auto& [lock, n] : held)
    if (lock == this) return n;
  for (auto& [lock, n] : held)
    if (n == 0) {
      lock = this;
      return n;
    }
  return held.emplace_back(this, 0).second;
}

void ResizeLock::lock_shared(bool long_hold) {
  std::size_t& mine = held_here();
  std::unique_lock lock(mu_);
  if (mine == 0) cv_.wait(lock, [&] { return !exclusive_ && (waiting_ == 0 || long_ > 0); });
  ++mine;
  ++shared_;
  if (long_hold) ++long_;
}

void ResizeLock::unlock_shared(bool long_hold) {
  std::size_t& mine = held_here();
  {
    std::lock_guard lock(mu_);
    --mine;
    --shared_;
    if (long_hold) --long_;
  }
  cv_.notify_all();
}

bool ResizeLock::lock() {
  if (held_here() != 0) return false;
  std::unique_lock lock(mu_);
  ++waiting_;
  waiting_flag_.store(true, std::memory_order_relaxed);
  cv_.wait(lock, [&] { return !exclusive_ && shared_ == 0; });
  --waiting_;
  waiting_flag_.store(waiting_ > 0, std::memory_order_relaxed);
  exclusive_ = true;
  return true;
}

void ResizeLock::unlock() {
  {
    std::lock_guard lock(mu_);
    exclusive_ = false;
  }
  cv_.notify_all();
}

std::unique_ptr<Env> Env::open(const std::string& dir, std::size_t map_bytes, bool nosync,
                               std::string* error) {
  std::error_code ec;
  std::filesystem::create_directories(dir, ec);
  if (ec) {
    if (error) *error = "cannot create data directory " + dir + ": " + ec.message();
    return nullptr;
  }
  std::unique_ptr<Env> env(new Env());
  env->dir_ = dir;
  int rc = mdb_env_create(&env->env_);
  if (rc == 0) rc = mdb_env_set_maxdbs(env->env_, static_cast<MDB_dbi>(Db::count_) + 2);
  if (rc == 0) rc = mdb_env_set_maxreaders(env->env_, 512);
  if (rc == 0) {
    // Keep the size the file already has if it is larger.
    std::uintmax_t existing =
        std::filesystem::file_size(std::filesystem::path(dir) / "data.mdb", ec);
    if (ec) existing = 0;
    rc = mdb_env_set_mapsize(env->env_,
                             std::max<std::size_t>(map_bytes, static_cast<std::size_t>(existing)));
  }
  // MDB_NORDAHEAD: a page fault brings in one 4 KiB page, not a large folio (cache_ahead()).
  unsigned flags = MDB_NOTLS | MDB_NORDAHEAD | (nosync ? MDB_NOSYNC | MDB_WRITEMAP : 0u);
  if (rc == 0) rc = mdb_env_open(env->env_, dir.c_str(), flags, 0640);
  if (rc != 0) {
    if (error) *error = "cannot open LMDB environment in " + dir + ": " + mdb_strerror(rc);
    return nullptr;
  }
  MDB_txn* txn = nullptr;
  rc = mdb_txn_begin(env->env_, nullptr, 0, &txn);
  // Another process may grow the map between the file_size above and this begin: no
  // transaction of ours is open yet, so its size is adopted here directly.
  for (int attempt = 0; rc == MDB_MAP_RESIZED && attempt < 8; ++attempt) {
    rc = mdb_env_set_mapsize(env->env_, 0);
    if (rc == 0) rc = mdb_txn_begin(env->env_, nullptr, 0, &txn);
  }
  env->read_size();
  for (unsigned i = 0; rc == 0 && i < static_cast<unsigned>(Db::count_); ++i)
    rc = mdb_dbi_open(txn, kDbNames[i], MDB_CREATE, &env->dbis_[i]);
  if (rc == 0)
    rc = mdb_txn_commit(txn);
  else if (txn)
    mdb_txn_abort(txn);
  if (rc != 0) {
    if (error) *error = "cannot open databases in " + dir + ": " + mdb_strerror(rc);
    return nullptr;
  }
  MDB_stat st;
  if (mdb_env_stat(env->env_, &st) == 0) env->page_bytes_ = st.ms_psize;
  // Only needed where LMDB writes with pwrite/writev; MDB_WRITEMAP writes through faults.
  if (!nosync)
    env->ahead_fd_ = ::open((std::filesystem::path(dir) / "data.mdb").c_str(), O_RDWR | O_CLOEXEC);
  // No cache_ahead() here: opening (also for a read-only CLI command) changes nothing;
  // the first write commit allocates ahead.
  if (env->ahead_fd_ >= 0) posix_fadvise(env->ahead_fd_, 0, 0, POSIX_FADV_RANDOM);
  // The write-ahead log: opened (or created), and whatever it holds beyond LMDB applied.
  env->wal_ = Wal::open(dir, error);
  if (!env->wal_) return nullptr;
  if (env->recover(error) != 0) return nullptr;
  return env;
}

std::uint64_t Env::used_bytes() const {
  if (!env_) return 0;
  MDB_envinfo info;
  if (mdb_env_info(env_, &info) != 0) return 0;
  return (static_cast<std::uint64_t>(info.me_last_pgno) + 1) * page_bytes_;
}

void Env::cache_ahead() {
  if (ahead_fd_ < 0 || page_bytes_ == 0) return;
  // Write commits come from several threads now (checkpoints): one at a time, and a
  // commit that finds another thread at it leaves it to that one (best effort anyway).
  std::unique_lock one(ahead_mu_, std::try_to_lock);
  if (!one.owns_lock()) return;
  const std::uint64_t page = page_bytes_, used = used_bytes();
  if (used == 0) return;
  if (used + kCacheAheadBytes / 2 <= cached_end_) return;
  std::uint64_t target = std::min<std::uint64_t>(used + kCacheAheadBytes, map_size() / page * page);
  if (target <= used) return;
  // fallocate(2) lengthens the file if it is shorter and never shortens it or changes a
  // byte, even if another process's LMDB writer extends the file at the same moment (a
  // stat-then-ftruncate could cut off its pages). Not glibc's posix_fallocate: where the
  // file system lacks fallocate it writes zero bytes, which could race with such a writer.
  std::uint64_t from = std::max(used, cached_end_);
  if (fallocate(ahead_fd_, 0, static_cast<off_t>(from), static_cast<off_t>(target - from)) != 0)
    return;
  // WILLNEED on a descriptor marked POSIX_FADV_RANDOM reads the range in as 4 KiB folios
  // (forced readahead uses the mapping's smallest folio order); unwritten blocks read as
  // zeros without I/O.
  if (posix_fadvise(ahead_fd_, static_cast<off_t>(from), static_cast<off_t>(target - from),
                    POSIX_FADV_WILLNEED) != 0)
    return;
  cached_end_ = target;
}

Env::~Env() {
  // Nothing this process acknowledged waits in the log for another process to apply it.
  if (env_ && wal_ && fatal() == 0) checkpoint();
  if (env_) mdb_env_close(env_);
  if (ahead_fd_ >= 0) ::close(ahead_fd_);
}

void Env::read_size() {
  MDB_envinfo info;
  if (mdb_env_info(env_, &info) == 0) map_bytes_.store(info.me_mapsize, std::memory_order_relaxed);
}

int Env::check(int rc, int earlier) {
  // MDB_BAD_TXN after an earlier error of the same transaction (MDB_MAP_FULL) is its echo.
  if (!is_fatal(rc) || (rc == MDB_BAD_TXN && earlier != 0)) return rc;
  int none = 0;
  if (fatal_.compare_exchange_strong(none, rc, std::memory_order_acq_rel) && on_fatal_)
    on_fatal_(rc);
  return rc;
}

int Env::adopt_size() {
  if (!resize_.lock()) return MDB_MAP_RESIZED;  // this thread holds a transaction
  int rc = mdb_env_set_mapsize(env_, 0);        // 0: the size in the meta page, at least the data
  read_size();
  resize_.unlock();
  return rc;
}

std::uint64_t Env::applied_lsn(MDB_txn* txn) const {
  MDB_val k = val(kWalAppliedKey), v;
  if (mdb_get(txn, dbi(Db::meta), &k, &v) != 0 || v.mv_size != 8) return 0;
  return read_be64(view(v));
}

std::unique_ptr<Txn> Env::begin(bool write, int* rc_out) {
  if (remote_) return begin_remote(write, rc_out);
  int rc = 0;
  for (int attempt = 0; attempt < 8; ++attempt) {
    MDB_txn* txn = nullptr;
    rc = 0;
    std::optional<Wal::Lock> log_lock;
    std::shared_ptr<const LogView> v;
    if (wal_ && write) {
      // The log's exclusive lock first (never while waiting for the resize lock), then
      // the frames of other processes.
      log_lock.emplace(wal_->lock(true));
      std::lock_guard one(ingest_mu_);
      rc = ingest_locked(*log_lock);
      v = current_view();
    } else if (wal_) {
      v = view_for_read(&rc);
    }
    if (rc) break;
    resize_.lock_shared();
    rc = mdb_txn_begin(env_, nullptr, write ? 0 : MDB_RDONLY, &txn);
    if (rc == 0) {
      std::unique_ptr<Txn> t(new Txn(*this, txn, write));
      if (wal_ && !write && wal_->generation() != v->generation) {
        // The log was reset after the view was taken: LMDB may hold what the view lacks.
        t->abort();
        --attempt;
        continue;
      }
      if (wal_ && !write && applied_lsn(txn) > v->last) {
        // Another process checkpointed frames this view has not read yet: read them.
        t->abort();
        rc = ingest();
        if (rc) break;
        continue;
      }
      if (log_lock) {
        t->log_lock_ = std::move(log_lock);
        if (!v->empty()) {
          rc = apply_view(*t, *v);
          if (rc) {
            t->abort();
            if (is_map_full(rc) && grow() == 0) continue;
            break;
          }
        }
        t->applied_ = v;
      } else if (v && !v->empty()) {
        t->view_ = std::move(v);
      }
      if (rc_out) *rc_out = 0;
      return t;
    }
    resize_.unlock_shared();
    // Another process grew the map past ours: adopt its size, then begin again.
    if (rc != MDB_MAP_RESIZED || (rc = adopt_size()) != 0) break;
    rc = MDB_MAP_RESIZED;
  }
  if (rc_out) *rc_out = check(rc);
  return nullptr;
}

int Env::grow() {
  if (remote_) return 0;  // no map
  if (!resize_.lock()) return EBUSY;
  int rc = mdb_env_set_mapsize(env_, map_size() * 2);
  read_size();
  resize_.unlock();
  return check(rc);
}

int Env::copy_compact(const std::string& dir) {
  if (remote_)
    return remote_error(kRemoteRefused, remote_->describe() +
                                            " is not copied by Bihuan: back it up with "
                                            "pg_basebackup or pg_dump (docs/operations.md)");
  int rc = 0;
  for (int attempt = 0; attempt < 8; ++attempt) {
    resize_.lock_shared(true);  // no growth while the copy reads the map
    rc = mdb_env_copy2(env_, dir.c_str(), MDB_CP_COMPACT);
    resize_.unlock_shared(true);
    if (rc != MDB_MAP_RESIZED || (rc = adopt_size()) != 0) break;
    rc = MDB_MAP_RESIZED;
    std::error_code ec;  // the copy creates its file exclusively: the next attempt writes it anew
    std::filesystem::remove(std::filesystem::path(dir) / "data.mdb", ec);
  }
  return check(rc);
}

int Env::sync() { return remote_ ? 0 : mdb_env_sync(env_, 1); }

Txn::~Txn() { abort(); }

void Txn::release() {
  txn_ = nullptr;
  env_.resize_.unlock_shared();
}

int Txn::renew() {
  if (remote_ && !write_) {
    got_.clear();
    std::string error;
    return remote_->renew(&error) ? 0 : remote_error(kRemoteFailed, std::move(error));
  }
  if (write_ || !txn_) return EINVAL;
  close_cursors();
  mdb_txn_reset(txn_);
  env_.resize_.unlock_shared();  // a waiting resize takes the lock here
  int rc = 0;
  std::shared_ptr<const LogView> v;
  if (env_.wal_) v = env_.view_for_read(&rc);
  env_.resize_.lock_shared();
  if (rc == 0) rc = mdb_txn_renew(txn_);
  if (rc == 0 && v && env_.wal_->generation() != v->generation) {
    // Reset meanwhile: once more, with the view of the new generation.
    mdb_txn_reset(txn_);
    env_.resize_.unlock_shared();
    v = env_.view_for_read(&rc);
    env_.resize_.lock_shared();
    if (rc == 0) rc = mdb_txn_renew(txn_);
  }
  view_ = v && !v->empty() ? v : nullptr;
  for (int attempt = 0; rc == MDB_MAP_RESIZED && attempt < 8; ++attempt) {
    // Another process grew the map: adopt its size with no transaction of this thread
    // holding the lock, as Env::begin does; the lock is held again either way.
    env_.resize_.unlock_shared();
    rc = env_.adopt_size();
    env_.resize_.lock_shared();
    if (rc == 0) rc = mdb_txn_renew(txn_);
  }
  if (rc != 0) {
    mdb_txn_abort(txn_);
    release();
    return env_.check(rc);
  }
  first_error_ = 0;
  return 0;
}

int Txn::check(int rc) {
  if (rc == 0 || rc == MDB_NOTFOUND) return rc;
  env_.check(rc, first_error_);
  if (!first_error_) first_error_ = rc;
  return rc;
}

MDB_cursor* Txn::at(Db db, int* rc) {
  MDB_cursor*& c = cursors_[static_cast<std::size_t>(db)];
  if (!c) *rc = check(mdb_cursor_open(txn_, env_.dbi(db), &c));
  return c;
}

void Txn::close_cursors() {
  for (MDB_cursor*& c : cursors_)
    if (c) {
      mdb_cursor_close(c);
      c = nullptr;
    }
}

std::optional<std::string_view> Txn::get(Db db, std::string_view key, int& rc) {
  if (remote_) return remote_get(db, key, rc);
  rc = 0;
  if (view_) {
    if (const PEntry* e = view_->maps[static_cast<std::size_t>(db)].find(key))
      return e->value ? std::optional<std::string_view>(*e->value) : std::nullopt;
  }
  MDB_val k = val(key), v;
  MDB_cursor* c = at(db, &rc);
  if (c) rc = check(mdb_cursor_get(c, &k, &v, MDB_SET_KEY));
  if (rc == MDB_NOTFOUND)
    rc = 0;
  else if (rc == 0)
    return view(v);
  return std::nullopt;
}

int Txn::put(Db db, std::string_view key, std::string_view value, bool append) {
  if (remote_) {
    std::string error;
    return remote_->put(db, key, value, &error) ? 0 : remote_error(kRemoteFailed, std::move(error));
  }
  MDB_val k = val(key), v = val(value);
  int rc = 0;
  MDB_cursor* c = at(db, &rc);
  return c ? check(mdb_cursor_put(c, &k, &v, append ? MDB_APPEND : 0)) : rc;
}

int Txn::del(Db db, std::string_view key) {
  if (remote_) {
    std::string error;
    return remote_->del(db, key, &error) ? 0 : remote_error(kRemoteFailed, std::move(error));
  }
  MDB_val k = val(key), v;
  int rc = 0;
  MDB_cursor* c = at(db, &rc);
  if (c) rc = check(mdb_cursor_get(c, &k, &v, MDB_SET));
  if (rc == 0) rc = check(mdb_cursor_del(c, 0));
  return rc == MDB_NOTFOUND ? 0 : rc;
}

std::unique_ptr<Cursor> Txn::cursor(Db db) {
  auto c = std::unique_ptr<Cursor>(new Cursor(*this));
  c->db_ = db;
  if (remote_) {
    c->remote_ = remote_->cursor(db);
    return c;
  }
  c->rc_ = check(mdb_cursor_open(txn_, env_.dbi(db), &c->cursor_));
  if (c->rc_) c->cursor_ = nullptr;
  if (view_ && !view_->maps[static_cast<std::size_t>(db)].empty())
    c->map_ = &view_->maps[static_cast<std::size_t>(db)];
  return c;
}

std::unique_ptr<Cursor> Txn::legacy_cursor(const char* name, int* rc_out) {
  if (remote_) {  // a remote store never had an older format
    *rc_out = 0;
    return nullptr;
  }
  MDB_dbi dbi = 0;
  int rc = mdb_dbi_open(txn_, name, 0, &dbi);
  *rc_out = rc == MDB_NOTFOUND ? 0 : check(rc);
  if (rc != 0) return nullptr;
  auto c = std::unique_ptr<Cursor>(new Cursor(*this));
  *rc_out = check(mdb_cursor_open(txn_, dbi, &c->cursor_));
  if (*rc_out != 0) return nullptr;
  return c;
}

int Txn::drop_legacy(const char* name) {
  if (remote_) return 0;
  MDB_dbi dbi = 0;
  int rc = mdb_dbi_open(txn_, name, 0, &dbi);
  if (rc == MDB_NOTFOUND) return 0;
  return check(rc ? rc : mdb_drop(txn_, dbi, 1));
}

std::size_t Txn::entries(Db db, int& rc) {
  if (remote_) {
    std::string error;
    auto n = remote_->count(db, &error);
    rc = n ? 0 : remote_error(kRemoteFailed, std::move(error));
    return n ? static_cast<std::size_t>(*n) : 0;
  }
  MDB_stat st;
  rc = check(mdb_stat(txn_, env_.dbi(db), &st));
  if (rc) return 0;
  std::size_t n = st.ms_entries;
  if (!view_) return n;
  // The view's writes: a key it adds counts, a key it deletes does not.
  const PMap& m = view_->maps[static_cast<std::size_t>(db)];
  for (auto it = m.begin(); it.valid(); it.next()) {
    MDB_val k = val(it.key()), v;
    int found = mdb_get(txn_, env_.dbi(db), &k, &v);
    if (found != 0 && found != MDB_NOTFOUND) {
      rc = check(found);
      return 0;
    }
    if (found == MDB_NOTFOUND && it.entry().value) ++n;
    if (found == 0 && !it.entry().value) --n;
  }
  return n;
}

int Txn::commit() {
  if (remote_) return remote_commit();
  if (!txn_) return EINVAL;
  if (log_lock_) return commit_logged();
  close_cursors();
  int rc = mdb_txn_commit(txn_);
  release();
  if (rc == 0 && write_) env_.cache_ahead();
  return check(rc);
}

void Txn::abort() {
  if (remote_) {
    remote_.reset();  // rolls back
    got_.clear();
    return;
  }
  if (!txn_) return;
  close_cursors();
  mdb_txn_abort(txn_);
  release();
  applied_.reset();
  log_lock_.reset();  // LMDB is unchanged: the log and the view stay as they are
}

Cursor::~Cursor() {
  if (cursor_) mdb_cursor_close(cursor_);
}

bool Cursor::load(int op, std::string_view k) {
  if (remote_) return remote_load(op, k);
  if (!cursor_) return false;  // rc_ says why
  MDB_val key = val(k), value;
  int rc = txn_.check(mdb_cursor_get(cursor_, &key, &value, static_cast<MDB_cursor_op>(op)));
  rc_ = rc == MDB_NOTFOUND ? 0 : rc;
  if (rc != 0) return false;
  key_ = view(key);
  value_ = view(value);
  return true;
}

bool Cursor::seek(std::string_view key) {
  if (merged()) return cursor_ && merged_seek(key);
  return key.empty() ? first() : load(MDB_SET_RANGE, key);
}
bool Cursor::first() { return merged() ? cursor_ && merged_seek({}) : load(MDB_FIRST); }
bool Cursor::last() { return merged() ? cursor_ && merged_last() : load(MDB_LAST); }
bool Cursor::next() { return merged() ? cursor_ && rc_ == 0 && merged_next() : load(MDB_NEXT); }
bool Cursor::prev() {
  if (!merged()) return load(MDB_PREV);
  rc_ = EINVAL;
  return false;
}
int Cursor::del() {
  if (remote_) {
    const int rc = txn_.del(db_, key_);
    if (rc) rc_ = rc;
    return rc;
  }
  return cursor_ ? txn_.check(mdb_cursor_del(cursor_, 0)) : rc_;
}

std::string be64(std::uint64_t v) {
  std::string s(8, '\0');
  for (int i = 7; i >= 0; --i, v >>= 8)
    s[static_cast<std::size_t>(i)] = static_cast<char>(v & 0xff);
  return s;
}

std::string be32(std::uint32_t v) {
  std::string s(4, '\0');
  for (int i = 3; i >= 0; --i, v >>= 8)
    s[static_cast<std::size_t>(i)] = static_cast<char>(v & 0xff);
  return s;
}

std::optional<std::string> unhex(std::string_view text) {
  if (text.size() % 2) return std::nullopt;
  auto digit = [](char c) {
    return c >= '0' && c <= '9' ? c - '0' : c >= 'a' && c <= 'f' ? c - 'a' + 10 : -1;
  };
  std::string out;
  out.reserve(text.size() / 2);
  for (std::size_t i = 0; i < text.size(); i += 2) {
    int hi = digit(text[i]), lo = digit(text[i + 1]);
    if (hi < 0 || lo < 0) return std::nullopt;
    out += static_cast<char>(hi * 16 + lo);
  }
  return out;
}

std::uint64_t read_be64(std::string_view s, std::size_t at) {
  std::uint64_t v = 0;
  for (std::size_t i = 0; i < 8 && at + i < s.size(); ++i)
    v = (v << 8) | static_cast<unsigned char>(s[at + i]);
  return v;
}

std::uint32_t read_be32(std::string_view s, std::size_t at) {
  std::uint32_t v = 0;
  for (std::size_t i = 0; i < 4 && at + i < s.size(); ++i)
    v = (v << 8) | static_cast<unsigned char>(s[at + i]);
  return v;
}

}  // namespace bihuan::storage
