// The Engine behind bihuan/engine.hpp: one LMDB environment, one writer thread that
// applies queued requests in group-commit batches, and read paths that use their own
// read transactions. Three roles, each with its contract in its header: the reads
// (Reader, runtime/reader.hpp), the writer (this class: the queue, batches, direct and
// staged execution, timers) and the committer (the pipeline's second thread).
#pragma once

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <deque>
#include <mutex>
#include <set>
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
#include "runtime/committer.hpp"
#include "runtime/metrics.hpp"
#include "runtime/reader.hpp"
#include "runtime/scan.hpp"
#include "runtime/stepper.hpp"
#include "storage/lmdb_env.hpp"

namespace bihuan::runtime {

class StartCheck;      // runtime/verify.hpp
struct RetireRequest;  // runtime/retention.cpp

// 1: history keyed by instance and step. 2: history is one append-only log. 3: dead
// letters in their own database, waiting messages indexed by channel and due time
// (format_upgrade.cpp). 4: the reader and unit indexes (ridx, uidx) of scoped reads.
// 5: archived instances leave their last record in `gone` (statistics count it).
inline constexpr std::uint32_t kStorageFormat = 7;
// meta key: be64 of the next outbox seq, written when the newest message is acknowledged
// (optional: a store without it starts after its last outbox message, as before).
inline constexpr const char* kOutboxNextKey = "outbox-next";
// meta key: be64 of the next history log key, written by retention when it removes the
// newest log entries, so that their keys (which change-feed cursors name) are not reused.
inline constexpr const char* kHistoryNextKey = "history-next";

class EngineImpl final : public Engine, private Committer::Sink {
 public:
  EngineImpl(EngineOptions options, std::unique_ptr<storage::Env> env);
  ~EngineImpl() override;
  bool init(Problems& problems);  // migrates an older format first
  // The data directory's clean-stop marker (runtime/verify.hpp): close() sets it after
  // its last flush. Set by Engine::open before init().
  std::unique_ptr<StartCheck> start_check_;

  DeployResult deploy(const json& doc, const std::string& source_name) override;
  std::shared_ptr<const Definition> definition(const std::string& id,
                                               std::optional<std::int64_t> version) const override {
    return reader_.definition(id, version);
  }
  std::vector<std::shared_ptr<const Definition>> definitions() const override {
    return reader_.definitions();
  }

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

  // Reads: the Reader's (runtime/reader.hpp).
  std::optional<InstanceView> get(const std::string& instance_id,
                                  std::string* unavailable = nullptr) const override {
    return reader_.get(instance_id, unavailable);
  }
  std::optional<std::string> damage(const std::string& instance_id) const override {
    return reader_.damage(instance_id);
  }
  std::optional<std::string> damage_by_business_key(const std::string& key) const override {
    return reader_.damage_by_business_key(key);
  }
  std::optional<InstanceView> get_by_business_key(
      const std::string& key, std::string* unavailable = nullptr) const override {
    return reader_.get_by_business_key(key, unavailable);
  }
  InstancePage query(const InstanceQuery& q) const override { return reader_.query(q); }
  std::vector<InboxItem> inbox(const Actor& actor, std::size_t limit) const override {
    return reader_.inbox(actor, limit);
  }
  std::vector<HistoryEntry> history(const std::string& instance_id) const override {
    return reader_.history(instance_id);
  }
  HistoryPage history_page(const HistoryQuery& q) const override { return reader_.history_page(q); }
  InboxPage inbox_page(const InboxQuery& q) const override { return reader_.inbox_page(q); }
  std::optional<InstanceView> as_of(const std::string& instance_id, TimePoint t,
                                    std::string* unavailable = nullptr) const override {
    return reader_.as_of(instance_id, t, unavailable);
  }
  VerifyReport verify() const override {
    auto store = attachment_store_.load();  // held until the check is done
    env_->checkpoint();                     // the check reads LMDB alone, in a child process
    return reader_.verify(start_check_.get(), store.get());
  }
  ChainCheck verify_instance(const std::string& instance_id) const override {
    return reader_.verify_instance(instance_id);
  }
  std::vector<PendingTimer> instance_timers(const std::string& instance_id,
                                            std::string* unavailable) const override {
    return reader_.instance_timers(instance_id, unavailable);
  }
  ChildrenPage children(const std::string& instance_id, const std::string& cursor,
                        std::size_t limit, const std::optional<Actor>& viewer) const override {
    return reader_.children(instance_id, cursor, limit, viewer);
  }
  StatsResult stats(const StatsQuery& q) const override { return reader_.stats(q); }
  EngineMetrics metrics() const override;

