// bihuan::Node (bihuan/node.hpp): what `bihuan serve` runs, as a library. The log lines
// are serve's (docs/operations.md lists them; tests/api read them).
#include "bihuan/node.hpp"

#include <algorithm>
#include <chrono>
#include <filesystem>
#include <fstream>
#include <stdexcept>

#include "bihuan/config.hpp"
#include "bihuan/dispatcher.hpp"
#include "bihuan/log.hpp"
#include "bihuan/plugin_host.hpp"
#include "bihuan/serve_lock.hpp"
#include "bihuan/server_retention.hpp"

namespace bihuan {
namespace {

namespace fs = std::filesystem;

void node_log(const std::string& level, const std::string& msg, json fields = json::object()) {
  log_event(level, msg, fields);
}

void node_log_problems(const Problems& problems) {
  for (const auto& p : problems.items()) {
    json fields = json::object();
    if (!p.file.empty()) fields["file"] = p.file;
    if (!p.pointer.empty()) fields["pointer"] = p.pointer;
    if (!p.code.empty()) fields["code"] = p.code;
    node_log(p.severity == Severity::error ? "error" : "warn", p.to_string(), fields);
  }
}

// Every definition file under `dirs` (JSON objects with "id" and "states"), sorted;
// schema/, calendars/ and policies/ (bihuan simulate --compare) folders are skipped.
std::vector<std::string> node_definition_files(const std::vector<std::string>& dirs) {
  std::vector<std::string> files;
  for (const auto& d : dirs) {
    std::error_code ec;
    if (fs::is_regular_file(d, ec)) {
      files.push_back(d);
      continue;
    }
    for (auto it = fs::recursive_directory_iterator(d, ec);
         !ec && it != fs::recursive_directory_iterator(); it.increment(ec)) {
      auto name = it->path().filename().string();
      if (it->is_directory() &&
          (name == "schema" || name == "calendars" || name == "policies" || name[0] == '.')) {
        it.disable_recursion_pending();
        continue;
      }
      if (it->is_regular_file() && it->path().extension() == ".json")
        files.push_back(it->path().string());
    }
  }
  std::sort(files.begin(), files.end());
  return files;
}

// True if every error of `problems` is a task channel the configuration does not have
// (compile.cpp's "unknown-handler", pointing at the action's "task" member of `doc`): the
// channels' names in *channels.
bool only_unconfigured_channels(const json& doc, const Problems& problems,
                                std::vector<std::string>* channels) {
  bool any = false;
  for (const auto& p : problems.items()) {
    if (p.severity != Severity::error) continue;
    if (p.code != "unknown-handler") return false;
    try {
      const json& name = doc.at(json::json_pointer(p.pointer));
      if (!name.is_string()) return false;
      channels->push_back(name.get<std::string>());
    } catch (const json::exception&) {
      return false;  // the pointer does not lead to the action's "task" member
    }
    any = true;
  }
  return any;
}

// Deploys every definition under `dirs`. A definition of the bundled folder (`bundled`,
// "" = none) that only lacks task channels this configuration does not have (e.g. the
// food-safety scheduler's master-data source on the embedded default) is skipped with a
// warning naming them; any other refusal is an error.
void node_deploy_workflows(Engine& engine, const std::vector<std::string>& dirs,
                           const std::string& bundled) {
  std::size_t deployed = 0, unchanged = 0, failed = 0, skipped = 0;
  const std::string bundled_prefix =
      bundled.empty() ? "" : fs::weakly_canonical(bundled).string() + "/";
  for (const auto& file : node_definition_files(dirs)) {
    Problems problems(file);
    auto doc = load_json_file(file, problems);
    if (!doc || !doc->is_object() || !doc->contains("states") || !doc->contains("id"))
      continue;  // not a definition
    auto res = engine.deploy(*doc, file);
    std::vector<std::string> channels;
    if (res.ok) {
      res.unchanged ? ++unchanged : ++deployed;
    } else if (!bundled_prefix.empty() &&
               fs::weakly_canonical(file).string().rfind(bundled_prefix, 0) == 0 &&
               only_unconfigured_channels(*doc, res.problems, &channels)) {
      ++skipped;
      node_log("warn",
               "bundled definition not deployed: it needs task channels this configuration "
               "does not have (add plugin instances with these names; docs/operations.md)",
               {{"file", file}, {"channels", channels}});
    } else {
      ++failed;
      node_log("error", "definition not deployed", {{"file", file}});
      node_log_problems(res.problems);
    }
  }
  node_log("info", "workflows deployed",
           {{"dirs", dirs},
            {"deployed", deployed},
            {"unchanged", unchanged},
            {"failed", failed},
            {"skipped", skipped}});
}

// The file's dataDir (resolved against its directory), or "".
std::string file_data_dir(const std::string& config_file) {
  if (config_file.empty()) return "";
  Problems ignored;  // reported when the file is read for real
  auto doc = EngineConfig::layer_file(json::object(), config_file, ignored);
  if (!doc || !doc->is_object() || !doc->contains("dataDir") || !(*doc)["dataDir"].is_string())
    return "";
  return (*doc)["dataDir"].get<std::string>();
}

// The default administrator token: created once, kept (mode 0600) in the data directory.
std::string dev_admin_token(const std::string& data_dir) {
  fs::path file = fs::path(data_dir) / "dev-admin-token";
  std::ifstream in(file);
  std::string token;
  if (in && std::getline(in, token) && token.size() >= 32) return token;
  token = ServerConfig::generate_token();
  std::ofstream out(file, std::ios::trunc);
  out << token << "\n";
  out.close();
  std::error_code ec;
  fs::permissions(file, fs::perms::owner_read | fs::perms::owner_write, ec);
  return token;
}

// The engine's clock: the system clock, or with clock_start an OffsetClock. The offset is
// kept in <data>/clock.json so that a restart continues the same timeline (steps must
// never go back in time) instead of starting over. "" or the error (logged).
std::shared_ptr<Clock> make_clock(const std::string& clock_start, const std::string& data_dir,
                                  std::string& error) {
  fs::path file = fs::path(data_dir) / "clock.json";
  std::error_code ec;
  if (clock_start.empty() && !fs::exists(file, ec)) return std::make_shared<SystemClock>();
  Problems problems(file.string());
  if (fs::exists(file, ec)) {
    auto doc = load_json_file(file.string(), problems);
    std::optional<TimePoint> at, system_at;
    if (doc && doc->is_object() && (*doc)["at"].is_string() && (*doc)["systemAt"].is_string()) {
      at = parse_time((*doc)["at"].get<std::string>());
      system_at = parse_time((*doc)["systemAt"].get<std::string>());
    }
    if (!at || !system_at) {
      error = file.string() + ": expected {\"at\": TIME, \"systemAt\": TIME}";
      node_log("error", error);
      return nullptr;
    }
    if (!clock_start.empty())
      node_log("warn", "--clock-start ignored: this data directory's clock continues from " +
                           file.string());
    node_log("info", "engine clock runs shifted",
             {{"file", file.string()}, {"startedAt", format_time(*at, *TimeZone::utc())}});
    return std::make_shared<OffsetClock>(*at, *system_at);
  }
  auto at = parse_time(clock_start);
  if (!at) {
    error = "--clock-start: expected an ISO 8601 time such as 2023-05-15T09:00:00+08:00, got " +
            clock_start;
    node_log("error", error);
    return nullptr;
  }
  TimePoint now = SystemClock().now();
  std::ofstream out(file);
  out << json({{"at", format_time(*at, *TimeZone::utc())},
               {"systemAt", format_time(now, *TimeZone::utc())}})
             .dump()
      << "\n";
  node_log("info", "engine clock starts at " + clock_start + " and runs in real time",
           {{"file", file.string()}});
  return std::make_shared<OffsetClock>(*at, now);
}

// The dispatcher's counters as Prometheus text (GET /metrics, beside the server's).
std::string dispatcher_metrics(const Dispatcher& dispatcher) {
  auto s = dispatcher.stats();
  std::string out;
  auto counter = [&out](const char* name, const char* help, std::uint64_t v) {
    out += std::string("# HELP ") + name + " " + help + "\n# TYPE " + name + " counter\n" + name +
           " " + std::to_string(v) + "\n";
  };
  counter("bihuan_outbox_attempts_total", "Delivery attempts made.", s.attempts);
  counter("bihuan_outbox_delivered_total", "Messages delivered.", s.delivered);
  counter("bihuan_outbox_failures_total", "Delivery attempts that failed (to be retried).",
          s.failed);
  counter("bihuan_outbox_dead_total", "Messages that became dead letters.", s.dead);
  counter("bihuan_outbox_timeouts_total", "Delivery attempts that timed out.", s.timed_out);
  return out;
}

}  // namespace

struct Node::Impl {
  NodeOptions o;
  bool configured = false;
  std::string configure_error;
  bool embedded_default = true;
  json effective;
  std::optional<EngineConfig> config;
  std::optional<ServerConfig> server_config;
  // Running parts, in the order they start (stop() ends them in reverse).
  std::shared_ptr<ServeLock> serve_lock;
  std::shared_ptr<HostServices> services;
  std::optional<PluginRegistry> registry;
  std::unique_ptr<Engine> engine;
  std::unique_ptr<Dispatcher> dispatcher;
  std::unique_ptr<Server> server;
  std::unique_ptr<RetentionTask> retention;
  bool running = false;

