// The Engine behind bihuan/engine.hpp: one LMDB environment, one writer thread that
// applies queued requests in group-commit batches, and read paths that use their own
// read transactions.
#pragma once

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <deque>
#include <mutex>
#include <thread>

#include <boost/asio/executor_work_guard.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/steady_timer.hpp>

#include "bihuan/attachment_check.hpp"
#include "bihuan/changes.hpp"
#include "bihuan/engine.hpp"
#include "bihuan/retention.hpp"
#include "runtime/access_index.hpp"
#include "runtime/batch.hpp"
#include "runtime/metrics.hpp"
#include "runtime/scan.hpp"
#include "runtime/stepper.hpp"
#include "storage/lmdb_env.hpp"

namespace bihuan::runtime {

class StartCheck;      // runtime/verify.hpp
struct RetireRequest;  // runtime/retention.cpp

// 1: history keyed by instance and step. 2: history is one append-only log. 3: dead
// letters in their own database, waiting messages indexed by channel and due time
// (format_upgrade.cpp). 4: the reader and unit indexes (ridx, uidx) of scoped reads.
inline constexpr std::uint32_t kStorageFormat = 4;
// meta key: be64 of the next outbox seq, written when the newest message is acknowledged
// (optional: a store without it starts after its last outbox message, as before).
inline constexpr const char* kOutboxNextKey = "outbox-next";
// meta key: be64 count of definition versions ever stored. Every deploy that stores one
// adds 1 in its write transaction (any process), so a reader that finds a larger count
// than it has seen knows the defs database holds versions it has not loaded yet.
inline constexpr const char* kDefsCountKey = "defs-count";
// meta key: be64 of the next history log key, written by retention when it removes the
// newest log entries, so that their keys (which change-feed cursors name) are not reused.
inline constexpr const char* kHistoryNextKey = "history-next";

class EngineImpl final : public Engine {
 public:
  EngineImpl(EngineOptions options, std::unique_ptr<storage::Env> env);
  ~EngineImpl() override;
  bool init(Problems& problems);  // migrates an older format first
  // The data directory's clean-stop marker (runtime/verify.hpp): close() sets it after
  // its last flush. Set by Engine::open before init().
  std::unique_ptr<StartCheck> start_check_;

  DeployResult deploy(const json& doc, const std::string& source_name) override;
  std::shared_ptr<const Definition> definition(const std::string& id,
                                               std::optional<std::int64_t> version) const override;
  std::vector<std::shared_ptr<const Definition>> definitions() const override;

  StepResult start(const StartRequest& request) override;
  StepResult send(const EventRequest& request) override;
  StepResult cancel(const std::string& instance_id, const std::string& reason,
                    const Actor& actor) override;
  StepResult migrate(const MigrateRequest& request) override;
  void cancel_async(std::string instance_id, std::string reason, Actor actor,
                    std::function<void(StepResult)> done) override;
  void migrate_async(MigrateRequest request, std::function<void(StepResult)> done) override;
  void start_async(StartRequest request, std::function<void(StepResult)> done) override;
  void send_async(EventRequest request, std::function<void(StepResult)> done) override;

  std::optional<InstanceView> get(const std::string& instance_id,
                                  std::string* unavailable = nullptr) const override;
  std::optional<std::string> damage(const std::string& instance_id) const override;
  std::optional<std::string> damage_by_business_key(const std::string& key) const override;
  std::optional<InstanceView> get_by_business_key(
      const std::string& key, std::string* unavailable = nullptr) const override;
  InstancePage query(const InstanceQuery& q) const override;
  std::vector<InboxItem> inbox(const Actor& actor, std::size_t limit) const override;
  std::vector<HistoryEntry> history(const std::string& instance_id) const override;
  HistoryPage history_page(const HistoryQuery& q) const override;
  InboxPage inbox_page(const InboxQuery& q) const override;
  std::optional<InstanceView> as_of(const std::string& instance_id, TimePoint t,
                                    std::string* unavailable = nullptr) const override;
  VerifyReport verify() const override;
  ChainCheck verify_instance(const std::string& instance_id) const override;
  std::vector<PendingTimer> instance_timers(const std::string& instance_id,
                                            std::string* unavailable) const override;
  ChildrenPage children(const std::string& instance_id, const std::string& cursor,
                        std::size_t limit, const std::optional<Actor>& viewer) const override;
  StatsResult stats(const StatsQuery& q) const override;  // stats.cpp
  EngineMetrics metrics() const override;

