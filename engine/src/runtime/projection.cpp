// SQL for reports on a remote store (storage::Remote::set_projection; docs/scale-out.md,
// "SQL for reports"): each instance record put also stored as JSON that PostgreSQL's
// jsonb takes (valid UTF-8, no NUL in any string), read through the view bihuan_instances.
#include "runtime/engine_impl.hpp"
#include "runtime/record.hpp"

namespace bihuan::runtime {
namespace {

// jsonb refuses "\u0000" in strings and keys: NUL becomes U+FFFD, the rest is kept. In
// place; a key is rebuilt only when it holds a NUL (rare: the walk copies nothing else).
void without_nul(std::string& s) {
  for (std::size_t at = s.find('\0'); at != std::string::npos; at = s.find('\0', at))
    s.replace(at, 1, "\xEF\xBF\xBD");
}

void make_jsonb_safe(json& v) {
  if (v.is_string()) {
    without_nul(v.get_ref<std::string&>());
  } else if (v.is_array()) {
    for (auto& x : v) make_jsonb_safe(x);
  } else if (v.is_object()) {
    bool nul_key = false;
    for (auto it = v.begin(); it != v.end(); ++it) {
      make_jsonb_safe(it.value());
      nul_key = nul_key || it.key().find('\0') != std::string::npos;
    }
    if (nul_key) {
      json out = json::object();
      for (auto it = v.begin(); it != v.end(); ++it) {
        std::string k = it.key();
        without_nul(k);
        out[k] = std::move(it.value());
      }
      v = std::move(out);
    }
  }
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
            {"readers", r->readers}};
  j["data"] = std::move(r->data);
  auto def = reader_.registry().find(r->definition, r->definition_version);
  j["state"] = def && r->state >= 0 && static_cast<std::size_t>(r->state) < def->states.size()
                   ? json(def->states[r->state].name)
                   : json();
  if (!r->business_key.empty()) j["businessKey"] = r->business_key;
  if (!r->outcome.empty()) j["outcome"] = r->outcome;
  if (r->parent) j["parent"] = id_to_text(r->parent);
  if (!r->unit.empty()) j["unit"] = r->unit;
  make_jsonb_safe(j);
  return j.dump(-1, ' ', false, json::error_handler_t::replace);
}

}  // namespace bihuan::runtime
