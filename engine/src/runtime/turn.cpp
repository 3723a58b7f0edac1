// The writer's turn on a shared store (engine_impl.hpp, take_turn; docs/design-scale-out.md,
// "Turns"). Several nodes on one PostgreSQL each run a writer; without turns each executes
// on its own snapshot and every commit after another node's is refused and executed again.
// With them, one node at a time executes and commits, on snapshots that hold every other
// node's commits, and the turn passes when its holder is idle or another node has waited
// a slice.
#include "runtime/engine_impl.hpp"

namespace bihuan::runtime {

void EngineImpl::take_turn() {
  storage::Remote* remote = env_->remote();
  if (!remote) return;
  const auto now = std::chrono::steady_clock::now();
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
    // Another node committed since our last commit: what we remember may be stale. Taken
    // as seen only once the sequences are reloaded (else the stamp stays kNoStamp, and the
    // next commit conflicts).
    if (restart_from_store()) stamp_.adopt(std::move(store_stamp));
  }
}

void EngineImpl::turn_idle() {
  storage::Remote* remote = env_->remote();
  if (!remote || !remote->holds_turn()) return;
  turn_timer_.expires_after(kTurnLinger);
  turn_timer_.async_wait([this, remote](const boost::system::error_code& ec) {
    if (ec) return;  // re-armed: the writer was busy again
    {
      std::lock_guard lock(mu_);
      if (!queue_.empty()) return;  // the drain posted for it keeps the turn
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