  bool has_document() const { return o.config_file.empty() && o.config.has_value(); }
  json config_name() const {
    if (has_document()) return "(NodeOptions::config)";
    return embedded_default ? json("(embedded default)") : json(o.config_file);
  }
  std::string config_base_dir() const {
    if (has_document())
      return fs::absolute(o.config_base_dir.empty() ? "." : o.config_base_dir)
          .lexically_normal()
          .string();
    return embedded_default ? "" : fs::absolute(o.config_file).parent_path().string();
  }
  // Ends what has started (a failed start, or stop()).
  void teardown(std::chrono::milliseconds grace) {
    if (retention) retention->stop();
    retention.reset();
    if (server) server->shutdown(grace);
    server.reset();
    if (dispatcher) dispatcher->stop();
    dispatcher.reset();
    if (services) services->attach(nullptr);
    if (engine) engine->close();
    engine.reset();
    registry.reset();
    services.reset();
    serve_lock.reset();
  }
};

Node::Node(NodeOptions options) : impl_(std::make_unique<Impl>()) { impl_->o = std::move(options); }

Node::~Node() {
  if (impl_->running)
    stop();
  else
    impl_->teardown(std::chrono::seconds(0));  // what a start that threw left behind
}

std::string Node::configure() {
  Impl& n = *impl_;
  if (n.configured) return n.configure_error;
  n.configured = true;
  const NodeOptions& o = n.o;
  // The effective configuration: the embedded default with the config file laid over it
  // (EngineConfig::layer), then the options' overrides.
  n.embedded_default = o.config_file.empty() && !o.config;
  Problems problems;
  problems.set_file(o.config_file);
  std::string data_dir = o.data_dir.empty() ? file_data_dir(o.config_file) : o.data_dir;
  if (data_dir.empty() && n.has_document() && o.config->is_object() &&
      o.config->contains("dataDir") && (*o.config)["dataDir"].is_string())
    data_dir = (fs::path(n.config_base_dir()) / (*o.config)["dataDir"].get<std::string>()).string();
  if (data_dir.empty()) data_dir = "./data";
  json effective = EngineConfig::default_document(data_dir);
  if (!o.bundled_workflows.empty()) {
    effective["workflowDirs"] = {o.bundled_workflows};
    effective["calendarDirs"] = {o.bundled_workflows + "/calendars"};
  }
  if (n.has_document()) {
    effective = EngineConfig::layer(effective, *o.config, n.config_base_dir());
  } else if (!n.embedded_default) {
    auto layered = EngineConfig::layer_file(effective, o.config_file, problems);
    if (layered) effective = std::move(*layered);
  }
  if (!o.data_dir.empty())
    effective["dataDir"] = fs::absolute(o.data_dir).lexically_normal().string();
  if (o.workflow_dirs) {
    effective["workflowDirs"] = json::array();
    for (const auto& w : *o.workflow_dirs)
      effective["workflowDirs"].push_back(fs::absolute(w).lexically_normal().string());
  }
  bool server_object =
      effective.is_object() && (!effective.contains("server") || effective["server"].is_object());
  if (!o.listen.empty() && server_object) effective["server"]["listen"] = o.listen;
  if (!problems.has_errors())
    n.config = o.config_file.empty()
                   ? EngineConfig::from_json(effective, "", problems)
                   : EngineConfig::check_file_document(effective, o.config_file, problems);
  // The server section too, even when the rest has errors: every problem in one go.
  if (server_object)
    n.server_config = ServerConfig::from_json(effective.value("server", json::object()),
                                              n.config_base_dir(), "/server", problems);
  n.effective = std::move(effective);
  if (!n.config || !n.server_config) {
    node_log_problems(problems);
    n.configure_error = "bihuan serve: the configuration has errors; not started";
    node_log("error", n.configure_error, {{"config", n.config_name()}});
    return n.configure_error;
  }
  node_log_problems(problems);  // warnings
  return "";
}

const json& Node::effective_config() const { return impl_->effective; }

std::string Node::start() {
  Impl& n = *impl_;
  if (n.running) return "";
  if (std::string err = configure(); !err.empty()) return err;
  EngineConfig& config = *n.config;
  ServerConfig server_config = *n.server_config;  // start() adds tokens to its own copy
  auto fail = [&n](std::string why) {
    n.teardown(std::chrono::seconds(0));
    return why;
  };

  std::error_code ec;
  fs::create_directories(config.data_dir, ec);
  std::string abs_data = fs::absolute(config.data_dir, ec).lexically_normal().string();
  node_log("info",
           n.embedded_default ? "starting on the embedded default configuration" : "starting",
           {{"config", n.config_name()},
            {"dataDir", abs_data},
            {"listen", server_config.host + ":" + std::to_string(server_config.port)},
            {"tls", server_config.tls.has_value()},
            {"workflowDirs", config.workflow_dirs},
            {"pluginDirs", config.plugin_dirs}});

  // One node (one dispatcher) per data directory, held until stop().
  std::string lock_error;
  n.serve_lock = ServeLock::acquire(config.data_dir, &lock_error);
  if (!n.serve_lock) {
    node_log("error", "not started: " + lock_error, {{"dataDir", abs_data}});
    return fail("not started: " + lock_error);
  }

  // Plugins first: the engine checks the names definitions use against them.
  std::string clock_error;
  auto clock = n.o.clock ? n.o.clock : make_clock(n.o.clock_start, config.data_dir, clock_error);
  if (!clock) return fail(clock_error);
  n.services = std::make_shared<HostServices>(clock);
  Problems plugin_problems(config.file);
  n.registry = PluginRegistry::load(config, n.services, plugin_problems);
  node_log_problems(plugin_problems);
  if (plugin_problems.has_errors()) {
    std::string why = "bihuan serve: a configured plugin could not be loaded; not started";
    node_log("error", why, {{"config", n.config_name()}});
    return fail(why);
  }
  // The attachment store's plugin, if the server section names one.
  Problems store_problems(config.file);
  if (!resolve_attachment_store(server_config, *n.registry, "/server", store_problems)) {
    node_log_problems(store_problems);
    std::string why =
        "bihuan serve: server.attachments.store names no loaded file store; not started";
    node_log("error", why, {{"config", n.config_name()}});
    return fail(why);
  }
  json loaded = json::array();
  for (const auto& [name, obj] : n.registry->all()) loaded.push_back(name);
  node_log("info", "plugins loaded", {{"instances", loaded}});

  EngineOptions eo;
  eo.data_dir = config.data_dir;
  eo.store = n.o.store.empty() ? config.store : n.o.store;
  eo.sql_view = config.sql_view;
  eo.sql_view_backfill = config.sql_view;
  eo.clock = clock;
  Problems cal_problems;
  eo.calendars = std::make_shared<Calendars>(
      find_calendars(config.calendar_dirs, config.data_dir, cal_problems));
  node_log_problems(cal_problems);
  configured_names(config, *n.registry, eo.notifiers, eo.task_handlers);
  Problems open_problems(config.data_dir);
  auto opened_at = std::chrono::steady_clock::now();
  n.engine = Engine::open(std::move(eo), open_problems);
  if (!n.engine) {
    node_log_problems(open_problems);
    std::string why = "bihuan serve: cannot open the data directory; not started";
    node_log("error", why, {{"dataDir", config.data_dir}});
    return fail(why);
  }
  node_log("info", "engine open",
           {{"ms",
             std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - opened_at)
                 .count()},
            {"instances", n.engine->metrics().instances},
            {"pendingTimers", n.engine->metrics().pending_timers}});
  if (!config.workflow_dirs.empty())
    node_deploy_workflows(*n.engine, config.workflow_dirs, n.o.bundled_workflows);
  n.services->attach(n.engine.get());
  DispatcherOptions dopts;
  dopts.poll_ms = config.poll_ms;
  dopts.lock = n.serve_lock;
  n.dispatcher =
      std::make_unique<Dispatcher>(*n.engine, Dispatcher::channels_of(*n.registry, config), dopts);
  n.dispatcher->start();

