// The simulated year (bihuan simulate): the food-safety package on the real engine and
// real LMDB storage in virtual time, driven by synthetic actors.
//
// Contract:
// - run() opens a fresh engine in <data_dir>/engine (durable unless `durable` is false),
//   writes the city to <data_dir>/city (write_city: CSV, city.sqlite, engine-config.json),
//   deploys every definition of `workflows_dir`, and plays the year from 2022-11-15 to
//   `end`: the scheduler opens the first round in December 2022 and the 2023 quarters.
// - Actors act only by sending events (start/send with an Actor and its role), exactly as
//   a client of the API would. Their choices come from Behaviour and a per-entity RNG
//   seeded by (seed, business key), so a run does not depend on the engine's ids or on
//   thread timing: the same seed and options give the same engine contents.
// - The outbox is delivered in-process after every step of time: data-source tasks run
//   the real source.sqlite plugin (configured by the city's engine-config.json) and their
//   rows come back as the task's onResult event, as the Dispatcher would send them;
//   notifications are acknowledged, counted, and are how actors learn of new work
//   (a pushed supervision task, a problem pushed to a station).
// - The engine is left closed; statistics are computed afterwards from the data directory
//   (simulate_stats.hpp).
#pragma once

#include <cstdint>
#include <map>
#include <set>
#include <string>

#include "demo_city.hpp"
#include "simulate_behaviour.hpp"

namespace bihuan::cli::sim {

// The supervision frequency (a policy's "plan", workflows/food-safety/README.md): rules
// [{"every": "quarter" | "month" | "half-year" | "year", "levels": [cadre levels],
// "grades": [business grades]}] (levels or grades absent = all); every (level, grade) has
// exactly one rule. Periods are named 2023Q1, 2023M01, 2023H1 and 2023Y.
// default_plan(): every level and grade quarterly.
json default_plan();
// "" or what is wrong with `plan` (read from `file`, at `pointer`): the file, the JSON
// Pointer of the member and what was expected.
std::string check_plan(const json& plan, const std::string& file,
                       const std::string& pointer = "/plan");

struct RunOptions {
  std::uint64_t seed = 2023;
  std::string data_dir;                           // must be empty or missing
  std::string workflows_dir;                      // workflows/food-safety
  std::string calendars_dir;                      // workflows/calendars
  std::string end = "2024-01-31T00:00:00+08:00";  // the moment statistics are taken
  std::string plan_end;  // the scheduler plans the rounds starting before this ("" = end)
  bool durable = true;
  // The self-management records of every open business: daily, weekly (each Monday) and
  // monthly (each month's first day), filed by the behaviour's daily rates.
  bool daily = false;
  std::string daily_from;  // the first day of those records ("" = 2023-01-01)
  Behaviour behaviour;
  json plan = default_plan();  // the supervision frequency per cadre level and business grade
};

struct RunReport {
  std::string error;  // "" = ok
  std::uint64_t actions = 0, refused = 0, notifications = 0, queries = 0;
  std::uint64_t daily_records = 0, weekly_records = 0, monthly_records = 0;
  std::uint64_t weekly_filed = 0, monthly_held = 0;
  std::uint64_t commits = 0, timers_fired = 0,
                moments = 0;  // engine metrics; distinct times acted at
  double seconds = 0;         // wall time of the simulation proper
  // Refused steps by "event: error" (expected: re-binding or exempting a task that has
  // already ended, superseding a filed letter, acting on a task that was exempted).
  std::map<std::string, std::uint64_t> refusals;
  // Steps on a task that had ended, or was never made, by the time they landed (an actor
  // acting on a finished task): counted apart, not as refusals.
  std::uint64_t moot = 0;
  std::map<std::string, std::uint64_t> moots;
  // Steps applied, by the acting person's first role (CADRE, ADMIN, ...): the workload.
  std::map<std::string, std::uint64_t> steps_by_role;
};

RunReport run(const demo::City& city, const RunOptions& options);

// The supervision rounds of the plan (period, start, end; levels and grades when a rule
// names them), all starting before `end`, in time order: the first round 2022R1 for every
// binding, then 2023 at each rule's frequency.
json round_plan(const std::string& end, const json& plan = default_plan());

}  // namespace bihuan::cli::sim
