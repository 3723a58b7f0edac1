// The Engine's reads: instances, lists (scoped or not), history, as-of, inbox, statistics,
// timers, children, the outbox as stored, verify; and the registry of compiled
// definitions, which it keeps up with versions another process stored.
//
// Contract:
// - Any thread, any number at once. Every call opens its own LMDB read transaction (or
//   several, for a long scan that renews its snapshot in chunks: runtime/scan.hpp) and
//   never takes a lock of the writer or the committer: a read never waits for a step.
// - It sees committed data only: never the writer's overlay of a batch not yet committed.
// - A store that cannot be read is "unavailable" (a status, or an `unavailable` text the
//   caller must look at), never "absent": not found means not stored.
// - The registry holds committed versions only. The writer adds its own deploys after
//   their commit (registered()); a read that finds the store counting more stored versions
//   than seen (kDefsCountKey) loads the new ones first (observe_definitions()).
//
// The writer (EngineImpl) owns the Reader and uses its transaction and record helpers
// (read_txn, read_record, view_of) for its own snapshots.
#pragma once

#include <atomic>
#include <functional>
#include <mutex>

#include "bihuan/engine.hpp"
#include "runtime/access_index.hpp"
#include "runtime/batch.hpp"
#include "runtime/record.hpp"
#include "runtime/scan.hpp"
#include "runtime/stepper.hpp"
#include "storage/lmdb_env.hpp"

namespace bihuan {
class AttachmentStore;  // bihuan/attachments.hpp
}

namespace bihuan::runtime {

class StartCheck;  // runtime/verify.hpp

// meta key: be64 count of definition versions ever stored. Every deploy that stores one
// adds 1 in its write transaction (any process), so a reader that finds a larger count
// than it has seen knows the defs database holds versions it has not loaded yet.
inline constexpr const char* kDefsCountKey = "defs-count";

class Reader {
 public:
  // `options` and `env` outlive the Reader (the engine owns all three).
  Reader(const EngineOptions& options, storage::Env& env) : options_(options), env_(env) {}
  Reader(const Reader&) = delete;
  Reader& operator=(const Reader&) = delete;

  // Instances (reads.cpp).
  std::optional<InstanceView> get(const std::string& instance_id,
                                  std::string* unavailable = nullptr) const;
  std::optional<InstanceView> get_by_business_key(const std::string& key,
                                                  std::string* unavailable = nullptr) const;
  std::optional<std::string> damage(const std::string& instance_id) const;
  std::optional<std::string> damage_by_business_key(const std::string& key) const;
  InstancePage query(const InstanceQuery& q) const;
  std::vector<InboxItem> inbox(const Actor& actor, std::size_t limit) const;
  InboxPage inbox_page(const InboxQuery& q) const;
  std::vector<HistoryEntry> history(const std::string& instance_id) const;
  HistoryPage history_page(const HistoryQuery& q) const;
  std::optional<InstanceView> as_of(const std::string& instance_id, TimePoint t,
                                    std::string* unavailable = nullptr) const;
  ChainCheck verify_instance(const std::string& instance_id) const;
  std::vector<PendingTimer> instance_timers(const std::string& instance_id,
                                            std::string* unavailable) const;
  ChildrenPage children(const std::string& instance_id, const std::string& cursor,
                        std::size_t limit, const std::optional<Actor>& viewer) const;
  std::size_t pending_timers() const;
  StatsResult stats(const StatsQuery& q) const;  // stats.cpp

  // The outbox as stored (outbox_state.cpp).
  std::vector<OutboxMessage> outbox(std::size_t limit, std::uint64_t after_seq) const;
  OutboxDuePage outbox_due(const std::string& channel, TimePoint until, std::size_t limit,
                           std::optional<OutboxDueKey> after) const;
  std::vector<std::string> outbox_channels() const;
  std::vector<OutboxMessage> dead_letters(std::size_t limit, std::uint64_t after_seq) const;

  // The whole store, checked in a child process (verify.cpp). A damaged structure is
  // reported to `start_check` (if given), so the next open after an unclean stop refuses.
  // Named files are checked with `attachments`->check() when given (attachment_check.hpp).
  VerifyReport verify(StartCheck* start_check, const AttachmentStore* attachments = nullptr) const;

  // Definitions (definitions.cpp): committed versions, loading those another process
  // stored first.
  std::shared_ptr<const Definition> definition(const std::string& id,
                                               std::optional<std::int64_t> version) const;
  std::vector<std::shared_ptr<const Definition>> definitions() const;
  DefinitionRegistry& registry() const { return registry_; }
  // Compiles every stored version the registry lacks. With `problems` (open), a stored
  // version that no longer compiles is an error (false); without (a lazy reload), it is
  // skipped. Then takes the store's kDefsCountKey as seen.
  bool load_definitions(storage::Txn& txn, Problems* problems) const;
  // Any thread, any transaction: if the store counts more stored versions than seen,
  // loads the new ones (another process deployed them). One meta read otherwise.
  void observe_definitions(storage::Txn& txn) const;
  // The writer, after the commit that stored `def` as the store's version number `count`.
  void registered(std::shared_ptr<const Definition> def, std::uint64_t count) const;

  // Helpers the writer shares (reads.cpp).
  // A read transaction (nullptr and *rc on failure). It holds the map's resize lock
  // itself for its life.
  std::unique_ptr<storage::Txn> read_txn(int* rc = nullptr) const;
  // nullopt if there is none or it is damaged; then `damage`, if given, says what is wrong.
  // *rc (if given): the LMDB error that kept it from being read (0: none, or damaged).
  std::optional<InstanceRecord> read_record(storage::Txn& txn, std::uint64_t id,
                                            std::string* damage = nullptr, int* rc = nullptr) const;
  InstanceView view_of(const InstanceRecord& r) const;
  InstanceView view_of(InstanceRecord&& r) const;  // takes the record's data
  // "the store could not be read (<LMDB text>)": what an unavailable read says.
  std::string unreadable(int rc) const;

 private:
  // A cursor for a long read in `txn` that renews it in chunks (runtime/scan.hpp).
  ScanCursor scan(storage::Txn& txn, storage::Db db) const {
    return ScanCursor(env_, txn, db, options_.scan_chunk);
  }
  // An empty page that says the store could not be read (LMDB error rc).
  InstancePage unavailable_page(int rc) const {
    InstancePage page;
    page.error = unreadable(rc);
    page.unavailable = true;
    return page;
  }
  // damage() for an id, within a read transaction.
  std::optional<std::string> damage_of(storage::Txn& txn, std::uint64_t id) const;

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

  const EngineOptions& options_;
  storage::Env& env_;
  mutable DefinitionRegistry registry_;  // locks itself; grows when a read finds new versions
  // kDefsCountKey as last loaded; max until init has loaded the definitions, so that
  // nothing loads them lazily before (migrate() reads first). defs_mu_: one loader at once.
  mutable std::atomic<std::uint64_t> defs_seen_{UINT64_MAX};
  mutable std::mutex defs_mu_;
};

}  // namespace bihuan::runtime
