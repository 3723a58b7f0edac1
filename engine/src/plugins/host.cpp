// The host services lent to plugins (bihuan_host): logging, configuration, the clock and
// events back to instances. Every function is noexcept at the C boundary.
#include "bihuan/log.hpp"
#include "plugins/dll.hpp"

namespace bihuan {

std::string to_string(PluginKind k) {
  switch (k) {
    case PluginKind::notifier:
      return "notifier";
    case PluginKind::data_source:
      return "data source";
    case PluginKind::task_handler:
      return "task handler";
    case PluginKind::file_store:
      return "file store";
  }
  return "unknown";
}

HostServices::HostServices(std::shared_ptr<const Clock> clock, LogSink log)
    : clock_(clock ? std::move(clock) : std::make_shared<SystemClock>()), log_(std::move(log)) {}

std::int64_t HostServices::now_ms() const { return clock_->now().time_since_epoch().count(); }

void HostServices::log(PluginLogLevel level, const std::string& instance_name,
                       const std::string& message) const {
  if (log_) {
    log_(level, instance_name, message);
    return;
  }
  static const char* names[] = {"debug", "info", "warn", "error"};
  if (level == PluginLogLevel::debug) return;
  log_event(names[static_cast<int>(level)], message, {{"plugin", instance_name}});
}

bool HostServices::emit_event(const std::string& from, const std::string& instance_id,
                              const std::string& event, std::string_view payload_json,
                              std::string* error) const {
  auto fail = [&](std::string why) {
    if (error) *error = std::move(why);
    return false;
  };
  {
    std::shared_lock lock(engine_mu_);
    if (!engine_) return fail("no engine is attached to the plugin host");
  }
  if (instance_id.empty() || event.empty())
    return fail("emit_event needs an instance id and an event name");
  json payload = json::object();
  if (!payload_json.empty()) {
    Problems p;
    auto doc = load_json(payload_json, p);
    if (!doc || !doc->is_object())
      return fail("emit_event payload is not a JSON object" +
                  (p.items().empty() ? "" : ": " + p.items()[0].message));
    payload = std::move(*doc);
  }
  EventRequest req;
  req.instance_id = instance_id;
  req.event = event;
  req.payload = std::move(payload);
  req.actor = Actor{"plugin:" + from, {"system"}};
  // Shared while queueing, so attach(nullptr) (before the engine is destroyed) waits for it.
  std::shared_lock lock(engine_mu_);
  if (!engine_) return fail("no engine is attached to the plugin host");
  engine_->send_async(std::move(req), nullptr);
  return true;
}

namespace plugins {

namespace {

HostContext& ctx_of(void* c) { return *static_cast<HostContext*>(c); }

void host_log(void* c, std::int32_t level, bihuan_text message) noexcept {
  try {
    auto lvl = static_cast<PluginLogLevel>(std::clamp<std::int32_t>(level, 0, 3));
    ctx_of(c).services->log(
        lvl, ctx_of(c).name,
        std::string(message.data ? message.data : "", message.data ? message.size : 0));
  } catch (...) {
  }
}

bihuan_text host_config(void* c) noexcept {
  return {ctx_of(c).config_text.data(), ctx_of(c).config_text.size()};
}

std::int32_t host_config_value(void* c, const char* pointer, bihuan_text* out) noexcept {
  try {
    HostContext& ctx = ctx_of(c);
    if (!pointer || !out) return 0;
    std::lock_guard lock(ctx.mu);
    auto it = ctx.values.find(pointer);
    if (it == ctx.values.end()) {
      json::json_pointer ptr(pointer);  // throws on a malformed pointer
      if (!ctx.config.contains(ptr)) return 0;
      const json& v = ctx.config.at(ptr);
      it = ctx.values.emplace(pointer, v.is_string() ? v.get<std::string>() : v.dump()).first;
    }
    *out = {it->second.data(), it->second.size()};
    return 1;
  } catch (...) {
    return 0;
  }
}

std::int64_t host_now_ms(void* c) noexcept {
  try {
    return ctx_of(c).services->now_ms();
  } catch (...) {
    return 0;
  }
}

std::string as_string(bihuan_text t) {
  return t.data ? std::string(t.data, t.size) : std::string();
}

std::int32_t host_emit_event(void* c, bihuan_text instance_id, bihuan_text event,
                             bihuan_text payload) noexcept {
  try {
    HostContext& ctx = ctx_of(c);
    std::string error;
    if (ctx.services->emit_event(
            ctx.name, as_string(instance_id), as_string(event),
            payload.data ? std::string_view(payload.data, payload.size) : std::string_view(),
            &error))
      return 0;
    ctx.services->log(PluginLogLevel::warning, ctx.name, "event refused: " + error);
    return 1;
  } catch (...) {
    return 1;
  }
}

bihuan_text host_instance_name(void* c) noexcept {
  return {ctx_of(c).name.data(), ctx_of(c).name.size()};
}

}  // namespace

void init_host_table(HostContext& ctx) {
  ctx.table.struct_size = sizeof(bihuan_host);
  ctx.table.context = &ctx;
  ctx.table.log = &host_log;
  ctx.table.config = &host_config;
  ctx.table.config_value = &host_config_value;
  ctx.table.now_ms = &host_now_ms;
  ctx.table.emit_event = &host_emit_event;
  ctx.table.instance_name = &host_instance_name;
}

void reply_to(void* context, std::int32_t status, bihuan_text body) noexcept {
  auto* r = static_cast<Reply*>(context);
  if (!r) return;
  try {
    r->called = true;
    r->status = status;
    r->body.assign(body.data ? body.data : "", body.data ? body.size : 0);
  } catch (...) {
    r->body.clear();
  }
}

}  // namespace plugins
}  // namespace bihuan
