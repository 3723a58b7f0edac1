// /v1/instances (start, query, get, events, cancel, migrate, history), /v1/inbox, /v1/stats.
#include <set>

#include "bihuan/stats_fields.hpp"
#include "context.hpp"

namespace bihuan::api {

namespace {

using boost::asio::awaitable;

std::string etag(std::uint64_t version) { return "\"" + std::to_string(version) + "\""; }

Reply instance_reply(const Context& ctx, unsigned status, const InstanceView& v,
                     json extra = json::object()) {
  json body = ctx.instance_json(v);
  for (auto it = extra.begin(); it != extra.end(); ++it) body[it.key()] = it.value();
  Reply r = Reply::json_body(status, body);
  r.headers.emplace_back("ETag", etag(v.version));
  return r;
}

// `replayed`, and for a replay of a step the instance has moved on from (its data then
// null), `currentVersion`.
json replay_members(const StepResult& res) {
  json extra = {{"replayed", res.replayed}};
  if (res.replayed && res.details.is_object() && res.details.contains("currentVersion"))
    extra["currentVersion"] = res.details["currentVersion"];
  return extra;
}

// If-Match: the instance's ETag (its version) as the step's expected version.
std::optional<Reply> if_match_version(const Call& call, std::optional<std::uint64_t>& out) {
  std::string if_match = call.header(http::field::if_match);
  if (if_match.empty() || if_match == "*") return std::nullopt;
  std::string v = if_match;
  if (v.rfind("W/", 0) == 0) v = v.substr(2);
  if (v.size() >= 2 && v.front() == '"' && v.back() == '"') v = v.substr(1, v.size() - 2);
  auto n = parse_uint(v);
  if (!n)
    return problem(
        400, "bad-header", "If-Match must be the instance's ETag (its version, e.g. \"3\")",
        {{"header:If-Match", "etag", "expected a quoted version such as \"3\", got " + if_match}});
  out = *n;
  return std::nullopt;
}

std::optional<Reply> idempotency_key(const Call& call, std::string& key) {
  key = call.header("Idempotency-Key");
  if (key.size() > kMaxKeyBytes)
    return problem(400, "bad-header",
                   "Idempotency-Key is longer than " + std::to_string(kMaxKeyBytes) + " bytes",
                   {{"header:Idempotency-Key", "too-long",
                     "expected at most " + std::to_string(kMaxKeyBytes) + " bytes"}});
  return std::nullopt;
}

// A business key the engine would refuse for its length, named by its pointer.
std::optional<Reply> business_key_length(const json& body) {
  auto it = body.find("businessKey");
  if (it == body.end() || it->get_ref<const std::string&>().size() <= kMaxKeyBytes)
    return std::nullopt;
  std::string expected = "expected at most " + std::to_string(kMaxKeyBytes) + " bytes";
  return problem(
      422, "too-long", "\"businessKey\" is longer than " + std::to_string(kMaxKeyBytes) + " bytes",
      {{"/businessKey", "too-long",
        expected + ", got " + std::to_string(it->get_ref<const std::string&>().size())}});
}

std::optional<Reply> limit_param(const Call& call, std::size_t& limit, std::size_t max) {
  if (const std::string* v = call.query_value("limit")) {
    auto n = parse_uint(*v);
    if (!n || *n < 1 || *n > max)
      return problem(400, "bad-parameter",
                     "limit must be an integer from 1 to " + std::to_string(max),
                     {{"query:limit", "range",
                       "expected 1.." + std::to_string(max) + ", got \"" + *v + "\""}});
    limit = static_cast<std::size_t>(*n);
  }
  return std::nullopt;
}

// A read refused the request's cursor (the page's `error`): 400 naming query:cursor.
std::optional<Reply> refused_cursor(const std::string& error) {
  if (error.empty()) return std::nullopt;
  return problem(400, "bad-parameter", error,
                 {{"query:cursor", "unknown", "expected the nextCursor of the previous page"}});
}

// filter=/pointer:JSON (repeatable): data equality filters; a value that is not JSON is
// taken as a string.
std::optional<Reply> filters(const Call& call, std::vector<std::pair<std::string, json>>& out) {
  for (const auto& [k, v] : call.query) {
    if (k != "filter") continue;
    auto colon = v.find(':');
    if (v.empty() || v[0] != '/' || colon == std::string::npos)
      return problem(
          400, "bad-parameter", "filter must be /json/pointer:value",
          {{"query:filter", "format", "expected \"/pointer:value\", got \"" + v + "\""}});
    Problems ignored;
    auto value = load_json(std::string_view(v).substr(colon + 1), ignored);
    out.emplace_back(v.substr(0, colon), value ? *value : json(v.substr(colon + 1)));
  }
  return std::nullopt;
}

std::optional<Reply> status_param(const Call& call, std::optional<InstanceStatus>& status) {
  if (const std::string* s = call.query_value("status")) {
    if (*s == "running")
      status = InstanceStatus::running;
    else if (*s == "completed")
      status = InstanceStatus::completed;
    else if (*s == "cancelled")
      status = InstanceStatus::cancelled;
    else
      return problem(
          400, "bad-parameter", "status must be running, completed or cancelled",
          {{"query:status", "enum", "expected running|completed|cancelled, got \"" + *s + "\""}});
  }
  return std::nullopt;
}

std::optional<Reply> time_param(const Call& call, const char* name, const Context& ctx,
                                std::optional<TimePoint>& out) {
  if (const std::string* s = call.query_value(name)) {
    out = parse_time(*s, ctx.tz.get());
    if (!out)
      return problem(400, "bad-parameter", std::string(name) + " must be an ISO 8601 time",
                     {{std::string("query:") + name, "time",
                       "expected e.g. 2023-04-01T00:00:00+08:00, got \"" + *s + "\""}});
  }
  return std::nullopt;
}

// Cancel and migrate: 404 for an instance the caller may not see (as for an unknown one),
// 403 for one it sees but does not administer (a unit administrator of another unit).
std::optional<Reply> check_administers(const Context& ctx, const Call& call,
                                       const std::string& id) {
  const Actor& who = call.who->actor;
  if (who.global_admin()) return std::nullopt;  // the engine answers unknown ids itself
  std::string unavailable;
  auto v = ctx.visible_instance(id, who, &unavailable);
  if (!v) {
    if (!unavailable.empty()) return storage_problem(unavailable);
    Reply r = problem(404, "not-found", "no instance with id " + id);
    return ctx.engine.get(id) ? refused_by_scope(std::move(r)) : r;  // audited when by scope
  }
  if (!administers(who, *v))
    return problem(403, "not-administrator",
                   "actor \"" + who.id + "\" administers unit \"" + who.unit() +
                       "\", which does not cover this instance's unit \"" + v->unit + "\"");
  return std::nullopt;
}

// A unit path: non-empty segments joined by "/", no control characters, at most 400 bytes.
bool unit_path_ok(const std::string& u) {
  if (u.empty() || u.size() > 400 || u.front() == '/' || u.back() == '/') return false;
  for (std::size_t i = 0; i < u.size(); ++i) {
    if (static_cast<unsigned char>(u[i]) < 0x20 || u[i] == 0x7f) return false;
    if (u[i] == '/' && u[i + 1] == '/') return false;
  }
  return true;
}

}  // namespace

void add_instance_routes(Router& router, Context& ctx) {
  router.add(
      http::verb::post, "/v1/instances", Access::token, [&ctx](Call& call) -> awaitable<Reply> {
        Reply error;
        auto body = object_body(call, error);
        if (!body) co_return error;
        if (auto bad = unknown_members(
                *body, {"definition", "version", "businessKey", "data", "returnExisting"}))
          co_return *bad;
        if (auto bad =
                expect_type(*body, "definition", json::value_t::string, "a definition id", true))
          co_return *bad;
        if (auto bad = expect_type(*body, "version", json::value_t::number_integer,
                                   "an integer version", false))
          co_return *bad;
        if (auto bad = expect_type(*body, "businessKey", json::value_t::string, "a string", false))
          co_return *bad;
        if (auto bad = business_key_length(*body)) co_return *bad;
        if (auto bad = expect_type(*body, "data", json::value_t::object, "an object", false))
          co_return *bad;
        if (auto bad = expect_type(*body, "returnExisting", json::value_t::boolean, "true or false",
                                   false))
          co_return *bad;
        StartRequest req;
        req.definition = (*body)["definition"].get<std::string>();
        if (body->contains("version")) req.version = (*body)["version"].get<std::int64_t>();
        req.business_key = body->value("businessKey", "");
        if (body->contains("data")) req.data = std::move((*body)["data"]);
        req.return_existing = body->value("returnExisting", false);
        if (auto bad = idempotency_key(call, req.idempotency_key)) co_return *bad;
        req.actor = call.who->actor;
        StepResult res = co_await await_step(
            [&](auto done) { ctx.engine.start_async(std::move(req), std::move(done)); });
        if (!res.ok() || !res.instance) co_return step_problem(res);
        // A replay by its key answers as its start did (201); returnExisting 200.
        Reply r = instance_reply(ctx, res.created ? 201 : 200, *res.instance, replay_members(res));
        r.headers.emplace_back("Location", "/v1/instances/" + res.instance->id);
        co_return r;
      });

  router.add(
      http::verb::get, "/v1/instances", Access::token, [&ctx](Call& call) -> awaitable<Reply> {
        InstanceQuery q;
        if (const std::string* v = call.query_value("definition")) q.definition = *v;
        if (const std::string* v = call.query_value("state")) q.state = *v;
        if (const std::string* v = call.query_value("businessKeyPrefix"))
          q.business_key_prefix = *v;
        if (const std::string* v = call.query_value("cursor")) q.cursor = *v;
        if (const std::string* v = call.query_value("unit")) {  // a unit and its subtree
          q.unit = *v;
          while (!q.unit.empty() && q.unit.back() == '/') q.unit.pop_back();
        }
        if (!q.state.empty() && q.definition.empty())
          co_return problem(400, "bad-parameter", "state needs definition",
                            {{"query:state", "needs-definition", "give definition= with state="}});
        if (auto bad = status_param(call, q.status)) co_return *bad;
        if (auto bad = limit_param(call, q.limit, 1000)) co_return *bad;
        if (auto bad = filters(call, q.data_equals)) co_return *bad;
        q.viewer = call.who->actor;  // only what the caller may see, from its index ranges
        // A filter can scan many records before it fills a page: on the pool.
        InstancePage page = co_await on_pool(ctx, [&ctx, &q] { return ctx.engine.query(q); });
        if (page.unavailable) co_return storage_problem(page.error);
        if (auto bad = refused_cursor(page.error)) co_return *bad;
        json items = json::array();
        for (const auto& v : page.items) items.push_back(ctx.instance_json(v));
        json out = {{"items", items}};
        if (!page.next_cursor.empty()) out["nextCursor"] = page.next_cursor;
        co_return Reply::json_body(200, out);
      });

  router.add(http::verb::get, "/v1/instances/{id}", Access::token,
             [&ctx](Call& call) -> awaitable<Reply> {
               std::optional<TimePoint> as_of;
               if (auto bad = time_param(call, "asOf", ctx, as_of)) co_return *bad;
               std::string unavailable;
               const Actor& who = call.who->actor;
               // Visibility is decided on the instance as it is now (its access today), also
               // for a view of the past.
               auto now = ctx.visible_instance(call.params[0], who, &unavailable);
               std::optional<InstanceView> v = now;
               if (now && as_of) v = ctx.engine.as_of(call.params[0], *as_of, &unavailable);
               if (!v) {
                 if (!unavailable.empty()) co_return storage_problem(unavailable);
                 if (who.global_admin())  // damage is told to those who see everything
                   if (auto damage = ctx.engine.damage(call.params[0]))
                     co_return problem(500, "record-damaged", *damage);
                 co_return problem(
                     404, "not-found",
                     "no instance " + call.params[0] + (now && as_of ? " at that time" : ""));
               }
               co_return instance_reply(ctx, 200, *v);
             });

  router.add(
      http::verb::post, "/v1/instances/{id}/events", Access::token,
      [&ctx](Call& call) -> awaitable<Reply> {
        Reply error;
        auto body = object_body(call, error);
        if (!body) co_return error;
        if (auto bad = unknown_members(*body, {"event", "payload"})) co_return *bad;
        if (auto bad = expect_type(*body, "event", json::value_t::string, "an event name", true))
          co_return *bad;
        if (auto bad = expect_type(*body, "payload", json::value_t::object, "an object", false))
          co_return *bad;
        EventRequest req;
        req.instance_id = call.params[0];
        req.event = (*body)["event"].get<std::string>();
        if (body->contains("payload")) req.payload = std::move((*body)["payload"]);
        req.actor = call.who->actor;
        if (auto bad = idempotency_key(call, req.idempotency_key)) co_return *bad;
        if (auto bad = if_match_version(call, req.expected_version)) co_return *bad;
        StepResult res = co_await await_step(
            [&](auto done) { ctx.engine.send_async(std::move(req), std::move(done)); });
        // An instance that exists but is not the caller's is answered as unknown and audited.
        if (res.error == StepError::not_found && ctx.engine.get(call.params[0]))
          co_return refused_by_scope(step_problem(res));
        if (!res.ok() || !res.instance) co_return step_problem(res);
        co_return instance_reply(ctx, 200, *res.instance, replay_members(res));
      });

  router.add(
      http::verb::post, "/v1/instances/{id}/cancel", Access::unit_admin,
      [&ctx](Call& call) -> awaitable<Reply> {
        Reply error;
        json empty = json::object();
        auto body = object_body(call, error, &empty);
        if (!body) co_return error;
        if (auto bad = unknown_members(*body, {"reason"})) co_return *bad;
        if (auto bad = expect_type(*body, "reason", json::value_t::string, "a string", false))
          co_return *bad;
        std::string reason = body->value("reason", "");
        Actor actor = call.who->actor;
        std::string id = call.params[0];
        if (auto refused = check_administers(ctx, call, id)) co_return *refused;
        // cancel() has no asynchronous form: it waits for its commit on the pool.
        StepResult res =
            co_await on_pool(ctx, [&] { return ctx.engine.cancel(id, reason, actor); });
        if (!res.ok() || !res.instance) co_return step_problem(res);
        co_return instance_reply(ctx, 200, *res.instance);
      });

  router.add(
      http::verb::post, "/v1/instances/{id}/migrate", Access::unit_admin,
      [&ctx](Call& call) -> awaitable<Reply> {
        Reply error;
        json empty = json::object();
        auto body = object_body(call, error, &empty);
        if (!body) co_return error;
        if (auto bad = unknown_members(*body, {"toVersion", "states", "set", "reason", "dryRun"}))
          co_return *bad;
        MigrateRequest req;
        if (auto bad = migrate_members(*body, req)) co_return *bad;
        req.instance_id = call.params[0];
        req.actor = call.who->actor;
        if (auto refused = check_administers(ctx, call, req.instance_id)) co_return *refused;
        if (auto bad = if_match_version(call, req.expected_version)) co_return *bad;
        // Like cancel, migrate() waits for its commit on the pool.
        StepResult res = co_await on_pool(ctx, [&ctx, &req] { return ctx.engine.migrate(req); });
        if (!res.ok() || !res.instance) co_return step_problem(res);
        if (req.dry_run) {  // the instance as it would be: no ETag, nothing changed
          json out = ctx.instance_json(*res.instance);
          out["migration"] = res.details;
          co_return Reply::json_body(200, out);
        }
        co_return instance_reply(ctx, 200, *res.instance, {{"migration", res.details}});
      });

  router.add(http::verb::get, "/v1/instances/{id}/history", Access::token,
             [&ctx](Call& call) -> awaitable<Reply> {
               std::string unavailable;
               if (!ctx.visible_instance(call.params[0], call.who->actor, &unavailable)) {
                 if (!unavailable.empty()) co_return storage_problem(unavailable);
                 if (call.who->actor.global_admin())
                   if (auto damage = ctx.engine.damage(call.params[0]))
                     co_return problem(500, "record-damaged", *damage);
                 co_return problem(404, "not-found", "no instance " + call.params[0]);
               }
               // Pages run back from the newest entry; each lists its entries oldest first.
               HistoryQuery q{call.params[0], "", 1000};
               if (const std::string* v = call.query_value("cursor")) q.cursor = *v;
               if (auto bad = limit_param(call, q.limit, 1000)) co_return *bad;
               HistoryPage page = ctx.engine.history_page(q);
               if (page.unavailable) co_return storage_problem(page.error);
               if (auto bad = refused_cursor(page.error)) co_return *bad;
               json items = json::array();
               for (const auto& e : page.items) items.push_back(e.to_json(*ctx.tz));
               json out = {{"instance", call.params[0]}, {"items", items}};
               if (!page.next_cursor.empty()) out["nextCursor"] = page.next_cursor;
               co_return Reply::json_body(200, out);
             });

  router.add(http::verb::get, "/v1/inbox", Access::token, [&ctx](Call& call) -> awaitable<Reply> {
    InboxQuery q{call.who->actor, 100, ""};
    if (auto bad = limit_param(call, q.limit, 1000)) co_return *bad;
    if (const std::string* v = call.query_value("cursor")) q.cursor = *v;
    // The inbox scans every waiting instance the actor may act on: on the pool.
    InboxPage page = co_await on_pool(ctx, [&ctx, &q] { return ctx.engine.inbox_page(q); });
    if (page.unavailable) co_return storage_problem(page.error);
    if (auto bad = refused_cursor(page.error)) co_return *bad;
    json items = json::array();
    for (const auto& item : page.items) {
      json j = {{"instance", ctx.instance_json(item.instance)}, {"events", item.events}};
      if (item.deadline) j["deadline"] = format_time(*item.deadline, *ctx.tz);
      items.push_back(std::move(j));
    }
    json out = {{"actor", call.who->actor.id}, {"items", items}};
    if (!page.next_cursor.empty()) out["nextCursor"] = page.next_cursor;
    co_return Reply::json_body(200, out);
  });

  router.add(http::verb::get, "/v1/stats", Access::token, [&ctx](Call& call) -> awaitable<Reply> {
    StatsQuery q;
    if (const std::string* v = call.query_value("definition")) q.definition = *v;
    if (const std::string* v = call.query_value("groupBy")) {
      std::size_t i = 0;
      while (i <= v->size()) {
        std::size_t comma = v->find(',', i);
        if (comma == std::string::npos) comma = v->size();
        std::string f = v->substr(i, comma - i);
        if (!f.empty()) {
          if (!stats_field_known(f))
            co_return problem(400, "bad-parameter",
                              "groupBy takes definition, version, state, status, outcome, "
                              "category, overdue, escalated, unit, unit:N (1..16), "
                              "created:day|week|month or /data/pointer",
                              {{"query:groupBy", "enum", "unknown field \"" + f + "\""}});
          q.group_by.push_back(f);
        }
        i = comma + 1;
      }
    }
    if (auto bad = time_param(call, "from", ctx, q.created_from)) co_return *bad;
    if (auto bad = time_param(call, "to", ctx, q.created_to)) co_return *bad;
    if (auto bad = status_param(call, q.status)) co_return *bad;
    if (auto bad = filters(call, q.data_equals)) co_return *bad;
    if (const std::string* v = call.query_value("unit")) {
      if (!unit_path_ok(*v))
        co_return problem(
            400, "bad-parameter", "unit is a path of non-empty segments",
            {{"query:unit", "pattern", "\"" + v->substr(0, 64) + "\" is not a unit path"}});
      q.unit = *v;
    }
    if (const std::string* v = call.query_value("archived")) {
      if (*v != "true" && *v != "false")
        co_return problem(
            400, "bad-parameter", "archived is true or false",
            {{"query:archived", "type", "\"" + v->substr(0, 16) + "\" is not a boolean"}});
      q.archived = *v == "true";
    }
    q.tz = ctx.tz;               // created:* periods in the server's zone
    q.viewer = call.who->actor;  // counts only over what the caller may see
    // Statistics scan every instance of the definition (or all): on the pool.
    StatsResult res = co_await on_pool(ctx, [&ctx, &q] { return ctx.engine.stats(q); });
    if (res.unavailable) co_return storage_problem(res.error);
    json groups = json::array();
    for (const auto& g : res.groups) {
      json key = json::object();
      for (std::size_t i = 0; i < q.group_by.size() && i < g.key.size(); ++i)
        key[q.group_by[i]] = g.key[i];
      groups.push_back({{"key", key}, {"count", g.count}});
    }
    co_return Reply::json_body(200, {{"total", res.total},
                                     {"archived", res.archived},
                                     {"groupBy", q.group_by},
                                     {"groups", groups},
                                     {"truncated", res.truncated},
                                     {"asOf", format_time(res.as_of, *ctx.tz)}});
  });
}

}  // namespace bihuan::api
