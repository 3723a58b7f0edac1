// The Bihuan engine: durable workflow instances in an LMDB environment.
//
// An Engine owns one data directory. Every step (start, event, timer firing, cancel) is
// applied atomically in one LMDB write transaction together with its history entry, timer
// and index changes, child instances, idempotency record and outbox messages, and is
// acknowledged only after that transaction has been durably committed. Concurrent steps
// share transactions (group commit); steps of one instance stay strictly ordered.
//
// Thread-safety: every method may be called from any thread. Steps are decided by one
// internal writer thread (and, durable, committed by a committer thread); reads use their
// own read transactions, never block writes and see committed steps only.
// Time comes only from EngineOptions::clock; with a VirtualClock nothing happens until
// advance_to() moves time forward.
//
// Storage errors are never answers: a read the store cannot serve says so (a page's
// `unavailable`, get()'s `unavailable` out-parameter), never "not found" or a short list;
// a step whose lookups cannot read is refused with StepError::storage_unavailable. A
// fatal storage error (MDB_PANIC, MDB_CORRUPTED, MDB_PAGE_NOTFOUND...) stops the engine:
// it logs it once with the data file, refuses every further write (storage-error), and
// EngineMetrics::failed says so (the server's /readyz turns false). docs/storage.md.
#pragma once

#include <functional>
#include <memory>
#include <set>
#include <string>

#include "bihuan/clock.hpp"
#include "bihuan/definition.hpp"
#include "bihuan/instance.hpp"

