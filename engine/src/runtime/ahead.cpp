// Timer look-ahead (EngineImpl::Ahead in engine_impl.hpp).
//
// Why: many timers fall due in the same millisecond (every business's quarterly deadline
// at 00:00). Fired after they fall due, they are executed 2,048 to a commit, often on a
// CPU that has been idle for seconds, and the last of 10,000 commits 90-250 ms late on a
// small VM (docs/PERFORMANCE.md). Executed up to a second before they fall due, and
// replayed into a write transaction just before it, only the commit (its page writes and
// flushes) is left at the due time. The transaction is held open only for what is left
// of the replay's lead (replay_lead_ms: at most 250 ms, typically a few tens): the one
// place where a write transaction waits, on the committer thread, for a bounded time.
//
// Why it is exact: it is executed with nothing in flight (every batch handed off has
// committed) on a snapshot of that store. Until it is settled the committer holds it and
// the writer hands off nothing else (a batch that comes first cancels it, one that comes
// after its due time lets it commit first), so nothing commits in between in this
// process. Another process that commits before the replay begins is told by the stamp
// (Committer::kConflict), as for any staged batch: the sweep request is then executed again, the
// usual way; once the replay has begun, LMDB's writer lock keeps it out. Nothing is
// committed before the due time: a crash loses nothing (the timers fire after restart)
// and a cancelled burst leaves no trace but the ids and log numbers the writer takes
// back. Every firing sees the clock at its due time, as with a virtual clock (its
// history, `now`, the timers it arms).

#include <algorithm>

#include "runtime/engine_impl.hpp"

namespace bihuan::runtime {

using storage::Db;

void EngineImpl::prepare_ahead(std::int64_t due) {
  ahead_tried_ = due;
  wait_committer_idle();
  if (!committer_->same_epoch(seen_epoch_)) return;  // requests were handed back: usual path
  overlay_.clear();  // every batch handed off has committed: the snapshot holds them all
  Ahead a{due, 0, ids_, next_};
  Prepared p;
  json drops;
  {
    // Any read that fails here leaves the burst to the usual sweep, which meets (and
    // reports) the failure.
    auto txn = read_txn();
    if (!txn) return;
    // The keys due at `due`, read before any firing changes the index.
    std::vector<std::string> keys;
    {
      auto cur = txn->cursor(Db::timers);
      // Every batch has committed: the writer's timer floor holds for this snapshot.
      bool ok = timer_floor_.empty() ? cur->first() : cur->seek(timer_floor_);
      for (; ok && keys.size() < kAheadMax; ok = cur->next()) {
        std::string_view key = cur->key();
        if (key.size() != kTimerKeyBytes) return;  // damaged: the usual sweep removes it
        auto d = static_cast<std::int64_t>(storage::read_be64(key));
        if (d > due) break;
        if (d < due) return;  // something is due already: the usual sweep fires it first
        keys.emplace_back(key);
      }
      if (cur->status()) return;
    }
    if (keys.size() < kAheadMin) return;
    p.number = ++batch_number_;
    p.epoch = seen_epoch_;
    p.not_before = due;
    Store store(*txn, overlay_, p.number, p.ops);
    StepEnv step_env{reader_.registry(), options_.calendars.get(), options_.max_cascade,
                     attachment_check()};
    Batch b{store, TimePoint(Millis(due)), {}, next_, ids_, 0, 0, {}};
    Stepper stepper(step_env);
    for (const auto& key : keys) {
      int rc = 0;
      if (!store.get(Db::timers, key, rc)) {  // an earlier firing of its instance removed it
        b.note(rc);
      } else if (stepper.fire_timer(b, key)) {
        ++a.fired;
      }
      if (b.failed()) break;
    }
    lower_timer_floor(store);  // a firing may arm a timer below it (an `at` already past)
    if (!b.failed()) {
      auto cur = store.cursor(Db::timers);
      if (timer_floor_.empty() ? cur->first() : cur->seek(timer_floor_))
        p.next_due = static_cast<std::int64_t>(storage::read_be64(cur->key()));
      b.note(cur->status());
    }
    if (b.failed()) {  // a read failed: the usual sweep meets (and reports) it
      overlay_.clear();
      ids_ = a.ids;
      return;
    }
    next_ = b.next;
    if (!b.timer_drops.empty()) drops = json(std::move(b.timer_drops));
  }
  // If the committer refuses it (another process committed first), this request is
  // executed again the usual way: a sweep up to the clock's reading then, never up to
  // `due` (which may not have come yet).
  p.requests.push_back(sweep_request(INT64_MIN));
  StepResult result;
  result.details = {{"fired", a.fired}, {"more", false}};
  if (!drops.is_null()) result.details["dropped"] = std::move(drops);
  p.results.push_back(std::move(result));
  counters_.timers_ahead.fetch_add(a.fired, std::memory_order_relaxed);
  committer_->hand_off_ahead(std::move(p));
  ahead_ = std::move(a);
}

void EngineImpl::settle_ahead() {
  if (committer_->settle(ahead_->due)) {  // due, or it committed after all
    ahead_.reset();
    return;
  }
  overlay_.clear();
  ids_ = ahead_->ids;
  next_ = ahead_->next;
  counters_.timers_ahead_dropped.fetch_add(ahead_->fired, std::memory_order_relaxed);
  ahead_.reset();
}

}  // namespace bihuan::runtime
