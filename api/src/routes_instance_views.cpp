// What the console's instance page shows beside the instance itself: its hash-chain check
// (/verify), its pending timers and deadlines (/timers) and the children it spawned
// (/children). Each answers an instance the caller may not see as an unknown one (404).
#include "context.hpp"

namespace bihuan::api {

namespace {

using boost::asio::awaitable;

// nullopt when the caller may see the instance; else the reply: 503 when the store could
// not be read, 500 with the damage for a global administrator, else 404 (also for an
// instance that exists but is not the caller's: docs/authorization.md).
std::optional<Reply> unseen(const Context& ctx, const Call& call) {
  std::string unavailable;
  if (ctx.visible_instance(call.params[0], call.who->actor, &unavailable)) return std::nullopt;
  if (!unavailable.empty()) return storage_problem(unavailable);
  if (call.who->actor.global_admin())
    if (auto damage = ctx.engine.damage(call.params[0]))
      return problem(500, "record-damaged", *damage);
  return problem(404, "not-found", "no instance " + call.params[0]);
}

}  // namespace

void add_instance_view_routes(Router& router, Context& ctx) {
  router.add(http::verb::get, "/v1/instances/{id}/verify", Access::token,
             [&ctx](Call& call) -> awaitable<Reply> {
               if (auto refused = unseen(ctx, call)) co_return *refused;
               // One read per history entry: on the pool.
               std::string id = call.params[0];
               ChainCheck c =
                   co_await on_pool(ctx, [&ctx, &id] { return ctx.engine.verify_instance(id); });
               if (c.unavailable) co_return storage_problem(c.error);
               if (!c.found) co_return problem(404, "not-found", "no instance " + id);
               json out = {{"instance", id},
                           {"ok", c.ok()},
                           {"version", c.version},
                           {"entries", c.entries},
                           {"problems", c.broken}};
               if (c.first_broken) out["firstBroken"] = c.first_broken;
               co_return Reply::json_body(200, out);
             });

  router.add(http::verb::get, "/v1/instances/{id}/timers", Access::token,
             [&ctx](Call& call) -> awaitable<Reply> {
               if (auto refused = unseen(ctx, call)) co_return *refused;
               std::string unavailable;
               auto timers = ctx.engine.instance_timers(call.params[0], &unavailable);
               if (!unavailable.empty()) co_return storage_problem(unavailable);
               json items = json::array();
               for (const auto& t : timers) {
                 json j = {{"name", t.name},
                           {"kind", t.kind},
                           {"state", t.state},
                           {"due", format_time(t.due, *ctx.tz)}};
                 if (!t.event.empty()) j["event"] = t.event;
                 if (!t.target.empty()) j["target"] = t.target;
                 if (t.every) j["every"] = t.every->to_string();
                 if (t.fired) j["fired"] = t.fired;
                 items.push_back(std::move(j));
               }
               co_return Reply::json_body(200, {{"instance", call.params[0]}, {"items", items}});
             });

  router.add(http::verb::get, "/v1/instances/{id}/children", Access::token,
             [&ctx](Call& call) -> awaitable<Reply> {
               if (auto refused = unseen(ctx, call)) co_return *refused;
               std::size_t limit = 100;
               if (const std::string* v = call.query_value("limit")) {
                 auto n = parse_uint(*v);
                 if (!n || *n < 1 || *n > 1000)
                   co_return problem(
                       400, "bad-parameter", "limit must be an integer from 1 to 1000",
                       {{"query:limit", "range", "expected 1..1000, got \"" + *v + "\""}});
                 limit = static_cast<std::size_t>(*n);
               }
               std::string cursor;
               if (const std::string* v = call.query_value("cursor")) cursor = *v;
               std::string id = call.params[0];
               Actor who = call.who->actor;
               // Only the children the caller may see (each one's own access).
               ChildrenPage page = co_await on_pool(ctx, [&ctx, &id, &cursor, limit, &who] {
                 return ctx.engine.children(id, cursor, limit, who);
               });
               if (page.unavailable) co_return storage_problem(page.error);
               if (!page.error.empty())
                 co_return problem(
                     400, "bad-parameter", page.error,
                     {{"query:cursor", "unknown", "expected the nextCursor of the previous page"}});
               json items = json::array();
               for (const auto& v : page.items) items.push_back(ctx.instance_json(v));
               json out = {{"instance", id}, {"items", items}};
               if (!page.next_cursor.empty()) out["nextCursor"] = page.next_cursor;
               co_return Reply::json_body(200, out);
             });
}

}  // namespace bihuan::api
