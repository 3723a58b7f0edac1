// The state machine on instance records: entering and leaving states, transitions,
// timers, actions, children. See docs/ARCHITECTURE.md ("A step") for the order of effects.
#include <algorithm>

#include "bihuan/schema_attachments.hpp"
#include "render/template.hpp"
#include "runtime/attachment_refs.hpp"
#include "runtime/outbox_state.hpp"
#include "runtime/record_check.hpp"
#include "runtime/step.hpp"
#include "runtime/step_access.hpp"

namespace bihuan::runtime {

using storage::be64;
using storage::Db;

namespace {

constexpr int kMaxSpawnDepth = 16;

// Whether the dataSchema root (split by member: Definition::data_schema_by_member) lets a
// member the data does not have yet be checked on its own: it is declared, or
// additionalProperties is a schema, absent or true.
bool admits_new_member(const Definition& def, const std::string& m) {
  if (def.data_member_schemas.count(m) || def.data_extra_schema) return true;
  const json* ds = def.source.is_object() && def.source.contains("dataSchema")
                       ? &def.source["dataSchema"]
                       : nullptr;
  if (!ds || !ds->is_object()) return false;
  auto extra = ds->find("additionalProperties");
  return extra == ds->end() || *extra == true;
}

// The files a step's start data or payload names ({pointer, address}), in the reference
// index with the step (runtime/attachment_refs.hpp).
void refer_to(Unit& u, std::uint64_t id,
              const std::vector<std::pair<std::string, std::string>>& named) {
  for (const auto& [path, address] : named)
    if (auto d = attref_digest(address)) {
      u.put(Db::attref, attref_by_address(*d, id), "");
      u.put(Db::attref, attref_by_instance(id, *d), "");
    }
}

std::int64_t ms(TimePoint t) { return t.time_since_epoch().count(); }

std::string text_of(const json& t) {
  if (t.is_string()) return t.get<std::string>();
  if (t.is_object())
    for (const char* lang : {"zh", "en"})
      if (t.contains(lang) && t[lang].is_string()) return t[lang].get<std::string>();
  return {};
}

}  // namespace

void check_text(const std::string& text, std::string_view what) {
  if (!valid_utf8(text))
    fail(StepError::invalid_request, std::string(what) + " is not valid UTF-8");
}

void check_key(const std::string& key, std::string_view what) {
  if (key.size() > kMaxKeyBytes)
    fail(StepError::invalid_request,
         std::string(what) + " is " + std::to_string(key.size()) + " bytes long; at most " +
             std::to_string(kMaxKeyBytes) + " are allowed",
         {{"bytes", key.size()}, {"limit", kMaxKeyBytes}});
  check_text(key, what);
}

void assign_pointer(json& data, const std::string& pointer, json value) {
  json* cur = &data;
  for (const auto& tok : split_pointer(pointer)) {
    if (cur->is_null() && tok == "-") *cur = json::array();  // "/list/-" creates the list
    if (cur->is_array()) {
      std::size_t idx = cur->size();
      if (tok != "-") {
        if (tok.empty() || tok.size() > 9 ||
            tok.find_first_not_of("0123456789") != std::string::npos)
          fail(StepError::data_invalid, "cannot index an array with \"" + tok + "\" in " + pointer);
        idx = std::stoul(tok);
        if (idx > cur->size())
          fail(StepError::data_invalid, "array index out of range in " + pointer);
      }
      if (idx == cur->size()) cur->push_back(nullptr);
      cur = &(*cur)[idx];
    } else {
      if (!cur->is_object()) *cur = json::object();
      cur = &(*cur)[tok];
    }
  }
  *cur = std::move(value);
}

namespace {

// An action's forEach (spawn, send): the array it yields, or one null item without it.
json action_items(const Expressions& ex, const json& spec, const json& ctx, const ActionSpec& a,
                  const char* kind) {
  if (!spec.contains("forEach")) return json::array({nullptr});
  json items = ex.eval(spec["forEach"], ctx, a.pointer + "/forEach");
  if (!items.is_array())
    fail(StepError::expression_error, std::string(kind) + ": forEach must yield an array",
         {{"pointer", a.pointer + "/forEach"}});
  return items;
}

std::string state_name(const Definition& def, int s) {
  return s >= 0 && s < static_cast<int>(def.states.size()) ? def.states[s].name : std::string();
}

}  // namespace

InstanceView to_view(const InstanceRecord& r, const Definition* def) {
  InstanceView v;
  v.id = id_to_text(r.id);
  v.definition = r.definition;
  v.definition_version = r.definition_version;
  v.business_key = r.business_key;
  v.state = def ? state_name(*def, r.state) : std::to_string(r.state);
  v.status = r.status;
  v.outcome = r.outcome;
  v.version = r.version;
  v.data = r.data;
  v.created_at = TimePoint(Millis(r.created_ms));
  v.updated_at = TimePoint(Millis(r.updated_ms));
  if (!r.deadlines.empty()) v.deadline = TimePoint(Millis(r.deadlines.back().second));
  if (r.parent) v.parent = id_to_text(r.parent);
  v.unit = r.unit;
  v.readers = r.readers;
  return v;
}

InstanceView to_view(InstanceRecord&& r, const Definition* def) {
  json data = std::move(r.data);
  std::vector<std::string> readers = std::move(r.readers);
  r.data = json();
  r.readers.clear();
  InstanceView v = to_view(std::as_const(r), def);
  v.data = std::move(data);
  v.readers = std::move(readers);
  return v;
}

void Unit::too_long_key(storage::Db db, std::size_t bytes) {
  fail(StepError::invalid_request, "the step would store a key of " + std::to_string(bytes) +
                                       " bytes in \"" + storage::db_name(db) + "\"; at most " +
                                       std::to_string(kMaxStoredKeyBytes) + " fit");
}

InstanceRecord& Step::fetch(std::uint64_t id) {
  if (auto it = u_.records.find(id); it != u_.records.end()) return it->second;
  std::string damage;
  auto r = stepper_.load(b_, id, &damage);
  if (!r && b_.failed())  // the read failed (Stepper::load noted it): not "no such instance"
    fail(StepError::storage_unavailable,
         "instance " + id_to_text(id) + " cannot be read: " + storage::error_text(b_.storage_rc) +
             "; nothing was applied, retry",
         {{"code", b_.storage_rc}});
  if (!r && !damage.empty())
    fail(StepError::record_damaged, "instance " + id_to_text(id) + ": " + damaged_text(damage));
  if (!r) fail(StepError::not_found, "no instance with id " + id_to_text(id));
  u_.original_state.emplace(id, Unit::Original{r->state, r->definition_version});
  return u_.records.emplace(id, std::move(*r)).first->second;
}

const Definition& Step::definition_of(const InstanceRecord& r) {
  const Definition* d = stepper_.definition(r.definition, r.definition_version);
  if (!d)
    fail(StepError::not_found, "definition " + r.definition + " v" +
                                   std::to_string(r.definition_version) + " is not deployed");
  return *d;
}

std::optional<std::uint64_t> Step::find_business_key(const std::string& key) {
  if (auto it = u_.business_keys.find(key); it != u_.business_keys.end()) return it->second;
  int rc = 0;
  auto v = b_.txn.get(Db::bkey, key, rc);
  // A lookup that cannot read is not "no such key": the step could start a duplicate.
  if (rc)
    fail(StepError::storage_unavailable,
         "the business key \"" + key + "\" cannot be looked up: " + storage::error_text(rc) +
             "; nothing was applied, retry",
         {{"code", rc}});
  if (!v || v->size() != 8) return std::nullopt;
  return storage::read_be64(*v);
}

json Step::lease_context(InstanceRecord& r, const Definition& def, json event,
                         const Actor& actor) const {
  // Members are placed in key order at the end of each object: no searches, and no
  // initializer lists (they copy every element twice).
  json ctx(json::value_t::object), who(json::value_t::object);
  auto& w = who.get_ref<json::object_t&>();
  w.emplace_hint(w.end(), "attrs", actor.attrs.is_object() ? actor.attrs : json::object());
  w.emplace_hint(w.end(), "id", actor.id);
  w.emplace_hint(w.end(), "roles", actor.roles);
  auto& c = ctx.get_ref<json::object_t&>();
  c.emplace_hint(c.end(), "actor", std::move(who));
  c.emplace_hint(c.end(), "data", std::move(r.data));
  c.emplace_hint(c.end(), "event", std::move(event));
  if (def.uses_instance) {
    json inst(json::value_t::object);
    auto& i = inst.get_ref<json::object_t&>();
    i.emplace_hint(i.end(), "businessKey", r.business_key);
    i.emplace_hint(i.end(), "definition", r.definition);
    i.emplace_hint(i.end(), "id", id_to_text(r.id));
    i.emplace_hint(i.end(), "parent", r.parent ? id_to_text(r.parent) : std::string());
    i.emplace_hint(i.end(), "startedAt",
                   format_time(TimePoint(Millis(r.created_ms)), *def.timezone));
    i.emplace_hint(i.end(), "state", state_name(def, r.state));
    i.emplace_hint(i.end(), "version", r.version);
    c.emplace_hint(c.end(), "instance", std::move(inst));
  }
  if (def.uses_now) c.emplace_hint(c.end(), "now", format_time(b_.now, *def.timezone));
  return ctx;
}

json& Step::data_of(json& ctx) {
  auto it = ctx.find("data");
  return it != ctx.end() ? *it : ctx["data"];
}

void Step::record_history(InstanceRecord& r, const std::string& kind, const std::string& event,
                          const Actor& actor, const std::string& from, const json& payload,
                          const json& changes, bool bounded) {
  const Definition& def = definition_of(r);
  std::string status = to_string(r.status);
  std::string body = encode_history_body({r.version, b_.now.time_since_epoch().count(), kind, event,
                                          actor.id, actor.roles, from, def.states[r.state].name,
                                          payload, changes, status, r.last_hash});
  if (bounded && body.size() > kMaxEntryBytes) {
    const bool has_payload = !payload.is_null() && !payload.empty();
    fail(has_payload ? StepError::payload_invalid : StepError::data_invalid,
         "the history entry of this step would be " + std::to_string(body.size()) + " bytes (its " +
             (has_payload ? "payload and the data it sets" : "data changes") + "); at most " +
             std::to_string(kMaxEntryBytes) + " are allowed",
         {{"limit", kMaxEntryBytes}, {"bytes", body.size()}});
  }
  r.last_hash = history_hash(r.last_hash, body);
  std::uint64_t key = u_.next.history++;
  u_.put(Db::hist, be64(key),
         history_value(r.id, r.last_entry, seal_history(std::move(body), r.last_hash)));
  r.last_entry = key;
}

void Step::arm(InstanceRecord& r, int state, int timer, TimePoint due, std::uint32_t fired) {
  TimerRef t{static_cast<std::uint64_t>(std::max<std::int64_t>(0, ms(due))), r.next_timer_seq++,
             state, timer, fired};
  r.timers.push_back(t);
  u_.put(Db::timers, timer_key(t, r.id), "");
}

void Step::disarm(InstanceRecord& r, int state) {
  auto it = std::remove_if(r.timers.begin(), r.timers.end(), [&](const TimerRef& t) {
    if (state >= 0 && t.state != state) return false;
    u_.del(Db::timers, timer_key(t, r.id));
    return true;
  });
  r.timers.erase(it, r.timers.end());
}

void Step::rearm(InstanceRecord& r, const TimerRef& fired_timer, TimePoint due) {
  const Definition& def = definition_of(r);
  const TimerSpec& spec = def.states[fired_timer.state].timers[fired_timer.timer];
  if (!spec.every) return;
  if (spec.limit && fired_timer.fired + 1 >= spec.limit) return;
  Expressions ex(def, env_.calendars);
  json ctx = lease_context(r, def, nullptr, Actor::system());
  auto next =
      ex.add(due, json(spec.every->to_string()), spec.calendar, ctx, spec.pointer + "/every");
  release(r, ctx);
  if (next && *next > due)
    arm(r, fired_timer.state, fired_timer.timer, *next, fired_timer.fired + 1);
}

void Step::enter(InstanceRecord& r, const Definition& def, int state, json& ctx, const Actor& actor,
                 int depth) {
  arm_state(r, def, state, ctx, nullptr);
  run_actions(r, def, def.states[state].on_entry, ctx, actor, depth);
}

void Step::arm_state(InstanceRecord& r, const Definition& def, int state, json& ctx,
                     Carried* carried) {
  const StateSpec& st = def.states[state];
  Expressions ex(def, env_.calendars);
  std::optional<TimePoint> due;
  if (st.deadline) {
    const auto& d = *st.deadline;
    const std::int64_t* kept = nullptr;
    if (carried)
      if (auto it = carried->deadlines.find(st.name); it != carried->deadlines.end())
        kept = &it->second;
    if (kept)
      due = TimePoint(Millis(*kept));
    else if (d.at)
      due = ex.at(*d.at, ctx, d.pointer + "/at");
    else if (d.after)
      due = ex.add(b_.now, *d.after, d.calendar, ctx, d.pointer + "/after");
    if (due) r.deadlines.emplace_back(state, ms(*due));
  }
  for (std::size_t i = 0; i < st.timers.size(); ++i) {
    const TimerSpec& t = st.timers[i];
    if (carried)
      if (auto it = carried->timers.find(std::pair{st.name, t.id}); it != carried->timers.end()) {
        arm(r, state, static_cast<int>(i),
            TimePoint(Millis(static_cast<std::int64_t>(it->second.due_ms))), it->second.fired);
        continue;
      }
    std::optional<TimePoint> when;
    if (t.anchor == TimerAnchor::deadline) {
      if (due && t.after) when = ex.add(*due, *t.after, t.calendar, ctx, t.pointer + "/offset");
    } else if (t.at) {
      when = ex.at(*t.at, ctx, t.pointer + "/at");
    } else if (t.after) {
      when = ex.add(b_.now, *t.after, t.calendar, ctx, t.pointer + "/after");
    } else if (t.every) {
      when = ex.add(b_.now, json(t.every->to_string()), t.calendar, ctx, t.pointer + "/every");
    }
    if (when) arm(r, state, static_cast<int>(i), *when, 0);
  }
}

void Step::exit(InstanceRecord& r, const Definition& def, int state, json& ctx,
                const Actor& actor) {
  run_actions(r, def, def.states[state].on_exit, ctx, actor, 0);
  disarm(r, state);
  std::erase_if(r.deadlines, [&](const auto& d) { return d.first == state; });
}

void Step::transition(InstanceRecord& r, const Definition& def, const TransitionSpec& tr, json& ctx,
                      const Actor& actor, json& changes, int depth) {
  if (!tr.set.empty()) {
    Expressions ex(def, env_.calendars);
    std::vector<json> values;
    values.reserve(tr.set.size());
    for (const auto& [ptr, rule] : tr.set)
      values.push_back(ex.build(rule, ctx, tr.pointer + "/set/" + pointer_escape(ptr)));
    for (std::size_t i = 0; i < values.size(); ++i) {
      const std::string& ptr = tr.set[i].first;
      // The data above the value is checked already: only the value, at its depth.
      auto levels = static_cast<std::size_t>(std::count(ptr.begin(), ptr.end(), '/'));
      auto defect = levels >= kMaxDataDepth ? std::optional<std::string>("is nested too deep")
                                            : json_defect(values[i], kMaxDataDepth - levels);
      if (defect)
        fail(StepError::data_invalid,
             "\"set\" of " + ptr + " (" + tr.pointer + "/set): the value " + *defect +
                 " (data may nest " + std::to_string(kMaxDataDepth) + " levels)",
             {{"limit", kMaxDataDepth}});
      json& change = changes.emplace_back(json::array());
      change.push_back(tr.set[i].first);
      change.push_back(values[i]);
      assign_pointer(data_of(ctx), tr.set[i].first, std::move(values[i]));
    }
  }
  if (tr.target < 0) {
    run_actions(r, def, tr.actions, ctx, actor, depth);
    return;
  }
  auto src = def.ancestry(r.state);
  auto dst = def.ancestry(tr.target);
  int domain = -1;  // deepest strict ancestor of the target that we are inside
  for (int a : src)
    if (a != tr.target && std::find(dst.begin(), dst.end(), a) != dst.end()) {
      domain = a;
      break;
    }
  for (int s : src) {
    if (s == domain) break;
    exit(r, def, s, ctx, actor);
  }
  run_actions(r, def, tr.actions, ctx, actor, depth);
  std::vector<int> path;
  for (int s : dst) {
    if (s == domain) break;
    path.push_back(s);
  }
  std::reverse(path.begin(), path.end());
  for (int c = def.states[tr.target].initial_child; c >= 0; c = def.states[c].initial_child)
    path.push_back(c);
  r.state = path.back();
  if (def.uses_instance) ctx["instance"]["state"] = def.states[r.state].name;
  for (int s : path) enter(r, def, s, ctx, actor, depth);
  if (def.states[r.state].type == StateType::final_state) finish(r, def, data_of(ctx));
}

void Step::finish(InstanceRecord& r, const Definition& def, const json& data) {
  r.status = InstanceStatus::completed;
  r.outcome = def.states[r.state].outcome;
  disarm(r, -1);
  r.deadlines.clear();
  if (r.parent && !r.parent_event.empty())
    u_.cascades.push_back({Cascade::deliver,
                           r.parent,
                           {},
                           r.parent_event,
                           {{"child", id_to_text(r.id)},
                            {"businessKey", r.business_key},
                            {"outcome", r.outcome},
                            {"status", "completed"},
                            {"data", data},
                            {"definition", r.definition}},
                           Actor::system(),
                           {}});
}

// The top-level member a data pointer starts in ("/a/b" -> "a"); nullopt for "".
static std::optional<std::string> first_member(const std::string& pointer) {
  auto tokens = split_pointer(pointer);
  if (tokens.empty()) return std::nullopt;
  return std::move(tokens.front());
}

void Step::check_data(const InstanceRecord& r, const Definition& def,
                      const std::set<std::string>* members) {
  if (!def.data_schema) return;
  Problems p;
  bool ok = true;
  if (members && std::any_of(members->begin(), members->end(),
                             [&](const std::string& m) { return !r.data.contains(m); }))
    members = nullptr;  // a member the step's actions removed again: the whole data
  if (members) {
    for (const auto& m : *members) {
      auto it = def.data_member_schemas.find(m);
      const JsonSchema* schema =
          it != def.data_member_schemas.end() ? it->second.get() : def.data_extra_schema.get();
      if (schema)
        ok = schema->validate(r.data.at(m), p, "/data/" + pointer_escape(m), "data-invalid") && ok;
    }
  } else {
    ok = def.data_schema->validate(r.data, p, "/data", "data-invalid");
  }
  if (!ok) {
    json list = json::array();
    for (const auto& item : p.items())
      list.push_back({{"pointer", item.pointer}, {"message", item.message}});
    fail(StepError::data_invalid,
         "instance data would not satisfy the definition's dataSchema: " +
             p.items().front().message + " at " + p.items().front().pointer,
         {{"problems", list}});
  }
}

void Step::run_actions(InstanceRecord& r, const Definition& def,
                       const std::vector<ActionSpec>& actions, json& ctx, const Actor& /*actor*/,
                       int depth) {
  if (actions.empty()) return;
  Expressions ex(def, env_.calendars);
  for (std::size_t ai = 0; ai < actions.size(); ++ai) {
    const ActionSpec& a = actions[ai];
    const json& s = a.spec;
    if (s.contains("when") && !ex.test(s["when"], ctx, a.pointer + "/when")) continue;
    std::string idem = id_to_text(r.id) + ":" + std::to_string(r.version) + ":" + a.pointer;
    auto outbox = [&](const char* kind, json body) {
      json msg = {{"kind", kind},         {"channel", a.name}, {"instance", id_to_text(r.id)},
                  {"step", r.version},    {"key", idem},       {"body", std::move(body)},
                  {"created", ms(b_.now)}};
      auto bytes = json::to_msgpack(msg);
      u_.put(Db::due, outbox_due_key(a.name, ms(b_.now), u_.next.outbox), "");  // due from now
      u_.put(Db::outbox, be64(u_.next.outbox++), std::string(bytes.begin(), bytes.end()));
    };
    switch (a.kind) {
      case ActionKind::notify: {
        json to = s.contains("to") ? ex.build(s["to"], ctx, a.pointer + "/to") : json(nullptr);
        if (!to.is_array()) to = json::array({to});
        to.erase(std::remove_if(to.begin(), to.end(),
                                [](const json& x) { return x.is_null() || x == ""; }),
                 to.end());
        std::string tpl;
        if (s.contains("template") && s["template"].is_string())
          tpl = s["template"].get<std::string>();
        else if (s.contains("templates"))
          tpl = text_of(s["templates"]);
        json body = {{"to", to},
                     {"text", render::render_template(tpl, ctx)},
                     {"definition", r.definition},
                     {"state", state_name(def, r.state)},
                     {"businessKey", r.business_key}};
        if (s.contains("subject") && s["subject"].is_string())
          body["subject"] = render::render_template(s["subject"].get<std::string>(), ctx);
        outbox("notify", std::move(body));
        break;
      }
      case ActionKind::task: {
        json input =
            s.contains("input") ? ex.build(s["input"], ctx, a.pointer + "/input") : json(nullptr);
        json body = {{"input", input},
                     {"onResult", s.value("onResult", "")},
                     {"onError", s.value("onError", "")},
                     {"definition", r.definition},
                     {"state", state_name(def, r.state)}};
        if (s.contains("query") && s["query"].is_string())
          body["query"] = s["query"];  // data-source channel
        outbox("task", std::move(body));
        break;
      }
      case ActionKind::spawn: {
        auto child_def = env_.definitions.find(
            a.name, s.contains("version") && s["version"].is_number_integer()
                        ? std::optional<std::int64_t>(s["version"].get<std::int64_t>())
                        : std::nullopt);
        if (!child_def)
          fail(StepError::invalid_request, "spawn: definition \"" + a.name + "\" is not deployed",
               {{"pointer", a.pointer}});
        u_.pinned.push_back(child_def);
        if (depth >= kMaxSpawnDepth)
          fail(StepError::invalid_request,
               "spawn nested deeper than " + std::to_string(kMaxSpawnDepth));
        json items = action_items(ex, s, ctx, a, "spawn");
        std::string on_done = s.value("onDone", "");
        // One copy of the context for the whole loop (a copy per child made a spawn over
        // the rows of a query quadratic in the number of rows).
        json item_ctx = ctx;
        for (std::size_t i = 0; i < items.size(); ++i) {
          if (++u_.spawned > env_.max_cascade)
            fail(StepError::invalid_request,
                 "a step may spawn at most " + std::to_string(env_.max_cascade) + " children");
          item_ctx["item"] = items[i];
          item_ctx["index"] = i;
          json data = s.contains("data") ? ex.build(s["data"], item_ctx, a.pointer + "/data")
                                         : json::object();
          std::string key;
          if (s.contains("businessKey")) {
            json k = ex.eval(s["businessKey"], item_ctx, a.pointer + "/businessKey");
            if (k.is_string())
              key = k.get<std::string>();
            else if (!k.is_null())
              key = k.dump();
          }
          if (!key.empty()) {
            if (auto existing = find_business_key(key)) {
              auto& other = fetch(*existing);
              if (other.status == InstanceStatus::running) continue;  // idempotent: already there
            }
          }
          std::uint64_t child =
              create(*child_def, std::move(data), key, r.id, on_done, Actor::system(), depth + 1);
          u_.put(Db::children, be64(r.id) + be64(child), "");
        }
        break;
      }
      case ActionKind::send: {
        // forEach: one message per item (item and index in scope, as in spawn); without it,
        // one message. Messages run after this step, in order (Stepper::run_cascades).
        const bool each = s.contains("forEach");
        json items = action_items(ex, s, ctx, a, "send");
        if (items.size() > env_.max_cascade)
          fail(StepError::invalid_request,
               "send: forEach yields " + std::to_string(items.size()) +
                   " items; a step may send at most " + std::to_string(env_.max_cascade),
               {{"pointer", a.pointer + "/forEach"}});
        json item_ctx;
        if (each) item_ctx = ctx;
        const json& scope = each ? item_ctx : ctx;
        for (std::size_t i = 0; i < items.size(); ++i) {
          if (each) {
            item_ctx["item"] = items[i];
            item_ctx["index"] = i;
          }
          Cascade c{Cascade::deliver,
                    0,
                    {},
                    a.name,
                    json::object(),
                    Actor{"instance:" + id_to_text(r.id), {"system"}},
                    {}};
          if (s.contains("payload"))
            c.payload = ex.build(s["payload"], scope, a.pointer + "/payload");
          if (s.contains("to")) {
            json to = ex.eval(s["to"], scope, a.pointer + "/to");
            auto id = to.is_string() ? id_from_text(to.get<std::string>()) : std::nullopt;
            if (!id)
              fail(StepError::expression_error, "send: \"to\" must yield an instance id",
                   {{"pointer", a.pointer + "/to"}});
            c.target = *id;
          } else if (s.contains("toBusinessKey")) {
            json to = ex.eval(s["toBusinessKey"], scope, a.pointer + "/toBusinessKey");
            if (each && (to.is_null() || to == ""))
              continue;  // an item with no key: nothing to send to
            if (!to.is_string())
              fail(StepError::expression_error, "send: \"toBusinessKey\" must yield a string",
                   {{"pointer", a.pointer + "/toBusinessKey"}});
            c.target_business_key = to.get<std::string>();
          }
          u_.cascades.push_back(std::move(c));
        }
        break;
      }
    }
  }
}

std::uint64_t Step::create(const Definition& def, json data, const std::string& business_key,
                           std::uint64_t parent, const std::string& parent_event,
                           const Actor& actor, int depth) {
  if (!data.is_object()) fail(StepError::invalid_request, "instance data must be a JSON object");
  if (business_key.size() > kMaxKeyBytes || !valid_utf8(business_key))  // the message only then
    check_key(business_key, "the business key of a new " + def.id + " instance");
  if (auto defect = json_defect(data, kMaxDataDepth))
    fail(StepError::data_invalid, "the data of a new " + def.id + " instance " + *defect,
         {{"limit", kMaxDataDepth}});
  InstanceRecord rec;
  rec.id = b_.ids.next(b_.now);
  rec.definition = def.id;
  rec.definition_version = def.version;
  rec.business_key = business_key;
  rec.version = 1;
  rec.data = std::move(data);
  rec.created_ms = rec.updated_ms = ms(b_.now);
  rec.parent = parent;
  rec.parent_event = parent_event;
  u_.original_state.emplace(rec.id, Unit::Original{});
  InstanceRecord& r = u_.records.emplace(rec.id, std::move(rec)).first->second;
  std::vector<std::pair<std::string, std::string>> named;  // attachments: {path, address}
  {
    AttachmentCollector collect(named);
    check_data(r, def);
  }
  // Files the start data names must be stored, as for a payload (docs/attachments.md).
  if (env_.attachment_stored && *env_.attachment_stored)
    for (const auto& [path, address] : named)
      if (!(*env_.attachment_stored)(address)) {
        std::string pointer = "/data" + path;
        fail(
            StepError::data_invalid,
            "the data of a new " + def.id +
                " instance names a file that is not stored: " + address + " at " + pointer,
            {{"problems",
              json::array({{{"pointer", pointer},
                            {"message", "not stored: upload it first (POST /v1/attachments)"}}})}});
      }
  refer_to(u_, r.id, named);
  json initial_data = r.data;
  std::vector<int> path{def.initial};
  for (int c = def.states[def.initial].initial_child; c >= 0; c = def.states[c].initial_child)
    path.push_back(c);
  r.state = path.back();
  json ctx = lease_context(r, def, nullptr, actor);
  for (int s : path) enter(r, def, s, ctx, actor, depth);
  if (def.states[r.state].type == StateType::final_state) finish(r, def, data_of(ctx));
  release(r, ctx);
  if (!business_key.empty()) {
    u_.business_keys[business_key] = r.id;
    u_.put(Db::bkey, business_key, be64(r.id));
  }
  record_history(r, "start", "", actor, "", nullptr,
                 json::array({json::array({"", std::move(initial_data)})}));
  return r.id;
}

void Step::handle_event(InstanceRecord& r, const std::string& name, const json& payload,
                        const Actor& actor, std::optional<std::uint64_t> expected_version,
                        const std::string& kind) {
  const Definition& def = definition_of(r);
  if (r.status != InstanceStatus::running)
    fail(StepError::instance_ended,
         "instance " + id_to_text(r.id) + " has " + to_string(r.status) +
             (r.outcome.empty() ? "" : " with outcome \"" + r.outcome + "\""));
  if (expected_version && *expected_version != r.version)
    fail(StepError::version_conflict,
         "instance is at version " + std::to_string(r.version) + ", not " +
             std::to_string(*expected_version),
         {{"current", r.version}});
  const EventSpec* ev = def.find_event(r.state, name);
  if (!ev) {
    json allowed = json::array();
    for (const auto* e : def.events_in(r.state)) allowed.push_back(e->name);
    fail(StepError::unknown_event,
         "state \"" + def.states[r.state].name + "\" does not accept event \"" + name + "\"",
         {{"state", def.states[r.state].name}, {"allowed", allowed}});
  }
  if (!ev->roles.empty() &&
      std::none_of(ev->roles.begin(), ev->roles.end(),
                   [&](const std::string& role) { return actor.has_role(role); }))
    fail(StepError::role_not_allowed,
         "event \"" + name + "\" needs one of the roles " + json(ev->roles).dump(),
         {{"required", ev->roles}});
  json event(json::value_t::object);
  auto& e = event.get_ref<json::object_t&>();
  e.emplace_hint(e.end(), "name", name);  // in key order, as in lease_context
  e.emplace_hint(e.end(), "payload", payload);
  json ctx = lease_context(r, def, std::move(event), actor);
  Expressions ex(def, env_.calendars);
  if (ev->actors) {
    json allowed = ex.eval(*ev->actors, ctx, ev->pointer + "/actors");
    bool ok = actors_admit(allowed, actor);
    if (!ok)
      fail(StepError::actor_not_allowed,
           "actor \"" + actor.id + "\" may not send \"" + name + "\" to this instance");
  }
  if (ev->payload_schema) {
    Problems p;
    std::vector<std::pair<std::string, std::string>> named;  // attachments: {path, address}
    bool valid;
    {
      AttachmentCollector collect(named);
      valid = ev->payload_schema->validate(payload, p, "/payload", "payload-invalid");
    }
    if (!valid) {
      json list = json::array();
      for (const auto& item : p.items())
        list.push_back({{"pointer", item.pointer}, {"message", item.message}});
      fail(StepError::payload_invalid,
           "payload of \"" + name + "\" is invalid: " + p.items().front().message + " at " +
               p.items().front().pointer,
           {{"problems", list}});
    }
    // Files the payload names must be stored (docs/attachments.md); the history entry's
    // hash covers the payload, and so these addresses.
    if (env_.attachment_stored && *env_.attachment_stored)
      for (const auto& [path, address] : named)
        if (!(*env_.attachment_stored)(address)) {
          std::string pointer = "/payload" + path;
          fail(StepError::payload_invalid,
               "payload of \"" + name + "\" names a file that is not stored: " + address + " at " +
                   pointer,
               {{"problems",
                 json::array(
                     {{{"pointer", pointer},
                       {"message", "not stored: upload it first (POST /v1/attachments)"}}})}});
        }
    refer_to(u_, r.id, named);
  }
  const TransitionSpec* chosen = nullptr;
  for (const auto& tr : ev->transitions) {
    if (tr.is_else || !tr.guard || ex.test(*tr.guard, ctx, tr.pointer + "/guard")) {
      chosen = &tr;
      break;
    }
  }
  if (!chosen) {
    std::string msg = text_of(ev->reject_message);
    fail(StepError::guard_false,
         msg.empty() ? "no transition of event \"" + name + "\" applies now (every guard is false)"
                     : msg);
  }
  take(r, def, *chosen, ctx, actor, kind, name, payload);
}

void Step::take(InstanceRecord& r, const Definition& def, const TransitionSpec& tr, json& ctx,
                const Actor& actor, const std::string& kind, const std::string& event,
                const json& payload) {
  std::string from = def.states[r.state].name;
  r.version++;
  r.updated_ms = ms(b_.now);
  if (def.uses_instance) ctx["instance"]["version"] = r.version;
  // Data changes only through "set" (each recorded in `changes`); unchanged data was
  // valid when it was last written, against the same definition version. When the root
  // allows it (Definition::data_schema_by_member), only the members "set" touches are
  // checked again: an existing one, or a new one the root admits (declared, or under
  // additionalProperties); adding a member cannot break the root's `required`. A new
  // member the root does not declare while refusing others is checked whole (refused).
  std::set<std::string> members;
  bool by_member = def.data_schema_by_member && data_of(ctx).is_object();
  for (const auto& [ptr, rule] : tr.set) {
    if (!by_member) break;
    auto m = first_member(ptr);
    by_member = m && (data_of(ctx).contains(*m) || admits_new_member(def, *m));
    if (by_member) members.insert(std::move(*m));
  }
  json changes = json::array();
  transition(r, def, tr, ctx, actor, changes, 0);
  release(r, ctx);
  if (!changes.empty()) {
    auto& touched = u_.data_touched[r.id];
    for (const auto& c : changes)
      touched.push_back(first_member(c[0].get_ref<const std::string&>()).value_or(""));
  }
  if (!changes.empty()) check_data(r, def, by_member ? &members : nullptr);
  record_history(r, kind, event, actor, std::move(from), payload, std::move(changes), true);
}

void Step::timer_transition(InstanceRecord& r, const TimerSpec& spec) {
  const Definition& def = definition_of(r);
  Actor sys = Actor::system();
  json ctx = lease_context(r, def, {{"name", "timer:" + spec.id}, {"payload", nullptr}}, sys);
  Expressions ex(def, env_.calendars);
  if (spec.transition.guard && !ex.test(*spec.transition.guard, ctx, spec.pointer + "/guard")) {
    fail(StepError::guard_false, "timer \"" + spec.id + "\" guard is false");
  }
  take(r, def, spec.transition, ctx, sys, "timer", "timer:" + spec.id, nullptr);
}

void Step::cancel(InstanceRecord& r, const std::string& reason, const Actor& actor,
                  bool from_parent) {
  const Definition& def = definition_of(r);
  if (r.status != InstanceStatus::running)
    fail(StepError::instance_ended,
         "instance " + id_to_text(r.id) + " has already " + to_string(r.status));
  r.version++;
  r.updated_ms = ms(b_.now);
  r.status = InstanceStatus::cancelled;
  disarm(r, -1);
  r.deadlines.clear();
  record_history(r, "cancel", "cancel", actor, def.states[r.state].name, {{"reason", reason}},
                 json::array());
  // Children end with their parent.
  {
    auto cur = b_.txn.cursor(Db::children);
    std::string prefix = be64(r.id);
    for (bool ok = cur->seek(prefix); ok && cur->key().substr(0, 8) == prefix; ok = cur->next())
      u_.cascades.push_back({Cascade::cancel,
                             storage::read_be64(cur->key(), 8),
                             {},
                             {},
                             nullptr,
                             Actor{"instance:" + id_to_text(r.id), {"system"}},
                             "parent cancelled: " + reason});
    if (int rc = cur->status())  // the children must not outlive a cancel unseen
      fail(StepError::storage_unavailable,
           "the children of instance " + id_to_text(r.id) +
               " cannot be read: " + storage::error_text(rc) + "; nothing was applied, retry",
           {{"code", rc}});
  }
  if (!from_parent && r.parent && !r.parent_event.empty())
    u_.cascades.push_back({Cascade::deliver,
                           r.parent,
                           {},
                           r.parent_event,
                           {{"child", id_to_text(r.id)},
                            {"businessKey", r.business_key},
                            {"outcome", nullptr},
                            {"status", "cancelled"},
                            {"data", r.data},
                            {"definition", r.definition}},
                           Actor::system(),
                           {}});
}

}  // namespace bihuan::runtime