  json sign_in = json::object();  // token name -> token, told again with the console's address
  if (n.o.before_listen) n.o.before_listen(*n.engine, server_config, sign_in);
  if (n.embedded_default && n.o.dev_admin_token && server_config.tokens.empty()) {
    std::string token = dev_admin_token(config.data_dir);
    sign_in["dev-admin"] = token;
    server_config.tokens.push_back(
        {"dev-admin", ServerConfig::hash_token(token), Actor{"admin", {"admin"}}, 0, 0});
    node_log(
        "info",
        "development administrator token (embedded default only; kept in <data>/dev-admin-token)",
        {{"token", token}, {"actor", "admin"}, {"roles", {"admin"}}});
  }
  if (server_config.tokens.empty() && server_config.identity_file.empty())
    node_log("warn",
             "no tokens are configured: every /v1 route will answer 401 (see docs/operations.md)");

  ServerHooks hooks;
  Dispatcher* dispatcher = n.dispatcher.get();
  hooks.extra_metrics = [dispatcher] { return dispatcher_metrics(*dispatcher); };
  Problems server_problems(n.o.config_file.empty() ? "server" : n.o.config_file);
  const bool tls = server_config.tls.has_value();
  const std::string host = server_config.host;
  n.server = Server::start(*n.engine, std::move(server_config), hooks, server_problems);
  if (!n.server) {
    node_log_problems(server_problems);
    std::string why = server_problems.items().empty() ? std::string("the server did not start")
                                                      : server_problems.items().front().to_string();
    return fail(why);
  }
  node_log("info", "listening",
           {{"url", std::string(tls ? "https" : "http") + "://" + host + ":" +
                        std::to_string(n.server->port())},
            {"port", n.server->port()},
            {"openapi", "/v1/openapi.json"}});
  // The last line of the start: where people open the console, and the tokens they can
  // sign in with (the demo's, or the development administrator's), by name.
  node_log("info", "web console: open it in a browser and sign in with a token",
           {{"console", url() + "/"}, {"signIn", sign_in}});
  // Retention (server.retention; docs/retention.md): on the engine clock, its own thread.
  Problems ignored;  // reported by configure(), when the server section was read
  if (auto ro = retention_from_json(n.effective.value("server", json::object()),
                                    n.config_base_dir(), "/server", ignored)) {
    if (ro->archive_dir.empty()) ro->archive_dir = n.engine->options().data_dir + "/archives";
    n.retention = std::make_unique<RetentionTask>(
        *n.engine, *ro, [](const char* level, const std::string& msg, json fields) {
          node_log(level, msg, std::move(fields));
        });
  }
  n.running = true;
  return "";
}

bool Node::running() const { return impl_->running; }

std::uint16_t Node::port() const { return impl_->server ? impl_->server->port() : 0; }

std::string Node::url() const {
  const ServerConfig* sc = impl_->server_config ? &*impl_->server_config : nullptr;
  if (!sc || !impl_->server) return "";
  std::string host = sc->host == "0.0.0.0" ? std::string("127.0.0.1") : sc->host;
  return std::string(sc->tls ? "https" : "http") + "://" + host + ":" + std::to_string(port());
}

Engine& Node::engine() const {
  if (!impl_->running) throw std::logic_error("bihuan::Node::engine(): the node is not running");
  return *impl_->engine;
}

Server& Node::server() const {
  if (!impl_->running) throw std::logic_error("bihuan::Node::server(): the node is not running");
  return *impl_->server;
}

bool Node::reload_identity(Problems& problems) {
  if (!impl_->running) {
    problems.error("", "node-not-running", "the node is not running");
    return false;
  }
  return impl_->server->reload_identity(problems);
}

void Node::stop(std::chrono::milliseconds grace) {
  if (!impl_->running) return;
  impl_->running = false;
  impl_->teardown(grace);
  node_log("info", "stopped cleanly");
}

}  // namespace bihuan
