// Value types of the runtime's public API: actors, instances, requests and results.
#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "bihuan/json.hpp"
#include "bihuan/time.hpp"

namespace bihuan {

// Who sends an event or reads. The HTTP API sets it from the bearer token or JWT, never
// from a body. docs/authorization.md says what each part means to the engine.
struct Actor {
  std::string id;
  std::vector<std::string> roles;
  // Attributes: an object of string, number, boolean or array-of-strings values
  // ({"unit": "golmud/T03", "station": "ST01"}). `unit` is the organisation unit the
  // actor looks after (sees every instance at or below it).
  json attrs = json::object();
  static Actor system() { return {"system", {"system"}, json::object()}; }
  bool has_role(const std::string& r) const;
  bool is_system() const { return id == "system" && has_role("system"); }
  // attrs.unit if it is a non-empty string, else "".
  std::string unit() const;
  // Role "admin" without a unit: sees and administers everything (and system).
  bool global_admin() const;
  // "*", "actor:<id>", "role:<r>" per role, "<name>:<value>" per string attribute (each
  // string of an array attribute). Sorted, unique.
  std::vector<std::string> keys() const;
  // {"id", "roles", "attrs"}: what expressions see as `actor`.
  json to_json() const;
};

// True when `outer` is `inner` or one of its ancestors ("a/b" covers "a/b" and "a/b/c",
// not "a/bc"). An empty `outer` covers nothing.
bool unit_covers(std::string_view outer, std::string_view inner);

enum class InstanceStatus { running, completed, cancelled };
std::string to_string(InstanceStatus s);

// A snapshot of one instance, as stored after its latest step.
struct InstanceView {
  std::string id;  // 16 lowercase hex digits, time-ordered
  std::string definition;
  std::int64_t definition_version = 0;
  std::string business_key;
  std::string state;  // the innermost state's name
  InstanceStatus status = InstanceStatus::running;
  std::string outcome;        // for completed instances: the final state's outcome
  std::uint64_t version = 0;  // number of steps applied; 1 after start
  json data;
  TimePoint created_at{}, updated_at{};
  std::optional<TimePoint> deadline;  // due time of the innermost state with a deadline
  std::string parent;                 // parent instance id, "" for none
  // Access (the definition's `access`, evaluated after the instance's latest step): its
  // organisation unit ("" = none) and reader keys (sorted, unique; ["*"] = open).
  std::string unit;
  std::vector<std::string> readers;
  json to_json(const TimeZone& tz) const;
};

// May `actor` see this instance? system, a global admin, an actor whose unit covers the
// instance's, or one holding one of its reader keys. docs/authorization.md.
bool visible(const InstanceView& instance, const Actor& actor);
// The same over an instance's unit and sorted reader keys.
bool visible(std::string_view unit, const std::vector<std::string>& readers, const Actor& actor);
// May `actor` cancel, migrate or retry for this instance? system, a global admin, or an
// "admin" whose unit covers the instance's.
bool administers(const Actor& actor, const InstanceView& instance);

// Why a request was refused. Each code maps to one HTTP status in the API.
enum class StepError {
  none,
  not_found,               // no such instance / definition
  unknown_event,           // the current state does not accept this event
  role_not_allowed,        // actor lacks every role the event names
  actor_not_allowed,       // the event's `actors` expression excludes this actor
  start_not_allowed,       // the definition's access.start excludes this actor or this data
  guard_false,             // no transition's guard held
  payload_invalid,         // payload fails the event's payloadSchema
  data_invalid,            // the step would make data fail dataSchema
  version_conflict,        // expected_version != current version
  instance_ended,          // completed or cancelled
  duplicate_business_key,  // a running instance already has this business key
  idempotency_key_reused,  // this actor used the idempotency key for a different request
                           // (details.problems name the parts)
  expression_error,        // a guard/expression failed to evaluate (budget, types)
  invalid_request,         // malformed request (empty id, bad data type...)
  storage_error,  // LMDB failed (disk full...), or the engine stopped after a fatal storage error;
                  // nothing was applied
  storage_unavailable,  // a read the step needs failed (e.g. its idempotency or business-key
                        // lookup); nothing was applied; retry
  record_damaged,  // the instance's stored record is damaged (verify lists it); nothing was applied
  internal_error,  // the engine failed on this step (a defect; please report it); nothing was
                   // applied
  shutting_down,
};
std::string to_string(StepError e);

struct StepResult {
  StepError error = StepError::none;
  std::string message;  // plain sentence for a person
  json details;         // e.g. allowed events, schema problems
  // After the step (or current, on refusal). A replay (`replayed`) gives the instance as
  // the original step left it: its version, state, status, outcome and times; when the
  // instance has moved on since, `data` is null (not kept per step) and details holds
  // {"currentVersion": n}.
  std::optional<InstanceView> instance;
  bool replayed = false;  // an idempotent retry (or returnExisting): nothing was applied
  bool created = false;   // a start that created `instance`, or a replay of one by its key
  bool ok() const { return error == StepError::none; }
};

// The longest business key and idempotency key a step accepts, in bytes (UTF-8). A
// longer one is refused (invalid-request); so is a business key a step computes for a
// child instance.
constexpr std::size_t kMaxKeyBytes = 256;

// How deep instance data and event payloads may nest, counted as load_json counts (the
// data object itself is level 1): what the HTTP API accepts. A step that would store
// deeper data is refused (data-invalid; a payload: payload-invalid), so that every stored
// record reads back.
constexpr std::size_t kMaxDataDepth = 256;

// The largest stored instance record, in bytes: its data in MessagePack (usually smaller
// than the JSON text) plus state, timers and hashes. Every step rewrites the whole record,
// so a step that would make it larger is refused (data-invalid) and its instance stays as
// it was. HTTP bodies are at most 1 MiB of JSON, so only steps that grow data reach it.
constexpr std::size_t kMaxRecordBytes = std::size_t{1} << 20;

// The largest history entry an event or a timer firing may append, in bytes (MessagePack):
// its payload plus the data values it sets, so room for a payload and changes the size of
// a whole record. A step over it is refused (payload-invalid, or data-invalid without a
// payload) and changes nothing. A start's entry holds its data, which kMaxRecordBytes bounds.
constexpr std::size_t kMaxEntryBytes = std::size_t{2} << 20;

struct StartRequest {
  std::string definition;
  std::optional<std::int64_t> version;  // default: the latest deployed
  std::string business_key;             // optional; at most kMaxKeyBytes
  json data = json::object();
  std::string idempotency_key;   // optional; at most kMaxKeyBytes
  bool return_existing = false;  // business key running: return it instead of refusing
  Actor actor = Actor::system();
};

struct EventRequest {
  std::string instance_id;   // either this
  std::string business_key;  // or this
  std::string event;
  json payload = json::object();
  Actor actor;
  std::string idempotency_key;  // optional; at most kMaxKeyBytes
  std::optional<std::uint64_t> expected_version;
};

// Moves a running instance to another deployed version of its definition: an
// administrator's upgrade or repair (Engine::migrate). One step, atomic, in the history
// as kind "migrate":
// - State: the instance's state by name, or states[name] if mapped; it must be an atomic,
//   non-final state of the target version. Every key of `states` must name a state of the
//   instance's current version (a typo is refused, not ignored).
// - Timers and deadlines are re-based by name: a timer armed in a state of the same name
//   with the same timer id keeps its due time and fire count, a deadline of a state of
//   the same name keeps its due time; the target's other timers and deadlines are armed as
//   on entry, from now; the rest are dropped. No entry or exit actions run.
// - Data: `set` (JSON Pointer -> expression over data, instance and now, as a
//   transition's "set") is applied, then the whole data is checked against the target's
//   dataSchema.
// - dry_run: everything is checked and the result says what would change (details:
//   fromVersion, toVersion, fromState, toState, changes, timers, deadlines), and nothing
//   is written.
struct MigrateRequest {
  std::string instance_id;
  std::optional<std::int64_t> to_version;  // default: the newest deployed version
  std::map<std::string, std::string> states;
  std::vector<std::pair<std::string, json>> set;
  std::string reason;  // recorded in the history entry
  Actor actor;
  std::optional<std::uint64_t> expected_version;
  bool dry_run = false;
};

// One history record. Entries of an instance form a SHA-256 hash chain.
struct HistoryEntry {
  std::uint64_t seq = 0;  // 1-based step number (= instance version after it)
  TimePoint at{};
  std::string kind;  // start | event | timer | cancel | child | migrate
  std::string event;
  std::string actor;
  std::vector<std::string> roles;
  std::string from, to;  // state names ("" before start)
  json payload;
  json changes;                 // [[pointer, new value], ...]; the start entry holds all data at ""
  std::string status;           // instance status after the step
  std::string prev_hash, hash;  // hex
  json to_json(const TimeZone& tz) const;
};

// A page of an instance's history, read back from its newest entry: the `limit` newest
// entries before the cursor (all before it when limit is 0), returned oldest first.
// Pages do not move when the instance takes new steps: a cursor names one entry.
struct HistoryQuery {
  std::string instance_id;
  std::string cursor;     // next_cursor of the previous page; "" = from the newest entry
  std::size_t limit = 0;  // 0 = no limit
};

struct HistoryPage {
  std::vector<HistoryEntry> items;  // oldest first
  std::string next_cursor;          // "" = no older entries
  std::string error;  // non-empty: no page (why): the cursor was refused, or the store failed
  bool unavailable = false;  // the store could not be read (retry later): not the request's fault
};

struct InstanceQuery {
  std::string definition;  // "" = any
  std::string state;       // "" = any (needs definition)
  std::string business_key_prefix;
  // "" = any; else the instance's unit is this one or below it (unit_covers): "golmud/T03"
  // takes golmud/T03 and golmud/T03/V12, not golmud/T030. With a definition and no viewer
  // scope, read from the unit index (uidx) instead of every instance of the definition.
  std::string unit;
  std::optional<InstanceStatus> status;
  std::vector<std::pair<std::string, json>> data_equals;  // (JSON Pointer, value)
  std::string cursor;                                     // from the previous page
  std::size_t limit = 50;
  // Who is asking: only instances visible to this actor (docs/authorization.md), read
  // from that actor's index ranges. nullopt = every instance (embedders, the CLI).
  std::optional<Actor> viewer;
};

struct InstancePage {
  std::vector<InstanceView> items;
  std::string next_cursor;  // "" = no more
  std::string error;        // non-empty: no page (why): the cursor was refused, or the store failed
  bool unavailable = false;  // the store could not be read (retry later): not the request's fault
};

// A task in a person's inbox: an instance waiting for an event this actor may send.
struct InboxItem {
  InstanceView instance;
  std::vector<std::string> events;  // event names the actor may send now
  std::optional<TimePoint> deadline;
};

// A page of a person's inbox: tasks due first, then those without a deadline, ties in
// instance id order. The cursor names the last task of the previous page by its deadline
// and id, so the next page starts after it even when tasks come and go in between (a task
// whose deadline moved may move across pages).
struct InboxQuery {
  Actor actor;
  std::size_t limit = 100;
  std::string cursor;  // next_cursor of the previous page; "" = the first page
};

struct InboxPage {
  std::vector<InboxItem> items;
  std::string next_cursor;  // "" = no more
  std::string error;        // non-empty: no page (why): the cursor was refused, or the store failed
  bool unavailable = false;  // the store could not be read (retry later): not the request's fault
};

// One problem verify() found (docs/storage.md, "Damaged records").
struct VerifyProblem {
  // "structure": a database's pages (the B-tree) are damaged; "record": an instance record
  // does not decode or fit its definition; "chain": a history chain is broken; "index": an
  // index entry (idem, bkey, sidx, timers, children, ridx, uidx) and the records
  // disagree; "outbox": an outbox message does not decode or names no instance; "open":
  // the check could not open the store or start its process.
  std::string kind;
  std::string db;  // the LMDB database ("inst", "history", "idem", ...; "(main)", "(free pages)")
  std::string
      key;  // the instance id (16 hex digits) or the key's bytes in hex; "" for a whole database
  std::string text;  // the sentence, as in `broken`
};

struct VerifyReport {
  std::uint64_t instances = 0, entries = 0;
  // idem, bkey, sidx, timers, children, ridx, uidx and outbox entries checked
  std::uint64_t index_entries = 0;
  std::uint64_t databases = 0, pages = 0;  // walked by the structural check
  // false: the structural walk found damaged pages (or died on them); the record, chain
  // and index checks did not run. Restore a backup (docs/operations.md).
  bool structure_ok = true;
  std::string file;                 // the data file checked (data.mdb)
  std::vector<std::string> broken;  // one sentence per problem: "instance <id>: entry <seq>: ..."
  std::vector<VerifyProblem> problems;  // the same problems, with kind, database and key
  bool ok() const { return broken.empty(); }
};

}  // namespace bihuan