  std::size_t advance_to(TimePoint t) override;
  void advance_to_async(TimePoint t, std::function<void(std::size_t)> done) override;
  void hold_writer() override;
  void release_writer() override;
  std::optional<TimePoint> next_timer_due() const override;
  std::size_t pending_timers() const override;

  // Outbox reads and delivery state: outbox_state.cpp.
  std::vector<OutboxMessage> outbox(std::size_t limit, std::uint64_t after_seq) const override;
  OutboxDuePage outbox_due(const std::string& channel, TimePoint until, std::size_t limit,
                           std::optional<OutboxDueKey> after) const override;
  std::vector<std::string> outbox_channels() const override;
  bool ack_outbox(std::uint64_t seq) override;
  void ack_outbox_async(std::uint64_t seq, std::function<void(bool)> done) override;
  bool record_delivery_failure(std::uint64_t seq, const std::string& error,
                               TimePoint next_attempt_at, bool dead) override;
  void record_delivery_failure_async(std::uint64_t seq, std::string error,
                                     TimePoint next_attempt_at, bool dead,
                                     std::function<void(bool)> done) override;
  std::vector<OutboxMessage> dead_letters(std::size_t limit,
                                          std::uint64_t after_seq) const override;
  bool retry_dead_letter(std::uint64_t seq) override;

  bool backup(const std::string& dir, std::string* error) const override;
  void close() override;
  const Clock& clock() const override { return *options_.clock; }
  const EngineOptions& options() const override { return options_; }
  // Retention and export (issue 22): changes.cpp, retention.cpp (bihuan::changes() and
  // bihuan::run_retention() call these).
  ChangePage changes(const std::string& cursor, std::size_t limit) const;
  RetentionReport run_retention(const RetentionRun& run);
  // The removal (or restore) of one archived batch, through the writer (one transaction).
  StepResult submit_retire(std::shared_ptr<const RetireRequest> req);

  void set_attachment_check(AttachmentCheck stored) {
    attachment_check_.store(std::make_shared<const AttachmentCheck>(std::move(stored)));
  }
  std::shared_ptr<const AttachmentCheck> attachment_check() const {
    return attachment_check_.load();
  }

 private:
  std::atomic<std::shared_ptr<const AttachmentCheck>> attachment_check_;
  bool upgrade_format(Problems& problems);  // an older storage format (format_upgrade.cpp)
  std::optional<std::uint32_t> stored_format(storage::Txn& txn, Problems& problems) const;
  struct Request {
    enum Kind {
      start,
      event,
      cancel,
      fire_timers,
      deploy,
      ack,
      barrier,
      outbox_state,
      migrate,
      retire  // retention.cpp: removes archived instances
    } kind;
    std::optional<StartRequest> start_req;  // empty unless kind == start (no allocations)
    std::optional<EventRequest> event_req;  // empty unless kind == event
    std::uint64_t id = 0;
    std::string text;   // cancel reason / deploy key
    std::string value;  // deploy value
    Actor actor;
    std::function<void(StepResult)> done;
    std::chrono::steady_clock::time_point queued{};  // set by submit()
    std::int64_t until_ms = INT64_MIN;  // fire_timers: sweep up to here (MIN: the batch's now)
    std::size_t fired_before = 0;       // fire_timers split over transactions: fired so far
    bool sync = false;                  // a caller blocks on it: never held
    std::shared_ptr<const MigrateRequest>
        migrate_req;                        // kind == migrate (rare: a pointer keeps Request small)
    std::shared_ptr<const Definition> def;  // kind == deploy: the compiled version
    std::shared_ptr<const RetireRequest> retire_req;  // kind == retire
  };
  // Timers fired per transaction by one sweep: virtual clock (simulation, one commit per
  // advance) and real clock (a burst is split so that other requests commit in between).
  static constexpr std::size_t kSweepVirtual = 20000;
  // A timer sweep up to until_ms (INT64_MIN: the batch's now).
  static Request sweep_request(std::int64_t until_ms) {
    Request r{Request::fire_timers, {}, {}, 0, {}, {}, {}, nullptr};
    r.until_ms = until_ms;
    return r;
  }

