// Health, readiness, metrics, the OpenAPI document, and the StepError mapping.
#include "context.hpp"
#include "openapi_text.hpp"

namespace bihuan {

const char* openapi_document() { return api_detail::kOpenApiText; }

namespace api {

Reply step_problem(const StepResult& r) {
  unsigned status = 500;
  std::vector<FieldError> errors;
  switch (r.error) {
    case StepError::none:
      status = 200;
      break;
    case StepError::not_found:
      status = 404;
      break;
    case StepError::unknown_event:
      status = 409;
      break;
    case StepError::role_not_allowed:
      status = 403;
      break;
    case StepError::actor_not_allowed:
    case StepError::start_not_allowed:
      status = 403;
      break;
    case StepError::guard_false:
      status = 409;
      break;
    case StepError::payload_invalid:
      status = 422;
      break;
    case StepError::data_invalid:
      status = 422;
      break;
    case StepError::version_conflict:
      status = 412;
      break;
    case StepError::instance_ended:
      status = 409;
      break;
    case StepError::duplicate_business_key:
      status = 409;
      break;
    case StepError::idempotency_key_reused:
      status = 422;
      break;
    case StepError::expression_error:
      status = 422;
      break;
    case StepError::invalid_request:
      status = 400;
      break;
    case StepError::storage_error:
      status = 503;
      break;
    case StepError::storage_unavailable:
      status = 503;
      break;
    case StepError::record_damaged:
      status = 500;
      break;  // retrying does not help
    case StepError::internal_error:
      status = 500;
      break;
    case StepError::shutting_down:
      status = 503;
      break;
  }
  json extra = json::object();
  if (r.details.is_object())
    for (auto it = r.details.begin(); it != r.details.end(); ++it) {
      if (it.key() == "problems" && it->is_array()) {
        for (const auto& p : *it)
          if (p.is_object())
            errors.push_back({p.value("pointer", ""), p.value("code", "invalid"),
                              p.value("message", p.value("detail", ""))});
      } else {
        extra[it.key()] = it.value();
      }
    }
  if (r.instance &&
      (r.error == StepError::version_conflict || r.error == StepError::instance_ended ||
       r.error == StepError::unknown_event || r.error == StepError::guard_false))
    extra["currentVersion"] = r.instance->version;
  Reply out =
      problem(status, to_string(r.error), r.message.empty() ? to_string(r.error) : r.message,
              std::move(errors), std::move(extra));
  if (status == 503) out.headers.emplace_back("Retry-After", "1");
  return out;
}

Reply storage_problem(const std::string& detail) {
  Reply out = problem(503, "storage-unavailable",
                      detail.empty() ? "the store could not be read; retry later" : detail);
  out.headers.emplace_back("Retry-After", "1");
  return out;
}

std::string Context::metrics_text() const {
  std::string out = engine_metrics_text(engine.metrics());
  out += metrics.text();
  if (hooks.extra_metrics) out += hooks.extra_metrics();
  return out;
}

namespace {

// Each calendar's covered years and the uncovered years computations needed (readyz).
json calendar_coverage(const Engine& engine) {
  json out = json::array();
  const Calendars* cals = engine.options().calendars.get();
  if (!cals) return out;
  auto gaps = cals->gaps();
  for (const auto& id : cals->ids()) {
    auto c = cals->find(id);
    json used = json::array();
    for (const auto& g : gaps)
      if (g.calendar == id) used.push_back(g.year);
    out.push_back({{"id", id}, {"years", c->years()}, {"uncoveredYearsUsed", std::move(used)}});
  }
  return out;
}

}  // namespace

void add_ops_routes(Router& router, Context& ctx) {
  router.add(http::verb::get, "/healthz", Access::open, [](Call&) -> boost::asio::awaitable<Reply> {
    co_return Reply::json_body(200, {{"status", "ok"}});
  });
  router.add(
      http::verb::get, "/readyz", Access::open, [&ctx](Call&) -> boost::asio::awaitable<Reply> {
        // A fatal storage error stopped the engine (fail-stop): not ready, and it says why.
        EngineMetrics m = ctx.engine.metrics();
        if (m.failed) {
          Reply r = problem(503, "storage-failed", m.failure);
          r.headers.emplace_back("Retry-After", "60");
          co_return r;
        }
        bool ready = !ctx.draining && (!ctx.hooks.ready || ctx.hooks.ready());
        if (!ready) {
          Reply r =
              problem(503, "not-ready",
                      ctx.draining ? "the server is shutting down" : "the server is not ready yet");
          r.headers.emplace_back("Retry-After", "1");
          co_return r;
        }
        co_return Reply::json_body(
            200, {{"status", "ready"}, {"calendars", calendar_coverage(ctx.engine)}});
      });
  router.add(
      http::verb::get, "/metrics", Access::open, [&ctx](Call&) -> boost::asio::awaitable<Reply> {
        co_return Reply::text(200, "text/plain; version=0.0.4; charset=utf-8", ctx.metrics_text());
      });
  router.add(http::verb::get, "/v1/openapi.json", Access::open,
             [](Call&) -> boost::asio::awaitable<Reply> {
               co_return Reply::text(200, "application/json", openapi_document());
             });
}

}  // namespace api
}  // namespace bihuan
