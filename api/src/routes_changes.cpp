// GET /v1/changes: the change feed (Engine::changes, bihuan/changes.hpp) for global
// administrators: every committed step in commit order, a page at a time, resumable from
// the page's nextCursor (docs/retention.md, "Change feed").
#include "bihuan/changes.hpp"
#include "context.hpp"

namespace bihuan::api {

void add_change_routes(Router& router, Context& ctx) {
  router.add(
      http::verb::get, "/v1/changes", Access::admin,
      [&ctx](Call& call) -> boost::asio::awaitable<Reply> {
        std::size_t limit = 100;
        if (const std::string* v = call.query_value("limit")) {
          auto n = parse_uint(*v);
          if (!n || *n < 1 || *n > 1000)
            co_return problem(400, "bad-parameter", "limit must be an integer from 1 to 1000",
                              {{"query:limit", "integer", "got \"" + *v + "\""}});
          limit = static_cast<std::size_t>(*n);
        }
        std::string since;
        if (const std::string* v = call.query_value("since")) since = *v;
        ChangePage page = co_await on_pool(
            ctx, [&ctx, &since, limit] { return changes(ctx.engine, since, limit); });
        if (page.unavailable) co_return storage_problem(page.error);
        if (!page.error.empty())
          co_return problem(400, "bad-cursor", page.error,
                            {{"query:since", "cursor", "expected a nextCursor of /v1/changes"}});
        json items = json::array();
        for (const auto& c : page.items) items.push_back(c.to_json(*ctx.tz));
        co_return Reply::json_body(200, {{"items", items}, {"nextCursor", page.next_cursor}});
      });
}

}  // namespace bihuan::api
