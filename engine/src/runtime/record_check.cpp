#include "runtime/record_check.hpp"

namespace bihuan::runtime {

std::string record_damage(const InstanceRecord& r, std::uint64_t key_id, const Definition& def) {
  if (r.id != key_id) return "it names id " + id_to_text(r.id) + ", not the id it is stored under";
  const auto states = static_cast<int>(def.states.size());
  auto state_ok = [&](int s) { return s >= 0 && s < states; };
  auto of = [&] { return " of " + def.id + " v" + std::to_string(def.version); };
  if (!state_ok(r.state)) return "state " + std::to_string(r.state) + " is not a state" + of();
  if (!r.data.is_object())
    return "its data is " + std::string(r.data.type_name()) + ", not an object";
  for (const auto& t : r.timers) {
    if (!state_ok(t.state) || t.timer < 0 ||
        t.timer >= static_cast<int>(def.states[t.state].timers.size()))
      return "timer " + std::to_string(t.timer) + " of state " + std::to_string(t.state) +
             " is not a timer" + of();
  }
  for (const auto& [state, due] : r.deadlines) {
    if (!state_ok(state))
      return "a deadline names state " + std::to_string(state) + ", not a state" + of();
  }
  return {};
}

std::string stored_record_damage(const std::optional<InstanceRecord>& r, std::uint64_t key_id,
                                 const Definition* def) {
  if (!r) return "it does not decode";
  return def ? record_damage(*r, key_id, *def) : std::string();
}

}  // namespace bihuan::runtime
