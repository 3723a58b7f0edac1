// Value types of the public runtime API.
#include <algorithm>
#include <mutex>

#include "bihuan/instance.hpp"
#include "runtime/batch.hpp"

namespace bihuan {

bool Actor::has_role(const std::string& r) const {
  return std::find(roles.begin(), roles.end(), r) != roles.end();
}

std::string to_string(InstanceStatus s) {
  switch (s) {
    case InstanceStatus::running:
      return "running";
    case InstanceStatus::completed:
      return "completed";
    case InstanceStatus::cancelled:
      return "cancelled";
  }
  return "unknown";
}

std::string to_string(StepError e) {
  switch (e) {
    case StepError::none:
      return "ok";
    case StepError::not_found:
      return "not-found";
    case StepError::unknown_event:
      return "unknown-event";
    case StepError::role_not_allowed:
      return "role-not-allowed";
    case StepError::actor_not_allowed:
      return "actor-not-allowed";
    case StepError::start_not_allowed:
      return "start-not-allowed";
    case StepError::guard_false:
      return "guard-false";
    case StepError::payload_invalid:
      return "payload-invalid";
    case StepError::data_invalid:
      return "data-invalid";
    case StepError::version_conflict:
      return "version-conflict";
    case StepError::instance_ended:
      return "instance-ended";
    case StepError::duplicate_business_key:
      return "duplicate-business-key";
    case StepError::idempotency_key_reused:
      return "idempotency-key-reused";
    case StepError::expression_error:
      return "expression-error";
    case StepError::invalid_request:
      return "invalid-request";
    case StepError::storage_error:
      return "storage-error";
    case StepError::storage_unavailable:
      return "storage-unavailable";
    case StepError::record_damaged:
      return "record-damaged";
    case StepError::internal_error:
      return "internal-error";
    case StepError::shutting_down:
      return "shutting-down";
  }
  return "unknown";
}

json InstanceView::to_json(const TimeZone& tz) const {
  json j = {{"id", id},
            {"definition", definition},
            {"definitionVersion", definition_version},
            {"businessKey", business_key},
            {"state", state},
            {"status", to_string(status)},
            {"version", version},
            {"data", data},
            {"createdAt", format_time(created_at, tz)},
            {"updatedAt", format_time(updated_at, tz)}};
  if (!outcome.empty()) j["outcome"] = outcome;
  if (deadline) j["deadline"] = format_time(*deadline, tz);
  if (!parent.empty()) j["parent"] = parent;
  if (!unit.empty()) j["unit"] = unit;
  return j;
}

json HistoryEntry::to_json(const TimeZone& tz) const {
  return {{"seq", seq},         {"at", format_time(at, tz)},
          {"kind", kind},       {"event", event},
          {"actor", actor},     {"roles", roles},
          {"from", from},       {"to", to},
          {"payload", payload}, {"changes", changes},
          {"status", status},   {"prevHash", prev_hash},
          {"hash", hash}};
}

namespace runtime {

std::shared_ptr<const Definition> DefinitionRegistry::find(
    const std::string& id, std::optional<std::int64_t> version) const {
  std::shared_lock lock(mu_);
  auto it = by_id_.find(id);
  if (it == by_id_.end() || it->second.empty()) return nullptr;
  if (!version) return it->second.rbegin()->second;
  auto v = it->second.find(*version);
  return v == it->second.end() ? nullptr : v->second;
}

void DefinitionRegistry::add(std::shared_ptr<const Definition> def) {
  std::unique_lock lock(mu_);
  by_id_[def->id][def->version] = std::move(def);
}

std::vector<std::shared_ptr<const Definition>> DefinitionRegistry::all() const {
  std::shared_lock lock(mu_);
  std::vector<std::shared_ptr<const Definition>> out;
  for (const auto& [id, versions] : by_id_)
    for (const auto& [v, d] : versions) out.push_back(d);
  return out;
}

std::set<std::string> DefinitionRegistry::ids() const {
  std::shared_lock lock(mu_);
  std::set<std::string> out;
  for (const auto& [id, versions] : by_id_) out.insert(id);
  return out;
}

}  // namespace runtime
}  // namespace bihuan
