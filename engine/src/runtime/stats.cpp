// Engine::stats: counts of instances grouped by fields, read in chunks of
// EngineOptions::scan_chunk records (runtime/scan.hpp; `snapshots` says how many).
//
// With a definition it walks that definition's part of the state index (every instance of
// it, running or ended, appears there once), else every instance record. Cost: one record
// decode per instance in scope. A scoped viewer (docs/authorization.md) walks only its
// index ranges (scoped_reads.cpp), counting each visible instance once. A `unit` filter
// the viewer's unit covers (or any, for an unscoped viewer) walks only that unit's ranges.
#include <algorithm>
#include <chrono>
#include <cstdio>
#include <map>
#include <set>

#include "bihuan/query_match.hpp"
#include "bihuan/stats_fields.hpp"
#include "runtime/access_index.hpp"
#include "runtime/reader.hpp"

namespace bihuan::runtime {

using storage::Db;

namespace {

// What the dashboard's groupings read from an instance's definition version, computed once
// per version a stats call meets.
struct DefFacts {
  std::shared_ptr<const Definition> def;
  std::vector<bool> escalated_state;        // by state index: it or an ancestor says so
  std::vector<std::string> escalated_data;  // top-level members flagged "x-escalated"
  std::vector<std::string> category;        // by state index: its or nearest ancestor's
};

DefFacts facts_of(std::shared_ptr<const Definition> def) {
  DefFacts f;
  f.def = std::move(def);
  if (!f.def) return f;
  const Definition& d = *f.def;
  f.escalated_state.assign(d.states.size(), false);
  f.category.assign(d.states.size(), "");
  for (const auto& st : d.states) {  // parents before children
    bool own = false;
    try {
      const json& node = d.source.at(json::json_pointer(st.pointer));
      auto x = node.find("x-escalated");
      own = x != node.end() && x->is_boolean() && x->get<bool>();
    } catch (const std::exception&) {
    }
    bool up = st.parent >= 0 && f.escalated_state[st.parent];
    f.escalated_state[st.index] = own || up;
    f.category[st.index] =
        !st.category.empty() || st.parent < 0 ? st.category : f.category[st.parent];
  }
  auto ds = d.source.find("dataSchema");
  if (ds != d.source.end() && ds->is_object()) {
    auto props = ds->find("properties");
    if (props != ds->end() && props->is_object())
      for (const auto& [name, p] : props->items()) {
        auto x = p.is_object() ? p.find("x-escalated") : p.end();
        if (p.is_object() && x != p.end() && x->is_boolean() && x->get<bool>())
          f.escalated_data.push_back(name);
      }
  }
  return f;
}

// The local date of `t` in `tz` (UTC if null) as a period key.
std::string period_of(TimePoint t, const TimeZone* tz, const std::string& period) {
  LocalDate d;
  std::int64_t ms = 0;
  if (tz) {
    tz->to_local(t, d, ms);
  } else {
    TimeZone::utc()->to_local(t, d, ms);
  }
  char buf[16];
  if (period == "month") {
    std::snprintf(buf, sizeof buf, "%04d-%02u", static_cast<int>(d.year), d.month);
    return buf;
  }
  if (period == "week") {  // the Monday of its ISO week
    using namespace std::chrono;
    sys_days day = year_month_day{year{d.year}, month{d.month}, std::chrono::day{d.day}};
    day -= days{iso_weekday(d) - 1};
    year_month_day m{day};
    d = {static_cast<std::int32_t>(int(m.year())), unsigned(m.month()), unsigned(m.day())};
  }
  return d.to_string();
}

// The first n segments of a unit path (all of it when it has fewer); null for no unit.
json unit_prefix(const std::string& unit, std::size_t n) {
  if (unit.empty()) return nullptr;
  std::size_t pos = 0;
  for (std::size_t i = 0; i < n; ++i) {
    pos = unit.find('/', pos);
    if (pos == std::string::npos) return unit;
    if (i + 1 < n) ++pos;
  }
  return unit.substr(0, pos);
}

struct Context {
  TimePoint now;
  const TimeZone* tz = nullptr;
  const DefFacts* facts = nullptr;  // the instance's definition version's
};

// The value a group_by entry takes for one instance (null where data lacks the field).
json field_of(const InstanceView& v, const std::string& field, const Context& c) {
  if (field == "definition") return v.definition;
  if (field == "version") return v.definition_version;
  if (field == "state") return v.state;
  if (field == "status") return to_string(v.status);
  if (field == "outcome") return v.outcome.empty() ? json() : json(v.outcome);
  if (field == "overdue")
    return v.status == InstanceStatus::running && v.deadline && *v.deadline < c.now;
  if (field == "category" || field == "escalated") {
    const DefFacts* f = c.facts;
    int i = f && f->def ? f->def->find_state(v.state) : -1;
    if (field == "category")
      return i >= 0 && !f->category[i].empty() ? json(f->category[i]) : json();
    if (i >= 0 && f->escalated_state[i]) return true;
    if (f)
      for (const auto& m : f->escalated_data) {
        auto it = v.data.find(m);
        if (it != v.data.end() && *it == true) return true;
      }
    return false;
  }
  if (field == "unit") return v.unit.empty() ? json() : json(v.unit);
  if (field.rfind("unit:", 0) == 0) {
    std::size_t n = 0;
    for (char ch : field.substr(5)) n = ch >= '0' && ch <= '9' ? n * 10 + (ch - '0') : 0;
    return n ? unit_prefix(v.unit, std::min<std::size_t>(n, 16)) : json();
  }
  if (field.rfind("created:", 0) == 0) return period_of(v.created_at, c.tz, field.substr(8));
  if (!field.empty() && field[0] == '/') {
    try {
      json::json_pointer p(field);
      if (v.data.contains(p)) return v.data.at(p);
    } catch (const std::exception&) {
    }
  }
  return nullptr;
}

bool in_scope(const InstanceView& v, const StatsQuery& q) {
  if (!q.definition.empty() && v.definition != q.definition) return false;
  if (q.status && v.status != *q.status) return false;
  if (q.created_from && v.created_at < *q.created_from) return false;
  if (q.created_to && v.created_at >= *q.created_to) return false;
  if (!q.unit.empty() && (v.unit.empty() || !unit_covers(q.unit, v.unit))) return false;
  return data_matches(v.data, q.data_equals);
}

}  // namespace

}  // namespace bihuan::runtime

