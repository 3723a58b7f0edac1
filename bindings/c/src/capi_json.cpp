// Requests from JSON and results to JSON for the C API (capi_json.hpp).
#include "capi_json.hpp"

#include <limits>

#include "bihuan/stats_fields.hpp"

namespace bihuan::capi {

json error_body(int status, const std::string& type, const std::string& message, json problems,
                json details) {
  json body = {{"status", status},
               {"code", bihuan_status_name(status)},
               {"type", type},
               {"message", message},
               {"problems", std::move(problems)}};
  if (!details.is_null()) body["details"] = std::move(details);
  return body;
}

void fail(int status, const std::string& type, const std::string& message, json problems,
          json details) {
  throw CapiError{status,
                  error_body(status, type, message, std::move(problems), std::move(details))};
}

json problem_item(const std::string& pointer, const std::string& code, const std::string& message) {
  return {{"pointer", pointer}, {"code", code}, {"message", message}};
}

json parse_text(const char* text, const char* what, bool object) {
  if (!text) fail(BIHUAN_EINVAL, "invalid-request", std::string(what) + " is NULL");
  Problems problems(what);
  auto doc = load_json(text, problems);
  if (!doc)
    fail(BIHUAN_EINVAL, "invalid-json", std::string(what) + " is not valid JSON",
         problems_json(problems));
  if (object && !doc->is_object())
    fail(BIHUAN_EINVAL, "invalid-request", std::string(what) + " must be a JSON object",
         json::array({problem_item("", "type", "expected an object")}));
  return std::move(*doc);
}

Members::Members(const json& body, const char* what, std::initializer_list<const char*> known)
    : body_(body), what_(what) {
  for (auto it = body.begin(); it != body.end(); ++it) {
    bool ok = false;
    for (const char* k : known) ok = ok || it.key() == k;
    if (!ok)
      fail(BIHUAN_EINVAL, "invalid-request", what_ + " has an unknown member \"" + it.key() + "\"",
           json::array({problem_item("/" + pointer_escape(it.key()), "unknown-member",
                                     "not a member of " + what_)}));
  }
}

const json* Members::find(const char* key, json::value_t type, const char* expected) const {
  auto it = body_.find(key);
  if (it == body_.end() || it->is_null()) return nullptr;
  bool ok =
      it->type() == type || (type == json::value_t::number_integer && it->is_number_unsigned());
  if (!ok)
    fail(BIHUAN_EINVAL, "invalid-request", what_ + ": \"" + key + "\" must be " + expected,
         json::array(
             {problem_item("/" + pointer_escape(key), "type",
                           std::string("expected ") + expected + ", got " + it->type_name())}));
  return &*it;
}

std::optional<std::string> Members::text(const char* key, bool required) const {
  const json* v = find(key, json::value_t::string, "a string");
  if (!v && required)
    fail(BIHUAN_EINVAL, "invalid-request", what_ + " needs \"" + key + "\"",
         json::array({problem_item("/" + pointer_escape(key), "required", "missing")}));
  if (!v) return std::nullopt;
  return v->get<std::string>();
}

std::optional<std::int64_t> Members::integer(const char* key, std::int64_t min,
                                             std::int64_t max) const {
  const json* v = find(key, json::value_t::number_integer, "an integer");
  if (!v) return std::nullopt;
  bool in_range = v->is_number_unsigned()
                      ? v->get<std::uint64_t>() <= static_cast<std::uint64_t>(max)
                      : v->get<std::int64_t>() >= min && v->get<std::int64_t>() <= max;
  if (!in_range || v->get<std::int64_t>() < min)
    fail(BIHUAN_EINVAL, "invalid-request", what_ + ": \"" + key + "\" is out of range",
         json::array({problem_item("/" + pointer_escape(key), "range",
                                   "expected " + std::to_string(min) + ".." + std::to_string(max) +
                                       ", got " + v->dump())}));
  return v->get<std::int64_t>();
}

std::optional<bool> Members::flag(const char* key) const {
  const json* v = find(key, json::value_t::boolean, "true or false");
  if (!v) return std::nullopt;
  return v->get<bool>();
}

const json* Members::object(const char* key) const {
  return find(key, json::value_t::object, "an object");
}

const json* Members::array(const char* key) const {
  return find(key, json::value_t::array, "an array");
}

std::optional<Actor> Members::actor(const char* key) const {
  const json* v = object(key);
  if (!v) return std::nullopt;
  std::string at = "/" + pointer_escape(key);
  auto bad = [&](const std::string& member, const char* expected) {
    fail(BIHUAN_EINVAL, "invalid-request", what_ + ": \"" + key + "\" is not an actor",
         json::array({problem_item(at + member, "type", expected)}));
  };
  Actor actor;
  for (auto it = v->begin(); it != v->end(); ++it) {
    if (it.key() == "id" && it->is_string())
      actor.id = it->get<std::string>();
    else if (it.key() == "roles" && it->is_array()) {
      for (std::size_t i = 0; i < it->size(); ++i) {
        if (!(*it)[i].is_string()) bad("/roles/" + std::to_string(i), "expected a string");
        actor.roles.push_back((*it)[i].get<std::string>());
      }
    } else if (it.key() == "attrs" && it->is_object())
      actor.attrs = *it;
    else
      bad("/" + pointer_escape(it.key()),
          "expected \"id\" (a string), \"roles\" (strings) or \"attrs\" (an object)");
  }
  if (actor.id.empty()) bad("/id", "expected a non-empty actor id");
  return actor;
}

std::optional<TimePoint> Members::time(const char* key, const TimeZone* tz) const {
  auto s = text(key);
  if (!s) return std::nullopt;
  auto t = parse_time(*s, tz);
  if (!t)
    fail(
        BIHUAN_EINVAL, "invalid-request", what_ + ": \"" + key + "\" must be an ISO 8601 time",
        json::array({problem_item("/" + pointer_escape(key), "time",
                                  "expected e.g. 2023-04-01T00:00:00+08:00, got \"" + *s + "\"")}));
  return t;
}

std::optional<InstanceStatus> Members::status(const char* key) const {
  auto s = text(key);
  if (!s) return std::nullopt;
  for (auto st : {InstanceStatus::running, InstanceStatus::completed, InstanceStatus::cancelled})
    if (to_string(st) == *s) return st;
  fail(BIHUAN_EINVAL, "invalid-request",
       what_ + ": \"" + key + "\" must be running, completed or cancelled",
       json::array({problem_item("/" + pointer_escape(key), "enum",
                                 "expected running|completed|cancelled, got \"" + *s + "\"")}));
}

std::vector<std::pair<std::string, json>> Members::filters(const char* key) const {
  std::vector<std::pair<std::string, json>> out;
  if (const json* f = object(key))
    for (auto it = f->begin(); it != f->end(); ++it) out.emplace_back(it.key(), *it);
  return out;
}

namespace {
constexpr std::int64_t kMaxInt = std::numeric_limits<std::int64_t>::max();
}  // namespace

StartRequest start_request(const json& body) {
  Members m(body, "the start request",
            {"definition", "version", "businessKey", "data", "returnExisting", "idempotencyKey",
             "actor"});
  StartRequest req;
  req.definition = *m.text("definition", true);
  req.version = m.integer("version", 1, kMaxInt);
  req.business_key = m.text("businessKey").value_or("");
  if (const json* d = m.object("data")) req.data = *d;
  req.return_existing = m.flag("returnExisting").value_or(false);
  req.idempotency_key = m.text("idempotencyKey").value_or("");
  if (auto a = m.actor("actor")) req.actor = *a;
  return req;
}

EventRequest event_request(const json& body) {
  Members m(body, "the event request",
            {"instance", "businessKey", "event", "payload", "actor", "idempotencyKey",
             "expectedVersion"});
  EventRequest req;
  req.instance_id = m.text("instance").value_or("");
  req.business_key = m.text("businessKey").value_or("");
  if (req.instance_id.empty() == req.business_key.empty())
    fail(BIHUAN_EINVAL, "invalid-request",
         "the event request needs exactly one of \"instance\" and \"businessKey\"",
         json::array({problem_item("/instance", "required", "give instance or businessKey")}));
  req.event = *m.text("event", true);
  if (const json* p = m.object("payload")) req.payload = *p;
  req.actor = m.actor("actor").value_or(Actor::system());
  req.idempotency_key = m.text("idempotencyKey").value_or("");
  if (auto v = m.integer("expectedVersion", 0, kMaxInt))
    req.expected_version = static_cast<std::uint64_t>(*v);
  return req;
}

InstanceQuery instance_query(const json& body) {
  Members m(body, "the query",
            {"definition", "state", "businessKeyPrefix", "unit", "status", "filters", "cursor",
             "limit", "viewer"});
  InstanceQuery q;
  q.definition = m.text("definition").value_or("");
  q.state = m.text("state").value_or("");
  if (!q.state.empty() && q.definition.empty())
    fail(BIHUAN_EINVAL, "invalid-request", "the query's \"state\" needs \"definition\"",
         json::array({problem_item("/state", "needs-definition", "give definition with state")}));
  q.business_key_prefix = m.text("businessKeyPrefix").value_or("");
  q.unit = m.text("unit").value_or("");
  q.status = m.status("status");
  q.data_equals = m.filters("filters");
  q.cursor = m.text("cursor").value_or("");
  q.limit = static_cast<std::size_t>(m.integer("limit", 1, 1000).value_or(50));
  q.viewer = m.actor("viewer");
  return q;
}

HistoryQuery history_query(const json& body) {
  Members m(body, "the history query", {"instance", "cursor", "limit"});
  HistoryQuery q;
  q.instance_id = *m.text("instance", true);
  q.cursor = m.text("cursor").value_or("");
  q.limit = static_cast<std::size_t>(m.integer("limit", 0, 100000).value_or(0));
  return q;
}

InboxQuery inbox_query(const json& body) {
  Members m(body, "the inbox query", {"actor", "cursor", "limit"});
  auto actor = m.actor("actor");
  if (!actor)
    fail(BIHUAN_EINVAL, "invalid-request", "the inbox query needs \"actor\"",
         json::array({problem_item("/actor", "required", "missing")}));
  InboxQuery q{*actor, static_cast<std::size_t>(m.integer("limit", 1, 1000).value_or(100)),
               m.text("cursor").value_or("")};
  return q;
}

StatsQuery stats_query(const json& body, std::shared_ptr<const TimeZone> tz) {
  Members m(
      body, "the stats query",
      {"definition", "groupBy", "from", "to", "status", "unit", "archived", "filters", "viewer"});
  StatsQuery q;
  q.definition = m.text("definition").value_or("");
  if (const json* g = m.array("groupBy"))
    for (std::size_t i = 0; i < g->size(); ++i) {
      const json& f = (*g)[i];
      if (!f.is_string() || !stats_field_known(f.get<std::string>()))
        fail(BIHUAN_EINVAL, "invalid-request", "the stats query groups by an unknown field",
             json::array({problem_item(
                 "/groupBy/" + std::to_string(i), "enum",
                 "expected definition, version, state, status, outcome, category, overdue, "
                 "escalated, unit, unit:N (1..16), created:day|week|month or /data/pointer")}));
      q.group_by.push_back(f.get<std::string>());
    }
  q.created_from = m.time("from", tz.get());
  q.created_to = m.time("to", tz.get());
  q.status = m.status("status");
  q.unit = m.text("unit").value_or("");
  q.archived = m.flag("archived").value_or(true);
  q.data_equals = m.filters("filters");
  q.viewer = m.actor("viewer");
  q.tz = std::move(tz);
  return q;
}

std::pair<int, json> step_outcome(const StepResult& r) {
  if (r.ok() && r.instance) return {BIHUAN_OK, nullptr};
  int status = BIHUAN_EREFUSED;
  switch (r.error) {
    case StepError::not_found:
      status = BIHUAN_ENOTFOUND;
      break;
    case StepError::invalid_request:
      status = BIHUAN_EINVAL;
      break;
    case StepError::storage_error:
    case StepError::storage_unavailable:
      status = BIHUAN_EIO;
      break;
    case StepError::internal_error:
    case StepError::none:
      status = BIHUAN_EINTERNAL;
      break;
    case StepError::shutting_down:
      status = BIHUAN_ECLOSED;
      break;
    default:
      break;
  }
  json problems = json::array();
  if (r.details.is_object() && r.details.contains("problems") && r.details["problems"].is_array())
    problems = r.details["problems"];
  return {status, error_body(status, to_string(r.error), r.message, problems, r.details)};
}

json step_json(const StepResult& r, const TimeZone& tz) {
  auto [status, error] = step_outcome(r);
  if (status != BIHUAN_OK) throw CapiError{status, std::move(error)};
  json out = r.instance->to_json(tz);
  out["replayed"] = r.replayed;
  out["created"] = r.created;
  if (r.replayed && r.details.is_object() && r.details.contains("currentVersion"))
    out["currentVersion"] = r.details["currentVersion"];
  return out;
}

namespace {
// A page's read failure: its cursor refused (BIHUAN_EINVAL naming /cursor) or the store.
void page_error(const std::string& error, bool unavailable) {
  if (error.empty()) return;
  if (unavailable) fail(BIHUAN_EIO, "storage-unavailable", error);
  fail(BIHUAN_EINVAL, "invalid-request", error,
       json::array(
           {problem_item("/cursor", "unknown", "expected the nextCursor of the previous page")}));
}
void next_cursor(json& out, const std::string& cursor) {
  if (!cursor.empty()) out["nextCursor"] = cursor;
}
}  // namespace

json page_json(const InstancePage& page, const TimeZone& tz) {
  page_error(page.error, page.unavailable);
  json items = json::array();
  for (const auto& v : page.items) items.push_back(v.to_json(tz));
  json out = {{"items", std::move(items)}};
  next_cursor(out, page.next_cursor);
  return out;
}

json history_json(const HistoryQuery& q, const HistoryPage& page, const TimeZone& tz) {
  page_error(page.error, page.unavailable);
  json items = json::array();
  for (const auto& e : page.items) items.push_back(e.to_json(tz));
  json out = {{"instance", q.instance_id}, {"items", std::move(items)}};
  next_cursor(out, page.next_cursor);
  return out;
}

json inbox_json(const Actor& actor, const InboxPage& page, const TimeZone& tz) {
  page_error(page.error, page.unavailable);
  json items = json::array();
  for (const auto& item : page.items) {
    json j = {{"instance", item.instance.to_json(tz)}, {"events", item.events}};
    if (item.deadline) j["deadline"] = format_time(*item.deadline, tz);
    items.push_back(std::move(j));
  }
  json out = {{"actor", actor.id}, {"items", std::move(items)}};
  next_cursor(out, page.next_cursor);
  return out;
}

json stats_json(const StatsQuery& q, const StatsResult& r, const TimeZone& tz) {
  if (r.unavailable || !r.error.empty()) fail(BIHUAN_EIO, "storage-unavailable", r.error);
  json groups = json::array();
  for (const auto& g : r.groups) {
    json key = json::object();
    for (std::size_t i = 0; i < q.group_by.size() && i < g.key.size(); ++i)
      key[q.group_by[i]] = g.key[i];
    groups.push_back({{"key", std::move(key)}, {"count", g.count}});
  }
  return {{"total", r.total},         {"archived", r.archived},
          {"groupBy", q.group_by},    {"groups", std::move(groups)},
          {"truncated", r.truncated}, {"asOf", format_time(r.as_of, tz)}};
}

}  // namespace bihuan::capi