namespace bihuan {

struct EngineOptions {
  std::string data_dir;  // created if missing
  // Where the instances, history, timers and outbox live. "" or "lmdb": LMDB (with its
  // write-ahead log) in data_dir, the default. "postgresql:<libpq conninfo>": a PostgreSQL
  // database (docs/design-scale-out.md), for a program that enabled it first
  // (bihuan/postgres.hpp, library bihuan_pg); data_dir still holds the attachments.
  std::string store;
  // On PostgreSQL: each instance record is also written as JSON beside it, for the view
  // bihuan_instances (SQL for reports; docs/scale-out.md). About 8 us of the committer's
  // CPU per record written and the row's JSON on disk; false: not written (the view shows
  // ids only). Ignored on LMDB.
  bool sql_view = true;
  // With sql_view: records stored without their JSON (by an engine with sql_view false, a
  // version-1 database converted) are projected when this engine opens (500 a round trip,
  // before open returns). `bihuan serve` sets it; a CLI command, opening the store briefly,
  // does not.
  bool sql_view_backfill = false;
  std::shared_ptr<Clock> clock;  // default SystemClock
  std::shared_ptr<const Calendars> calendars;
  // false: no fsync, and LMDB writes straight into its map (MDB_NOSYNC | MDB_WRITEMAP).
  // Simulation only: a killed process loses nothing, an OS crash or power loss can lose
  // or corrupt the store; the data file is sparse and as large as the map.
  bool durable = true;
  std::size_t initial_map_bytes = 64u << 20;  // grows on demand; 64 KiB to 1 TiB
  std::size_t max_batch = 2048;               // steps per group commit; 1 to 100,000
  // Durable mode: while one batch is being committed (written and flushed), the next one
  // is already executed on a read snapshot of the store plus the first batch's writes,
  // and acknowledged only after its own commit. false: execute and commit one batch at a
  // time (the same results, slower on a disk whose flush is the bottleneck).
  bool pipeline = true;
  // Names known to the configuration (empty set = not checked at deploy).
  std::set<std::string> notifiers, task_handlers;
  std::size_t max_cascade = 10000;  // internal steps (children, sends) per request; 1 to 1,000,000
  // Long reads (statistics, the inbox, lists) take a new snapshot after this many records
  // and whenever a map resize waits for them, so that one long scan never holds back the
  // map's growth and with it every other request; 1 to 100,000,000.
  std::size_t scan_chunk = 65536;
  // Where the engine logs (a fatal storage error, a failed commit, a dropped timer): one
  // JSON object per call, {"ts","level","msg",...}, without a newline. Default: stderr.
  std::function<void(const std::string& line)> log;
};

struct DeployResult {
  bool ok = false;
  bool unchanged = false;  // same id+version+digest was already deployed
  std::string id;
  std::int64_t version = 0;
  Problems problems;
};

// An outbox message a step produced (notification or task), as stored.
struct OutboxMessage {
  std::uint64_t seq = 0;
  std::string kind;     // "notify" | "task"
  std::string channel;  // notifier / task handler name
  std::string instance_id;
  std::uint64_t step = 0;  // instance version that produced it
  std::string idempotency_key;
  json body;  // rendered message or task input, recipients...
  TimePoint created_at{};
  // Delivery state (kept by the dispatcher, see docs/plugins.md).
  std::uint32_t attempts = 0;                // failed attempts so far
  std::optional<TimePoint> next_attempt_at;  // not before (backoff); none = now
  bool dead = false;                         // dead letter: no more attempts until retried
  std::string last_error;
};

// A place in one channel's due index (docs/storage.md, `outbox_due`): a message's due
// time (its next attempt, or for one never attempted the time of the step that wrote it)
// and its seq. Due messages are read in this order.
struct OutboxDueKey {
  std::int64_t due_ms = 0;
  std::uint64_t seq = 0;
};

// A page of Engine::outbox_due().
struct OutboxDuePage {
  std::vector<OutboxMessage> messages;  // due by `until`, in OutboxDueKey order
  bool more = false;                    // more are due after `next` (the page is full)
  OutboxDueKey next;                    // the last index entry read: `after` for the next page
  // When the channel's first message not yet due by `until` falls due (known when the
  // page is not full; nullopt then: the channel has none).
  std::optional<TimePoint> next_due;
};

// A histogram with fixed upper bounds (Prometheus style): counts[i] counts observations
// <= bounds[i] and above bounds[i-1]; counts.back() counts those above every bound.
struct Histogram {
  std::vector<double> bounds;
  std::vector<std::uint64_t> counts;
  double sum = 0;
  std::uint64_t count = 0;
};

// What the engine has done since it opened (for /metrics; cheap to read).
struct EngineMetrics {
  std::uint64_t steps = 0;  // requests applied (start, event, cancel, migrate) incl. refused
  std::uint64_t steps_refused = 0;  // of which refused (guard, role, version...)
  std::uint64_t commits = 0;        // LMDB write transactions committed
  std::uint64_t storage_failures = 0;
  std::uint64_t timers_fired = 0;
  // Requests executed a second time: another process committed to the store between
  // their execution and their commit, or the commit they were executed on failed.
  std::uint64_t reexecuted = 0;
  // The writer's turn on a shared store (several nodes on PostgreSQL): times this engine
  // took it, let it go early because another node waited a slice, and waited for it past
  // the limit (then executed without it). All 0 on LMDB.
  std::uint64_t turns_taken = 0, turns_passed = 0, turn_waits_expired = 0;
  // Timer firings executed ahead of their due time (a burst due in one millisecond, see
  // docs/ARCHITECTURE.md), and of those, the ones dropped unwritten because another
  // step came first (they then fired the usual way).
  std::uint64_t timers_ahead = 0, timers_ahead_dropped = 0;
  // Timer firings that changed nothing but remove their timer (its instance gone, damaged
  // or no longer holding the timer), and firings refused by their instance (recorded in
  // its history); each is also logged.
  std::uint64_t timers_dropped = 0, timers_refused = 0;
  Histogram step_latency_seconds;  // queued -> committed, per request
  Histogram batch_size;            // requests per group commit
  Histogram timer_lag_seconds;     // fired - due, per timer (real clock)
  std::uint64_t outbox_depth = 0;  // messages waiting (incl. dead letters)
  std::uint64_t dead_letters = 0;  // of which dead letters
  std::uint64_t pending_timers = 0;
  std::uint64_t instances = 0;
  std::uint64_t map_bytes = 0;  // LMDB map size now
  // A fatal storage error stopped the engine (writes refused): `failure` says which and
  // where. outbox_depth, pending_timers and instances are 0 when they cannot be read.
  bool failed = false;
  std::string failure;
};

// Counts of instances grouped by fields: what an administrator's dashboard shows.
// group_by entries: "definition", "version", "state", "status", "outcome", or a JSON
// Pointer into instance data ("/grade"); and (the dashboard's, docs/http-api.md):
//   "category"   the state's `category` (the innermost state's or nearest ancestor's)
//   "overdue"    true for a running instance whose deadline is before the engine's now
//   "escalated"  true when the state or an ancestor declares "x-escalated": true, or a
//                dataSchema property declaring "x-escalated": true holds true
//   "unit"       the instance's unit path; "unit:N" its first N segments (N 1..16)
//   "created:day" / "created:week" / "created:month"  the local date of created_at in
//                `tz` ("2023-05-15"; a week by its Monday; a month "2023-05")
// Window bounds apply to created_at: [from, to).
struct StatsQuery {
  std::string definition;  // "" = all definitions
  std::vector<std::string> group_by;
  std::optional<TimePoint> created_from, created_to;
  std::optional<InstanceStatus> status;
  std::vector<std::pair<std::string, json>> data_equals;  // (JSON Pointer, value)
  std::size_t max_groups = 10000;                         // then `truncated`
  // Only instances whose unit is this path or below it ("" = every instance).
  std::string unit;
  // The zone of the created:* periods (null = UTC).
  std::shared_ptr<const TimeZone> tz;
  // Who is asking: counts only over the instances visible to this actor
  // (docs/authorization.md). nullopt = every instance.
  std::optional<Actor> viewer;
  // Also count archived instances (docs/retention.md): as they were when archived, in the
  // periods they belong to, so a period's figures do not change when it is archived.
  bool archived = true;
};
struct StatsGroup {
  json key;  // array of values, one per group_by entry (null where data lacks the field)
  std::uint64_t count = 0;
};
struct StatsResult {
  std::uint64_t total = 0;
  std::uint64_t archived = 0;      // of total: archived instances (StatsQuery::archived)
  std::vector<StatsGroup> groups;  // ordered by key
  bool truncated = false;
  TimePoint as_of{};         // the engine's clock when counting ("overdue" is judged at it)
  std::string error;         // non-empty: the store could not be read (why); no counts
  bool unavailable = false;  // then true (retry later)
  // Snapshots the counts were read from: 1 = one consistent moment. More when the scan
  // was long enough to be read in chunks (EngineOptions::scan_chunk) or let the map grow:
  // then an instance that changed state during the scan may be counted as of either side.
  std::size_t snapshots = 1;
};

// One instance's history chain checked (Engine::verify_instance): each entry's hash
// against its content and against the link the newer entry (or the record) names.
struct ChainCheck {
  bool found = false;               // the instance exists (and its record is sound)
  std::uint64_t version = 0;        // entries the record says it has
  std::uint64_t entries = 0;        // entries reached and checked
  std::uint64_t first_broken = 0;   // lowest step number found broken; 0 = none
  std::vector<std::string> broken;  // one sentence per problem, newest first
  std::string error;                // non-empty: the store could not be read (why)
  bool unavailable = false;
  bool ok() const { return found && error.empty() && broken.empty() && entries == version; }
};

// A pending timer of an instance (Engine::instance_timers), or its deadline.
struct PendingTimer {
  std::string name;   // the timer's id in its state ("deadline.remind.0"), or "deadline"
  std::string kind;   // "timer" | "deadline"
  std::string state;  // the state that armed it (the deadline's state)
  TimePoint due{};
  std::string event;              // the event it fires ("" = acts directly, or a deadline)
  std::string target;             // the state it moves to directly ("" = none)
  std::optional<Duration> every;  // repeats
  std::uint32_t fired = 0;        // times a repeating timer has fired
};

// A page of an instance's children (Engine::children), in id (= creation) order.
struct ChildrenPage {
  std::vector<InstanceView> items;
  std::string next_cursor;  // "" = no more
  std::string error;        // non-empty: no page (why): a refused cursor, or the store failed
  bool unavailable = false;
};

class Engine {
 public:
  // Opens (creating if needed) the data directory. Returns nullptr and adds an error on
  // failure: unreadable dir, newer storage format, corrupt environment.
  static std::unique_ptr<Engine> open(EngineOptions options, Problems& problems);
  virtual ~Engine() = default;