  std::size_t advance_to(TimePoint t) override;
  void advance_to_async(TimePoint t, std::function<void(std::size_t)> done) override;
  void hold_writer() override;
  void release_writer() override;
  void barrier() override;
  std::optional<TimePoint> next_timer_due() const override;
  std::size_t pending_timers() const override { return reader_.pending_timers(); }

  // Outbox reads (the Reader's) and delivery state (outbox_state.cpp).
  std::vector<OutboxMessage> outbox(std::size_t limit, std::uint64_t after_seq) const override {
    return reader_.outbox(limit, after_seq);
  }
  bool delivers_outbox() override;
  OutboxDuePage outbox_due(const std::string& channel, TimePoint until, std::size_t limit,
                           std::optional<OutboxDueKey> after) const override {
    return reader_.outbox_due(channel, until, limit, std::move(after));
  }
  std::vector<std::string> outbox_channels() const override { return reader_.outbox_channels(); }
  bool ack_outbox(std::uint64_t seq) override;
  void ack_outbox_async(std::uint64_t seq, std::function<void(bool)> done) override;
  bool record_delivery_failure(std::uint64_t seq, const std::string& error,
                               TimePoint next_attempt_at, bool dead) override;
  void record_delivery_failure_async(std::uint64_t seq, std::string error,
                                     TimePoint next_attempt_at, bool dead,
                                     std::function<void(bool)> done) override;
  std::vector<OutboxMessage> dead_letters(std::size_t limit,
                                          std::uint64_t after_seq) const override {
    return reader_.dead_letters(limit, after_seq);
  }
  bool retry_dead_letter(std::uint64_t seq) override;

  bool backup(const std::string& dir, std::string* error) const override;
  std::string checkpoint() override {
    int rc = env_->checkpoint();
    return rc ? "checkpoint of " + options_.data_dir + " failed: " + storage::error_text(rc) : "";
  }
  void close() override;
  const Clock& clock() const override { return *options_.clock; }
  const EngineOptions& options() const override { return options_; }
  // Retention and export (issue 22): changes.cpp, retention.cpp (bihuan::changes() and
  // bihuan::run_retention() call these).
  ChangePage changes(const std::string& cursor, std::size_t limit) const;
  RetentionReport run_retention(const RetentionRun& run);
  // An instance record as JSON for SQL readers of a remote store (projection.cpp).
  std::optional<std::string> project_record(std::string_view value) const;
  // The store on a server (PostgreSQL), or nullptr (LMDB).
  storage::Remote* remote_store() const { return env_->remote(); }
  // After a run on a store that keeps removed history: detaches each month holding one of
  // the `removed` log keys that no stored instance has an entry in any more.
  void detach_months(const std::set<std::uint64_t>& removed, RetentionReport& rep);
  // The removal (or restore) of one archived batch, through the writer (one transaction).
  StepResult submit_retire(std::shared_ptr<const RetireRequest> req);

  void set_attachment_check(AttachmentCheck stored) {
    attachment_check_.store(std::make_shared<const AttachmentCheck>(std::move(stored)));
  }
  std::shared_ptr<const AttachmentCheck> attachment_check() const {
    return attachment_check_.load();
  }
  void set_attachment_store(std::shared_ptr<const AttachmentStore> store) {
    attachment_store_.store(std::move(store));
  }
  std::optional<bool> attachment_named(const std::string& address) const;  // engine_impl.cpp
  std::shared_ptr<const AttachmentStore> attachment_store() const {
    return attachment_store_.load();
  }

 private:
  std::atomic<std::shared_ptr<const AttachmentCheck>> attachment_check_;
  std::atomic<std::shared_ptr<const AttachmentStore>> attachment_store_;
  bool upgrade_format(Problems& problems);  // an older storage format (format_upgrade.cpp)
  std::optional<std::uint32_t> stored_format(storage::Txn& txn, Problems& problems) const;
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
  // On a remote store: next_due_ms_ lowered to the store's first timer (another node's).
  void observe_store_timers();
  // On the writer, after a batch of one or two requests: returns when a request was
  // submitted after the one that bumped submitted_ to `seen`, or after 100 us.
  void poll_for_next(std::uint64_t seen);
  bool run_batch(std::vector<Request>& batch);   // false: the batch failed (storage)
  bool run_direct(std::vector<Request>& batch);  // executes and commits on this thread
  void fail_batch(std::vector<Request>& batch, const std::string& message);
  void deliver(std::vector<Request>& batch, std::vector<StepResult>& results);  // after the commit

