// The definition compiler: JSON document -> immutable Definition, reporting every problem.
// Structure errors are the JSON Schema's job (schema.cpp); this pass checks meaning and
// skips silently over malformed structure the schema has already reported.
#include <algorithm>

#include "bihuan/expr.hpp"
#include "definition/compile_internal.hpp"
#include "render/template.hpp"

namespace bihuan::definition_detail {
namespace {

std::string str_or(const json& o, const char* key, std::string dflt = {}) {
  if (o.is_object()) {
    auto it = o.find(key);
    if (it != o.end() && it->is_string()) return it->get<std::string>();
  }
  return dflt;
}

const json* member(const json& o, const char* key) {
  if (!o.is_object()) return nullptr;
  auto it = o.find(key);
  return it == o.end() ? nullptr : &*it;
}

std::string child(const std::string& ptr, const std::string& key) {
  return ptr + "/" + pointer_escape(key);
}

bool valid_data_pointer(const std::string& p) {
  if (p.empty() || p[0] != '/') return false;
  for (std::size_t i = 0; i < p.size(); ++i)
    if (p[i] == '~' && (i + 1 >= p.size() || (p[i + 1] != '0' && p[i + 1] != '1'))) return false;
  return true;
}

}  // namespace

std::int64_t approx_millis(const Duration& d) {
  std::int64_t days = std::int64_t(d.years) * 365 + std::int64_t(d.months) * 30 +
                      std::int64_t(d.weeks) * 7 + d.days;
  std::int64_t ms = days * 86'400'000 + d.millis;
  return d.negative ? -ms : ms;
}

void Compiler::check_expr(const json& rule, const std::string& ptr) {
  expr::check(rule, problems, ptr);
}

void Compiler::check_data_expr(const json& value, const std::string& ptr) {
  if (value.is_object()) {
    if (value.size() == 1 && expr::is_operator(value.begin().key())) {
      check_expr(value, ptr);
      return;
    }
    for (auto it = value.begin(); it != value.end(); ++it)
      check_data_expr(it.value(), child(ptr, it.key()));
  } else if (value.is_array()) {
    for (std::size_t i = 0; i < value.size(); ++i)
      check_data_expr(value[i], ptr + "/" + std::to_string(i));
  }
}

void Compiler::check_duration_value(const json& v, const std::string& ptr, bool allow_negative) {
  if (v.is_string()) {
    std::string why;
    auto d = parse_duration(v.get<std::string>(), &why);
    if (!d) {
      error(ptr, "bad-duration",
            "\"" + v.get<std::string>() + "\" is not an ISO 8601 duration: " + why);
    } else if (!allow_negative && d->negative && !d->is_zero()) {
      error(ptr, "bad-duration", "a delay from state entry cannot be negative");
    }
  } else if (v.is_object()) {
    check_expr(v, ptr);
  }
}

void Compiler::check_calendar(const std::string& id, const std::string& ptr) {
  if (ctx.calendars && !ctx.calendars->find(id)) {
    auto ids = ctx.calendars->ids();
    std::string known;
    for (const auto& k : ids) known += (known.empty() ? "" : ", ") + k;
    error(ptr, "unknown-calendar",
          "unknown calendar \"" + id + "\" (known: " + (known.empty() ? "none" : known) + ")");
  }
}

std::vector<ActionSpec> Compiler::parse_actions(const json& list, const std::string& ptr) {
  std::vector<ActionSpec> out;
  if (!list.is_array()) return out;
  for (std::size_t i = 0; i < list.size(); ++i) {
    const json& a = list[i];
    std::string ap = ptr + "/" + std::to_string(i);
    if (!a.is_object()) continue;
    ActionSpec spec;
    spec.spec = a;
    spec.pointer = ap;
    if (a.contains("notify")) {
      spec.kind = ActionKind::notify;
      spec.name = str_or(a, "notify");
      if (ctx.notifiers && !ctx.notifiers->count(spec.name))
        error(ap + "/notify", "unknown-notifier",
              "no notifier named \"" + spec.name + "\" in the configuration");
      auto check_tpl = [&](const json& t, const std::string& tp) {
        if (!t.is_string()) return;
        if (auto err = render::check_template(t.get<std::string>()))
          error(tp, "bad-template", "invalid Mustache template: " + *err);
      };
      if (auto t = member(a, "template")) check_tpl(*t, ap + "/template");
      if (auto t = member(a, "subject")) check_tpl(*t, ap + "/subject");
      if (auto ts = member(a, "templates"); ts && ts->is_object())
        for (auto it = ts->begin(); it != ts->end(); ++it)
          check_tpl(it.value(), child(ap + "/templates", it.key()));
      if (auto t = member(a, "to")) check_data_expr(*t, ap + "/to");
    } else if (a.contains("task")) {
      spec.kind = ActionKind::task;
      spec.name = str_or(a, "task");
      if (ctx.task_handlers && !ctx.task_handlers->count(spec.name))
        error(ap + "/task", "unknown-handler",
              "no task handler named \"" + spec.name + "\" in the configuration");
      if (auto t = member(a, "input")) check_data_expr(*t, ap + "/input");
    } else if (a.contains("spawn")) {
      spec.kind = ActionKind::spawn;
      spec.name = str_or(a, "spawn");
      if (ctx.definitions && !ctx.definitions->count(spec.name))
        error(ap + "/spawn", "unknown-definition",
              "no definition with id \"" + spec.name + "\" is deployed");
      if (auto t = member(a, "forEach")) check_expr(*t, ap + "/forEach");
      if (auto t = member(a, "businessKey")) check_expr(*t, ap + "/businessKey");
      if (auto t = member(a, "data")) check_data_expr(*t, ap + "/data");
    } else if (a.contains("send")) {
      spec.kind = ActionKind::send;
      spec.name = str_or(a, "send");
      if (auto t = member(a, "forEach")) check_expr(*t, ap + "/forEach");
      for (const char* k : {"to", "toBusinessKey"})
        if (auto t = member(a, k)) check_expr(*t, ap + "/" + k);
      if (auto t = member(a, "payload")) check_data_expr(*t, ap + "/payload");
    } else {
      continue;  // the schema reports it
    }
    if (auto w = member(a, "when")) check_expr(*w, ap + "/when");
    out.push_back(std::move(spec));
  }
  return out;
}

TransitionSpec Compiler::parse_transition(const json& t, const std::string& ptr) {
  TransitionSpec tr;
  tr.pointer = ptr;
  if (!t.is_object()) return tr;
  if (auto g = member(t, "guard")) {
    tr.guard = *g;
    check_expr(*g, ptr + "/guard");
  }
  if (auto e = member(t, "else"); e && e->is_boolean()) tr.is_else = e->get<bool>();
  if (auto target = member(t, "target"); target && target->is_string())
    pending_targets[ptr + "/target"] = target->get<std::string>();
  if (auto set = member(t, "set"); set && set->is_object()) {
    for (auto it = set->begin(); it != set->end(); ++it) {
      std::string sp = child(ptr + "/set", it.key());
      if (!valid_data_pointer(it.key()))
        error(sp, "bad-pointer",
              "\"" + it.key() + "\" is not a JSON Pointer into the data (it must start with '/')");
      check_data_expr(it.value(), sp);
      tr.set.emplace_back(it.key(), it.value());
    }
  }
  if (auto a = member(t, "actions")) tr.actions = parse_actions(*a, ptr + "/actions");
  return tr;
}

void Compiler::parse_event(StateSpec& st, const std::string& name, const json& e,
                           const std::string& ptr) {
  EventSpec ev;
  ev.name = name;
  ev.pointer = ptr;
  if (!e.is_object()) {
    st.on.emplace(name, std::move(ev));
    return;
  }
  if (auto t = member(e, "title")) ev.title = *t;
  if (auto r = member(e, "roles"); r && r->is_array())
    for (const auto& role : *r)
      if (role.is_string()) ev.roles.push_back(role.get<std::string>());
  if (auto a = member(e, "actors")) {
    ev.actors = *a;
    check_expr(*a, ptr + "/actors");
  }
  if (auto ps = member(e, "payloadSchema"))
    ev.payload_schema = JsonSchema::compile(*ps, problems, ptr + "/payloadSchema");
  if (auto rm = member(e, "rejectMessage")) ev.reject_message = *rm;
  if (auto ts = member(e, "transitions"); ts && ts->is_array()) {
    for (std::size_t i = 0; i < ts->size(); ++i)
      ev.transitions.push_back(
          parse_transition((*ts)[i], ptr + "/transitions/" + std::to_string(i)));
  } else {
    ev.transitions.push_back(parse_transition(e, ptr));
  }
  // Order rules: an unguarded transition (or else) ends the list.
  bool closed = false;
  std::string closer;
  for (std::size_t i = 0; i < ev.transitions.size(); ++i) {
    const auto& tr = ev.transitions[i];
    bool unguarded = !tr.guard.has_value();
    if (tr.is_else && tr.guard)
      error(tr.pointer, "else-with-guard", "an \"else\" transition cannot have a guard");
    if (tr.is_else && i + 1 != ev.transitions.size())
      error(tr.pointer, "else-not-last",
            "the \"else\" transition must be the last one for event \"" + name + "\"");
    if (closed) {
      if (unguarded && !tr.is_else)
        error(tr.pointer, "duplicate-unguarded",
              "a second unguarded transition for event \"" + name + "\" (the first is " + closer +
                  ")");
      else
        error(tr.pointer, "unreachable-transition",
              "this transition can never be taken: " + closer + " before it always matches");
    }
    if (unguarded && !closed) {
      closed = true;
      closer = tr.pointer;
    }
  }
  st.on.emplace(name, std::move(ev));
}

void Compiler::parse_timers(StateSpec& st, const json& timers, const std::string& ptr) {
  if (!timers.is_array()) return;
  std::set<std::string> ids;
  for (std::size_t i = 0; i < timers.size(); ++i) {
    const json& t = timers[i];
    std::string tp = ptr + "/" + std::to_string(i);
    if (!t.is_object()) continue;
    TimerSpec spec;
    spec.pointer = tp;
    spec.id = str_or(t, "id", "timer" + std::to_string(i));
    if (!ids.insert(spec.id).second)
      error(tp, "duplicate-id",
            "timer id \"" + spec.id + "\" is used twice in state \"" + st.name + "\"");
    if (auto a = member(t, "after")) {
      spec.after = *a;
      check_duration_value(*a, tp + "/after", false);
    }
    if (auto a = member(t, "at")) {
      spec.at = *a;
      if (a->is_object()) check_expr(*a, tp + "/at");
    }
    if (auto ev = member(t, "every"); ev && ev->is_string()) {
      std::string why;
      spec.every = parse_duration(ev->get<std::string>(), &why);
      if (!spec.every)
        error(tp + "/every", "bad-duration",
              "\"" + ev->get<std::string>() + "\" is not an ISO 8601 duration: " + why);
    }
    if (auto l = member(t, "limit"); l && l->is_number_unsigned())
      spec.limit = l->get<std::uint32_t>();
    if (auto c = member(t, "calendar"); c && c->is_string()) {
      spec.calendar = c->get<std::string>();
      check_calendar(spec.calendar, tp + "/calendar");
    } else if (auto w = member(t, "workingDays"); w && w->is_boolean() && w->get<bool>()) {
      spec.calendar = def.calendar;
      if (def.calendar.empty())
        error(tp + "/workingDays", "unknown-calendar",
              "workingDays needs a top-level \"calendar\"");
    }
    spec.event = str_or(t, "event");
    spec.transition = parse_transition(t, tp);
    st.timers.push_back(std::move(spec));
  }
}

void Compiler::parse_deadline(StateSpec& st, const json& d, const std::string& ptr) {
  if (!d.is_object()) return;
  DeadlineSpec dl;
  dl.pointer = ptr;
  if (auto a = member(d, "after")) {
    dl.after = *a;
    check_duration_value(*a, ptr + "/after", false);
  }
  if (auto a = member(d, "at")) {
    dl.at = *a;
    if (a->is_object()) check_expr(*a, ptr + "/at");
  }
  if (auto c = member(d, "calendar"); c && c->is_string()) {
    dl.calendar = c->get<std::string>();
    check_calendar(dl.calendar, ptr + "/calendar");
  } else if (auto w = member(d, "workingDays"); w && w->is_boolean() && w->get<bool>()) {
    dl.calendar = def.calendar;
    if (def.calendar.empty())
      error(ptr + "/workingDays", "unknown-calendar", "workingDays needs a top-level \"calendar\"");
  }
  auto add_item = [&](const json& item, const std::string& ip, const std::string& id,
                      const char* dflt_offset) {
    if (!item.is_object()) return;
    TimerSpec spec;
    spec.pointer = ip;
    spec.id = id;
    spec.anchor = TimerAnchor::deadline;
    spec.calendar = dl.calendar;
    if (auto o = member(item, "offset")) {
      spec.after = *o;
      check_duration_value(*o, ip + "/offset", true);
    } else {
      spec.after = json(dflt_offset);
    }
    spec.event = str_or(item, "event");
    spec.transition = parse_transition(item, ip);
    st.timers.push_back(std::move(spec));
  };
  if (auto r = member(d, "remind"); r && r->is_array())
    for (std::size_t i = 0; i < r->size(); ++i)
      add_item((*r)[i], ptr + "/remind/" + std::to_string(i),
               "deadline.remind." + std::to_string(i), "PT0S");
  if (auto o = member(d, "overdue")) add_item(*o, ptr + "/overdue", "deadline.overdue", "PT0S");
  if (auto e = member(d, "escalate"); e && e->is_array())
    for (std::size_t i = 0; i < e->size(); ++i)
      add_item((*e)[i], ptr + "/escalate/" + std::to_string(i),
               "deadline.escalate." + std::to_string(i), "PT0S");
  st.deadline = std::move(dl);
}

void Compiler::parse_state(const std::string& name, const json& s, const std::string& ptr,
                           int parent) {
  if (auto it = state_pointers.find(name); it != state_pointers.end()) {
    error(ptr, "duplicate-id",
          "state name \"" + name + "\" is already used at " + it->second +
              " (state names are unique across all levels)");
    return;
  }
  state_pointers.emplace(name, ptr);
  StateSpec st;
  st.name = name;
  st.index = static_cast<int>(def.states.size());
  st.parent = parent;
  st.pointer = ptr;
  std::string type = str_or(s, "type", "atomic");
  st.type = type == "final"      ? StateType::final_state
            : type == "compound" ? StateType::compound
                                 : StateType::atomic;
  if (auto t = member(s, "title")) st.title = *t;
  st.category = str_or(s, "category");
  st.outcome = str_or(s, "outcome");
  if (st.type == StateType::final_state && parent >= 0)
    error(ptr, "nested-final", "final states must be top-level (entering one ends the instance)");
  def.states.push_back(st);
  int index = st.index;
  // def.states only grows below, when children are parsed; until then the reference holds.
  StateSpec& self = def.states[index];
  if (auto on = member(s, "on"); on && on->is_object())
    for (auto it = on->begin(); it != on->end(); ++it)
      parse_event(self, it.key(), it.value(), child(ptr + "/on", it.key()));
  if (auto t = member(s, "timers")) parse_timers(self, *t, ptr + "/timers");
  if (auto d = member(s, "deadline")) parse_deadline(self, *d, ptr + "/deadline");
  if (auto a = member(s, "onEntry")) self.on_entry = parse_actions(*a, ptr + "/onEntry");
  if (auto a = member(s, "onExit")) self.on_exit = parse_actions(*a, ptr + "/onExit");
  if (st.type == StateType::compound) {
    if (auto children = member(s, "states"); children && children->is_object())
      parse_states(*children, ptr + "/states", index);
    std::string init = str_or(s, "initial");
    int init_index = -1;
    for (int c : def.states[index].children)
      if (def.states[c].name == init) init_index = c;
    if (init_index < 0 && !init.empty())
      error(ptr + "/initial", "unknown-initial",
            "initial state \"" + init + "\" is not a child of compound state \"" + name + "\"");
    def.states[index].initial_child = init_index;
  }
}

void Compiler::parse_states(const json& states, const std::string& ptr, int parent) {
  if (!states.is_object()) return;
  for (auto it = states.begin(); it != states.end(); ++it) {
    int before = static_cast<int>(def.states.size());
    parse_state(it.key(), it.value(), child(ptr, it.key()), parent);
    if (parent >= 0 && static_cast<int>(def.states.size()) > before)
      def.states[parent].children.push_back(before);
  }
}

void Compiler::resolve_targets() {
  // Targets were recorded by pointer; walk every transition and resolve by name.
  auto resolve = [&](TransitionSpec& tr) {
    auto it = pending_targets.find(tr.pointer + "/target");
    if (it == pending_targets.end()) return;
    int idx = def.find_state(it->second);
    if (idx < 0) {
      std::string known;
      for (const auto& s : def.states) known += (known.empty() ? "" : ", ") + s.name;
      error(it->first, "unknown-target",
            "no state named \"" + it->second + "\" (states: " + known + ")");
    }
    tr.target = idx;
  };
  for (auto& st : def.states) {
    for (auto& [name, ev] : st.on)
      for (auto& tr : ev.transitions) resolve(tr);
    for (auto& t : st.timers) resolve(t.transition);
  }
}

}  // namespace bihuan::definition_detail
