// The committer: the durable pipeline's second thread (pipeline.cpp has the picture).
//
// Contract:
// - One batch at a time. The writer hands off a Prepared batch (hand_off) only when no
//   batch is pending, being committed or being delivered; the committer replays its ops
//   into one write transaction, commits (the flush), then tells the Sink (committed(): the
//   results are delivered from this thread) and only then takes the next.
// - The epoch rule. A batch carries the epoch it was executed in. When the committer
//   refuses a batch (another process committed since our last commit: its snapshot is
//   not the store) or its commit fails, the epoch is bumped; a batch of an older epoch is
//   never committed (hand_off says false) and the writer executes it again after the
//   returned requests (take_returned), on a fresh snapshot.
// - Refused versus failed. A refused batch's requests are returned to the writer, oldest
//   first, and run again; a failed batch's requests fail (Sink::failed, as in direct
//   mode) and are not returned.
// - The held burst (ahead.cpp). A batch with `not_before` is a timer burst executed ahead:
//   replayed shortly before its due time and committed once the clock reads it. The
//   writer settles it before it hands off anything else (settle()): due, it commits as any
//   batch; not due, it is cancelled, and nothing of it was written.
// - Map growth only with no transaction of ours open (Sink::grow_map, Env::grow).
// Threads: hand_off, wait_idle, take_returned, same_epoch, hand_off_ahead and settle are
// the writer's; the rest runs on the committer's own thread.
#pragma once

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <mutex>
#include <optional>
#include <thread>
#include <vector>

#include "bihuan/clock.hpp"
#include "runtime/commit_stamp.hpp"
#include "runtime/metrics.hpp"
#include "runtime/request.hpp"

namespace bihuan::runtime {

class Committer {
 public:
  // How the committer tells the engine what happened. Every call is on its thread.
  class Sink {
   public:
    virtual ~Sink() = default;
    // A batch was handed off (under the committer's lock): `requests` of them, now.
    virtual void handed(std::size_t requests) = 0;
    // A commit attempt ended, whatever its outcome (the writer may stop lingering).
    virtual void commit_ended() = 0;
    // The batch is durable: its earliest due timer is `p.next_due`; count and deliver it.
    virtual void committed(Prepared& p) = 0;
    // Its commit failed with LMDB error `rc`: its requests fail.
    virtual void failed(Prepared& p, int rc) = 0;
    // Requests were returned, or a batch failed: the writer must run (again).
    virtual void wake_writer() = 0;
    // The map is full: grow it (no transaction of ours is open). false: it cannot.
    virtual bool grow_map() = 0;
  };

  Committer(storage::Env& env, const Clock& clock, CommitStamp& stamp, EngineCounters& counters,
            Sink& sink)
      : env_(env),
        clock_(clock),
        stamp_(stamp),
        counters_(counters),
        sink_(sink),
        foreign_seen_(env.foreign_changes()) {}
  ~Committer() { stop(); }
  Committer(const Committer&) = delete;
  Committer& operator=(const Committer&) = delete;

  void start();  // starts the thread
  void stop();   // the thread ends after the batch in hand; joins it. Idempotent.

  // Writer: waits until no batch is pending, being committed or being delivered.
  void wait_idle();
  // Writer: the epoch it last caught up with is still current.
  bool same_epoch(std::uint64_t seen);
  // Writer: if the epoch moved since *seen, waits until nothing is pending or being
  // committed, takes the new epoch and appends the returned requests (oldest first) to
  // `back`. False if nothing happened since *seen.
  bool take_returned(std::uint64_t* seen, std::vector<Request>& back);
  // Writer: waits until idle, then hands `p` off if its epoch is current (true); else
  // gives it back untouched (false).
  bool hand_off(Prepared& p);
  // Writer: if the committer is idle and p's epoch current, commits p on the calling
  // thread, as the committer would, and delivers it (true): one thread switch less for a
  // step that comes alone. Else false, and p is untouched (hand it off).
  bool commit_here(Prepared& p);
  // Writer, the committer idle: hands off a burst executed ahead (p.not_before set).
  void hand_off_ahead(Prepared p);
  // Writer, a burst handed off ahead: if it is due at `due` ms by the clock, it commits
  // as any batch (true). Else it is cancelled; waits until the committer let go of it and
  // answers whether it was committed after all (true: the due time came first) or
  // dropped (false: nothing of it was written).
  bool settle(std::int64_t due);

  // How long the last commit took (its replay, commit and flush).
  std::int64_t last_commit_ns() const { return last_commit_ns_.load(); }

  static constexpr int kConflict = -30000;  // outside LMDB's error range
  static constexpr int kDropped = -30001;   // a cancelled burst executed ahead

 private:
  void loop();
  // Commit p, then deliver it, hand it back or fail it. `here`: on the writer's thread, a
  // batch that came alone (commit_here): its flush is awaited by polling.
  void process(Prepared& p, bool here);
  int commit(Prepared& p, bool here);  // 0, kConflict, kDropped or an LMDB error
  // With the write-ahead log (not a burst executed ahead): one frame, one flush.
  int commit_logged(Prepared& p, bool here);
  // cmu_ held by `lock`: waits until the clock reads `ms` (due), the writer cancels
  // (cancelled) or the steady clock passes `limit` (expired).
  enum class Held { due, cancelled, expired };
  Held hold_until(
      std::int64_t ms, std::unique_lock<std::mutex>& lock,
      std::chrono::steady_clock::time_point limit = std::chrono::steady_clock::time_point::max());
  // How long before its due time the committer begins the burst's transaction and
  // replays it: 2 us per write (a cold CPU's pace; warm it is 0.5), 10 to 250 ms. The
  // transaction is held open only for what is left of that lead after the replay.
  static std::int64_t replay_lead_ms(const Prepared& p);
  void observe_ahead_lag(const Prepared& p);  // after its commit

  storage::Env& env_;
  const Clock& clock_;
  CommitStamp& stamp_;
  EngineCounters& counters_;
  Sink& sink_;
  std::thread thread_;
  std::mutex cmu_;
  // Two conditions on cmu_, so that a change nobody waits for costs no wake-up: the
  // committer's thread waits on work_cv_ (a batch handed off, stop, a burst's hold
  // cancelled or due); the writer waits on state_cv_ (the committer idle, a batch taken).
  std::condition_variable work_cv_;
  std::condition_variable state_cv_;
  std::optional<Prepared> pending_;  // handed off, not yet taken
  bool committing_ = false;          // a batch is in hand (until its commit ended)
  bool delivering_ = false;          // a committed batch's callbacks are running
  bool stop_ = false;
  std::uint64_t epoch_ = 0;        // bumped when a batch is refused or fails
  std::vector<Request> returned_;  // requests to execute again, oldest first
  bool ahead_cancel_ = false;      // the writer cancels the held burst
  bool ahead_dropped_ = false;     // ... and it was aborted
  std::atomic<std::int64_t> last_commit_ns_{0};
  std::uint64_t foreign_seen_;  // Env::foreign_changes() at our last logged commit
};

}  // namespace bihuan::runtime
