// Who the caller is (GET /v1/me), the identity provider the console signs in with
// (GET /v1/auth/sign-in) and the identity reload (POST /v1/admin/identity/reload).
#include "auth.hpp"
#include "context.hpp"

#include <cstdio>
#include <ctime>

namespace bihuan::api {

namespace {

// "2023-04-03T01:00:00.250Z": always with milliseconds (format_time drops zero ones).
std::string rfc3339_ms(TimePoint t) {
  auto ms = std::chrono::duration_cast<std::chrono::milliseconds>(t.time_since_epoch()).count();
  std::int64_t secs = ms / 1000, frac = ms % 1000;
  if (frac < 0) frac += 1000, --secs;
  std::time_t tt = static_cast<std::time_t>(secs);
  std::tm tm{};
  gmtime_r(&tt, &tm);
  char buf[96];  // room for any int the fields can hold (-Wformat-truncation)
  std::snprintf(buf, sizeof buf, "%04d-%02d-%02dT%02d:%02d:%02d.%03dZ", tm.tm_year + 1900,
                tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec,
                static_cast<int>(frac));
  return buf;
}

}  // namespace

void add_identity_routes(Router& router, Context& ctx, std::function<bool(Problems&)> reload) {
  // Open: the console asks before anyone is signed in. It tells only what a browser sees
  // anyway when it is sent to the provider (no secret: PKCE needs none).
  router.add(http::verb::get, "/v1/auth/sign-in", Access::open,
             [&ctx](Call&) -> boost::asio::awaitable<Reply> {
               auto p = ctx.sign_in ? ctx.sign_in() : std::nullopt;
               co_return Reply::json_body(200, {{"provider", p ? p->to_json() : json()}});
             });
  // `now`: the engine's clock (a virtual one in the simulator and the demo), RFC 3339 UTC
  // with milliseconds; the console judges "overdue" by it, not by the browser's clock.
  router.add(http::verb::get, "/v1/me", Access::token,
             [&ctx](Call& call) -> boost::asio::awaitable<Reply> {
               const Actor& a = call.who->actor;
               co_return Reply::json_body(200, {{"id", a.id},
                                                {"roles", a.roles},
                                                {"attrs", a.attrs},
                                                {"token", call.who->token_name},
                                                {"now", rfc3339_ms(ctx.engine.clock().now())}});
             });
  router.add(
      http::verb::post, "/v1/admin/identity/reload", Access::admin,
      [&ctx, reload](Call&) -> boost::asio::awaitable<Reply> {
        if (ctx.config.identity_file.empty())
          co_return problem(409, "no-identity-file",
                            "the server configuration names no identityFile; there is nothing "
                            "to reload (configuration tokens need a restart)");
        struct Outcome {
          bool ok = false;
          Problems problems;
        };
        Outcome out = co_await on_pool(ctx, [&reload] {
          Outcome o;
          o.ok = reload(o.problems);
          return o;
        });
        json warnings = json::array();
        std::vector<FieldError> errors;
        for (const auto& p : out.problems.items()) {
          std::string where = p.file.empty() ? "" : p.file + ": ";
          if (p.severity == Severity::error)
            errors.push_back({p.pointer, p.code, where + p.message});
          else
            warnings.push_back({{"file", p.file},
                                {"pointer", p.pointer},
                                {"code", p.code},
                                {"detail", p.message}});
        }
        if (!out.ok)
          co_return problem(422, "identity-invalid",
                            "the identity file has problems; the identities in use are unchanged",
                            std::move(errors), {{"file", ctx.config.identity_file}});
        co_return Reply::json_body(
            200, {{"reloaded", true}, {"file", ctx.config.identity_file}, {"warnings", warnings}});
      });
}

}  // namespace bihuan::api
