// The fields a count may group by (StatsQuery::group_by in bihuan/engine.hpp): the one
// check for every caller that takes them from outside (/v1/stats, the "engine" data source).
#pragma once

#include <string>

namespace bihuan {

// "definition", "version", "state", "status", "outcome", "category", "overdue",
// "escalated", "unit", "unit:N" (N 1..16), "created:day|week|month", or a JSON Pointer
// into the data (starting with "/").
bool stats_field_known(const std::string& field);

}  // namespace bihuan
