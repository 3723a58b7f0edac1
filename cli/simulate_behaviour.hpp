// Seeded behaviour of the simulation's synthetic actors (bihuan simulate).
//
// Contract: a Behaviour is plain numbers (rates in [0, 1], times in days). defaults() is
// the DOMAIN §7 shape (93% on time, 4% late, 3% overdue; 0.19 problems per visit;
// rectification lognormal with a median of 5 days; 5% reopen; 1% escalated);
// compliant() puts everyone on time with no reopen. from_json() overlays the members a
// JSON behaviour file gives on a base and returns "" or an error sentence; to_json()
// writes every member (the statistics file records the behaviour it ran with).
// Cadre churn and business closures come from the city (demo_city.hpp), not from here.
#pragma once

#include <string>

#include "bihuan/json.hpp"

namespace bihuan::cli::sim {

struct Rates {  // one actor's timeliness: the rest of 1 - onTime - late is overdue (never acts)
  double on_time = 0.93, late = 0.04;
};

struct Behaviour {
  Rates signing;     // commitment letters: sign within the 15-day window / late / never
  Rates inspection;  // supervision visits: within the period / within 3 weeks after / never
  Rates listing;     // responsibility lists: submitted before dueAt / late / never
  Rates claiming{0.95, 0.05};   // regulator stations claim a problem within 2 working days / later
  double letter_return = 0.03;  // an uploaded letter is returned once for a better scan
  double visit_return = 0.02;   // a submitted visit is returned once by the office
  double admin_review = 0.5;    // the office reviews a visit itself (else auto-accepted)
  double problems_per_visit = 0.19;
  double severity_general = 0.25, severity_serious = 0.04, severity_illegal = 0.01;  // rest minor
  double rectify_median_days = 5, rectify_sigma = 0.8;  // lognormal evidence time
  double reopen = 0.05;                                 // a re-check fails and reopens the problem
  double daily_on_time = 0.90, daily_late = 0.05;       // daily records (the rest are missed)
  double daily_sloppy_share = 0.2;  // businesses whose misses cluster (same means overall)
  double prompt_days = 10;          // on-time letter/list steps happen within this many days each
  double rectify_within_deadline = 0.7;  // share of rectifications cut short to meet the deadline
};

Behaviour defaults();
Behaviour compliant();
std::string from_json(const json& doc, Behaviour& b);
json to_json(const Behaviour& b);

}  // namespace bihuan::cli::sim
