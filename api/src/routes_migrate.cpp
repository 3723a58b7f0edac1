// POST /v1/migrations: a migration plan over the running instances of a definition
// (bihuan/migration.hpp), a page at a time. POST /v1/instances/{id}/migrate (one
// instance) is with the other instance routes.
#include "bihuan/migration.hpp"
#include "context.hpp"

namespace bihuan::api {

void add_migration_routes(Router& router, Context& ctx) {
  using boost::asio::awaitable;
  router.add(
      http::verb::post, "/v1/migrations", Access::admin, [&ctx](Call& call) -> awaitable<Reply> {
        Reply error;
        auto body = object_body(call, error);
        if (!body) co_return error;
        if (auto bad =
                unknown_members(*body, {"definition", "fromVersion", "state", "limit", "cursor",
                                        "toVersion", "states", "set", "reason", "dryRun"}))
          co_return *bad;
        if (auto bad =
                expect_type(*body, "definition", json::value_t::string, "a definition id", true))
          co_return *bad;
        if (auto bad = expect_type(*body, "state", json::value_t::string, "a state name", false))
          co_return *bad;
        if (auto bad = expect_type(*body, "cursor", json::value_t::string,
                                   "a nextCursor of this plan", false))
          co_return *bad;
        MigrationPlan plan;
        if (auto bad = migrate_members(*body, plan.step)) co_return *bad;
        plan.definition = (*body)["definition"].get<std::string>();
        plan.state = body->value("state", "");
        plan.cursor = body->value("cursor", "");
        if (auto it = body->find("fromVersion"); it != body->end()) {
          if (!it->is_number_integer() || it->get<std::int64_t>() < 1)
            co_return problem(422, "wrong-type", "fromVersion must be a version number",
                              {{"/fromVersion", "type", "expected an integer >= 1"}});
          plan.from_version = it->get<std::int64_t>();
        }
        plan.limit = 100;
        if (auto it = body->find("limit"); it != body->end()) {
          if (!it->is_number_integer() || it->get<std::int64_t>() < 1 ||
              it->get<std::int64_t>() > 1000)
            co_return problem(422, "wrong-type", "limit must be 1..1000",
                              {{"/limit", "range", "expected an integer 1..1000"}});
          plan.limit = it->get<std::size_t>();
        }
        plan.step.actor = call.who->actor;
        // Each instance is a commit, so a page of 100 takes about 100 commits: on the pool.
        MigrationReport report =
            co_await on_pool(ctx, [&ctx, &plan] { return migrate_instances(ctx.engine, plan); });
        if (!report.error.empty()) {
          if (report.unavailable) co_return storage_problem(report.error);
          if (!plan.cursor.empty() && report.error.find("cursor") != std::string::npos)
            co_return problem(400, "bad-parameter", report.error,
                              {{"/cursor", "cursor", "expected a nextCursor of this plan"}});
          co_return problem(404, "not-found", report.error);
        }
        co_return Reply::json_body(200, report.to_json(plan.step.dry_run));
      });
}

}  // namespace bihuan::api
