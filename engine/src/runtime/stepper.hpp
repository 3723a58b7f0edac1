// The step machine: applies starts, events, timer firings and cancellations to instance
// records inside a Batch. A step either succeeds and writes everything it changed (record,
// history, indexes, timers, children, outbox, idempotency) into the batch's transaction,
// or writes nothing and says why.
#pragma once

#include "bihuan/attachment_check.hpp"
#include "runtime/batch.hpp"

namespace bihuan::runtime {

struct Unit;
struct AccessReads;  // runtime/step_access.hpp

struct StepEnv {
  const DefinitionRegistry& definitions;
  const Calendars* calendars;
  std::size_t max_cascade;
  // Engine::set_attachment_check's function for this batch (null: not set).
  std::shared_ptr<const AttachmentCheck> attachment_stored = nullptr;
};

class Stepper {
 public:
  explicit Stepper(StepEnv env) : env_(env) {}

  StepResult start(Batch& b, const StartRequest& req);
  StepResult event(Batch& b, const EventRequest& req);
  StepResult cancel(Batch& b, std::uint64_t id, const std::string& reason, const Actor& actor);
  // A dry run is the whole step with its unit discarded at the end.
  StepResult migrate(Batch& b, std::uint64_t id, const MigrateRequest& req);
  // Fires the timer stored under `key` (due <= b.now). Returns false if it was stale.
  bool fire_timer(Batch& b, std::string_view key);

  // Reads an instance through the batch overlay, then the transaction. nullopt if there
  // is none, or if the stored record does not decode or does not fit its definition
  // (record_check.hpp): then `damage`, if given, says what is wrong.
  std::optional<InstanceRecord> load(Batch& b, std::uint64_t id, std::string* damage = nullptr);

  // A definition version, looked up in the registry (which locks) once per batch; the
  // stepper keeps it alive for the batch. nullptr if not deployed.
  const Definition* definition(const std::string& id, std::int64_t version);
  InstanceView view(const InstanceRecord& r);

 private:
  void run_cascades(Batch& b, std::vector<Cascade> first);
  // Encodes the unit's records for apply(); a record over kMaxRecordBytes fails the step
  // (StepFailure, data-invalid). Call it last inside a step's try block.
  void seal(Unit& u);
  void apply(Batch& b, Unit& u);  // writes a successful unit into the transaction and overlay
  // Whether rec (of u) keeps the access it has: computed already in this unit, or loaded
  // at the same definition version and changed in no data member its access reads
  // (AccessReads). A stored record's access was made from its stored data (seal, apply).
  bool access_kept(const Unit& u, std::uint64_t id, const InstanceRecord& rec,
                   const Definition& def);
  StepEnv env_;
  std::vector<std::shared_ptr<const Definition>> used_;  // definitions this batch looked up
  // What each of used_'s definitions' access reads (the pointers live as long as used_).
  std::vector<std::pair<const Definition*, std::shared_ptr<const AccessReads>>> access_reads_;
};

}  // namespace bihuan::runtime
