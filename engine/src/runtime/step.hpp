// Private to the runtime: one unit of work (a step and the children it spawns) and the
// operations of the state machine on instance records. Methods throw StepFailure; the
// Stepper turns that into a StepResult and discards the unit.
#pragma once

#include <map>
#include <set>
#include <unordered_map>
#include <vector>

#include <boost/container/small_vector.hpp>

#include "runtime/expressions.hpp"
#include "runtime/failure.hpp"
#include "runtime/stepper.hpp"

namespace bihuan::runtime {

struct Unit {
  std::vector<std::tuple<bool, storage::Db, std::string, std::string>>
      ops;                                                    // (put?, db, key, value)
  std::unordered_map<std::uint64_t, InstanceRecord> records;  // working copies
  struct Original {
    int state = -1;            // -1 for instances created here
    std::int64_t version = 0;  // the definition version that state index is of
  };
  std::unordered_map<std::uint64_t, Original> original_state;  // as loaded, for the state index
  std::map<std::string, std::uint64_t> business_keys;          // claimed in this unit
  std::vector<Cascade> cascades;  // a vector: an empty deque allocates, and most steps have none
  std::vector<std::shared_ptr<const Definition>> pinned;  // keeps definitions alive
  std::size_t spawned = 0;
  Sequences next;  // taken from the batch; given back by apply()
  boost::container::small_vector<std::string, 2>
      sealed;  // records encoded by Stepper::seal, in `records` order
  // Top-level data members each record's "set"s changed in this unit ("" for the whole
  // data), and the records whose access compute_access already made from their final
  // data: Stepper::seal recomputes access only where it may have changed.
  std::unordered_map<std::uint64_t, std::vector<std::string>> data_touched;
  std::vector<std::uint64_t> access_fresh;

  explicit Unit(const Sequences& from) : next(from) {}

  // A key LMDB cannot store (over 511 bytes) fails this step here, not the whole batch
  // at commit. Callers check the keys a request names first, with a clearer message.
  void put(storage::Db db, std::string key, std::string value) {
    if (key.size() > kMaxStoredKeyBytes) too_long_key(db, key.size());
    ops.emplace_back(true, db, std::move(key), std::move(value));
  }
  static constexpr std::size_t kMaxStoredKeyBytes = 511;  // LMDB's default mdb_env_get_maxkeysize
  [[noreturn]] static void too_long_key(storage::Db db, std::size_t bytes);
  void del(storage::Db db, std::string key) {
    ops.emplace_back(false, db, std::move(key), std::string());
  }
};

class Step {
 public:
  Step(Stepper& stepper, const StepEnv& env, Batch& b, Unit& u)
      : stepper_(stepper), env_(env), b_(b), u_(u) {}

  InstanceRecord& fetch(std::uint64_t id);
  const Definition& definition_of(const InstanceRecord& r);
  std::optional<std::uint64_t> find_business_key(const std::string& key);

  // Creates an instance and enters its initial state. Returns its id.
  std::uint64_t create(const Definition& def, json data, const std::string& business_key,
                       std::uint64_t parent, const std::string& parent_event, const Actor& actor,
                       int depth);
  // Applies a named event to a running instance (all checks included).
  void handle_event(InstanceRecord& r, const std::string& name, const json& payload,
                    const Actor& actor, std::optional<std::uint64_t> expected_version,
                    const std::string& kind);
  // Runs a timer's own transition (no event).
  void timer_transition(InstanceRecord& r, const TimerSpec& spec);
  void cancel(InstanceRecord& r, const std::string& reason, const Actor& actor, bool from_parent);
  // Moves r to another version of its definition (MigrateRequest; step_migrate.cpp).
  // Returns what changed, for the result's details.
  json migrate(InstanceRecord& r, const MigrateRequest& req);
  // Re-arms a repeating timer after it fired at `due`.
  void rearm(InstanceRecord& r, const TimerRef& fired_timer, TimePoint due);
  // Appends the next history entry (seq = r.version, time = the batch's clock) to the chain.
  // bounded: an entry over kMaxEntryBytes fails the step (events and timer firings; not
  // a cancel or a recorded refusal, which must be recordable whatever came before).
  void record_history(InstanceRecord& r, const std::string& kind, const std::string& event,
                      const Actor& actor, const std::string& from, const json& payload,
                      const json& changes, bool bounded = false);
  // The expression context of a step. It takes r.data (moved, not copied: the step works
  // on ctx["data"]); release() moves it back. Members the definition never mentions
  // ("instance", "now") are left out.
  json lease_context(InstanceRecord& r, const Definition& def, json event,
                     const Actor& actor) const;
  static void release(InstanceRecord& r, json& ctx) { r.data = std::move(data_of(ctx)); }
  static json& data_of(json& ctx);  // ctx["data"] without building a key

 private:
  void enter(InstanceRecord& r, const Definition& def, int state, json& ctx, const Actor& actor,
             int depth);
  // What a migration keeps from the old state chain, by state name and timer id.
  struct Carried {
    std::map<std::string, std::int64_t, std::less<>> deadlines;  // state -> due ms
    std::map<std::pair<std::string, std::string>, TimerRef, std::less<>>
        timers;  // (state, timer id)
  };
  // Arms a state's deadline and timers as entering it does (without its actions); with
  // `carried`, those it holds keep their due times.
  void arm_state(InstanceRecord& r, const Definition& def, int state, json& ctx, Carried* carried);
  void exit(InstanceRecord& r, const Definition& def, int state, json& ctx, const Actor& actor);
  // Applies `tr`; appends [pointer, value] pairs to `changes`.
  void transition(InstanceRecord& r, const Definition& def, const TransitionSpec& tr, json& ctx,
                  const Actor& actor, json& changes, int depth);
  void finish(InstanceRecord& r, const Definition& def, const json& data);
  // One counted step over a chosen transition: bump the version, apply it, give the data
  // back from the context, check dataSchema, append history. Shared by events and timers.
  void take(InstanceRecord& r, const Definition& def, const TransitionSpec& tr, json& ctx,
            const Actor& actor, const std::string& kind, const std::string& event,
            const json& payload);
  void run_actions(InstanceRecord& r, const Definition& def, const std::vector<ActionSpec>& actions,
                   json& ctx, const Actor& actor, int depth);
  void arm(InstanceRecord& r, int state, int timer, TimePoint due, std::uint32_t fired);
  void disarm(InstanceRecord& r, int state);  // state -1: all
  // Validates r.data against dataSchema; with `members`, only those top-level members
  // (each exists; see Definition::data_schema_by_member).
  void check_data(const InstanceRecord& r, const Definition& def,
                  const std::set<std::string>* members = nullptr);

  Stepper& stepper_;
  const StepEnv& env_;
  Batch& b_;
  Unit& u_;
};

// Sets `value` at `pointer` inside `data`, creating objects on the way; "-" appends.
// Throws StepFailure(data_invalid) for an impossible array index.
void assign_pointer(json& data, const std::string& pointer, json value);

// Refuse (invalid-request) text of a request that is not UTF-8 (it is stored, and served
// as JSON), and a business key or idempotency key that is also over kMaxKeyBytes; `what`
// names it in the message ("the business key").
// Messages are built only on failure (these run on every step).
void check_text(const std::string& text, std::string_view what);
void check_key(const std::string& key, std::string_view what);

InstanceView to_view(const InstanceRecord& r, const Definition* def);
// The same, taking the record's data and strings instead of copying them.
InstanceView to_view(InstanceRecord&& r, const Definition* def);

}  // namespace bihuan::runtime
