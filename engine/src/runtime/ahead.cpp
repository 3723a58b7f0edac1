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
// (kConflict), as for any staged batch: the sweep request is then executed again, the
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
  {
    std::lock_guard lock(cmu_);
    if (seen_epoch_ != epoch_) return;  // the committer handed requests back: usual path
  }
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
      for (bool ok = cur->first(); ok && keys.size() < kAheadMax; ok = cur->next()) {
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
    StepEnv step_env{registry_, options_.calendars.get(), options_.max_cascade, attachment_check()};
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
    if (!b.failed()) {
      auto cur = store.cursor(Db::timers);
      if (cur->first()) p.next_due = static_cast<std::int64_t>(storage::read_be64(cur->key()));
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
  std::unique_lock lock(cmu_);  // the committer is idle (above) and only this thread hands off
  {
    std::lock_guard q(mu_);
    committer_busy_ = true;
    handed_size_ = p.requests.size();
    handed_at_ = std::chrono::steady_clock::now();
  }
  ahead_cancel_ = ahead_dropped_ = false;
  pending_ = std::move(p);
  ahead_ = std::move(a);
  lock.unlock();
  ccv_.notify_all();
}

void EngineImpl::settle_ahead() {
  {
    std::unique_lock lock(cmu_);
    if (ahead_->due <= options_.clock->now().time_since_epoch().count()) {
      // Due: committed (or being committed) like any staged batch. The committer looks at
      // the clock again now rather than at its next look.
      ahead_.reset();
      lock.unlock();
      ccv_.notify_all();
      return;
    }
    ahead_cancel_ = true;
    ccv_.notify_all();
    ccv_.wait(lock, [&] { return !pending_ && !committing_ && !delivering_; });
    if (!ahead_dropped_) {  // the due time came first after all: it committed
      ahead_.reset();
      return;
    }
  }
  overlay_.clear();
  ids_ = ahead_->ids;
  next_ = ahead_->next;
  counters_.timers_ahead_dropped.fetch_add(ahead_->fired, std::memory_order_relaxed);
  ahead_.reset();
}

EngineImpl::Held EngineImpl::hold_until(std::int64_t ms, std::unique_lock<std::mutex>& lock,
                                        std::chrono::steady_clock::time_point limit) {
  while (!ahead_cancel_) {
    std::int64_t left = ms - options_.clock->now().time_since_epoch().count();
    if (left <= 0) return Held::due;
    auto now = std::chrono::steady_clock::now();
    if (now >= limit) return Held::expired;
    // The clock is wall time (it can be set): look again at least every 50 ms.
    auto step = std::chrono::milliseconds(std::min<std::int64_t>(left, 50));
    ccv_.wait_until(lock, std::min<std::chrono::steady_clock::time_point>(limit, now + step));
  }
  return Held::cancelled;
}

std::int64_t EngineImpl::replay_lead_ms(const Prepared& p) {
  return std::clamp<std::int64_t>(static_cast<std::int64_t>(p.ops.size()) * 2 / 1000, 10, 250);
}

void EngineImpl::observe_ahead_lag(const Prepared& p) {
  double late =
      std::max<std::int64_t>(0, options_.clock->now().time_since_epoch().count() - p.not_before) /
      1000.0;
  counters_.timer_lag.observe(late, p.results.front().details.value("fired", std::uint64_t{0}));
}

}  // namespace bihuan::runtime