  // Validates and stores a definition as an immutable version. Deploying the same id and
  // version again with the same content is a no-op; with different content, an error.
  virtual DeployResult deploy(const json& doc, const std::string& source_name) = 0;
  virtual std::shared_ptr<const Definition> definition(
      const std::string& id, std::optional<std::int64_t> version = {}) const = 0;
  virtual std::vector<std::shared_ptr<const Definition>> definitions() const = 0;

  // Durable steps. The synchronous forms block until the step is committed (or refused).
  virtual StepResult start(const StartRequest& request) = 0;
  virtual StepResult send(const EventRequest& request) = 0;
  virtual StepResult cancel(const std::string& instance_id, const std::string& reason,
                            const Actor& actor) = 0;
  // Moves a running instance to another version of its definition (MigrateRequest). A
  // dry run goes through the writer like a step and writes nothing.
  virtual StepResult migrate(const MigrateRequest& request) = 0;
  // Asynchronous forms: `done` runs after the commit on an engine thread (the committer
  // or the writer); keep it short and never wait for the engine inside it.
  virtual void start_async(StartRequest request, std::function<void(StepResult)> done) = 0;
  virtual void send_async(EventRequest request, std::function<void(StepResult)> done) = 0;
  // The same for cancel() and migrate() (bulk actions submit many at once, so that they
  // share group commits).
  virtual void cancel_async(std::string instance_id, std::string reason, Actor actor,
                            std::function<void(StepResult)> done) = 0;
  virtual void migrate_async(MigrateRequest request, std::function<void(StepResult)> done) = 0;