  // The durable pipeline (pipeline.cpp, store.hpp). The writer thread executes a batch on
  // a read snapshot plus the overlay while the committer (committer.hpp) commits the
  // previous one.
  bool stageable(const std::vector<Request>& batch) const;
  void run_staged(std::vector<Request>& batch);
  // Writer: if the committer refused a batch since the last look, waits until it is idle,
  // forgets the overlay, reloads the sequences and puts the returned requests first.
  void catch_up(std::vector<Request>& batch);
  // Writer, mu_ held, before taking a batch: while the committer is still busy with the
  // batch handed off last, waits for as many requests as that batch had, at most half as
  // long as the last commit took (the new batch could not commit earlier anyway). Keeps
  // the batches of a steady load whole instead of split into a large and a small one.
  void linger(std::unique_lock<std::mutex>& lock);
  void wait_committer_idle();  // writer; then no staged batch is in flight (pipelined)
  // The store leaves removed instances' history entries to go with their month
  // (storage::Remote::keeps_removed_history): retention, the change feed and verify know.
  bool keeps_removed_history() const {
    return env_->remote() && env_->remote()->keeps_removed_history();
  }
  // A remote store's history by month: next_.history up to the floor of `now`'s month.
  void raise_history_floor(TimePoint now);
  int reload_sequences(storage::Txn& txn);  // ids_, next_ from the store; an LMDB error leaves them
  // Writer, no staged batch in flight: forgets the overlay and reloads the sequences from
  // a fresh snapshot.
  // false: the reload failed (logged); on a shared store the stamp is then kNoStamp, so
  // the next commit conflicts instead of applying stale sequences.
  bool restart_from_store();
  static constexpr std::string_view kNoStamp = "(unknown: not reloaded)";  // never a stamp

  // The writer's turn on a shared (remote) store (turn.cpp; storage::Remote::hold_turn;
  // docs/design-scale-out.md, "Turns"). Writer thread. take_turn(), before a batch
  // executes, while another writer was seen in the last kTurnsKeep (note_shared(): a
  // commit of ours refused or failed, another stamp found): holds the turn, waiting at most
  // kTurnWaitMs (past it the batch runs without: its commit is conditional as always) and, if
  // another process committed since our last commit, starts from the store. Held kTurnSlice at a
  // time while another process waits for it; let go when nothing was queued for kTurnLinger after a
  // batch (turn_idle()) and every batch handed off has committed.
  void take_turn();
  void note_shared();  // another writer is about: turns for kTurnsKeep from now
  void turn_idle();
  void arm_turn_timer(std::chrono::steady_clock::duration after);  // writer thread
  static constexpr int kTurnWaitMs = 2000;
  static constexpr auto kTurnsKeep = std::chrono::seconds(10);
  std::chrono::steady_clock::time_point turns_until_{};  // writer thread
  static constexpr auto kTurnSlice = std::chrono::milliseconds(10);
  static constexpr auto kTurnLinger = std::chrono::milliseconds(1);
  std::chrono::steady_clock::time_point turn_since_{};
  std::chrono::steady_clock::time_point turn_busy_at_{};  // the last batch's end
  bool turn_timer_armed_ = false;                         // writer thread

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
  // Writer, queue empty: executes the timers due at `due` and hands them off.
  void prepare_ahead(std::int64_t due);
  // Writer, before it runs any batch: once the due time is reached the committer commits
  // the burst (a later batch runs on top of it as on any staged batch); before it, the
  // burst is cancelled and forgotten, as if it had never been executed.
  void settle_ahead();
  // Committer::Sink: what the committer tells the engine (committer.hpp).
  void handed(std::size_t requests) override;
  void commit_ended() override;
  void committed(Prepared& p) override;
  void failed(Prepared& p, int rc) override;
  void wake_writer() override;
  bool grow_map() override;  // doubles the map (no transaction of ours open); false if it cannot
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
  // The Reader's snapshot and record helpers, for the writer's own reads.
  std::unique_ptr<storage::Txn> read_txn(int* rc = nullptr) const { return reader_.read_txn(rc); }
  std::string unreadable(int rc) const { return reader_.unreadable(rc); }
  // Logging (EngineOptions::log): one JSON line {"ts","level","msg",...fields}.
  void log(const char* level, const std::string& msg, json fields = json::object()) const;
  // A batch was not applied because storage failed: counted and logged.
  void storage_failed(int rc, const std::string& what, std::size_t requests);
  // The environment met a fatal error (storage::is_fatal): fail-stop (Env::on_fatal).
  void fail_stop(int rc);
  bool stopped() const { return failed_.load(std::memory_order_acquire); }

