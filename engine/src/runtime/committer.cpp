// The committer's thread (committer.hpp): replay, commit, hand back or deliver.
#include "runtime/committer.hpp"

#include <algorithm>
#include <cerrno>

namespace bihuan::runtime {

void Committer::start() {
  thread_ = std::thread([this] { loop(); });
}

void Committer::stop() {
  {
    std::lock_guard lock(cmu_);
    stop_ = true;
  }
  work_cv_.notify_all();
  state_cv_.notify_all();
  if (thread_.joinable()) thread_.join();
}

void Committer::wait_idle() {
  std::unique_lock lock(cmu_);
  state_cv_.wait(lock, [&] { return !pending_ && !committing_ && !delivering_; });
}

bool Committer::same_epoch(std::uint64_t seen) {
  std::lock_guard lock(cmu_);
  return seen == epoch_;
}

bool Committer::take_returned(std::uint64_t* seen, std::vector<Request>& back) {
  std::unique_lock lock(cmu_);
  if (*seen == epoch_) return false;
  state_cv_.wait(lock, [&] { return !pending_ && !committing_; });
  *seen = epoch_;
  back.insert(back.end(), std::make_move_iterator(returned_.begin()),
              std::make_move_iterator(returned_.end()));
  returned_.clear();
  return true;
}

bool Committer::hand_off(Prepared& p) {
  std::unique_lock lock(cmu_);
  state_cv_.wait(lock, [&] { return !pending_ && !committing_ && !delivering_; });
  if (p.epoch != epoch_) return false;
  sink_.handed(p.requests.size());
  pending_ = std::move(p);
  lock.unlock();
  work_cv_.notify_all();
  return true;
}

void Committer::hand_off_ahead(Prepared p) {
  std::unique_lock lock(cmu_);  // the committer is idle and only the writer hands off
  sink_.handed(p.requests.size());
  ahead_cancel_ = ahead_dropped_ = false;
  pending_ = std::move(p);
  lock.unlock();
  work_cv_.notify_all();
}

bool Committer::settle(std::int64_t due) {
  std::unique_lock lock(cmu_);
  if (due <= clock_.now().time_since_epoch().count()) {
    // Due: committed (or being committed) like any staged batch. The committer looks at
    // the clock again now rather than at its next look.
    lock.unlock();
    work_cv_.notify_all();
    return true;
  }
  ahead_cancel_ = true;
  work_cv_.notify_all();
  state_cv_.wait(lock, [&] { return !pending_ && !committing_ && !delivering_; });
  return !ahead_dropped_;  // not dropped: the due time came first after all, it committed
}

int Committer::commit(Prepared& p, bool here) {
  // Nothing to write (every step refused, a barrier): nothing to flush either. The
  // results stand: the snapshot they were read from is newer than their requests.
  if (p.ops.empty()) return 0;
  const bool ahead = p.not_before != INT64_MIN;  // a timer burst executed ahead (ahead.cpp)
  if (!ahead && env_.logged()) return commit_logged(p, here);
  bool let_go = false;  // its transaction was held as long as allowed and let go
  for (int attempt = 0; attempt < 16; ++attempt) {
    if (ahead) {  // no transaction is open while this waits
      const std::int64_t lead = replay_lead_ms(p);
      std::unique_lock lock(cmu_);
      // After letting go, first a lead's time without it (or until the due time), so that
      // another process gets the writer lock meanwhile.
      if (let_go && hold_until(p.not_before, lock,
                               std::chrono::steady_clock::now() +
                                   std::chrono::milliseconds(lead)) == Held::cancelled)
        return kDropped;
      if (hold_until(p.not_before - lead, lock) == Held::cancelled) return kDropped;
      let_go = false;
    }
    int rc = 0;
    auto txn = env_.begin(true, &rc);
    if (!txn) return rc ? rc : EIO;
    // Another process committed since our last commit: the batch may have read what it
    // changed (the batch executed on top of ours, if any, saw our writes in the overlay).
    // It is executed again, on a snapshot taken after this look.
    if (stamp_.foreign(*txn, &rc)) return kConflict;
    if (rc) return rc;
    std::string next_stamp;
    rc = stamp_.put(*txn, &next_stamp);
    for (std::size_t i = 0; rc == 0 && i < p.ops.size(); ++i) {
      const Op& op = p.ops[i];
      rc = op.put ? txn->put(op.db, op.key, op.value, op.append) : txn->del(op.db, op.key);
    }
    if (rc == 0 && ahead) {
      // Held open for the rest of the lead; never longer than twice the lead, even if the
      // wall clock is set back meanwhile: then the transaction is let go and begun again
      // once the clock is near the due time again.
      std::unique_lock lock(cmu_);
      auto limit =
          std::chrono::steady_clock::now() + std::chrono::milliseconds(2 * replay_lead_ms(p));
      Held held = hold_until(p.not_before, lock, limit);
      if (held != Held::due) {
        lock.unlock();
        txn->abort();
        if (held == Held::cancelled) return kDropped;
        let_go = true;
        --attempt;
        continue;
      }
    }
    if (rc == 0)
      rc = txn->commit();
    else
      txn->abort();
    if (rc == 0) {
      stamp_.committed(std::move(next_stamp));
      return 0;
    }
    if (!storage::is_map_full(rc) || !sink_.grow_map()) return rc;
  }
  return EIO;
}

int Committer::commit_logged(Prepared& p, bool here) {
  int rc = 0;
  auto log = env_.log_begin(&rc);
  if (!log) return rc ? rc : EIO;
  log->poll_flush(here);
  // Another process appended or wrote LMDB since our last commit (the epoch rule, as with
  // the stamp): the batch is executed again on a view that holds what it wrote.
  if (log->foreign() != foreign_seen_) {
    foreign_seen_ = log->foreign();
    return kConflict;
  }
  std::string next_stamp = stamp_.next();
  const std::size_t n = p.ops.size();
  // A remote store has no foreign() counter: the commit itself checks that the stamp is
  // still ours, in the store's transaction (a conditional write).
  const std::string& ours = stamp_.current();
  storage::Expect expect{storage::Db::meta, "writer",
                         ours.empty() ? std::nullopt : std::optional<std::string_view>(ours)};
  rc = log->append(
      n + 1,
      [&](std::size_t i) {
        if (i == n) return storage::OpRef{storage::Db::meta, true, "writer", next_stamp};
        const Op& op = p.ops[i];
        return storage::OpRef{op.db, op.put, op.key, op.value};
      },
      env_.remote() ? &expect : nullptr);
  if (rc == storage::kRemoteUnknown) {
    // The connection was lost after COMMIT was sent. The stamp tells: it is unique to
    // this commit, so finding it in the store means the commit was applied. Not finding
    // it means not applied, or applied and then followed by another writer's commit: the
    // requests fail either way (a caller's retry with its idempotency key then replays
    // the step if it was applied), and our next commit conflicts and starts from the store.
    int read_rc = 0;
    auto txn = env_.begin(false, &read_rc);
    auto found = txn ? txn->get(storage::Db::meta, "writer", read_rc) : std::nullopt;
    if (txn && read_rc == 0) rc = found && *found == next_stamp ? 0 : storage::kRemoteFailed;
  }
  if (rc == 0) stamp_.committed(std::move(next_stamp));
  if (rc == storage::kRemoteConflict) {
    // Take the stamp found as seen (as foreign() does), then execute again.
    auto txn = env_.begin(false, &rc);
    if (!txn) return rc;
    stamp_.foreign(*txn, &rc);
    return rc ? rc : kConflict;
  }
  return rc;
}

bool Committer::commit_here(Prepared& p) {
  {
    std::lock_guard lock(cmu_);
    if (pending_ || committing_ || delivering_ || stop_ || p.epoch != epoch_) return false;
    sink_.handed(p.requests.size());
    committing_ = true;
  }
  process(p, true);
  return true;
}

void Committer::loop() {
  while (true) {
    Prepared p;
    {
      std::unique_lock lock(cmu_);
      work_cv_.wait(lock, [&] { return pending_ || stop_; });
      if (!pending_) return;
      p = std::move(*pending_);
      pending_.reset();
      committing_ = true;
    }
    process(p, false);
  }
}

void Committer::process(Prepared& p, bool here) {
  {
    auto t0 = std::chrono::steady_clock::now();
    int rc = commit(p, here);
    last_commit_ns_ =
        std::chrono::duration_cast<std::chrono::nanoseconds>(std::chrono::steady_clock::now() - t0)
            .count();
    sink_.commit_ended();
    {
      std::lock_guard lock(cmu_);
      if (rc == 0) {
        delivering_ = true;
      } else if (rc == kDropped) {
        ahead_dropped_ = true;
      } else {
        ++epoch_;
        if (rc == kConflict) {
          counters_.reexecuted.fetch_add(p.requests.size(), std::memory_order_relaxed);
          returned_.insert(returned_.end(), std::make_move_iterator(p.requests.begin()),
                           std::make_move_iterator(p.requests.end()));
        }
      }
      committing_ = false;
    }
    state_cv_.notify_all();
    if (rc == kDropped) return;  // the writer cancelled it and forgets it
    if (rc == 0) {
      if (p.not_before != INT64_MIN) observe_ahead_lag(p);
      sink_.committed(p);
      {
        std::lock_guard lock(cmu_);
        delivering_ = false;
      }
      state_cv_.notify_all();
      return;
    }
    if (rc != kConflict) sink_.failed(p, rc);
    sink_.wake_writer();  // it executes the returned requests (and any batch on top) again
  }
}

Committer::Held Committer::hold_until(std::int64_t ms, std::unique_lock<std::mutex>& lock,
                                      std::chrono::steady_clock::time_point limit) {
  while (!ahead_cancel_) {
    std::int64_t left = ms - clock_.now().time_since_epoch().count();
    if (left <= 0) return Held::due;
    auto now = std::chrono::steady_clock::now();
    if (now >= limit) return Held::expired;
    // The clock is wall time (it can be set): look again at least every 50 ms.
    auto step = std::chrono::milliseconds(std::min<std::int64_t>(left, 50));
    work_cv_.wait_until(lock, std::min<std::chrono::steady_clock::time_point>(limit, now + step));
  }
  return Held::cancelled;
}

std::int64_t Committer::replay_lead_ms(const Prepared& p) {
  return std::clamp<std::int64_t>(static_cast<std::int64_t>(p.ops.size()) * 2 / 1000, 10, 250);
}

void Committer::observe_ahead_lag(const Prepared& p) {
  double late =
      std::max<std::int64_t>(0, clock_.now().time_since_epoch().count() - p.not_before) / 1000.0;
  counters_.timer_lag.observe(late, p.results.front().details.value("fired", std::uint64_t{0}));
}

}  // namespace bihuan::runtime
