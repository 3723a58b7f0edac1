// The administrator's statistics of a simulated year (DOMAIN §6(f)), computed ONLY from
// the engine: query() over instances, as_of() for letters and lists at each period's end,
// stats() for daily records, history for nothing else. The city contributes labels
// (names of townships and villages), never figures.
//
// Contract:
// - compute() returns one JSON document: per period (the scheduler's rounds, plus "year")
//   and per cadre level ("all", prefecture, city, township, village), for the city, each
//   township (a pseudo-township "GM" holds city- and prefecture-level cadres' letters) and
//   each village: additive counts and the rates derived from them (rounded to 4 decimals,
//   null when the denominator is 0). Counts of townships sum to the city's.
// - Supervision is attributed to the business's township/village and the binding's level;
//   problems to the visit that found them; letters to the cadre's region and level.
// - "oracles" records the self-checks: frozen denominators vs tasks spawned, township
//   roll-ups vs city totals, closed problems' timestamp order.
// - The same engine contents give byte-identical dump()s (integer sums, ordered maps).
#pragma once

#include <iosfwd>
#include <map>
#include <string>

#include "bihuan/engine.hpp"

namespace bihuan::cli::sim {

json compute(const Engine& engine, const std::string& end,
             const std::map<std::string, std::string>& labels);

// The printed tables: the city per period, levels for the year, townships for the year.
void print_tables(const json& stats, std::ostream& out);

// A self-contained HTML report (inline SVG charts, Chinese + English labels, no network).
std::string html_report(const json& stats);

// The same tables as CSV files in `dir` (made if needed), UTF-8 with a BOM and CRLF lines:
// headline.csv (JSON Pointer of each headline figure, value), periods.csv (the city per
// period and cadre level, one column per figure), townships.csv (each township and
// village for the whole span). Throws std::runtime_error when a file cannot be written.
void write_csv(const json& stats, const std::string& dir);

}  // namespace bihuan::cli::sim