  // Holding the writer (see CommitGroup below): while a hold is active, async requests
  // queue up instead of being taken as they arrive; releasing the last hold lets the
  // writer take them together, up to EngineOptions::max_batch per transaction. Without
  // it a burst of async calls is split: the writer starts on the first request at once.
  // A synchronous call made during a hold is not held (nor is what was queued before it).
  virtual void hold_writer() = 0;
  virtual void release_writer() = 0;
  // Returns once every request submitted before it has been executed and its `done`
  // callback has returned (at once on a closed engine). A front end calls it before it
  // destroys what those callbacks post to (e.g. an io_context). Not from a callback.
  virtual void barrier() {}

  // Reads (never block on writes). get(), get_by_business_key() and as_of() answer nullopt
  // for "none" and when the store cannot be read; `unavailable`, if given, tells them
  // apart: set to why the store failed (retry later), or cleared.
  virtual std::optional<InstanceView> get(const std::string& instance_id,
                                          std::string* unavailable = nullptr) const = 0;
  // Why the stored record of this instance cannot be used, in the words a refused step
  // gives (StepError::record_damaged; docs/storage.md, "Damaged records"), or nullopt if
  // it is sound or does not exist. get(), get_by_business_key() and the other reads answer
  // a damaged one as missing.
  virtual std::optional<std::string> damage(const std::string& instance_id) const = 0;
  virtual std::optional<InstanceView> get_by_business_key(
      const std::string& key, std::string* unavailable = nullptr) const = 0;
  // damage() of the instance the business key names (nullopt: none, or it is sound).
  virtual std::optional<std::string> damage_by_business_key(const std::string& key) const = 0;
  virtual InstancePage query(const InstanceQuery& q) const = 0;
  // The first page of inbox_page(): the `limit` tasks due first. inbox() and history()
  // answer an empty list when the store cannot be read: use the page forms to tell.
  virtual std::vector<InboxItem> inbox(const Actor& actor, std::size_t limit = 100) const = 0;
  // Reads every running instance in the states where the actor's roles allow an event
  // (about 1 µs each), whichever page it returns.
  virtual InboxPage inbox_page(const InboxQuery& q) const = 0;
  // Every entry, oldest first. history_page() reads a long history a page at a time.
  virtual std::vector<HistoryEntry> history(const std::string& instance_id) const = 0;
  // Costs one read per entry returned, wherever the page lies in the history. An unknown
  // instance gives an empty page; a cursor that does not name an entry of this instance
  // gives `error`.
  virtual HistoryPage history_page(const HistoryQuery& q) const = 0;
  // Rebuilds the instance as it was at time t from its history (nullopt if it did not
  // exist yet).
  virtual std::optional<InstanceView> as_of(const std::string& instance_id, TimePoint t,
                                            std::string* unavailable = nullptr) const = 0;
  virtual VerifyReport verify() const = 0;
  // The hash chain of one instance only (what verify() checks for every instance); one
  // read per entry. An unknown (or damaged) instance: found false.
  virtual ChainCheck verify_instance(const std::string& instance_id) const = 0;
  // The instance's pending timers and deadlines, due first (from its record; one read).
  // An unknown instance, or a store that cannot be read (`unavailable` set): empty.
  virtual std::vector<PendingTimer> instance_timers(const std::string& instance_id,
                                                    std::string* unavailable = nullptr) const = 0;
  // The children the instance spawned, from the children index: up to `limit` after the
  // cursor (the next_cursor of the previous page). `viewer`: only the children it may see
  // (docs/authorization.md); a page may then hold fewer than `limit` with more to come.
  virtual ChildrenPage children(const std::string& instance_id, const std::string& cursor,
                                std::size_t limit,
                                const std::optional<Actor>& viewer = {}) const = 0;
  // Counts instances (one read transaction; scans the definition's instances). A store
  // that cannot be read gives `error` and `unavailable`, never partial counts.
  virtual StatsResult stats(const StatsQuery& q) const = 0;
  virtual EngineMetrics metrics() const = 0;

