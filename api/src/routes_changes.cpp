// GET /v1/changes: the change feed (Engine::changes, bihuan/changes.hpp) for global
// administrators: every committed step in commit order, a page at a time, resumable from
// the page's nextCursor (docs/retention.md, "Change feed").
#include "bihuan/changes.hpp"
#include "bihuan/retention.hpp"
#include <boost/asio/steady_timer.hpp>

#include "context.hpp"

namespace bihuan::api {

void add_change_routes(Router& router, Context& ctx) {
  router.add(
      http::verb::get, "/v1/changes", Access::admin, [&ctx](Call& call) -> boost::asio::awaitable<Reply> {
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
        ChangePage page =
            co_await on_pool(ctx, [&ctx, since, limit] { return changes(ctx.engine, since, limit); });
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

namespace bihuan::api {

void start_retention(Context& ctx) {
  if (!ctx.config.retention) return;
  // Every `interval` of the engine clock (first at start), looked at every second (every
  // 20 ms on a virtual clock, which tests move), on the pool. A tick archives at most
  // kBatchesPerTick batches, so it never holds a pool thread long; more go next tick.
  constexpr std::size_t kBatchesPerTick = 10;
  struct Task : std::enable_shared_from_this<Task> {
    Context& ctx;
    boost::asio::steady_timer timer;
    TimePoint next{};
    explicit Task(Context& c) : ctx(c), timer(c.pool) {}
    void tick() {
      if (ctx.draining) return;
      TimePoint now = ctx.engine.clock().now();
      if (now >= next) {
        RetentionRun run;
        run.options = *ctx.config.retention;
        run.max_batches = kBatchesPerTick;
        RetentionReport rep;
        try {
          rep = run_retention(ctx.engine, run);
        } catch (const std::exception& e) {
          rep.error = e.what();
        }
        if (rep.removed || rep.recovered || !rep.error.empty())
          ctx.log(rep.error.empty() ? "info" : "error", "retention run",
                  {{"removed", rep.removed},
                   {"expired", rep.expired},
                   {"held", rep.held},
                   {"recovered", rep.recovered},
                   {"archives", rep.archives},
                   {"error", rep.error}});
        bool more = rep.error.empty() && rep.archives.size() >= kBatchesPerTick;
        next = more ? now : now + Millis(ctx.config.retention->interval_ms);
      }
      timer.expires_after(ctx.engine.clock().is_virtual() ? std::chrono::milliseconds(20)
                                                          : std::chrono::milliseconds(1000));
      timer.async_wait([self = shared_from_this()](boost::system::error_code ec) {
        if (!ec) self->tick();
      });
    }
  };
  auto task = std::make_shared<Task>(ctx);
  boost::asio::post(ctx.pool, [task] { task->tick(); });
}

}  // namespace bihuan::api