  EngineOptions options_;
  std::unique_ptr<storage::Env> env_;
  Reader reader_;  // after options_ and env_, which it refers to
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
  boost::asio::steady_timer turn_timer_{io_};  // turn_idle()
  std::mutex mu_;
  std::deque<Request> queue_;
  bool drain_posted_ = false;
  // Bumped by every submit(): after a small batch the writer polls it briefly for the
  // next request instead of sleeping (drain(), poll_for_next()).
  std::atomic<std::uint64_t> submitted_{0};
  std::atomic<int> spinners_{0};  // submit_and_wait callers spinning for their result
  static constexpr auto kSpinForResult = std::chrono::microseconds(1000);
  int held_ = 0;                     // hold_writer() minus release_writer()
  std::size_t sync_queued_ = 0;      // synchronous requests in queue_ (they ignore holds)
  bool timer_batch_failed_ = false;  // writer thread only
  bool stopping_ = false;
  bool closed_ = false;
  std::thread writer_;

  // The pipeline: the committer (pipelined only) and the stamp whichever thread commits
  // uses (commit_stamp.hpp).
  const bool pipelined_;
  CommitStamp stamp_;
  std::unique_ptr<Committer> committer_;
  // Lingering (mu_): the writer waits on queue_cv_; the committer clears committer_busy_.
  std::condition_variable queue_cv_;
  bool lingering_ = false;
  bool committer_busy_ = false;
  std::size_t handed_size_ = 0;  // requests in the batch handed off last
  std::chrono::steady_clock::time_point handed_at_{};
  // Writer thread only.
  Overlay overlay_;
  std::optional<Ahead> ahead_;
  std::int64_t ahead_tried_ = INT64_MIN;  // the due time last executed ahead (once each)
  std::uint64_t batch_number_ = 0;
  std::uint64_t seen_epoch_ = 0;
  // No timer key below it exists in the store as this writer sees it (committed and
  // staged batches): a sweep starts its walk there, not at the first key, which over the
  // write-ahead log's view is reached only past every timer fired since the last
  // checkpoint (deleted keys). "" = not known: from the first key. Raised by a sweep that
  // fired every timer due by its `until`; lowered by every timer key a batch puts below it
  // (Store::take_lowest_timer_put), also by a burst executed ahead; restored when a
  // direct batch's transaction does not commit; cleared when the store is read afresh
  // (another process committed, a batch was handed back).
  std::string timer_floor_;
  void lower_timer_floor(Store& store) {
    if (auto low = store.take_lowest_timer_put(); low && *low < timer_floor_)
      timer_floor_ = std::move(*low);
  }

  // The checkpointer (pipelined only): applies the write-ahead log to LMDB every
  // kCheckpointEvery, or sooner once the log's frames hold kCheckpointBytes of keys and
  // values (uncompressed: what the checkpoint applies and recovery reads; log.cpp), or
  // the view's maps kCheckpointMemory (with the paths newer versions replaced, which stay
  // in their arena until the checkpoint starts the view again; storage/pmap.hpp).
  void checkpoint_loop();
  void checkpoint_soon();
  std::thread checkpointer_;
  std::mutex cp_mu_;
  std::condition_variable cp_cv_;
  bool cp_stop_ = false, cp_wake_ = false;
  static constexpr std::chrono::milliseconds kCheckpointEvery{1000};
  static constexpr std::uint64_t kCheckpointBytes = std::uint64_t{64} << 20;
  static constexpr std::uint64_t kCheckpointMemory = std::uint64_t{64} << 20;
  // The largest batch the writer commits itself when nothing else waits (pipeline.cpp).
  static constexpr std::size_t kHereMax = 4;
};

}  // namespace bihuan::runtime
