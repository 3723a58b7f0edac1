// SQL for reports on a remote store (storage::Remote::set_projection; docs/scale-out.md,
// "SQL for reports"): each instance record put also stored as JSON that PostgreSQL's
// jsonb takes (valid UTF-8, no NUL in any string), read through the view bihuan_instances.
#include "runtime/engine_impl.hpp"
#include "runtime/record.hpp"

namespace bihuan::runtime {
namespace {

// jsonb refuses "\u0000" in strings and keys: NUL becomes U+FFFD, the rest is kept.
std::string without_nul(std::string s) {
  for (std::size_t at = s.find('\0'); at != std::string::npos; at = s.find('\0', at))
    s.replace(at, 1, "\xEF\xBF\xBD");
  return s;
}

json jsonb_safe(const json& v) {
  if (v.is_string()) {
    const auto& s = v.get_ref<const std::string&>();
    return s.find('\0') == std::string::npos ? v : json(without_nul(s));
  }
  if (v.is_object()) {
    json out = json::object();
    for (auto it = v.begin(); it != v.end(); ++it) out[without_nul(it.key())] = jsonb_safe(*it);
    return out;
  }
  if (v.is_array()) {
    json out = json::array();
    for (const auto& x : v) out.push_back(jsonb_safe(x));
    return out;
  }
  return v;
}

}  // namespace

std::optional<std::string> EngineImpl::project_record(std::string_view value) const {
  auto r = decode_instance(value);
  if (!r) return std::nullopt;  // verify names it; SQL sees NULL
  const TimeZone& utc = *TimeZone::utc();
  json j = {{"id", id_to_text(r->id)},
            {"definition", r->definition},
            {"definitionVersion", r->definition_version},
            {"stateIndex", r->state},
            {"status", to_string(r->status)},
            {"version", r->version},
            {"created", format_time(TimePoint(Millis(r->created_ms)), utc)},
            {"updated", format_time(TimePoint(Millis(r->updated_ms)), utc)},
            {"data", jsonb_safe(r->data)},
            {"readers", r->readers}};
  auto def = reader_.registry().find(r->definition, r->definition_version);
  j["state"] = def && r->state >= 0 && static_cast<std::size_t>(r->state) < def->states.size()
                   ? json(def->states[r->state].name)
                   : json();
  if (!r->business_key.empty()) j["businessKey"] = r->business_key;
  if (!r->outcome.empty()) j["outcome"] = r->outcome;
  if (r->parent) j["parent"] = id_to_text(r->parent);
  if (!r->unit.empty()) j["unit"] = r->unit;
  return jsonb_safe(j).dump(-1, ' ', false, json::error_handler_t::replace);
}

}  // namespace bihuan::runtime
