// What the writer queues (Request) and what it hands the committer (Prepared).
#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <unordered_map>
#include <vector>

#include "bihuan/engine.hpp"
#include "runtime/record.hpp"
#include "runtime/store.hpp"

namespace bihuan::runtime {

struct RetireRequest;  // runtime/retention.cpp

// One request to the writer. Completed exactly once through `done`, after its batch is
// durable (or refused, or failed), on the writer's or the committer's thread.
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

// A batch the writer executed on a snapshot plus its overlay (pipeline.cpp), handed to the
// committer: its requests, their results, and the writes (ops) to replay and commit.
struct Prepared {
  std::vector<Request> requests;
  std::vector<StepResult> results;
  std::vector<Op> ops;
  std::uint64_t number = 0;  // the overlay's tag for this batch's writes
  std::uint64_t epoch = 0;   // the committer's epoch when it was executed
  std::int64_t next_due = INT64_MAX;
  // A timer burst executed ahead: committed only once the clock reads this (ms).
  std::int64_t not_before = INT64_MIN;
  // The batch's decoded instances, left to free: destroyed with the Prepared, after its
  // callbacks ran, so neither the writer's next batch nor the callers wait for it.
  std::unordered_map<std::uint64_t, InstanceRecord> instances;
};

}  // namespace bihuan::runtime
