// The web console (docs/console.md): its files at / and /console/{file}, and
// GET /v1/instances/{id}/events, the events a caller may send now with their payload
// schemas (what the console's forms are generated from).
#include <algorithm>

#include "console_assets.hpp"
#include "context.hpp"

namespace bihuan::api {

namespace {

using boost::asio::awaitable;

// No inline script or style, nothing from another origin, never inside a frame. The one
// other origin the page may talk to is the identity provider's token endpoint, when one
// is configured (the console exchanges its sign-in code there: docs/console.md).
std::string csp(const Context& ctx) {
  std::string connect = "'self'";
  if (auto p = ctx.sign_in ? ctx.sign_in() : std::nullopt)
    if (std::string origin = p->token_origin(); !origin.empty()) connect += " " + origin;
  return "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data: blob:; "
         "connect-src " +
         connect +
         "; font-src 'self'; object-src 'none'; base-uri 'none'; "
         "form-action 'self'; frame-ancestors 'none'";
}

const ConsoleAsset* find_asset(std::string_view name) {
  for (const auto& a : console_assets())
    if (name == a.name) return &a;
  return nullptr;
}

// True when an If-None-Match list names `etag` (or is "*").
bool etag_matches(const std::string& if_none_match, std::string_view etag) {
  if (if_none_match.empty()) return false;
  if (if_none_match == "*") return true;
  std::size_t i = 0;
  while (i < if_none_match.size()) {
    std::size_t comma = if_none_match.find(',', i);
    if (comma == std::string::npos) comma = if_none_match.size();
    std::string_view tag(if_none_match.data() + i, comma - i);
    while (!tag.empty() && tag.front() == ' ') tag.remove_prefix(1);
    while (!tag.empty() && tag.back() == ' ') tag.remove_suffix(1);
    if (tag.rfind("W/", 0) == 0) tag.remove_prefix(2);  // weak comparison (RFC 9110)
    if (tag == etag) return true;
    i = comma + 1;
  }
  return false;
}

// An asset with its validators: revalidated on every use (no-cache), 304 when unchanged.
Reply asset_reply(const Context& ctx, const Call& call, const ConsoleAsset& a) {
  Reply r;
  r.content_type = a.content_type;
  if (etag_matches(call.header(http::field::if_none_match), a.etag)) {
    r.status = 304;
  } else {
    r.body.assign(reinterpret_cast<const char*>(a.data), a.size);
  }
  r.headers = {{"ETag", a.etag},
               {"Cache-Control", "no-cache"},
               {"Content-Security-Policy", csp(ctx)},
               {"X-Content-Type-Options", "nosniff"},
               {"Referrer-Policy", "no-referrer"},
               {"X-Frame-Options", "DENY"}};
  return r;
}

// The schema as the definition wrote it (the compiled one keeps its source).
json payload_schema_json(const EventSpec& ev) {
  if (ev.payload_schema) return ev.payload_schema->source();
  return nullptr;
}

}  // namespace

void add_console_routes(Router& router, Context& ctx) {
  router.add(http::verb::get, "/", Access::open, [&ctx](Call& call) -> awaitable<Reply> {
    const ConsoleAsset* a = find_asset("index.html");
    if (!a) co_return problem(404, "no-such-route", "this server was built without the console");
    co_return asset_reply(ctx, call, *a);
  });
  router.add(
      http::verb::get, "/console/{file}", Access::open, [&ctx](Call& call) -> awaitable<Reply> {
        const ConsoleAsset* a = find_asset(call.params[0]);
        if (!a)
          co_return problem(404, "not-found", "the console has no file \"" + call.params[0] + "\"",
                            {{"path:file", "unknown", "expected a file of the console"}});
        co_return asset_reply(ctx, call, *a);
      });

  // The events the caller may send now: the instance's state and its ancestors' events
  // that a person may send (a role other than "system") and whose roles admit the
  // caller, like the inbox. An event's `actors` rule is not evaluated here: the server
  // applies it when the event is sent (403 actor-not-allowed).
  router.add(http::verb::get, "/v1/instances/{id}/events", Access::token,
             [&ctx](Call& call) -> awaitable<Reply> {
               const Actor& who = call.who->actor;
               std::string unavailable;
               auto v = ctx.visible_instance(call.params[0], who, &unavailable);
               if (!v) {
                 if (!unavailable.empty()) co_return storage_problem(unavailable);
                 if (who.global_admin())
                   if (auto damage = ctx.engine.damage(call.params[0]))
                     co_return problem(500, "record-damaged", *damage);
                 co_return problem(404, "not-found", "no instance " + call.params[0]);
               }
               json items = json::array();
               auto def = ctx.engine.definition(v->definition, v->definition_version);
               int state =
                   def && v->status == InstanceStatus::running ? def->find_state(v->state) : -1;
               if (state >= 0)
                 for (const EventSpec* ev : def->events_in(state)) {
                   if (!ev->human()) continue;
                   bool allowed =
                       ev->roles.empty() ||
                       std::any_of(ev->roles.begin(), ev->roles.end(),
                                   [&](const auto& r) { return r != "system" && who.has_role(r); });
                   if (!allowed) continue;
                   json item = {{"name", ev->name},
                                {"title", ev->title.is_null() ? json(ev->name) : ev->title},
                                {"payloadSchema", payload_schema_json(*ev)},
                                {"actorsRule", ev->actors.has_value()}};
                   items.push_back(std::move(item));
                 }
               json out = {{"instance", v->id},
                           {"version", v->version},
                           {"state", v->state},
                           {"items", std::move(items)}};
               co_return Reply::json_body(200, out);
             });
}

}  // namespace bihuan::api