  // Timers. With a real clock the engine fires due timers by itself. With a virtual clock,
  // advance_to() moves the clock to each due timer in order up to t, firing them
  // (durably), then to t, and returns how many fired. Timers that the firings arm and
  // that fall due by t fire in the same sweep. The sweep is one transaction (split only
  // past 20,000 timers), so it costs one commit however many distinct due times it covers.
  virtual std::size_t advance_to(TimePoint t) = 0;
  // The same sweep, queued behind the requests already queued (so it may share their
  // group commit); `done(fired)` runs on an engine thread after the commit. Requests
  // queued after it see the clock at t.
  virtual void advance_to_async(TimePoint t, std::function<void(std::size_t fired)> done) = 0;
  virtual std::optional<TimePoint> next_timer_due() const = 0;
  virtual std::size_t pending_timers() const = 0;

  // Outbox (delivered by the plugin dispatcher). outbox() lists every message, dead
  // letters too, in seq order (a merge of the two databases; an admin listing, not the
  // dispatcher's read).
  virtual std::vector<OutboxMessage> outbox(std::size_t limit = 100,
                                            std::uint64_t after_seq = 0) const = 0;
  // The dispatcher's read: messages of `channel` due by `until`, at most `limit`, after
  // `after` (nullopt: from the first), through the channel's due index. Costs one index
  // step and one record read per message returned, whatever else the outbox holds (dead
  // letters, messages in backoff, other channels).
  virtual OutboxDuePage outbox_due(const std::string& channel, TimePoint until, std::size_t limit,
                                   std::optional<OutboxDueKey> after = {}) const = 0;
  // Whether this engine's dispatcher is the one that delivers the outbox now. Always true
  // on LMDB (one server per data directory). On a shared store (several nodes on one
  // PostgreSQL) it is a role of the store: taken when free, held by one engine at a time,
  // and let go with its holder's database session (a node that dies, a failover), so a
  // survivor takes it at its next look. Any thread; a round trip while not held.
  virtual bool delivers_outbox() = 0;
  // The channels that have messages waiting (not dead letters), one index seek each.
  virtual std::vector<std::string> outbox_channels() const = 0;
  // Deletes the message (a waiting one or a dead letter); true also if it is already gone.
  virtual bool ack_outbox(std::uint64_t seq) = 0;
  // Delivery bookkeeping (engine/src/runtime/outbox_state.cpp). Each goes through the
  // writer like a step; the _async forms call `done` on an engine thread after commit
  // (false: no such message, or storage failed).
  virtual void ack_outbox_async(std::uint64_t seq, std::function<void(bool)> done) = 0;
  // One failed attempt: attempts+1, the error, when to try next (its place in the due
  // index); dead = give up (the message moves to the dead letters).
  virtual bool record_delivery_failure(std::uint64_t seq, const std::string& error,
                                       TimePoint next_attempt_at, bool dead = false) = 0;
  virtual void record_delivery_failure_async(std::uint64_t seq, std::string error,
                                             TimePoint next_attempt_at, bool dead,
                                             std::function<void(bool)> done) = 0;
  // Dead letters in seq order, read from their own database.
  virtual std::vector<OutboxMessage> dead_letters(std::size_t limit = 100,
                                                  std::uint64_t after_seq = 0) const = 0;
  // Makes a dead letter deliverable again now, with its attempt count reset (it moves
  // back to the outbox and its due index).
  virtual bool retry_dead_letter(std::uint64_t seq) = 0;

  // Online, compacted copy of the environment into an empty directory (created mode 0700
  // when missing); the copy's data.mdb is mode 0600. The map does not grow while it copies
  // (a commit that needs more room waits for the copy). The path is taken as given:
  // callers that take it from a request check it first (the API server keeps it inside a root).
  // The copy holds every step acknowledged before the call (the log is applied first).
  virtual bool backup(const std::string& dir, std::string* error) const = 0;
  // Applies the write-ahead log to the B-tree now (docs/storage.md, "The write-ahead
  // log"); the engine does this by itself every second. "" or why it failed (the log
  // keeps every step then). For tools that read data.mdb alone.
  virtual std::string checkpoint() = 0;
  // Waits for queued steps, flushes and stops the writer. Further writes fail.
  virtual void close() = 0;

  virtual const Clock& clock() const = 0;
  virtual const EngineOptions& options() const = 0;
};

// Groups the async requests submitted during its lifetime into as few group commits as
// possible (one, up to max_batch). Keep it short: nothing it holds commits before it ends.
class CommitGroup {
 public:
  explicit CommitGroup(Engine& engine) : engine_(engine) { engine_.hold_writer(); }
  ~CommitGroup() { engine_.release_writer(); }
  CommitGroup(const CommitGroup&) = delete;
  CommitGroup& operator=(const CommitGroup&) = delete;

 private:
  Engine& engine_;
};

}  // namespace bihuan