namespace bihuan {

bool stats_field_known(const std::string& f) {
  static const std::set<std::string> fixed = {
      "definition", "version",   "state", "status",      "outcome",      "category",
      "overdue",    "escalated", "unit",  "created:day", "created:week", "created:month"};
  if (f.empty()) return false;
  if (f[0] == '/' || fixed.count(f)) return true;
  if (f.rfind("unit:", 0) != 0 || f.size() < 6 || f.size() > 7) return false;
  for (std::size_t i = 5; i < f.size(); ++i)
    if (f[i] < '0' || f[i] > '9') return false;
  int n = std::stoi(f.substr(5));
  return n >= 1 && n <= 16 && f[5] != '0';
}

}  // namespace bihuan

namespace bihuan::runtime {

StatsResult Reader::stats(const StatsQuery& q) const {
  StatsResult out;
  std::map<json, std::uint64_t> groups;
  // A store that cannot be read gives no counts, never partial ones.
  auto failed = [&](int rc) {
    StatsResult none;
    none.error = unreadable(rc);
    none.unavailable = true;
    return none;
  };
  int rc = 0;
  auto txn = read_txn(&rc);
  if (!txn) return failed(rc);
  bool needs_def = false;
  for (const auto& f : q.group_by) needs_def = needs_def || f == "category" || f == "escalated";
  Context ctx;
  ctx.now = out.as_of = options_.clock->now();
  ctx.tz = q.tz.get();
  std::map<std::pair<std::string, std::int64_t>, DefFacts> facts;
  auto count = [&](InstanceRecord& r) {
    InstanceView v = view_of(std::move(r));
    if (!in_scope(v, q)) return false;
    ++out.total;
    if (needs_def) {
      auto key = std::make_pair(v.definition, v.definition_version);
      auto it = facts.find(key);
      if (it == facts.end())
        it = facts.emplace(key, facts_of(registry_.find(v.definition, v.definition_version))).first;
      ctx.facts = &it->second;
    }
    json k = json::array();
    for (const auto& f : q.group_by) k.push_back(field_of(v, f, ctx));
    auto it = groups.find(k);
    if (it != groups.end()) {
      ++it->second;
    } else if (groups.size() < q.max_groups) {
      groups.emplace(std::move(k), 1);
    } else {
      out.truncated = true;
    }
    return true;
  };
  // A unit every instance of which the viewer sees: walk just that unit's ranges.
  const bool by_unit =
      !q.unit.empty() &&
      (!scoped(q.viewer) || (!q.viewer->unit().empty() && unit_covers(q.viewer->unit(), q.unit)));
  if (scoped(q.viewer) || by_unit) {
    // The viewer's index ranges (scoped_reads.cpp), each visible instance once; or the
    // unit's (no reader keys: an instance below the unit is found by its unit alone).
    Scope scope(q.viewer ? *q.viewer : Actor::system());
    if (by_unit) {
      scope.keys.clear();
      scope.unit = q.unit;
    }
    auto ids = registry_.ids();
    auto streams =
        scope_streams(scope, q.definition, std::vector<std::string>(ids.begin(), ids.end()));
    auto w = walk_scope(*txn, scope, streams, 0, "", SIZE_MAX, [&](InstanceRecord& r, std::size_t) {
      count(r);
      return true;
    });
    if (w.rc) return failed(w.rc);
    out.snapshots += w.renewals;
  } else {
    Db db = q.definition.empty() ? Db::inst : Db::sidx;
    std::string prefix = q.definition.empty() ? "" : q.definition + std::string(1, '\0');
    auto cur = scan(*txn, db);
    for (bool ok = prefix.empty() ? cur.first() : cur.seek(prefix); ok; ok = cur.next()) {
      std::string_view key = cur.key();
      if (key.substr(0, prefix.size()) != prefix) break;
      std::uint64_t id =
          db == Db::inst ? storage::read_be64(key) : storage::read_be64(key, key.size() - 8);
      auto r = read_record(*txn, id, nullptr, &rc);
      if (rc) return failed(rc);
      if (r) count(*r);
    }
    if (cur.status()) return failed(cur.status());
    out.snapshots += cur.renewals();
  }
  if (q.archived) {
    // Archived instances' last records (retention.cpp), each checked against the same
    // scope: a walk of all of them (docs/retention.md gives the cost).
    std::optional<Scope> scope;
    if (scoped(q.viewer)) scope.emplace(*q.viewer);
    auto cur = scan(*txn, Db::gone);
    for (bool ok = cur.first(); ok; ok = cur.next()) {
      auto r = decode_instance(cur.value());
      if (!r) continue;  // verify names it
      if (!q.definition.empty() && r->definition != q.definition) continue;
      if (scope && !scope->sees(*r)) continue;
      if (count(*r)) ++out.archived;
    }
    if (cur.status()) return failed(cur.status());
    out.snapshots += cur.renewals();
  }
  for (auto& [k, n] : groups) out.groups.push_back({k, n});
  return out;
}

}  // namespace bihuan::runtime
