// The writer's turn on a shared store (engine_impl.hpp, take_turn; docs/design-scale-out.md,
// "Turns"). Several nodes on one PostgreSQL each run a writer; without turns each executes
// on its own snapshot and every commit after another node's is refused and executed again.
// With them, one node at a time executes and commits, on snapshots that hold every other
// node's commits, and the turn passes when its holder is idle or another node has waited
// a slice. Turns are taken only while another writer is about: from a commit of ours
// refused (or failed) until kTurnsKeep passes without one and without another writer's
// stamp found when taking the turn.
#include "runtime/engine_impl.hpp"

namespace bihuan::runtime {

void EngineImpl::note_shared() {
  if (env_->remote()) turns_until_ = std::chrono::steady_clock::now() + kTurnsKeep;
}

void EngineImpl::take_turn() {
  storage::Remote* remote = env_->remote();
  if (!remote) return;
  const auto now = std::chrono::steady_clock::now();
  if (now >= turns_until_) {
    // Nobody else has committed for a while (or ever: one node): no turns, so the
    // node's commits and reads share its pool as on a store of its own.
    if (remote->holds_turn()) {
      wait_committer_idle();
      remote->release_turn();
    }
    return;
  }
  if (remote->holds_turn()) {
    if (now - turn_since_ < kTurnSlice) return;
    turn_since_ = now;
    if (!remote->turn_wanted()) return;
    // Another node waits: let go once our batches committed, then queue up behind it.
    wait_committer_idle();
    remote->release_turn();
    counters_.turns_passed.fetch_add(1, std::memory_order_relaxed);
  }
  // The stamp is the committer's while a batch is in flight (commit_stamp.hpp).
  wait_committer_idle();
  std::optional<std::string> found;
  std::string error;
  switch (remote->hold_turn(kTurnWaitMs, Db::meta, "writer", &found, &error)) {
    case storage::TurnOutcome::held:
      break;
    case storage::TurnOutcome::busy:
      counters_.turn_waits_expired.fetch_add(1, std::memory_order_relaxed);
      return;
    case storage::TurnOutcome::failed:
      log("warn", "cannot take the writer's turn; the batch runs without it",
          {{"store", remote->describe()}, {"error", error}});
      return;
    case storage::TurnOutcome::none:
      return;
  }
  turn_since_ = std::chrono::steady_clock::now();
  counters_.turns_taken.fetch_add(1, std::memory_order_relaxed);
  std::string store_stamp = found.value_or("");
  if (store_stamp != stamp_.current()) {
    note_shared();
    // Another node committed since our last commit: what we remember may be stale. Taken
    // as seen only once the sequences are reloaded (else the stamp stays kNoStamp, and the
    // next commit conflicts).
    if (restart_from_store()) stamp_.adopt(std::move(store_stamp));
  }
}

void EngineImpl::turn_idle() {
  storage::Remote* remote = env_->remote();
  if (!remote || !remote->holds_turn()) return;
  turn_busy_at_ = std::chrono::steady_clock::now();
  // One timer for a run of batches (re-arming it after each would cost a system call a
  // batch): when it expires it looks at how long the writer has been idle.
  if (!turn_timer_armed_) arm_turn_timer(kTurnLinger);
}

void EngineImpl::arm_turn_timer(std::chrono::steady_clock::duration after) {
  turn_timer_armed_ = true;
  turn_timer_.expires_after(after);
  turn_timer_.async_wait([this](const boost::system::error_code& ec) {
    turn_timer_armed_ = false;
    storage::Remote* remote = env_->remote();
    if (ec || !remote->holds_turn()) return;
    auto idle = std::chrono::steady_clock::now() - turn_busy_at_;
    if (idle < kTurnLinger) {
      arm_turn_timer(kTurnLinger - idle);
      return;
    }
    {
      std::lock_guard lock(mu_);
      if (!queue_.empty()) return;  // the drain posted for it keeps the turn (turn_idle)
    }
    wait_committer_idle();
    remote->release_turn();
  });
}

bool EngineImpl::delivers_outbox() {
  storage::Remote* remote = env_->remote();
  return !remote || remote->hold_role("outbox");
}

}  // namespace bihuan::runtime
