// InstanceQuery's filters (bihuan/query_match.hpp).
#include "bihuan/query_match.hpp"

namespace bihuan {

bool data_matches(const json& data, const std::vector<std::pair<std::string, json>>& equals) {
  for (const auto& [ptr, value] : equals) {
    try {
      json::json_pointer p(ptr);
      if (!data.contains(p) || data.at(p) != value) return false;
    } catch (const std::exception&) {
      return false;
    }
  }
  return true;
}

bool query_matches(const InstanceView& v, const InstanceQuery& q) {
  if (q.status && v.status != *q.status) return false;
  if (!q.definition.empty() && v.definition != q.definition) return false;
  if (!q.state.empty() && v.state != q.state) return false;
  if (!q.business_key_prefix.empty() && v.business_key.rfind(q.business_key_prefix, 0) != 0)
    return false;
  if (!q.unit.empty() && !unit_covers(q.unit, v.unit)) return false;
  return data_matches(v.data, q.data_equals);
}

}  // namespace bihuan
