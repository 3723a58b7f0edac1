// The "engine" data source (bihuan/engine_source.hpp): a task's query over the engine's
// own instances, answered from Engine::stats in one read transaction per query.
#include "bihuan/engine_source.hpp"

#include "bihuan/stats_fields.hpp"

#include <algorithm>
#include <map>
#include <set>

namespace bihuan {

namespace {

// A refusal of the input: "<pointer>: <what was expected>".
struct BadInput {
  std::string sentence;
};

[[noreturn]] void bad(const std::string& pointer, const std::string& expected) {
  throw BadInput{"input" + pointer + ": " + expected};
}

const json* member(const json& params, const char* name) {
  auto it = params.find(name);
  return it == params.end() || it->is_null() ? nullptr : &*it;
}

std::string text_member(const json& params, const char* name, bool required) {
  const json* m = member(params, name);
  if (!m) {
    if (required) bad(std::string("/") + name, "a string is required");
    return {};
  }
  if (!m->is_string() || m->get_ref<const std::string&>().empty())
    bad(std::string("/") + name, "expected a non-empty string");
  return m->get<std::string>();
}

TimePoint time_member(const json& params, const char* name) {
  std::string text = text_member(params, name, false);
  auto t = parse_time(text);
  if (!t)
    bad(std::string("/") + name, "expected an ISO 8601 time with an offset, got \"" + text + "\"");
  return *t;
}

std::string checked_field(const json& v, const std::string& pointer) {
  if (!v.is_string() || !stats_field_known(v.get<std::string>()))
    bad(pointer,
        "expected a field: \"state\", \"category\", \"status\", \"outcome\", \"overdue\", "
        "\"escalated\", \"definition\", \"version\", \"unit\", \"unit:N\" (N 1..16), "
        "\"created:day|week|month\" or a JSON Pointer into the data (\"/cadreId\")");
  return v.get<std::string>();
}

std::string pointer_part(const std::string& name) { return "/" + pointer_escape(name); }

// One extra count: the instance's value of each field must be among the listed ones.
struct Condition {
  std::string name;
  std::vector<std::pair<std::size_t, std::vector<json>>> fields;  // group_by index, values
};

struct Plan {
  StatsQuery stats;
  std::vector<std::string> names;  // the groupBy names, in group_by order (first ones)
  std::vector<Condition> counts;
  std::vector<std::pair<std::string, std::uint64_t>> having;
  std::string order_by;
  std::size_t limit = 1000;
};

std::size_t field_index(StatsQuery& q, const std::string& field) {
  auto it = std::find(q.group_by.begin(), q.group_by.end(), field);
  if (it != q.group_by.end()) return static_cast<std::size_t>(it - q.group_by.begin());
  q.group_by.push_back(field);
  return q.group_by.size() - 1;
}

Plan plan_of(const json& params, const std::string& asker_unit) {
  if (!params.is_object()) bad("", "expected an object");
  static const std::set<std::string> known = {"definition",  "dataEquals", "status",  "unit",
                                              "createdFrom", "createdTo",  "groupBy", "counts",
                                              "having",      "orderBy",    "limit"};
  for (const auto& [k, v] : params.items())
    if (!known.count(k))
      bad(pointer_part(k),
          "unknown member; expected one of definition, dataEquals, status, unit, "
          "createdFrom, createdTo, groupBy, counts, having, orderBy, limit");
  Plan p;
  StatsQuery& q = p.stats;
  q.definition = text_member(params, "definition", true);
  q.viewer.reset();
  q.archived = true;
  if (const json* eq = member(params, "dataEquals")) {
    if (!eq->is_object()) bad("/dataEquals", "expected an object of JSON Pointer -> value");
    for (const auto& [ptr, v] : eq->items()) {
      if (ptr.empty() || ptr[0] != '/')
        bad("/dataEquals" + pointer_part(ptr), "expected a JSON Pointer (\"/period\") as the name");
      q.data_equals.emplace_back(ptr, v);
    }
  }
  if (member(params, "status")) {
    std::string s = text_member(params, "status", false);
    if (s == "running")
      q.status = InstanceStatus::running;
    else if (s == "completed")
      q.status = InstanceStatus::completed;
    else if (s == "cancelled")
      q.status = InstanceStatus::cancelled;
    else
      bad("/status", "expected \"running\", \"completed\" or \"cancelled\", got \"" + s + "\"");
  }
  q.unit = asker_unit;
  if (member(params, "unit")) {
    std::string u = text_member(params, "unit", false);
    if (!asker_unit.empty() && !unit_covers(asker_unit, u))
      bad("/unit", "expected a unit at or below the asking instance's unit \"" + asker_unit +
                       "\", got \"" + u + "\"");
    q.unit = u;
  }
  if (member(params, "createdFrom")) q.created_from = time_member(params, "createdFrom");
  if (member(params, "createdTo")) q.created_to = time_member(params, "createdTo");
  if (const json* g = member(params, "groupBy")) {
    if (!g->is_object()) bad("/groupBy", "expected an object of row member name -> field");
    for (const auto& [name, f] : g->items()) {
      if (name == "count")
        bad("/groupBy/count", "\"count\" names the row's count; choose another name");
      q.group_by.push_back(checked_field(f, "/groupBy" + pointer_part(name)));
      p.names.push_back(name);
    }
  }
  std::set<std::string> count_names = {"count"};
  if (const json* c = member(params, "counts")) {
    if (!c->is_object()) bad("/counts", "expected an object of count name -> condition");
    for (const auto& [name, cond] : c->items()) {
      std::string at = "/counts" + pointer_part(name);
      if (name == "count" || std::find(p.names.begin(), p.names.end(), name) != p.names.end())
        bad(at, "the name is taken by the row's count or a groupBy member");
      if (!cond.is_object() || cond.empty())
        bad(at, "expected an object of field -> array of values, e.g. {\"state\": [\"OPEN\"]}");
      Condition k{name, {}};
      for (const auto& [field, values] : cond.items()) {
        std::string fat = at + pointer_part(field);
        checked_field(json(field), fat);
        if (!values.is_array()) bad(fat, "expected an array of values");
        k.fields.emplace_back(field_index(q, field), values.get<std::vector<json>>());
      }
      p.counts.push_back(std::move(k));
      count_names.insert(name);
    }
  }
  if (const json* h = member(params, "having")) {
    if (!h->is_object()) bad("/having", "expected an object of count name -> minimum");
    for (const auto& [name, min] : h->items()) {
      if (!count_names.count(name))
        bad("/having" + pointer_part(name), "expected \"count\" or a name under counts");
      if (!min.is_number_integer() || min.get<std::int64_t>() < 0)
        bad("/having" + pointer_part(name), "expected a non-negative integer");
      p.having.emplace_back(name, min.get<std::uint64_t>());
    }
  }
  if (member(params, "orderBy")) {
    p.order_by = text_member(params, "orderBy", false);
    if (!count_names.count(p.order_by))
      bad("/orderBy", "expected \"count\" or a name under counts, got \"" + p.order_by + "\"");
  }
  if (const json* l = member(params, "limit")) {
    if (!l->is_number_integer() || l->get<std::int64_t>() < 1 || l->get<std::int64_t>() > 10000)
      bad("/limit", "expected an integer from 1 to 10000");
    p.limit = l->get<std::size_t>();
  }
  return p;
}

bool holds(const Condition& c, const json& key) {
  for (const auto& [i, values] : c.fields)
    if (std::find(values.begin(), values.end(), key[i]) == values.end()) return false;
  return true;
}

PluginResult run_count(const Engine& engine, const std::string& asker_unit, const json& params) {
  Plan p = plan_of(params, asker_unit);
  StatsResult r = engine.stats(p.stats);
  if (!r.error.empty())
    return PluginResult::failure("the engine's store could not be read: " + r.error, r.unavailable);
  if (r.truncated)
    return PluginResult::failure(
        "input/groupBy: more than " + std::to_string(p.stats.max_groups) +
        " groups (with the fields the counts read); group by fewer or coarser fields");
  // Merge the stats groups (which also split by the counts' fields) into the rows.
  std::map<json, json> rows;
  for (const auto& g : r.groups) {
    json key = json::array();
    for (std::size_t i = 0; i < p.names.size(); ++i) key.push_back(g.key[i]);
    auto [it, fresh] = rows.try_emplace(key, json::object());
    json& row = it->second;
    if (fresh) {
      for (std::size_t i = 0; i < p.names.size(); ++i) row[p.names[i]] = g.key[i];
      row["count"] = 0;
      for (const auto& c : p.counts) row[c.name] = 0;
    }
    row["count"] = row["count"].get<std::uint64_t>() + g.count;
    for (const auto& c : p.counts)
      if (holds(c, g.key)) row[c.name] = row[c.name].get<std::uint64_t>() + g.count;
  }
  if (p.names.empty() && rows.empty()) {  // no groups: one row of zeros
    json row = {{"count", 0}};
    for (const auto& c : p.counts) row[c.name] = 0;
    rows.emplace(json::array(), std::move(row));
  }
  std::vector<json> out;
  for (auto& [key, row] : rows) {
    bool keep = true;
    for (const auto& [name, min] : p.having) keep = keep && row[name].get<std::uint64_t>() >= min;
    if (keep) out.push_back(std::move(row));
  }
  if (!p.order_by.empty())
    std::stable_sort(out.begin(), out.end(), [&](const json& a, const json& b) {
      return a[p.order_by].get<std::uint64_t>() > b[p.order_by].get<std::uint64_t>();
    });
  if (out.size() > p.limit) out.resize(p.limit);
  PluginResult ok;
  ok.status = PluginResult::Status::ok;
  ok.value = json(std::move(out));
  ok.body = ok.value.dump();
  return ok;
}

}  // namespace

PluginResult query_engine(const Engine& engine, const std::string& asker, const std::string& query,
                          const json& params) {
  std::string unavailable;
  auto self = engine.get(asker, &unavailable);
  if (!self) {
    if (!unavailable.empty())
      return PluginResult::failure("the engine's store could not be read: " + unavailable, true);
    return PluginResult::failure("the asking instance " + asker + " is not in the engine");
  }
  try {
    if (query == "count") return run_count(engine, self->unit, params);
  } catch (const BadInput& e) {
    return PluginResult::failure("engine query \"" + query + "\": " + e.sentence);
  }
  return PluginResult::failure("the engine data source has no query \"" + query +
                               "\"; it answers \"count\"");
}

}  // namespace bihuan
