// The engine's own instances as a data source: a definition's task action on the
// reserved channel "engine" runs a query over the instances of the engine that runs it,
// the way a `source.sqlite` query reads master data. What a bulletin or a digest counts
// (docs/definition-language.md, "The engine as a data source").
//
//   {"task": "engine", "query": "count", "input": {...}, "onResult": "counted"}
//
// Scope: the asking instance's unit. A query counts only instances whose unit is the
// asker's or below it (an `input.unit` may narrow that, never widen it); an asker without
// a unit counts every instance (it was deployed by an administrator, who sees them all).
#pragma once

#include <string>

#include "bihuan/engine.hpp"
#include "bihuan/json.hpp"
#include "bihuan/plugin_host.hpp"

namespace bihuan {

// The reserved channel name. A plugin instance of that name in the configuration is
// refused (config.cpp), and configured_names() always lists it as a task channel.
inline constexpr const char* kEngineSource = "engine";

// Runs `query` for the instance `asker` with `params` (the task's input object).
//
// "count": counts the instances of one definition, grouped, with extra counts per group.
//   definition   string, required
//   dataEquals   {"/pointer": value, ...}: only instances whose data holds each value
//   status       "running" | "completed" | "cancelled" | "failed"
//   unit         a unit path at or below the asker's
//   createdFrom, createdTo   ISO 8601 times: created in [from, to)
//   groupBy      {"name": field, ...}: field as in StatsQuery::group_by ("state",
//                "category", "overdue", "unit:3", "/data/pointer", ...); absent = one row
//   counts       {"name": {field: [value, ...], ...}, ...}: per group, how many instances
//                have, for every field named, one of the values listed
//   having       {"name": minimum, ...}: only groups where that count (or "count") >= minimum
//   orderBy      a counts name or "count": largest first (ties in group order); else group order
//   limit        1..10000 rows (default 1000)
// Rows: [{<groupBy names>..., "count": n, <counts names>...}, ...].
//
// ok: value = the rows. fail: the input is wrong (the sentence names the member by its
// JSON Pointer in the input and what was expected) or the query is unknown. retry: the
// store could not be read.
PluginResult query_engine(const Engine& engine, const std::string& asker, const std::string& query,
                          const json& params);

}  // namespace bihuan
