// Definition lookups used by the validator and the runtime.
#include <algorithm>

#include "bihuan/definition.hpp"

namespace bihuan {

bool EventSpec::human() const {
  if (roles.empty()) return true;
  return std::any_of(roles.begin(), roles.end(),
                     [](const std::string& r) { return r != "system"; });
}

int Definition::find_state(const std::string& name) const {
  for (const auto& s : states)
    if (s.name == name) return s.index;
  return -1;
}

int Definition::resolve_entry(int index) const {
  int guard = 0;
  while (index >= 0 && states[index].type == StateType::compound && guard++ < 1000) {
    int next = states[index].initial_child;
    if (next < 0) break;
    index = next;
  }
  return index;
}

std::vector<int> Definition::ancestry(int index) const {
  std::vector<int> out;
  while (index >= 0 && out.size() < states.size()) {
    out.push_back(index);
    index = states[index].parent;
  }
  return out;
}

const EventSpec* Definition::find_event(int state, const std::string& event) const {
  for (int s : ancestry(state)) {
    auto it = states[s].on.find(event);
    if (it != states[s].on.end()) return &it->second;
  }
  return nullptr;
}

std::vector<const EventSpec*> Definition::events_in(int state) const {
  std::vector<const EventSpec*> out;
  std::set<std::string> seen;
  for (int s : ancestry(state))
    for (const auto& [name, ev] : states[s].on)
      if (seen.insert(name).second) out.push_back(&ev);
  return out;
}

}  // namespace bihuan
