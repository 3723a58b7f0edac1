// Administrative routes: verify, outbox, backup (global administrators); dead letters and
// their retry (also unit administrators, for their unit's instances). Each
// runs its engine call on the worker pool (on_pool): none holds an io thread.
#include "backup_path.hpp"
#include "bihuan/verify_report.hpp"
#include "context.hpp"

namespace bihuan::api {

namespace {

using boost::asio::awaitable;

json message_json(const Context& ctx, const OutboxMessage& m) {
  json j = {{"seq", m.seq},           {"kind", m.kind},
            {"channel", m.channel},   {"instance", m.instance_id},
            {"step", m.step},         {"idempotencyKey", m.idempotency_key},
            {"body", m.body},         {"createdAt", format_time(m.created_at, *ctx.tz)},
            {"attempts", m.attempts}, {"dead", m.dead}};
  if (m.next_attempt_at) j["nextAttemptAt"] = format_time(*m.next_attempt_at, *ctx.tz);
  if (!m.last_error.empty()) j["lastError"] = m.last_error;
  return j;
}

// ?limit= and ?after= for outbox listings.
std::optional<Reply> page_params(const Call& call, std::size_t& limit, std::uint64_t& after) {
  for (const char* name : {"limit", "after"}) {
    const std::string* v = call.query_value(name);
    if (!v) continue;
    auto parsed = parse_uint(*v);
    std::uint64_t n = parsed.value_or(0);
    if (!parsed || (std::string(name) == "limit" && (n < 1 || n > 1000)))
      return problem(400, "bad-parameter",
                     std::string(name) + " must be a non-negative integer (limit 1..1000)",
                     {{std::string("query:") + name, "integer", "got \"" + *v + "\""}});
    if (std::string(name) == "limit")
      limit = static_cast<std::size_t>(n);
    else
      after = n;
  }
  return std::nullopt;
}

// A unit administrator's view of messages: those of instances it administers.
bool administered(const Context& ctx, const Actor& who, const std::string& instance_id) {
  auto v = ctx.engine.get(instance_id);
  return v && administers(who, *v);
}

awaitable<Reply> list_messages(Context& ctx, Call& call, bool dead_only) {
  std::size_t limit = 100;
  std::uint64_t after = 0;
  if (auto bad = page_params(call, limit, after)) co_return *bad;
  auto list = co_await on_pool(ctx, [&ctx, dead_only, limit, after] {
    return dead_only ? ctx.engine.dead_letters(limit, after) : ctx.engine.outbox(limit, after);
  });
  const Actor& who = call.who->actor;
  json items = json::array();
  for (const auto& m : list)
    if (who.global_admin() || administered(ctx, who, m.instance_id))
      items.push_back(message_json(ctx, m));
  json out = {{"items", items}};
  if (list.size() == limit) out["nextAfter"] = list.back().seq;
  co_return Reply::json_body(200, out);
}

}  // namespace

void add_admin_routes(Router& router, Context& ctx) {
  router.add(http::verb::get, "/v1/verify", Access::admin, [&ctx](Call&) -> awaitable<Reply> {
    VerifyReport rep = co_await on_pool(ctx, [&ctx] { return ctx.engine.verify(); });
    co_return Reply::json_body(200, verify_report_json(rep));
  });
  router.add(http::verb::get, "/v1/outbox", Access::admin,
             [&ctx](Call& call) -> awaitable<Reply> { return list_messages(ctx, call, false); });
  router.add(http::verb::get, "/v1/dead-letters", Access::unit_admin,
             [&ctx](Call& call) -> awaitable<Reply> { return list_messages(ctx, call, true); });
  router.add(
      http::verb::post, "/v1/dead-letters/{seq}/retry", Access::unit_admin,
      [&ctx](Call& call) -> awaitable<Reply> {
        auto parsed = parse_uint(call.params[0]);
        std::uint64_t seq = parsed.value_or(0);
        if (!parsed)
          co_return problem(400, "bad-path", "seq must be a message number",
                            {{"path:seq", "integer", "got \"" + call.params[0] + "\""}});
        const Actor& who = call.who->actor;
        if (!who.global_admin()) {  // a unit administrator: only its instances' letters
          bool mine = co_await on_pool(ctx, [&ctx, &who, seq] {
            auto found = ctx.engine.dead_letters(1, seq - 1);
            return !found.empty() && found[0].seq == seq &&
                   administered(ctx, who, found[0].instance_id);
          });
          if (!mine)
            co_return refused_by_scope(problem(
                404, "not-found",
                "no dead letter " + call.params[0] + " (it may have been retried or delivered)"));
        }
        if (!co_await on_pool(ctx, [&ctx, seq] { return ctx.engine.retry_dead_letter(seq); }))
          co_return problem(
              404, "not-found",
              "no dead letter " + call.params[0] + " (it may have been retried or delivered)");
        ctx.log("info", "dead letter retried", {{"seq", seq}, {"actor", call.who->actor.id}});
        co_return Reply::json_body(200, {{"seq", seq}, {"retried", true}});
      });
  router.add(http::verb::post, "/v1/backup", Access::admin, [&ctx](Call& call) -> awaitable<Reply> {
    Reply error;
    auto body = body_json(call, error);
    if (!body) co_return error;
    if (!body->is_object() || !body->contains("dir") || !(*body)["dir"].is_string() ||
        (*body)["dir"].get<std::string>().empty())
      co_return problem(422, "missing-member",
                        "the body needs \"dir\": a new or empty directory inside the backup root",
                        {{"/dir", "required", "expected a path relative to the backup root"}});
    std::string requested = (*body)["dir"].get<std::string>();
    std::string root = ctx.config.backup_root.empty()
                           ? default_backup_root(ctx.engine.options().data_dir)
                           : ctx.config.backup_root;
    BackupDir target = prepare_backup_dir(root, requested);
    if (target.status == 400)
      co_return problem(400, "bad-backup-dir", target.why, {{"/dir", "backup-dir", target.why}});
    if (target.status != 0)
      co_return problem(target.status, "backup-failed", target.why,
                        {{"/dir", "backup", target.why}});
    std::string why;
    if (!co_await on_pool(ctx,
                          [&ctx, &target, &why] { return ctx.engine.backup(target.path, &why); }))
      co_return problem(409, "backup-failed", why, {{"/dir", "backup", why}});
    ctx.log("info", "backup written", {{"dir", target.path}, {"actor", call.who->actor.id}});
    co_return Reply::json_body(200, {{"dir", requested}, {"path", target.path}, {"ok", true}});
  });
}

}  // namespace bihuan::api
