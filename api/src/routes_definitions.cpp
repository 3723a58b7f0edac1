// /v1/definitions: list, deploy (admin), validate without deploying, get, graph.
#include "bihuan/problem_json.hpp"
#include "context.hpp"
#include "graph_layout.hpp"

namespace bihuan::api {

namespace {

using boost::asio::awaitable;

json summary(const Definition& d) {
  json states = json::array();
  for (const auto& st : d.states) states.push_back(st.name);
  return {{"id", d.id},         {"version", d.version},
          {"title", d.title},   {"description", d.description},
          {"digest", d.digest}, {"timezone", d.timezone_name},
          {"roles", d.roles},   {"states", states}};
}

std::vector<FieldError> field_errors(const Problems& problems, bool errors_only) {
  std::vector<FieldError> out;
  for (const auto& p : problems.items()) {
    if (errors_only && p.severity != Severity::error) continue;
    std::string where =
        p.line ? " (line " + std::to_string(p.line) + ", column " + std::to_string(p.column) + ")"
               : "";
    out.push_back({p.pointer, p.code, p.message + where});
  }
  return out;
}

// ?version=N (optional). Sets `error` on a malformed value.
bool version_param(const Call& call, std::optional<std::int64_t>& version, Reply& error) {
  const std::string* v = call.query_value("version");
  if (!v) return true;
  try {
    std::size_t used = 0;
    long long n = std::stoll(*v, &used);
    if (used == v->size() && n > 0) {
      version = n;
      return true;
    }
  } catch (const std::exception&) {
  }
  error = problem(
      400, "bad-parameter", "version must be a positive integer",
      {{"query:version", "expected-integer", "expected a positive integer, got \"" + *v + "\""}});
  return false;
}

// The server's definitionReaders: nullopt when `who` may read definitions, else the 403.
std::optional<Reply> definitions_refused(const Context& ctx, const Actor& who) {
  const auto& roles = ctx.config.definition_readers;
  if (roles.empty() || who.global_admin()) return std::nullopt;
  for (const auto& r : roles)
    if (who.has_role(r)) return std::nullopt;
  return problem(403, "definitions-not-readable",
                 "definitions are readable by the roles " + json(roles).dump() + " only; actor \"" +
                     who.id + "\" has none of them");
}

}  // namespace

void add_definition_routes(Router& router, Context& ctx) {
  router.add(http::verb::get, "/v1/definitions", Access::token,
             [&ctx](Call& call) -> awaitable<Reply> {
               if (auto refused = definitions_refused(ctx, call.who->actor)) co_return *refused;
               json items = json::array();
               for (const auto& d : ctx.engine.definitions()) items.push_back(summary(*d));
               co_return Reply::json_body(200, {{"items", items}});
             });

  router.add(
      http::verb::post, "/v1/definitions", Access::admin, [&ctx](Call& call) -> awaitable<Reply> {
        Reply error;
        auto doc = body_json(call, error);
        if (!doc) co_return error;
        // Compiling and committing a definition: on the pool.
        // Each problem gets its line and column in the text as sent (the console marks them).
        DeployResult res = co_await on_pool(ctx, [&ctx, &doc, &call] {
          DeployResult r = ctx.engine.deploy(*doc, "request body");
          attach_positions(call.req.body(), r.problems);
          return r;
        });
        if (!res.ok) {
          bool exists = false;
          for (const auto& p : res.problems.items()) exists = exists || p.code == "version-exists";
          co_return problem(
              exists ? 409 : 422, exists ? "version-exists" : "invalid-definition",
              exists
                  ? "this id and version are deployed with different content; deploy a new version"
                  : "the definition has " + std::to_string(res.problems.error_count()) +
                        " error(s)",
              field_errors(res.problems, true), {{"problems", problems_json(res.problems)}});
        }
        ctx.log("info", "definition deployed",
                {{"id", res.id},
                 {"version", res.version},
                 {"unchanged", res.unchanged},
                 {"actor", call.who->actor.id}});
        Reply r = Reply::json_body(res.unchanged ? 200 : 201,
                                   {{"id", res.id},
                                    {"version", res.version},
                                    {"unchanged", res.unchanged},
                                    {"warnings", problems_json(res.problems)}});
        r.headers.emplace_back(
            "Location", "/v1/definitions/" + res.id + "?version=" + std::to_string(res.version));
        co_return r;
      });

  router.add(http::verb::post, "/v1/definitions/validate", Access::token,
             [&ctx](Call& call) -> awaitable<Reply> {
               Reply error;
               auto doc = body_json(call, error);
               if (!doc) co_return error;
               Problems problems("request body");
               DefinitionContext dc;
               dc.calendars = ctx.engine.options().calendars.get();
               // Compiling a definition of up to the body limit, and finding each problem's
               // line and column in the text as sent: on the pool.
               bool valid = co_await on_pool(ctx, [&] {
                 bool ok = compile_definition(*doc, problems, dc) != nullptr;
                 attach_positions(call.req.body(), problems);
                 return ok;
               });
               co_return Reply::json_body(200, {{"valid", valid},
                                                {"errors", problems.error_count()},
                                                {"problems", problems_json(problems)}});
             });

  router.add(http::verb::get, "/v1/definitions/{id}", Access::token,
             [&ctx](Call& call) -> awaitable<Reply> {
               if (auto refused = definitions_refused(ctx, call.who->actor)) co_return *refused;
               std::optional<std::int64_t> version;
               Reply error;
               if (!version_param(call, version, error)) co_return error;
               auto def = ctx.engine.definition(call.params[0], version);
               if (!def)
                 co_return problem(404, "no-such-definition",
                                   "no definition \"" + call.params[0] + "\"" +
                                       (version ? " version " + std::to_string(*version) : ""));
               json j = summary(*def);
               j["source"] = def->source;
               co_return Reply::json_body(200, j);
             });

  router.add(
      http::verb::get, "/v1/definitions/{id}/graph", Access::token,
      [&ctx](Call& call) -> awaitable<Reply> {
        if (auto refused = definitions_refused(ctx, call.who->actor)) co_return *refused;
        std::optional<std::int64_t> version;
        Reply error;
        if (!version_param(call, version, error)) co_return error;
        const std::string* f = call.query_value("format");
        std::string format = f ? *f : "mermaid";
        auto def = ctx.engine.definition(call.params[0], version);
        if (!def)
          co_return problem(404, "no-such-definition", "no definition \"" + call.params[0] + "\"");
        if (format == "layout") {  // positions for the console to draw (graph_layout.hpp)
          const std::string* l = call.query_value("lang");
          std::string lang = l ? *l : "zh";
          if (lang != "zh" && lang != "en")
            co_return problem(
                400, "bad-parameter", "lang must be zh or en",
                {{"query:lang", "enum", "expected \"zh\" or \"en\", got \"" + lang + "\""}});
          std::string why;
          // Graphviz takes milliseconds for a large definition (once, then cached): on the pool.
          auto doc = co_await on_pool(ctx, [&] { return graph_layout(*def, lang, &why); });
          if (!doc) co_return problem(500, "layout-failed", why);
          co_return Reply::json_body(200, *doc);
        }
        auto text = render_graph(*def, format);
        if (!text)
          co_return problem(
              400, "bad-parameter", "format must be dot, mermaid or layout",
              {{"query:format", "enum",
                "expected \"dot\", \"mermaid\" or \"layout\", got \"" + format + "\""}});
        co_return Reply::text(
            200, format == "dot" ? "text/vnd.graphviz; charset=utf-8" : "text/plain; charset=utf-8",
            std::move(*text));
      });
}

}  // namespace bihuan::api
