// The year report's headline, in the shape of the office's own report (DOMAIN §6(f), the
// July 2023 Golmud report): businesses by grade, cadres by level and why the counts
// differ, units that filed their lists, letters signed and filed, supervision coverage per
// period, and the problems' loop (found, rectified on time, re-checked, reopened,
// escalated). Master counts come from the city; every other figure from the statistics
// document (simulate_stats.hpp), which comes from the engine alone.
#pragma once

#include <string>

#include "bihuan/json.hpp"
#include "demo_city.hpp"

namespace bihuan::cli::sim {

// `stats`: sim::compute()'s document; `end`: the run's end (ISO 8601, +08:00 text).
json headline(const demo::City& city, const json& stats, const std::string& end);

// What each headline and table figure means, in Chinese and English: [{"key", "zh", "en"}].
const json& metric_definitions();

}  // namespace bihuan::cli::sim
