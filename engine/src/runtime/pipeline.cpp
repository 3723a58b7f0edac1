// The durable pipeline. A commit's flush (fdatasync of the pages it wrote) takes as long
// as executing a batch on this kind of disk, and LMDB has one writer, so the two are
// overlapped on two threads:
//
//   writer:     execute N+1 on (snapshot + overlay)   | execute N+2 ...
//   committer:  replay N's ops, commit, flush, ack N   | replay N+1's ops ...
//
// The writer executes a batch against a read snapshot under the Overlay of the writes of
// batches the snapshot does not hold yet (store.hpp), and hands the batch's op log to the
// committer, which replays it into one write transaction and acknowledges the batch's
// requests after that commit returned. At most one batch is being committed while the
// next is executed. Readers (and the outbox dispatcher) only ever see committed batches.
//
// The committer refuses a batch whose snapshot is not the store it commits onto: another
// process (a CLI on the same data directory) committed in between. Its requests, and
// those of the batch executed on top of it, are executed again on the new store. A batch
// whose commit fails (disk full, I/O error) fails its requests, as in direct mode, and
// the batch executed on top of it is executed again.
#include <algorithm>
#include <cerrno>

#include <boost/asio/post.hpp>

#include "runtime/engine_impl.hpp"

namespace bihuan::runtime {

using storage::Db;

bool EngineImpl::stageable(const std::vector<Request>& batch) const {
  // Deploys change the registry; retention walks history chains in its transaction
  // (retention.cpp). Timer sweeps are staged like steps (the sweep resumes its walk after
  // the key it fired, engine_impl.cpp, so the overlay's deleted keys are not walked
  // again): the batch is one log append, not a checkpoint of the log and two LMDB
  // flushes. Except a batch of sweeps alone while the log is empty: with nothing to
  // checkpoint first, its firings execute faster in LMDB's write transaction than over
  // the overlay (docs/PERFORMANCE.md, "Timer sweeps on the log").
  bool steps = false;
  for (const auto& r : batch) {
    if (r.kind == Request::deploy || r.kind == Request::retire) return false;
    if (r.kind != Request::fire_timers) steps = true;
  }
  // On a remote store every direct write is a round trip: stage whatever can be.
  return steps || env_->log_bytes() > 0 || env_->remote();
}

int EngineImpl::reload_sequences(storage::Txn& txn) {
  timer_floor_.clear();  // another process may have armed timers anywhere
  // Every read is checked: a failed one must not restart a log at 1 (its keys would be
  // written again over entries that exist).
  Sequences next;
  IdGenerator ids = ids_;
  int rc = 0;
  if (auto cur = txn.cursor(Db::inst); cur->last())
    ids.observe(storage::read_be64(cur->key()));
  else if ((rc = cur->status()))
    return rc;
  if (auto cur = txn.cursor(Db::outbox); cur->last())
    next.outbox = storage::read_be64(cur->key()) + 1;
  else if ((rc = cur->status()))
    return rc;
  if (auto hw = txn.get(Db::meta, kOutboxNextKey, rc); hw && hw->size() == 8)
    next.outbox = std::max(next.outbox, storage::read_be64(*hw));
  if (rc) return rc;
  if (auto cur = txn.cursor(Db::hist); cur->last())
    next.history = storage::read_be64(cur->key()) + 1;
  else if ((rc = cur->status()))
    return rc;
  // Retention may have removed the newest entries: their keys are never given out again
  // (the change feed's cursors name them; docs/storage.md, meta `history-next`).
  if (auto hw = txn.get(Db::meta, kHistoryNextKey, rc); hw && hw->size() == 8)
    next.history = std::max(next.history, storage::read_be64(*hw));
  if (rc) return rc;
  ids_ = ids;
  next_ = next;
  return 0;
}

void EngineImpl::raise_history_floor(TimePoint now) {
  if (storage::Remote* remote = env_->remote())
    next_.history = std::max(next_.history, remote->history_floor(now.time_since_epoch().count()));
}

bool EngineImpl::restart_from_store() {
  overlay_.clear();
  timer_floor_.clear();
  int rc = 0;
  auto txn = read_txn(&rc);
  if (txn) rc = reload_sequences(*txn);
  if (rc == 0) return true;
  log("error", "cannot reload the log sequences from the store",
      {{"dataDir", options_.data_dir}, {"error", storage::error_text(rc)}});
  // The sequences stay as they were. LMDB: a direct batch reloads them in its write
  // transaction (foreign_commit) before it writes, or fails. A shared store fences our
  // commits by the stamp alone, and another node may have used those sequences since:
  // the next commit must conflict (then the batch is executed again after a reload that
  // works), never apply history keys another node's entries hold.
  if (env_->remote()) stamp_.adopt(std::string(kNoStamp));
  return false;
}

void EngineImpl::wait_committer_idle() {
  if (committer_) committer_->wait_idle();
}

void EngineImpl::catch_up(std::vector<Request>& batch) {
  std::vector<Request> back;
  if (!committer_->take_returned(&seen_epoch_, back)) return;
  note_shared();  // a commit refused: another writer is about (a shared store: take turns)
  restart_from_store();
  batch.insert(batch.begin(), std::make_move_iterator(back.begin()),
               std::make_move_iterator(back.end()));
}

void EngineImpl::run_staged(std::vector<Request>& batch) {
  StepEnv step_env{reader_.registry(), options_.calendars.get(), options_.max_cascade,
                   attachment_check()};
  while (!batch.empty()) {
    Prepared p;
    p.number = ++batch_number_;
    p.epoch = seen_epoch_;
    int rc = 0;
    {
      // Every batch before the last one handed off has committed (the hand-off waits for
      // that), so the snapshot taken next holds them: only the last one's writes stay.
      overlay_.rotate(p.number);
      auto txn = read_txn(&rc);
      if (!txn) {
        storage_failed(rc, "a batch of " + std::to_string(batch.size()) + " requests",
                       batch.size());
        fail_batch(batch, "storage failed, the step was not applied: " + storage::error_text(rc));
        return;
      }
      Store store(*txn, overlay_, p.number, p.ops);
      TimePoint now = options_.clock->now();
      raise_history_floor(now);
      Batch b{store, now, {}, next_, ids_, 0, 0, {}};
      Stepper stepper(step_env);
      std::size_t fired = 0;
      p.results.reserve(batch.size());
      for (auto& r : batch) p.results.push_back(apply_one(b, stepper, r, fired));
      lower_timer_floor(store);
      rc = b.storage_rc;
      if (!rc) {
        auto cur = store.cursor(Db::timers);
        if (timer_floor_.empty() ? cur->first() : cur->seek(timer_floor_))
          p.next_due = static_cast<std::int64_t>(storage::read_be64(cur->key()));
        rc = cur->status();
      }
      if (!rc) next_ = b.next;
      p.instances = std::move(b.overlay);
    }
    if (rc) {
      // A read failed. The overlay may hold part of this batch: start from the store.
      wait_committer_idle();
      restart_from_store();
      storage_failed(rc, "a batch of " + std::to_string(batch.size()) + " requests", batch.size());
      fail_batch(batch, "storage failed, the step was not applied: " + storage::error_text(rc));
      return;
    }
    p.requests = std::move(batch);
    batch.clear();
    // Nothing else waits and the batch is small: commit here rather than wake the committer
    // (one thread switch less on the path of a step that comes alone). With more queued, or
    // a larger batch (many callers: more requests come while its frame is flushed), the
    // committer takes it while this thread executes the next batch. Committing a batch of
    // about 128 steps here cost the interleaved benchmark 25-30% of its steps per second.
    bool alone = false;
    {
      std::lock_guard lock(mu_);
      alone = queue_.empty();
    }
    if (alone && p.requests.size() <= kHereMax && env_->logged() && committer_->commit_here(p))
      return;
    if (committer_->hand_off(p)) return;
    // The committer refused a batch this one was executed on: run it again after the
    // returned requests (catch_up puts those first).
    counters_.reexecuted.fetch_add(p.requests.size(), std::memory_order_relaxed);
    batch = std::move(p.requests);
    catch_up(batch);
  }
}

void EngineImpl::linger(std::unique_lock<std::mutex>& lock) {
  if (!committer_busy_ || queue_.size() >= handed_size_ || stopping_ || held_ > 0) return;
  auto until = handed_at_ + std::chrono::nanoseconds(committer_->last_commit_ns() / 2);
  lingering_ = true;
  queue_cv_.wait_until(
      lock, until, [&] { return !committer_busy_ || queue_.size() >= handed_size_ || stopping_; });
  lingering_ = false;
}

bool EngineImpl::grow_map() {
  // Env::grow waits until no transaction or backup of this process is open.
  int rc = env_->grow();
  if (rc)
    log("error", "the map cannot grow",
        {{"dataDir", options_.data_dir},
         {"mapBytes", env_->map_size()},
         {"error", storage::error_text(rc)}});
  return rc == 0;
}

// Committer::Sink.
void EngineImpl::handed(std::size_t requests) {
  std::lock_guard q(mu_);
  committer_busy_ = true;
  handed_size_ = requests;
  handed_at_ = std::chrono::steady_clock::now();
}

void EngineImpl::commit_ended() {
  std::lock_guard q(mu_);
  committer_busy_ = false;
  if (lingering_) queue_cv_.notify_one();
}

void EngineImpl::committed(Prepared& p) {
  // The writer set its timer before this commit (it executes ahead of the committer): a
  // sooner timer must wake it, or on an idle engine it would sleep until the next request.
  if (p.next_due < next_due_ms_.exchange(p.next_due) && !options_.clock->is_virtual())
    boost::asio::post(io_, [this] { schedule_timers(); });
  count_batch(p.requests, p.results, !p.ops.empty());
  deliver(p.requests, p.results);
  if (auto size = env_->log_size();
      size.content >= kCheckpointBytes || size.memory >= kCheckpointMemory)
    checkpoint_soon();
}

void EngineImpl::checkpoint_soon() {
  {
    std::lock_guard lock(cp_mu_);
    cp_wake_ = true;
  }
  cp_cv_.notify_one();
}

void EngineImpl::checkpoint_loop() {
  std::unique_lock lock(cp_mu_);
  while (!cp_stop_) {
    cp_cv_.wait_for(lock, kCheckpointEvery, [&] { return cp_stop_ || cp_wake_; });
    if (cp_stop_) break;
    cp_wake_ = false;
    lock.unlock();
    if (env_->log_bytes() > 0) {
      int rc = env_->checkpoint();
      if (rc)
        log("error", "a checkpoint of the write-ahead log failed (the log keeps the steps)",
            {{"dataDir", options_.data_dir}, {"error", storage::error_text(rc)}});
    }
    lock.lock();
  }
}

void EngineImpl::failed(Prepared& p, int rc) {
  storage_failed(rc, "a batch of " + std::to_string(p.requests.size()) + " requests",
                 p.requests.size());
  fail_batch(p.requests, "storage failed, the step was not applied: " + storage::error_text(rc));
}

void EngineImpl::wake_writer() {
  std::lock_guard lock(mu_);
  post_drain_locked(true);
}

}  // namespace bihuan::runtime
