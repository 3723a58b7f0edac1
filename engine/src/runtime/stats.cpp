// Engine::stats: counts of instances grouped by fields, in one read transaction.
//
// With a definition it walks that definition's part of the state index (every instance of
// it, running or ended, appears there once), else every instance record. Cost: one record
// decode per instance in scope.
#include <map>

#include "runtime/engine_impl.hpp"

namespace bihuan::runtime {

using storage::Db;

namespace {

// The value a group_by entry takes for one instance (null where data lacks the field).
json field_of(const InstanceView& v, const std::string& field) {
  if (field == "definition") return v.definition;
  if (field == "version") return v.definition_version;
  if (field == "state") return v.state;
  if (field == "status") return to_string(v.status);
  if (field == "outcome") return v.outcome.empty() ? json() : json(v.outcome);
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
  for (const auto& [ptr, value] : q.data_equals) {
    try {
      json::json_pointer p(ptr);
      if (!v.data.contains(p) || v.data.at(p) != value) return false;
    } catch (const std::exception&) {
      return false;
    }
  }
  return true;
}

}  // namespace

StatsResult EngineImpl::stats(const StatsQuery& q) const {
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
  Db db = q.definition.empty() ? Db::inst : Db::sidx;
  std::string prefix = q.definition.empty() ? "" : q.definition + std::string(1, '\0');
  auto cur = txn->cursor(db);
  for (bool ok = prefix.empty() ? cur->first() : cur->seek(prefix); ok; ok = cur->next()) {
    std::string_view key = cur->key();
    if (key.substr(0, prefix.size()) != prefix) break;
    std::uint64_t id =
        db == Db::inst ? storage::read_be64(key) : storage::read_be64(key, key.size() - 8);
    auto r = read_record(*txn, id, nullptr, &rc);
    if (rc) return failed(rc);
    if (!r) continue;
    InstanceView v = view_of(*r);
    if (!in_scope(v, q)) continue;
    ++out.total;
    json k = json::array();
    for (const auto& f : q.group_by) k.push_back(field_of(v, f));
    auto it = groups.find(k);
    if (it != groups.end()) {
      ++it->second;
    } else if (groups.size() < q.max_groups) {
      groups.emplace(std::move(k), 1);
    } else {
      out.truncated = true;
    }
  }
  if (cur->status()) return failed(cur->status());
  for (auto& [k, n] : groups) out.groups.push_back({k, n});
  return out;
}

}  // namespace bihuan::runtime
