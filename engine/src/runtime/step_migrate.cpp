// Step::migrate: moves a running instance to another version of its definition
// (MigrateRequest in bihuan/instance.hpp says what is kept, re-based and checked).
#include "runtime/step.hpp"

namespace bihuan::runtime {

namespace {

// A refused migration request, with the JSON Pointer of the member at fault (the HTTP
// API puts it in the problem's errors).
[[noreturn]] void refuse(StepError e, const std::string& message, const std::string& pointer,
                         const char* code) {
  fail(e, message,
       {{"problems", json::array({{{"pointer", pointer}, {"code", code}, {"message", message}}})}});
}

}  // namespace

json Step::migrate(InstanceRecord& r, const MigrateRequest& req) {
  const Definition& from = definition_of(r);
  const std::string id_text = id_to_text(r.id);
  if (r.status != InstanceStatus::running)
    fail(StepError::instance_ended, "instance " + id_text + " has already " + to_string(r.status) +
                                        ": only a running instance can be migrated");
  if (req.expected_version && *req.expected_version != r.version)
    fail(StepError::version_conflict,
         "instance is at version " + std::to_string(r.version) + ", not " +
             std::to_string(*req.expected_version),
         {{"current", r.version}});
  std::int64_t target = 0;
  if (req.to_version)
    target = *req.to_version;
  else if (auto newest = env_.definitions.find(r.definition, std::nullopt))
    target = newest->version;
  const Definition* to = stepper_.definition(r.definition, target);
  if (!to)
    refuse(StepError::not_found,
           "definition " + r.definition + " has no deployed version " + std::to_string(target),
           "/toVersion", "not-deployed");
  if (to->version == from.version)
    refuse(StepError::invalid_request,
           "instance " + id_text + " is on version " + std::to_string(from.version) + " of " +
               r.definition + " already",
           "/toVersion", "same-version");
  // The map is checked whole, so that one map used for many instances finds its typos on
  // the first of them.
  for (const auto& [old_name, new_name] : req.states) {
    if (from.find_state(old_name) < 0)
      refuse(StepError::invalid_request,
             "states: \"" + old_name + "\" is not a state of " + r.definition + " v" +
                 std::to_string(from.version),
             "/states/" + pointer_escape(old_name), "unknown-state");
    if (to->find_state(new_name) < 0)
      refuse(StepError::invalid_request,
             "states: \"" + new_name + "\" (for \"" + old_name + "\") is not a state of " +
                 r.definition + " v" + std::to_string(to->version),
             "/states/" + pointer_escape(old_name), "unknown-state");
  }
  const std::string old_name = from.states[r.state].name;
  auto mapped = req.states.find(old_name);
  const std::string new_name = mapped != req.states.end() ? mapped->second : old_name;
  const int ns = to->find_state(new_name);
  if (ns < 0)
    refuse(StepError::invalid_request,
           "version " + std::to_string(to->version) + " of " + r.definition + " has no state \"" +
               new_name + "\": map it in states, e.g. {\"" + old_name + "\": \"...\"}",
           "/states", "unmapped-state");
  if (to->states[ns].type != StateType::atomic)
    refuse(
        StepError::invalid_request,
        "state \"" + new_name + "\" of " + r.definition + " v" + std::to_string(to->version) +
            " is " +
            (to->states[ns].type == StateType::final_state ? "final: cancel the instance instead"
                                                           : "compound: map to one of its states"),
        "/states/" + pointer_escape(old_name), "not-atomic");

  Carried carried;
  for (const auto& [state, due] : r.deadlines)
    carried.deadlines.emplace(from.states[state].name, due);
  for (const TimerRef& t : r.timers)
    carried.timers.emplace(
        std::pair{from.states[t.state].name, from.states[t.state].timers[t.timer].id}, t);
  disarm(r, -1);
  r.deadlines.clear();
  r.definition_version = to->version;
  r.state = ns;
  r.version++;
  r.updated_ms = b_.now.time_since_epoch().count();

  json ctx = lease_context(r, *to, nullptr, req.actor);
  json changes = json::array();
  if (!req.set.empty()) {
    TransitionSpec tr;  // an internal transition that only sets: its errors point into the request
    tr.set = req.set;
    for (const auto& [ptr, rule] : tr.set)
      if (ptr.empty() || ptr[0] != '/')  // "" would replace the data object itself
        refuse(StepError::invalid_request,
               "set: \"" + ptr + "\" is not a JSON Pointer (it starts with /)",
               "/set/" + pointer_escape(ptr), "pointer");
    transition(r, *to, tr, ctx, req.actor, changes, 0);
  }
  auto chain = to->ancestry(ns);  // the state first, then its parents: armed outer first
  for (auto it = chain.rbegin(); it != chain.rend(); ++it) arm_state(r, *to, *it, ctx, &carried);
  release(r, ctx);
  check_data(r, *to);
  // What was armed, and whether it kept its old due time (arm_state used the carried one).
  json timers = json::array(), deadlines = json::array();
  for (const TimerRef& t : r.timers) {
    const StateSpec& st = to->states[t.state];
    const std::string& id = st.timers[t.timer].id;
    timers.push_back({{"state", st.name},
                      {"id", id},
                      {"due", format_time(TimePoint(Millis(static_cast<std::int64_t>(t.due_ms))),
                                          *to->timezone)},
                      {"kept", carried.timers.count(std::pair{st.name, id}) > 0}});
  }
  for (const auto& [state, due] : r.deadlines) {
    const std::string& name = to->states[state].name;
    deadlines.push_back({{"state", name},
                         {"due", format_time(TimePoint(Millis(due)), *to->timezone)},
                         {"kept", carried.deadlines.count(name) > 0}});
  }
  json report = {{"fromVersion", from.version}, {"toVersion", to->version},
                 {"fromState", old_name},       {"toState", new_name},
                 {"timers", std::move(timers)}, {"deadlines", std::move(deadlines)},
                 {"changes", changes}};
  record_history(
      r, "migrate", "", req.actor, old_name,
      {{"fromVersion", from.version}, {"toVersion", to->version}, {"reason", req.reason}},
      std::move(changes), true);
  return report;
}

}  // namespace bihuan::runtime
