// Who the caller is (GET /v1/me), the identity provider the console signs in with
// (GET /v1/auth/sign-in) and the identity reload (POST /v1/admin/identity/reload).
#include "auth.hpp"
#include "context.hpp"

namespace bihuan::api {

void add_identity_routes(Router& router, Context& ctx, std::function<bool(Problems&)> reload) {
  // Open: the console asks before anyone is signed in. It tells only what a browser sees
  // anyway when it is sent to the provider (no secret: PKCE needs none).
  router.add(http::verb::get, "/v1/auth/sign-in", Access::open,
             [&ctx](Call&) -> boost::asio::awaitable<Reply> {
               auto p = ctx.sign_in ? ctx.sign_in() : std::nullopt;
               co_return Reply::json_body(200, {{"provider", p ? p->to_json() : json()}});
             });
  router.add(http::verb::get, "/v1/me", Access::token,
             [](Call& call) -> boost::asio::awaitable<Reply> {
               const Actor& a = call.who->actor;
               co_return Reply::json_body(200, {{"id", a.id},
                                                {"roles", a.roles},
                                                {"attrs", a.attrs},
                                                {"token", call.who->token_name}});
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
