// Whole-definition checks that need every state parsed: graph shape, timers, lints.
#include <algorithm>
#include <deque>

#include "definition/compile_internal.hpp"

namespace bihuan::definition_detail {
namespace {

// Edges between resting states (atomic or final), following compound entry.
std::vector<std::set<int>> resting_edges(const Definition& def) {
  std::vector<std::set<int>> edges(def.states.size());
  for (const auto& st : def.states) {
    if (st.type == StateType::compound) continue;
    for (int a : def.ancestry(st.index)) {
      const auto& anc = def.states[a];
      auto add = [&](const TransitionSpec& tr) {
        if (tr.target >= 0) edges[st.index].insert(def.resolve_entry(tr.target));
      };
      for (const auto& [name, ev] : anc.on)
        for (const auto& tr : ev.transitions) add(tr);
      for (const auto& t : anc.timers) add(t.transition);
    }
  }
  return edges;
}

}  // namespace

void check_graph(const Definition& def, Problems& problems) {
  if (def.initial < 0) return;
  auto edges = resting_edges(def);
  std::vector<bool> reached(def.states.size(), false);
  std::deque<int> todo{def.resolve_entry(def.initial)};
  while (!todo.empty()) {
    int s = todo.front();
    todo.pop_front();
    if (s < 0 || reached[s]) continue;
    reached[s] = true;
    for (int n : edges[s]) todo.push_back(n);
  }
  // A compound state is reached when any descendant is.
  for (int i = static_cast<int>(def.states.size()) - 1; i >= 0; --i)
    if (reached[i] && def.states[i].parent >= 0) reached[def.states[i].parent] = true;
  for (const auto& st : def.states) {
    if (reached[st.index]) continue;
    if (st.parent >= 0 && !reached[st.parent]) continue;  // reported at the ancestor
    problems.error(st.pointer, "unreachable-state",
                   "state \"" + st.name + "\" can never be entered from the initial state");
  }
  // Which resting states can reach a final state?
  std::vector<bool> finishes(def.states.size(), false);
  for (const auto& st : def.states) finishes[st.index] = st.type == StateType::final_state;
  bool changed = true;
  while (changed) {
    changed = false;
    for (const auto& st : def.states) {
      if (finishes[st.index] || st.type == StateType::compound) continue;
      if (std::any_of(edges[st.index].begin(), edges[st.index].end(),
                      [&](int n) { return finishes[n]; })) {
        finishes[st.index] = true;
        changed = true;
      }
    }
  }
  for (const auto& st : def.states) {
    if (st.type == StateType::compound || !reached[st.index] || finishes[st.index]) continue;
    problems.error(st.pointer, "no-path-to-final",
                   "an instance in state \"" + st.name +
                       "\" can never reach a final state (it would be stuck)");
  }
}

void check_timers(const Definition& def, Problems& problems) {
  for (const auto& st : def.states) {
    bool overdue_leaves = false;
    for (const auto& t : st.timers)
      if (t.id == "deadline.overdue" && t.transition.target >= 0) overdue_leaves = true;
    for (const auto& t : st.timers) {
      auto never = [&](const std::string& why) {
        problems.error(t.pointer, "timer-never-fires",
                       "timer \"" + t.id + "\" can never fire: " + why);
      };
      if (st.type == StateType::final_state) {
        never("it is on a final state, which ends the instance on entry");
        continue;
      }
      if (t.every && approx_millis(*t.every) <= 0) never("its period \"every\" is not positive");
      if (t.at && t.at->is_string()) {
        if (auto when = parse_time(t.at->get<std::string>(), def.timezone.get())) {
          if (*when < std::chrono::time_point_cast<Millis>(std::chrono::system_clock::now()))
            never("its fixed time " + t.at->get<std::string>() + " is already past");
        } else {
          problems.error(t.pointer + "/at", "bad-time",
                         "\"" + t.at->get<std::string>() + "\" is not an ISO 8601 time");
        }
      }
      if (!t.event.empty() && !def.find_event(st.index, t.event))
        never("it fires event \"" + t.event + "\", which neither state \"" + st.name +
              "\" nor its ancestors handle");
      if (overdue_leaves && t.anchor == TimerAnchor::deadline && t.id != "deadline.overdue" &&
          t.after && t.after->is_string()) {
        if (auto d = parse_duration(t.after->get<std::string>()); d && approx_millis(*d) > 0)
          never("the overdue transition leaves the state before this offset is reached");
      }
    }
  }
}

void check_lints(const Definition& def, const json& doc, Problems& problems) {
  std::set<std::string> declared;
  bool roles_declared = doc.is_object() && doc.contains("roles") && doc["roles"].is_array();
  if (roles_declared)
    for (const auto& r : doc["roles"])
      if (r.is_string()) declared.insert(r.get<std::string>());
  for (const auto& st : def.states) {
    bool human = false;
    for (const auto& [name, ev] : st.on) {
      if (ev.human()) human = true;
      if (ev.roles.empty() && !ev.actors)
        problems.warning(ev.pointer, "open-event",
                         "event \"" + name + "\" names no roles or actors: any actor may send it");
      if (roles_declared)
        for (std::size_t i = 0; i < ev.roles.size(); ++i)
          if (ev.roles[i] != "system" && !declared.count(ev.roles[i]))
            problems.error(
                ev.pointer + "/roles/" + std::to_string(i), "unknown-role",
                "role \"" + ev.roles[i] + "\" is not declared in the top-level \"roles\"");
      if (ev.transitions.size() == 1 && ev.transitions[0].is_else &&
          ev.pointer != ev.transitions[0].pointer)
        problems.warning(ev.pointer, "else-only",
                         "event \"" + name + "\" has only an \"else\" transition");
    }
    if (human && st.type == StateType::atomic) {
      bool has_deadline = false;
      for (int a : def.ancestry(st.index)) has_deadline |= def.states[a].deadline.has_value();
      if (!has_deadline)
        problems.warning(
            st.pointer, "no-deadline",
            "state \"" + st.name + "\" waits on a person but has no deadline (add \"deadline\")");
    }
  }
}

}  // namespace bihuan::definition_detail
