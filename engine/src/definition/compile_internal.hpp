// Private to the definition compiler: the shared state of one compilation.
#pragma once

#include <map>
#include <string>

#include "bihuan/definition.hpp"

namespace bihuan::definition_detail {

struct Compiler {
  Problems& problems;
  const DefinitionContext& ctx;
  Definition& def;
  // state name -> pointers where it was defined (first wins)
  std::map<std::string, std::string> state_pointers;
  // pointer of each `target` member -> the state name it names, resolved once all
  // states are known (transitions are copied around while parsing).
  std::map<std::string, std::string> pending_targets;

  void error(const std::string& ptr, const std::string& code, const std::string& msg) {
    problems.error(ptr, code, msg);
  }
  void warning(const std::string& ptr, const std::string& code, const std::string& msg) {
    problems.warning(ptr, code, msg);
  }

  void check_expr(const json& rule, const std::string& ptr);
  // A data expression: operators inside objects/arrays built member by member.
  void check_data_expr(const json& value, const std::string& ptr);
  void check_duration_value(const json& v, const std::string& ptr, bool allow_negative);
  void check_calendar(const std::string& id, const std::string& ptr);
  void parse_states(const json& states, const std::string& ptr, int parent);
  void parse_state(const std::string& name, const json& s, const std::string& ptr, int parent);
  void parse_event(StateSpec& st, const std::string& name, const json& e, const std::string& ptr);
  TransitionSpec parse_transition(const json& t, const std::string& ptr);
  std::vector<ActionSpec> parse_actions(const json& list, const std::string& ptr);
  void parse_timers(StateSpec& st, const json& timers, const std::string& ptr);
  void parse_deadline(StateSpec& st, const json& d, const std::string& ptr);
  void resolve_targets();
};

// Graph checks: unreachable states, states that cannot reach a final state.
void check_graph(const Definition& def, Problems& problems);
// Timer semantics: events handled, periods positive, fixed times in the future.
void check_timers(const Definition& def, Problems& problems);
// Lints: human steps without deadline, open events, roles declared.
void check_lints(const Definition& def, const json& doc, Problems& problems);

// Rough length of a duration in milliseconds (months = 30 days, years = 365 days),
// for ordering and sign checks only.
std::int64_t approx_millis(const Duration& d);

}  // namespace bihuan::definition_detail
