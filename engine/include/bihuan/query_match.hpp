// Whether an instance meets a query's filters: the one definition of InstanceQuery's
// filters for every reader that filters instances it has read (the engine's lists, the
// server's batches over dead letters). Indexes narrow what is read; these decide.
#pragma once

#include <string>
#include <utility>
#include <vector>

#include "bihuan/instance.hpp"
#include "bihuan/json.hpp"

namespace bihuan {

// Every (JSON Pointer, value) pair holds in `data`; a malformed pointer holds nowhere.
bool data_matches(const json& data, const std::vector<std::pair<std::string, json>>& equals);

// status, definition, state, business-key prefix, unit (by whole segments) and data
// equality; the query's viewer, limit and cursor are not filters.
bool query_matches(const InstanceView& v, const InstanceQuery& q);

}  // namespace bihuan