  void submit(Request r);
  // mu_ held. even_if_empty: the committer handed requests back (they are not in queue_).
  void post_drain_locked(bool even_if_empty = false);
  // committed: a transaction was committed for the batch (not when it wrote nothing).
  void count_batch(const std::vector<Request>& batch, const std::vector<StepResult>& results,
                   bool committed);
  void count_timer_drops(
      const json& drops);  // a committed sweep's "dropped" details: counted and logged
  StepResult submit_and_wait(Request r);
  void drain();            // on the writer: take up to max_batch queued requests, run them
  void schedule_timers();  // on the writer: wake when the next timer falls due (real clock)
  bool run_batch(std::vector<Request>& batch);   // false: the batch failed (storage)
  bool run_direct(std::vector<Request>& batch);  // executes and commits on this thread
  void fail_batch(std::vector<Request>& batch, const std::string& message);
  void deliver(std::vector<Request>& batch, std::vector<StepResult>& results);  // after the commit

  // The durable pipeline (pipeline.cpp, store.hpp). The writer thread executes a batch on
  // a read snapshot plus the overlay while the committer thread commits the previous one.
  struct Prepared {
    std::vector<Request> requests;
    std::vector<StepResult> results;
    std::vector<Op> ops;
    std::uint64_t number = 0;  // the overlay's tag for this batch's writes
    std::uint64_t epoch = 0;   // epoch_ when it was executed
    std::int64_t next_due = INT64_MAX;
    // A timer burst executed ahead: committed only once the clock reads this (ms).
    std::int64_t not_before = INT64_MIN;
  };
  static bool stageable(const std::vector<Request>& batch);
  void run_staged(std::vector<Request>& batch);
  // Writer: if the committer refused a batch since the last look, waits until it is idle,
  // forgets the overlay, reloads the sequences and puts the returned requests first.
  void catch_up(std::vector<Request>& batch);
  // Writer, mu_ held, before taking a batch: while the committer is still busy with the
  // batch handed off last, waits for as many requests as that batch had, at most half as
  // long as the last commit took (the new batch could not commit earlier anyway). Keeps
  // the batches of a steady load whole instead of split into a large and a small one.
  void linger(std::unique_lock<std::mutex>& lock);
  void wait_committer_idle();               // writer; then no staged batch is in flight
  int reload_sequences(storage::Txn& txn);  // ids_, next_ from the store; an LMDB error leaves them
  // Writer, no staged batch in flight: forgets the overlay and reloads the sequences from
  // a fresh snapshot.
  void restart_from_store();
  void committer_loop();
  int commit_prepared(Prepared& p);  // 0, kConflict, kDropped (ahead.cpp) or an LMDB error

  // Timer look-ahead (ahead.cpp), durable pipeline and real clock only. A burst of timers
  // due in one millisecond is executed up to kAheadMs before it, on a snapshot of the
  // idle store, as one staged batch (each firing at its due time), and handed to the
  // committer at once: shortly before the due time (replay_lead_ms) the committer replays
  // its writes into a write transaction, holds that until the clock reads the due time,
  // then commits. A batch the writer runs before the due time cancels it (the committer
  // aborts, nothing of it was written) and the timers fire the usual way.
  struct Ahead {
    std::int64_t due = 0;  // ms
    std::size_t fired = 0;
    IdGenerator ids;  // ids_ and next_ before it: restored if it is dropped
    Sequences next;
  };
  static constexpr std::int64_t kAheadMs = 1000;   // look at most this far ahead
  static constexpr std::size_t kAheadMin = 64;     // fewer due together: fire as usual
  static constexpr std::size_t kAheadMax = 20000;  // firings executed ahead at most
  static constexpr int kDropped = -30001;          // commit_prepared: cancelled ahead batch
  // Writer, queue empty: executes the timers due at `due` and hands them off.
  void prepare_ahead(std::int64_t due);
  // Writer, before it runs any batch: once the due time is reached the committer commits
  // the burst (a later batch runs on top of it as on any staged batch); before it, the
  // burst is cancelled and forgotten, as if it had never been executed.
  void settle_ahead();
  // Committer, cmu_ held by `lock`: waits until the clock reads `ms` (due), the writer
  // cancels (cancelled) or the steady clock passes `limit` (expired).
  enum class Held { due, cancelled, expired };
  Held hold_until(
      std::int64_t ms, std::unique_lock<std::mutex>& lock,
      std::chrono::steady_clock::time_point limit = std::chrono::steady_clock::time_point::max());
  // How long before its due time the committer begins the burst's transaction and
  // replays it: 2 us per write (a cold CPU's pace; warm it is 0.5), 10 to 250 ms. The
  // transaction is held open only for what is left of that lead after the replay.
  static std::int64_t replay_lead_ms(const Prepared& p);
  void observe_ahead_lag(const Prepared& p);  // committer, after its commit
  static constexpr int kConflict = -30000;    // outside LMDB's error range
  // Every commit of this engine writes meta/"writer" = token_ + be64(count) (put_stamp;
  // the new stamp becomes stamp_ once committed). Finding another value there
  // (foreign_commit) means another process committed since our last commit; the value
  // found is then taken as seen (stamp_), since the caller goes on from that store.
  // *rc: an LMDB error reading the stamp (then false).
  bool foreign_commit(storage::Txn& txn, int* rc);
  int put_stamp(storage::Txn& txn, std::string* next) const;
  bool grow_map();  // doubles the map (no transaction of ours open); false if it cannot
  StepResult apply_one(Batch& b, Stepper& stepper, Request& r, std::size_t& fired);
  StepResult apply_outbox_state(Batch& b, const Request& r);  // outbox_state.cpp
  StepResult apply_ack(Batch& b, const Request& r);           // outbox_state.cpp
  StepResult apply_retire(Batch& b, const Request& r);        // retention.cpp

