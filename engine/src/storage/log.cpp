// Env's write-ahead log (lmdb_env.hpp, wal.hpp; docs/storage.md, "The write-ahead log").
//
// A logged commit appends one frame and flushes once; readers see it through the
// published LogView until a checkpoint (any write transaction) applies the view to LMDB
// and resets the log. Other processes on the same directory append to the same log under
// its exclusive lock; each process reads their frames (ingest) before it appends, before
// a write transaction, and before a read transaction when the log's live header moved.
//
// Why a reader's (view, snapshot) pair is consistent: a view holds every frame of its
// generation up to `last`; LMDB holds every frame up to meta/"wal_applied". The log is
// reset (generation + 1) only after a checkpoint committed every frame of it, and every
// LMDB write happens inside a write transaction that resets the log. So a snapshot taken
// after the view, while the generation is still the view's, holds nothing the view lacks
// and lacks nothing the view holds that is not in the view: view over snapshot is the
// state at `last`.
#include <lmdb.h>

#include <algorithm>
#include <cerrno>

#include "storage/crash_point.hpp"
#include "storage/lmdb_env.hpp"

namespace bihuan::storage {

namespace {
constexpr std::uint64_t kHeader = Wal::kHeaderBytes;

// The frame `lsn` of n writes joins the view: one union per database it writes.
void add_frame(LogView& v, std::uint64_t lsn, std::size_t n,
               const std::function<OpRef(std::size_t)>& op) {
  std::array<std::vector<std::pair<std::string_view, PEntry>>, LogView::kDbs> writes;
  for (std::size_t i = 0; i < n; ++i) {
    OpRef o = op(i);
    PEntry e;
    e.lsn = lsn;
    if (o.put) e.value = std::string(o.value);
    v.bytes += o.key.size() + o.value.size();
    writes[static_cast<std::size_t>(o.db)].emplace_back(o.key, std::move(e));
  }
  for (std::size_t d = 0; d < LogView::kDbs; ++d)
    if (!writes[d].empty()) v.maps[d] = v.maps[d].set_all(std::move(writes[d]));
  v.last = lsn;
}
}  // namespace

std::shared_ptr<const LogView> Env::current_view() const {
  std::lock_guard lock(view_mu_);
  return view_;
}

void Env::publish(std::shared_ptr<const LogView> v) {
  std::lock_guard lock(view_mu_);
  view_ = std::move(v);
}

bool Env::view_stale(const LogView& v) const {
  return wal_->generation() != v.generation || wal_->end() != v.seen_end;
}

int Env::ingest() {
  auto lock = wal_->lock(false);
  std::lock_guard one(ingest_mu_);
  return ingest_locked(lock);
}

int Env::ingest_locked(const Wal::Lock& lock) {
  auto v = current_view();
  const std::uint64_t gen = wal_->generation(), end = wal_->end();
  if (v && gen == v->generation && end == v->seen_end) return 0;
  auto next = std::make_shared<LogView>();
  std::uint64_t from = kHeader;
  if (v && gen == v->generation && end > v->seen_end) {
    *next = *v;  // the maps are shared, not copied
    from = v->seen_end;
  } else {
    // Reset by another process: every frame we held was checkpointed into LMDB first.
    next->generation = gen;
  }
  std::string error;
  std::vector<WalOp> ops;
  std::uint64_t count = 0;
  wal_->read(
      lock, from, end,
      [&](std::uint64_t lsn, std::string_view payload) {
        if (!error.empty()) return;
        ops.clear();
        if (!decode_ops(payload, ops, &error)) {
          error = wal_->path() + ": frame " + std::to_string(lsn) + ": " + error;
          return;
        }
        // After a reset the chain may begin at any lsn; then each follows the one before.
        if ((count > 0 || from != kHeader) && lsn != next->last + 1) {
          error = wal_->path() + ": frame " + std::to_string(lsn) + " where frame " +
                  std::to_string(next->last + 1) + " was expected";
          return;
        }
        ++count;
        add_frame(*next, lsn, ops.size(), [&](std::size_t i) {
          return OpRef{ops[i].db, ops[i].put, ops[i].key, ops[i].value};
        });
      },
      &error);
  if (!error.empty()) {
    // A frame before the log's end that cannot be read: the log is damaged. The view
    // stays as it was; the caller's transaction fails with EIO and log_error() says why.
    std::lock_guard guard(view_mu_);
    log_error_ = error;
    return EIO;
  }
  next->seen_end = end;
  next->last = std::max(next->last, wal_->next_lsn() - 1);
  // Frames or a reset of another process (not at open: the first view is our own).
  if (v && (count > 0 || gen != v->generation)) foreign_.fetch_add(1, std::memory_order_acq_rel);
  publish(std::move(next));
  return 0;
}

std::string Env::log_error() const {
  std::lock_guard lock(view_mu_);
  return log_error_;
}

std::unique_ptr<Txn> Env::begin_unlogged(int* rc) {
  for (int attempt = 0; attempt < 8; ++attempt) {
    MDB_txn* raw = nullptr;
    resize_.lock_shared();
    *rc = mdb_txn_begin(env_, nullptr, 0, &raw);
    if (*rc == 0) return std::unique_ptr<Txn>(new Txn(*this, raw, true));
    resize_.unlock_shared();
    // Another process grew the map since this one last looked: take its size, again.
    if (*rc != MDB_MAP_RESIZED || adopt_size() != 0) break;
  }
  *rc = check(*rc);
  return nullptr;
}

std::shared_ptr<const LogView> Env::view_for_read(int* rc) {
  auto v = current_view();
  if (v && !view_stale(*v)) return v;
  *rc = ingest();
  return current_view();
}

std::uint64_t Env::log_bytes() const {
  if (!wal_) return 0;
  std::uint64_t end = wal_->end();
  return end > kHeader ? end - kHeader : 0;
}

Env::LogSize Env::log_size() const {
  LogSize s;
  auto v = wal_ ? current_view() : nullptr;
  if (!v) return s;
  s.content = v->bytes;
  for (const auto& m : v->maps) s.memory += m.memory();
  return s;
}

std::unique_ptr<Env::LogCommit> Env::log_begin(int* rc) {
  *rc = 0;
  if (remote_) return std::unique_ptr<LogCommit>(new LogCommit(*this, std::nullopt));
  if (!wal_) {
    *rc = EINVAL;
    return nullptr;
  }
  std::unique_ptr<LogCommit> c(new LogCommit(*this, wal_->lock(true)));
  {
    std::lock_guard one(ingest_mu_);
    *rc = ingest_locked(*c->lock_);
  }
  if (*rc) return nullptr;
  c->foreign_ = foreign_.load(std::memory_order_acquire);
  return c;
}

int Env::LogCommit::append(std::size_t n, const std::function<OpRef(std::size_t)>& op,
                           const Expect* expect) {
  if (env_.remote_) return env_.remote_commit(n, op, expect);
  auto v = env_.current_view();
  const std::uint64_t lsn = v->last + 1;
  std::string payload;
  for (std::size_t i = 0; i < n; ++i) {
    OpRef o = op(i);
    encode_op(o.db, o.put, o.key, o.value, payload);
  }
  int rc = env_.wal_->append_start(*lock_, lsn, payload, poll_flush_);
  if (rc) return rc;
  // The next view is built while the frame is written (it is published only once durable;
  // on failure it is dropped, and what it took of the arena waits for the next reset).
  auto next = std::make_shared<LogView>(*v);
  add_frame(*next, lsn, n, op);
  rc = env_.wal_->append_finish(*lock_);
  if (rc) return rc;
  crash_point("log-synced");
  env_.wal_->set_next_lsn(*lock_, lsn + 1);
  next->seen_end = env_.wal_->end();
  env_.publish(std::move(next));
  return 0;
}

int Env::apply_view(Txn& txn, const LogView& v) {
  int rc = 0;
  auto applied = txn.get(Db::meta, kWalAppliedKey, rc);
  if (rc) return rc;
  const std::uint64_t from = applied && applied->size() == 8 ? read_be64(*applied) : 0;
  if (v.last <= from) return 0;
  // History keys only grow: the view's are normally all above LMDB's last, and are then
  // appended (MDB_APPEND: no search, and full pages instead of pages split in half, as the
  // commits before the log wrote them). The map walks keys in order, so once one is above
  // LMDB's last, every later one is too.
  std::string last_hist;
  bool appending = false;
  {
    MDB_cursor* c = txn.at(Db::hist, &rc);
    if (!c) return rc;
    MDB_val k, val;
    int got = mdb_cursor_get(c, &k, &val, MDB_LAST);
    if (got == 0)
      last_hist.assign(static_cast<const char*>(k.mv_data), k.mv_size);
    else if (got != MDB_NOTFOUND)
      return txn.check(got);
  }
  for (std::size_t d = 0; d < v.maps.size(); ++d) {
    const Db db = static_cast<Db>(d);
    for (auto it = v.maps[d].begin(); it.valid(); it.next()) {
      const PEntry& e = it.entry();
      if (e.lsn <= from) continue;
      if (e.value) {
        if (db == Db::hist && !appending) appending = it.key() > std::string_view(last_hist);
        rc = txn.put(db, it.key(), *e.value, db == Db::hist && appending);
      } else {
        rc = txn.del(db, it.key());
      }
      if (rc) return rc;
    }
  }
  return txn.put(Db::meta, kWalAppliedKey, be64(v.last));
}

int Env::checkpoint_locked() {
  for (int attempt = 0; attempt < 16; ++attempt) {
    int rc = 0;
    auto txn = begin(true, &rc);
    if (!txn) return rc;
    rc = txn->commit();
    if (rc == 0) return 0;
    if (!is_map_full(rc) || grow() != 0) return rc;
  }
  return EIO;
}

int Env::apply_unlocked(const LogView& v) {
  // LMDB's writer lock only: commits go on appending to the log meanwhile. A write
  // transaction of this or another process that comes between is ordered by LMDB's
  // lock, and apply_view skips what meta/"wal_applied" says is in LMDB already.
  for (int attempt = 0; attempt < 16; ++attempt) {
    int rc = 0;
    auto txn = begin_unlogged(&rc);
    if (!txn) return rc;
    rc = apply_view(*txn, v);
    if (rc == 0) crash_point("checkpoint-applied");
    if (rc == 0) {
      rc = txn->commit();
    } else {
      txn->abort();
    }
    if (rc == 0) return 0;
    if (!is_map_full(rc) || grow() != 0) return rc;
  }
  return EIO;
}

int Env::checkpoint() {
  if (!wal_) return 0;
  // 1. The view's writes into LMDB, without the log's lock, while commits go on
  // appending; the view then drops them. Again for what came meanwhile, until little is
  // left (applying is faster than appending, so each round is shorter).
  for (int round = 0; round < 8; ++round) {
    auto v = current_view();
    if (!v || v->entries() <= kLockedEntries) break;
    if (int rc = apply_unlocked(*v)) return rc;
    crash_point("checkpoint-committed");
    std::lock_guard lock(view_mu_);
    if (view_->generation == v->generation) {
      auto pruned = std::make_shared<LogView>(*view_);
      for (auto& m : pruned->maps) m = m.above(v->last);
      pruned->bytes -= std::min(pruned->bytes, v->bytes);  // only the frames after v's
      view_ = std::move(pruned);
    }
  }
  // 2. The rest under the log's lock, and the log starts again: a reset alone if LMDB
  // holds all of it, else a write transaction (which applies the rest and resets).
  {
    auto lock = wal_->lock(true);
    std::lock_guard one(ingest_mu_);
    if (int rc = ingest_locked(lock)) return rc;
    auto cur = current_view();
    if (cur->empty()) {
      if (wal_->end() == kHeader) return 0;
      wal_->reset(lock);
      auto next = std::make_shared<LogView>();
      next->last = cur->last;
      next->generation = wal_->generation();
      next->seen_end = wal_->end();
      publish(std::move(next));
      return 0;
    }
  }
  return checkpoint_locked();
}

int Txn::commit_logged() {
  close_cursors();
  if (applied_ && !applied_->empty()) crash_point("checkpoint-applied");
  int rc = mdb_txn_commit(txn_);
  release();
  if (rc == 0) {
    if (applied_ && !applied_->empty()) crash_point("checkpoint-committed");
    env_.cache_ahead();
    // Every frame is in LMDB now (apply_view): the log starts again. The reset also tells
    // other processes that LMDB changed (their views are dropped at their next look).
    auto next = std::make_shared<LogView>();
    next->last = applied_ ? applied_->last : env_.wal_->next_lsn() - 1;
    env_.wal_->reset(*log_lock_);
    next->generation = env_.wal_->generation();
    next->seen_end = env_.wal_->end();
    env_.publish(std::move(next));
  }
  applied_.reset();
  log_lock_.reset();
  return check(rc);
}

int Env::recover(std::string* error) {
  auto lock = wal_->lock(true);
  for (int attempt = 0; attempt < 16; ++attempt) {
    int rc = 0;
    auto owned = begin_unlogged(&rc);
    if (!owned) {
      if (error) *error = "cannot recover " + dir_ + ": " + mdb_strerror(rc);
      return rc;
    }
    Txn& txn = *owned;
    auto applied = txn.get(Db::meta, kWalAppliedKey, rc);
    const std::uint64_t from = applied && applied->size() == 8 ? read_be64(*applied) : 0;
    Wal::Recovered r;
    std::string why = rc ? std::string(mdb_strerror(rc)) : wal_->recover(lock, from, &r);
    if (!why.empty()) {
      if (error) *error = "cannot recover " + dir_ + ": " + why;
      return EIO;
    }
    std::vector<WalOp> ops;
    for (const auto& [lsn, payload] : r.frames) {
      ops.clear();
      if (!decode_ops(payload, ops, &why)) {
        if (error)
          *error = "cannot recover " + dir_ + ": " + wal_->path() + ": frame " +
                   std::to_string(lsn) + ": " + why;
        return EIO;
      }
      for (const auto& op : ops) {
        rc = op.put ? txn.put(op.db, op.key, op.value) : txn.del(op.db, op.key);
        if (rc) break;
      }
      if (rc) break;
    }
    const std::uint64_t last = std::max(from, r.last_lsn);
    if (rc == 0 && !r.frames.empty()) rc = txn.put(Db::meta, kWalAppliedKey, be64(last));
    if (rc == 0) {
      rc = txn.commit();
    } else {
      txn.abort();
    }
    if (is_map_full(rc) && grow() == 0) continue;
    if (rc) {
      if (error) *error = "cannot recover " + dir_ + ": " + mdb_strerror(rc);
      return rc;
    }
    wal_->set_next_lsn(lock, std::max(last, wal_->next_lsn() - 1) + 1);
    wal_->reset(lock);
    auto v = std::make_shared<LogView>();
    v->generation = wal_->generation();
    v->seen_end = wal_->end();
    v->last = wal_->next_lsn() - 1;
    publish(std::move(v));
    return 0;
  }
  if (error) *error = "cannot recover " + dir_ + ": the map cannot grow";
  return MDB_MAP_FULL;
}

// Cursor under a LogView.
bool Cursor::base_step(int op, std::string_view key) {
  MDB_val k{key.size(), const_cast<char*>(key.data())}, v;
  int rc = txn_.check(mdb_cursor_get(cursor_, &k, &v, static_cast<MDB_cursor_op>(op)));
  base_ok_ = rc == 0;
  if (rc && rc != MDB_NOTFOUND) rc_ = rc;
  if (base_ok_) {
    base_key_ = {static_cast<const char*>(k.mv_data), k.mv_size};
    base_value_ = {static_cast<const char*>(v.mv_data), v.mv_size};
  }
  return base_ok_;
}

bool Cursor::merged_next() {
  if (on_map_) it_.next();
  if (on_base_) base_step(MDB_NEXT);
  return settle();
}

bool Cursor::merged_seek(std::string_view key) {
  rc_ = 0;
  it_ = map_->lower_bound(key);
  base_step(key.empty() ? MDB_FIRST : MDB_SET_RANGE, key);
  return settle();
}

bool Cursor::merged_last() {
  // The greatest key with a value: the view's (a walk of this database's entries, which a
  // checkpoint keeps few) or LMDB's last not deleted by the view.
  rc_ = 0;
  std::optional<std::string_view> best_key;
  const std::string* best_value = nullptr;
  for (auto it = map_->begin(); it.valid(); it.next())
    if (it.entry().value) {
      best_key = it.key();
      best_value = &*it.entry().value;
    }
  bool base = base_step(MDB_LAST);
  while (base) {
    const PEntry* e = map_->find(base_key_);
    if (!e || e->value) break;
    base = base_step(MDB_PREV);
  }
  if (rc_) return false;
  // After last() the walk ends: next() finds nothing.
  it_ = PMap::Iter();
  on_map_ = on_base_ = false;
  if (base && (!best_key || base_key_ > *best_key)) {
    key_ = base_key_;
    value_ = base_value_;
  } else if (best_key) {
    key_ = *best_key;
    value_ = *best_value;
  } else {
    return false;
  }
  base_ok_ = false;
  return true;
}

bool Cursor::settle() {
  auto base_next = [&] { base_step(MDB_NEXT); };
  while (rc_ == 0) {
    on_base_ = on_map_ = false;
    if (!base_ok_ && !it_.valid()) return false;
    if (it_.valid() && (!base_ok_ || it_.key() <= base_key_)) {
      if (base_ok_ && it_.key() == base_key_) on_base_ = true;
      on_map_ = true;
      const PEntry& e = it_.entry();
      if (!e.value) {  // deleted: skip it (and LMDB's older value)
        it_.next();
        if (on_base_) base_next();
        continue;
      }
      key_ = it_.key();
      value_ = *e.value;
      return true;
    }
    on_base_ = true;
    key_ = base_key_;
    value_ = base_value_;
    return true;
  }
  return false;
}

}  // namespace bihuan::storage
