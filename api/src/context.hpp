// What every route handler shares: the engine, the configuration, the time zone answers
// are written in, metrics and the log. Also the bridges that keep long work off the io
// threads: the engine's asynchronous steps (await_step) and the server's worker pool
// (on_pool).
#pragma once

#include <atomic>
#include <functional>
#include <memory>
#include <optional>

#include <boost/asio/any_io_executor.hpp>
#include <boost/asio/async_result.hpp>
#include <boost/asio/bind_executor.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/use_awaitable.hpp>

#include "bihuan/server.hpp"
#include "jwt.hpp"
#include "metrics.hpp"
#include "router.hpp"

namespace bihuan::api {

struct Context {
  Engine& engine;
  ServerConfig config;
  std::shared_ptr<const TimeZone> tz;
  ServerHooks hooks;
  HttpMetrics metrics;
  std::atomic<bool> draining{false};
  // The server's worker pool (a few threads, ServerImpl): where on_pool() runs work.
  boost::asio::any_io_executor pool;
  // The identity provider of the identity table in use (it changes with a reload), or
  // nullopt: the console's sign-in through it (routes_identity.cpp, routes_console.cpp).
  std::function<std::optional<SignInProvider>()> sign_in;
  // Evidence files under the data directory (routes_attachments.cpp); null when the store
  // could not be opened (the routes then answer 503).
  std::shared_ptr<AttachmentStore> attachments;

  // One structured log line: {"ts","level","msg",...fields}.
  void log(const char* level, const std::string& msg, json fields = json::object()) const;
  json instance_json(const InstanceView& v) const { return v.to_json(*tz); }
  // The instance as `who` may see it: nullopt (and `unavailable` set when the store could
  // not be read) when there is none or it is not visible to `who` (docs/authorization.md:
  // an invisible instance is answered exactly as an unknown one).
  std::optional<InstanceView> visible_instance(const std::string& id, const Actor& who,
                                               std::string* unavailable) const {
    auto v = engine.get(id, unavailable);
    if (v && !visible(*v, who)) return std::nullopt;
    return v;
  }
  // Audit of one refusal (401, 403, or 404 by scope): counts
  // bihuan_http_refused_total{reason} and logs one JSON line {"msg": "request refused",
  // actor ("anonymous" without one), method, route (the pattern), status, reason}. The
  // server calls it for every 401/403 reply and every reply with Reply::refusal set; a
  // route needs it only for a refusal it does not answer itself.
  void refused(const Principal* who, std::string_view method, const std::string& route,
               unsigned status, const std::string& reason);
  // Everything /metrics shows: engine, HTTP, and the hooks' extra families.
  std::string metrics_text() const;
};

// Awaits an engine step: `submit(done)` must start it (start_async/send_async); `done`
// runs on the engine's writer thread and resumes the coroutine on its own executor.
template <class Submit>
boost::asio::awaitable<StepResult> await_step(Submit submit) {
  auto token = boost::asio::use_awaitable;
  co_return co_await boost::asio::async_initiate<decltype(token), void(StepResult)>(
      [&submit](auto handler) {
        auto shared = std::make_shared<decltype(handler)>(std::move(handler));
        submit([shared](StepResult r) {
          auto ex = boost::asio::get_associated_executor(*shared);
          boost::asio::post(
              ex, [shared, r = std::move(r)]() mutable { std::move (*shared)(std::move(r)); });
        });
      },
      token);
}

// Runs `work()` on the worker pool and resumes the coroutine on its own strand with the
// result (or the exception `work` threw). For whatever can take long or wait for a
// commit (verify, backup, deploy, cancel, migrations, scans such as inbox, stats and
// queries), so the io threads keep answering other requests meanwhile. The result type
// must be default-constructible. The pool has a fixed number of threads: more such
// requests than threads queue there, never on the io threads.
template <class Work>
boost::asio::awaitable<std::invoke_result_t<Work&>> on_pool(Context& ctx, Work work) {
  using Result = std::invoke_result_t<Work&>;
  co_return co_await boost::asio::co_spawn(
      ctx.pool,
      [w = std::move(work)]() mutable -> boost::asio::awaitable<Result> { co_return w(); },
      boost::asio::use_awaitable);
}

void add_ops_routes(Router& router, Context& ctx);
void add_definition_routes(Router& router, Context& ctx);
void add_instance_routes(Router& router, Context& ctx);
// routes_instance_views.cpp: an instance's /verify, /timers and /children.
void add_instance_view_routes(Router& router, Context& ctx);
void add_admin_routes(Router& router, Context& ctx);

void add_migration_routes(Router& router, Context& ctx);
// routes_bulk.cpp: /v1/instances/export and /v1/batches (bulk cancel, migrate, retry).
// The batches run on their own threads; stop_batches() stops them (at shutdown, before
// the engine may close).
class Batches;
std::shared_ptr<Batches> add_bulk_routes(Router& router, Context& ctx);
void stop_batches(Batches& batches);

// routes_attachments.cpp: POST /v1/attachments, GET /v1/instances/{id}/attachments/{address},
// and the hourly orphan sweep (on the pool, by the engine's clock).
void add_attachment_routes(Router& router, Context& ctx);
void start_orphan_sweep(Context& ctx);
// routes_console.cpp: the web console's files and GET /v1/instances/{id}/events.
void add_console_routes(Router& router, Context& ctx);
// routes_changes.cpp: GET /v1/changes, the change feed (global administrators).
void add_change_routes(Router& router, Context& ctx);

// body.cpp: checks of JSON request bodies, each a 422 naming the member's pointer.
// body_json() that must be an object:
std::optional<json> object_body(const Call& call, Reply& error,
                                const json* empty_default = nullptr);
// Members other than `known`:
std::optional<Reply> unknown_members(const json& body, std::initializer_list<const char*> known);
// `key` of the given type (an integer accepts unsigned); `what` names it in the message.
std::optional<Reply> expect_type(const json& body, const char* key, json::value_t type,
                                 const char* what, bool required);
// toVersion, states, set, reason and dryRun of a migration into `req`.
std::optional<Reply> migrate_members(const json& body, MigrateRequest& req);

// The StepError -> HTTP status and problem mapping used by every step route.
Reply step_problem(const StepResult& r);
// A read the store could not serve (a page's `unavailable`, get()'s `unavailable`): 503,
// type .../storage-unavailable, Retry-After. Never 404 or a short list.
Reply storage_problem(const std::string& detail);

}  // namespace bihuan::api