  // Definitions (definitions.cpp). A version is decided in the write transaction: stored
  // already with the same text (unchanged), with other text (refused: version_conflict),
  // or new (stored, kDefsCountKey + 1). So two deploys, of this process or of two, never
  // overwrite one another. The registry holds committed versions only.
  StepResult apply_deploy(Batch& b, const Request& r);
  // Writer, after a committed batch: its newly stored versions join the registry.
  void register_deployed(const std::vector<Request>& batch, const std::vector<StepResult>& results);
  // Compiles every stored version the registry lacks. With `problems` (open), a stored
  // version that no longer compiles is an error (false); without (a lazy reload), it is
  // skipped. Then takes the store's kDefsCountKey as seen.
  bool load_definitions(storage::Txn& txn, Problems* problems) const;
  // Any thread, any transaction: if the store counts more stored versions than seen,
  // loads the new ones (another process deployed them). One meta read otherwise.
  void observe_definitions(storage::Txn& txn) const;
  // A read transaction (nullptr and *rc on failure). It holds the map's resize lock
  // itself for its life.
  std::unique_ptr<storage::Txn> read_txn(int* rc = nullptr) const;
  // nullopt if there is none or it is damaged; then `damage`, if given, says what is wrong.
  // *rc (if given): the LMDB error that kept it from being read (0: none, or damaged).
  std::optional<InstanceRecord> read_record(storage::Txn& txn, std::uint64_t id,
                                            std::string* damage = nullptr, int* rc = nullptr) const;
  // A cursor for a long read in `txn` that renews it in chunks (runtime/scan.hpp).
  ScanCursor scan(storage::Txn& txn, storage::Db db) const {
    return ScanCursor(*env_, txn, db, options_.scan_chunk);
  }
  // "the store could not be read (<LMDB text>)": what an unavailable read says.
  std::string unreadable(int rc) const;
  // Logging (EngineOptions::log): one JSON line {"ts","level","msg",...fields}.
  void log(const char* level, const std::string& msg, json fields = json::object()) const;
  // A batch was not applied because storage failed: counted and logged.
  void storage_failed(int rc, const std::string& what, std::size_t requests);
  // The environment met a fatal error (storage::is_fatal): fail-stop (Env::on_fatal).
  void fail_stop(int rc);
  bool stopped() const { return failed_.load(std::memory_order_acquire); }
  // damage() for an id, within a read transaction.
  std::optional<std::string> damage_of(storage::Txn& txn, std::uint64_t id) const;
  InstanceView view_of(const InstanceRecord& r) const;

  // Scoped reads (scoped_reads.cpp): a viewer that is neither system nor a global
  // administrator reads only its index ranges (access_index.hpp).
  static bool scoped(const std::optional<Actor>& viewer) {
    return viewer && !viewer->is_system() && !viewer->global_admin();
  }
  struct ScopeWalk {
    int rc = 0;                // the LMDB error that ended the walk (0: none)
    std::size_t stream = 0;    // where it stopped (visit said stop, or the budget ran out) ...
    std::string key;           // ... after this entry
    bool more = false;         // entries remain after that (in this stream or a later one)
    std::size_t renewals = 0;  // new snapshots taken on the way (runtime/scan.hpp)
  };
  // Walks `streams` from stream `from`, after key `after` ("": from its start), in order;
  // visit(record, stream) for each record the stream yields (yields()), until it returns
  // false or `budget` entries were read. Records that are damaged are passed over.
  ScopeWalk walk_scope(storage::Txn& txn, const Scope& scope,
                       const std::vector<ScopeStream>& streams, std::size_t from,
                       const std::string& after, std::size_t budget,
                       const std::function<bool(InstanceRecord&, std::size_t)>& visit) const;
  InstancePage scoped_query(const InstanceQuery& q) const;

  EngineOptions options_;
  std::unique_ptr<storage::Env> env_;
  mutable DefinitionRegistry registry_;  // locks itself; grows when a read finds new versions
  // kDefsCountKey as last loaded; max until init has loaded the definitions, so that
  // nothing loads them lazily before (migrate() reads first). defs_mu_: one loader at once.
  mutable std::atomic<std::uint64_t> defs_seen_{UINT64_MAX};
  mutable std::mutex defs_mu_;
  IdGenerator ids_;
  Sequences next_;  // next outbox and history keys
  std::atomic<std::int64_t> next_due_ms_{INT64_MAX};
  EngineCounters counters_;
  // Fail-stop: set once (fail_stop), never cleared; failure_ is written before failed_.
  std::atomic<bool> failed_{false};
  std::string failure_;

  // The writer: one thread running an Asio io_context. submit() queues a request and
  // posts a drain if none is pending; a steady_timer wakes it for due timers.
  boost::asio::io_context io_;
  boost::asio::executor_work_guard<boost::asio::io_context::executor_type> work_{
      io_.get_executor()};
  boost::asio::steady_timer timer_{io_};
  std::mutex mu_;
  std::deque<Request> queue_;
  bool drain_posted_ = false;
  int held_ = 0;                     // hold_writer() minus release_writer()
  std::size_t sync_queued_ = 0;      // synchronous requests in queue_ (they ignore holds)
  bool timer_batch_failed_ = false;  // writer thread only
  bool stopping_ = false;
  bool closed_ = false;
  std::thread writer_;

  // Pipeline state. cmu_ guards the hand-off between the writer and the committer.
  const bool pipelined_;
  std::thread committer_;
  std::mutex cmu_;
  std::condition_variable ccv_;
  std::optional<Prepared> pending_;  // handed off, not yet taken by the committer
  bool committing_ = false;          // the committer holds a batch (until its commit ended)
  bool delivering_ = false;          // the committer runs a committed batch's callbacks
  bool committer_stop_ = false;
  std::uint64_t epoch_ = 0;        // bumped when the committer refuses a batch
  std::vector<Request> returned_;  // requests to execute again, oldest first
  bool ahead_cancel_ = false;      // the writer cancels the held ahead batch
  bool ahead_dropped_ = false;     // the committer aborted it
  // The stamp of our last commit (meta/"writer"); the one found at open until then. Used
  // by whichever thread commits (they hand over under cmu_).
  std::string token_, stamp_;
  std::uint64_t stamp_count_ = 0;
  // Lingering (mu_): the writer waits on queue_cv_; the committer clears committer_busy_.
  std::condition_variable queue_cv_;
  bool lingering_ = false;
  bool committer_busy_ = false;
  std::size_t handed_size_ = 0;  // requests in the batch handed off last
  std::chrono::steady_clock::time_point handed_at_{};
  std::atomic<std::int64_t> last_commit_ns_{0};
  // Writer thread only.
  Overlay overlay_;
  std::optional<Ahead> ahead_;
  std::int64_t ahead_tried_ = INT64_MIN;  // the due time last executed ahead (once each)
  std::uint64_t batch_number_ = 0;
  std::uint64_t seen_epoch_ = 0;
};

}  // namespace bihuan::runtime
