// bihuan serve: the engine, its plugins and dispatcher, and the HTTP/JSON API in one
// process. bihuan token-hash: the SHA-256 a configuration stores for a bearer token.
//
// It runs on the embedded default: data in ./data (or --data-dir), the bundled workflows/
// deployed, the bundled plugins loaded (notify.log into <data>/notifications.jsonl),
// listening on 127.0.0.1:8080. A --config file is laid over it (EngineConfig::layer);
// with no --config an administrator token is created once in <data>/dev-admin-token
// (printed in the first log lines). Every line it logs is one JSON object (bihuan/log.hpp).
// It holds the data directory's serve lock (bihuan/serve_lock.hpp) for its whole life.
#include <pthread.h>
#include <signal.h>

#include <filesystem>
#include <fstream>
#include <iostream>

#include "bihuan/config.hpp"
#include "bihuan/dispatcher.hpp"
#include "bihuan/log.hpp"
#include "bihuan/plugin_host.hpp"
#include "bihuan/serve_lock.hpp"
#include "bihuan/server.hpp"
#include "bihuan/server_retention.hpp"
#include "commands.hpp"
#include "definitions_io.hpp"
#include "engine_session.hpp"
#include "serve_demo.hpp"

namespace bihuan::cli {
namespace {

namespace fs = std::filesystem;

struct ServeOptions {
  std::string config;
  std::string data_dir;
  std::string listen;
  std::vector<std::string> workflows;
  bool no_workflows = false;
  std::string clock_start;  // run the engine clock from this instant (kept in <data>/clock.json)
  bool demo = false;        // the food-safety demo (serve_demo.hpp)
  std::string demo_at;
  bool print_config = false;  // print the effective configuration and exit
};

// Every line serve writes is one JSON object (bihuan/log.hpp).
void log_line(const std::string& level, const std::string& msg, json fields = json::object()) {
  log_event(level, msg, fields);
}

void log_problems(const Problems& problems) {
  for (const auto& p : problems.items()) {
    json fields = json::object();
    if (!p.file.empty()) fields["file"] = p.file;
    if (!p.pointer.empty()) fields["pointer"] = p.pointer;
    if (!p.code.empty()) fields["code"] = p.code;
    log_line(p.severity == Severity::error ? "error" : "warn", p.to_string(), fields);
  }
}

// The nearest directory named `name` above the current directory or the executable.
std::string find_upward(const std::string& name, const std::string& must_contain) {
  std::error_code ec;
  std::vector<fs::path> starts = {fs::current_path(ec)};
  if (auto exe = fs::read_symlink("/proc/self/exe", ec); !ec) starts.push_back(exe.parent_path());
  for (auto dir : starts)
    for (; !dir.empty(); dir = dir.parent_path()) {
      fs::path candidate = dir / name;
      if (fs::exists(candidate / must_contain, ec)) return candidate.string();
      if (dir == dir.parent_path()) break;
    }
  return {};
}

// Every definition file under `dirs` (JSON objects with "id" and "states"), sorted;
// schema/, calendars/ and policies/ (bihuan simulate --compare) folders are skipped.
std::vector<std::string> definition_files(const std::vector<std::string>& dirs) {
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

void deploy_workflows(Engine& engine, const std::vector<std::string>& dirs) {
  std::size_t deployed = 0, unchanged = 0, failed = 0;
  for (const auto& file : definition_files(dirs)) {
    Problems problems(file);
    auto doc = load_json_file(file, problems);
    if (!doc || !doc->is_object() || !doc->contains("states") || !doc->contains("id"))
      continue;  // not a definition
    auto res = engine.deploy(*doc, file);
    if (res.ok) {
      res.unchanged ? ++unchanged : ++deployed;
    } else {
      ++failed;
      log_line("error", "definition not deployed", {{"file", file}});
      log_problems(res.problems);
    }
  }
  log_line("info", "workflows deployed",
           {{"dirs", dirs}, {"deployed", deployed}, {"unchanged", unchanged}, {"failed", failed}});
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

// The engine's clock: the system clock, or with --clock-start an OffsetClock. The offset
// is kept in <data>/clock.json so that a restart continues the same timeline (steps must
// never go back in time) instead of starting over.
std::shared_ptr<Clock> make_clock(const ServeOptions& o, const std::string& data_dir, bool& ok) {
  ok = true;
  fs::path file = fs::path(data_dir) / "clock.json";
  std::error_code ec;
  if (o.clock_start.empty() && !fs::exists(file, ec)) return std::make_shared<SystemClock>();
  Problems problems(file.string());
  if (fs::exists(file, ec)) {
    auto doc = load_json_file(file.string(), problems);
    std::optional<TimePoint> at, system_at;
    if (doc && doc->is_object() && (*doc)["at"].is_string() && (*doc)["systemAt"].is_string()) {
      at = parse_time((*doc)["at"].get<std::string>());
      system_at = parse_time((*doc)["systemAt"].get<std::string>());
    }
    if (!at || !system_at) {
      log_line("error", file.string() + ": expected {\"at\": TIME, \"systemAt\": TIME}");
      ok = false;
      return nullptr;
    }
    if (!o.clock_start.empty())
      log_line("warn", "--clock-start ignored: this data directory's clock continues from " +
                           file.string());
    log_line("info", "engine clock runs shifted",
             {{"file", file.string()}, {"startedAt", format_time(*at, *TimeZone::utc())}});
    return std::make_shared<OffsetClock>(*at, *system_at);
  }
  auto at = parse_time(o.clock_start);
  if (!at) {
    log_line("error",
             "--clock-start: expected an ISO 8601 time such as 2023-05-15T09:00:00+08:00, got " +
                 o.clock_start);
    ok = false;
    return nullptr;
  }
  TimePoint now = SystemClock().now();
  std::ofstream out(file);
  out << json({{"at", format_time(*at, *TimeZone::utc())},
               {"systemAt", format_time(now, *TimeZone::utc())}})
             .dump()
      << "\n";
  log_line("info", "engine clock starts at " + o.clock_start + " and runs in real time",
           {{"file", file.string()}});
  return std::make_shared<OffsetClock>(*at, now);
}

void run_serve(ServeOptions o) {
  // Signals go to the thread that waits for them, never to the workers started below.
  sigset_t signals;
  sigemptyset(&signals);
  sigaddset(&signals, SIGINT);
  sigaddset(&signals, SIGTERM);
  sigaddset(&signals, SIGHUP);  // reloads the identity file (the server logs the outcome)
  pthread_sigmask(SIG_BLOCK, &signals, nullptr);

  Problems problems;
  std::optional<DemoPlan> demo;
  if (o.demo) {
    DemoPlan plan;
    plan.root = o.data_dir.empty() ? "./data/demo" : o.data_dir;
    plan.workflows_dir = find_upward("workflows", "schema/definition.schema.json");
    if (!o.demo_at.empty()) plan.at = o.demo_at;
    if (plan.workflows_dir.empty()) {
      log_line("error", "bihuan serve --demo: cannot find the bundled workflows/ folder");
      exit_code = 1;
      return;
    }
    if (!o.print_config) {
      log_line(
          "info",
          "preparing the food-safety demo (simulated up to " + plan.at + " on the first start)",
          {{"dataDir", plan.root}});
      auto started = std::chrono::steady_clock::now();
      if (auto err = prepare_demo(plan); !err.empty()) {
        log_line("error", "the demo could not be prepared: " + err);
        exit_code = 1;
        return;
      }
      log_line(
          "info", "demo ready",
          {{"seconds",
            std::chrono::duration<double>(std::chrono::steady_clock::now() - started).count()}});
    }
    o.config = demo_config_file(plan);
    o.data_dir = demo_engine_dir(plan);
    if (o.clock_start.empty()) o.clock_start = plan.at;
    if (o.workflows.empty()) o.workflows.push_back(plan.workflows_dir + "/food-safety");
    demo = plan;
  }
  // The effective configuration: the embedded default with the --config file laid over it
  // (EngineConfig::layer), then the command line's overrides.
  bool embedded_default = o.config.empty();
  problems.set_file(o.config);
  std::string bundled = find_upward("workflows", "schema/definition.schema.json");
  std::string data_dir = o.data_dir.empty() ? file_data_dir(o.config) : o.data_dir;
  if (data_dir.empty()) data_dir = "./data";
  json effective = EngineConfig::default_document(data_dir);
  if (!bundled.empty()) {
    effective["workflowDirs"] = {bundled};
    effective["calendarDirs"] = {bundled + "/calendars"};
  }
  if (!embedded_default) {
    auto layered = EngineConfig::layer_file(effective, o.config, problems);
    if (layered) effective = std::move(*layered);
  }
  if (!o.data_dir.empty())
    effective["dataDir"] = fs::absolute(o.data_dir).lexically_normal().string();
  if (!o.workflows.empty()) {
    effective["workflowDirs"] = json::array();
    for (const auto& w : o.workflows)
      effective["workflowDirs"].push_back(fs::absolute(w).lexically_normal().string());
  }
  if (o.no_workflows) effective["workflowDirs"] = json::array();
  if (!o.listen.empty()) {
    Problems lp;
    if (!ServerConfig::from_json({{"listen", o.listen}}, "", "--listen", lp)) {
      log_problems(lp);
      exit_code = 2;
      return;
    }
    if (effective.is_object() && (!effective.contains("server") || effective["server"].is_object()))
      effective["server"]["listen"] = o.listen;
  }
  std::optional<EngineConfig> config;
  if (!problems.has_errors())
    config = embedded_default ? EngineConfig::from_json(effective, "", problems)
                              : EngineConfig::check_file_document(effective, o.config, problems);
  // The server section too, even when the rest has errors: every problem in one go.
  std::optional<ServerConfig> server_config;
  if (effective.is_object() && (!effective.contains("server") || effective["server"].is_object()))
    server_config = ServerConfig::from_json(
        effective.value("server", json::object()),
        embedded_default ? "" : fs::absolute(o.config).parent_path().string(), "/server", problems);
  if (!config || !server_config) {
    log_problems(problems);
    log_line("error", "bihuan serve: the configuration has errors; not started",
             {{"config", embedded_default ? json("(embedded default)") : json(o.config)}});
    exit_code = 1;
    return;
  }
  log_problems(problems);  // warnings
  if (o.print_config) {
    std::cout << effective.dump(2) << "\n";
    return;
  }
  std::vector<std::string> workflow_dirs = config->workflow_dirs;
  std::vector<std::string> calendar_dirs = config->calendar_dirs;

  std::error_code ec;
  fs::create_directories(config->data_dir, ec);
  log_line("info", embedded_default ? "starting on the embedded default configuration" : "starting",
           {{"config", o.config.empty() ? json("(embedded default)") : json(o.config)},
            {"dataDir", fs::absolute(config->data_dir, ec).lexically_normal().string()},
            {"listen", server_config->host + ":" + std::to_string(server_config->port)},
            {"tls", server_config->tls.has_value()},
            {"workflowDirs", workflow_dirs},
            {"pluginDirs", config->plugin_dirs}});

  // One server (one dispatcher) per data directory, held until this process ends.
  std::string lock_error;
  std::shared_ptr<ServeLock> serve_lock = ServeLock::acquire(config->data_dir, &lock_error);
  if (!serve_lock) {
    log_line("error", "not started: " + lock_error,
             {{"dataDir", fs::absolute(config->data_dir, ec).lexically_normal().string()}});
    exit_code = 1;
    return;
  }

  // Plugins first: the engine checks the names definitions use against them.
  bool clock_ok = true;
  auto clock = make_clock(o, config->data_dir, clock_ok);
  if (!clock_ok) {
    exit_code = 1;
    return;
  }
  auto services = std::make_shared<HostServices>(clock);
  Problems plugin_problems(config->file);
  auto registry = PluginRegistry::load(*config, services, plugin_problems);
  log_problems(plugin_problems);
  if (plugin_problems.has_errors()) {
    log_line("error", "bihuan serve: a configured plugin could not be loaded; not started",
             {{"config", embedded_default ? json("(embedded default)") : json(o.config)}});
    exit_code = 1;
    return;
  }
  // The attachment store's plugin, if the server section names one.
  Problems store_problems(config->file);
  if (!resolve_attachment_store(*server_config, registry, "/server", store_problems)) {
    log_problems(store_problems);
    log_line("error",
             "bihuan serve: server.attachments.store names no loaded file store; not started",
             {{"config", embedded_default ? json("(embedded default)") : json(o.config)}});
    exit_code = 1;
    return;
  }
  json loaded = json::array();
  for (const auto& [name, obj] : registry.all()) loaded.push_back(name);
  log_line("info", "plugins loaded", {{"instances", loaded}});

  EngineOptions eo;
  eo.data_dir = config->data_dir;
  eo.clock = clock;
  Problems cal_problems;
  eo.calendars =
      std::make_shared<Calendars>(find_calendars(calendar_dirs, config->data_dir, cal_problems));
  log_problems(cal_problems);
  configured_names(*config, registry, eo.notifiers, eo.task_handlers);
  Problems open_problems(config->data_dir);
  auto opened_at = std::chrono::steady_clock::now();
  auto engine = Engine::open(std::move(eo), open_problems);
  if (!engine) {
    log_problems(open_problems);
    log_line("error", "bihuan serve: cannot open the data directory; not started",
             {{"dataDir", config->data_dir}});
    exit_code = 1;
    return;
  }
  log_line("info", "engine open",
           {{"ms",
             std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - opened_at)
                 .count()},
            {"instances", engine->metrics().instances},
            {"pendingTimers", engine->metrics().pending_timers}});
  if (!workflow_dirs.empty()) deploy_workflows(*engine, workflow_dirs);
  services->attach(engine.get());
  DispatcherOptions dopts;
  dopts.poll_ms = config->poll_ms;
  dopts.lock = serve_lock;
  Dispatcher dispatcher(*engine, Dispatcher::channels_of(registry, *config), dopts);
  dispatcher.start();

  json sign_in = json::object();  // token name -> token, told again with the console's address
  if (demo && server_config->tokens.empty()) {
    json printable;
    server_config->tokens = demo_tokens(*demo, *engine, printable);
    for (const auto& t : printable) {
      log_line("info", "demo token (kept in <data>/demo-tokens.json)", t);
      sign_in[t.value("name", "")] = t.value("token", "");
    }
  }
  if (embedded_default && server_config->tokens.empty()) {
    std::string token = dev_admin_token(config->data_dir);
    sign_in["dev-admin"] = token;
    server_config->tokens.push_back(
        {"dev-admin", ServerConfig::hash_token(token), Actor{"admin", {"admin"}}, 0, 0});
    log_line(
        "info",
        "development administrator token (embedded default only; kept in <data>/dev-admin-token)",
        {{"token", token}, {"actor", "admin"}, {"roles", {"admin"}}});
  }
  if (server_config->tokens.empty() && server_config->identity_file.empty())
    log_line("warn",
             "no tokens are configured: every /v1 route will answer 401 (see docs/operations.md)");

  ServerHooks hooks;
  hooks.extra_metrics = [&dispatcher] {
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
  };
  Problems server_problems(o.config.empty() ? "server" : o.config);
  auto server = Server::start(*engine, *server_config, hooks, server_problems);
  if (!server) {
    log_problems(server_problems);
    dispatcher.stop();
    services->attach(nullptr);
    engine->close();
    exit_code = 1;
    return;
  }
  log_line("info", "listening",
           {{"url", std::string(server_config->tls ? "https" : "http") + "://" +
                        server_config->host + ":" + std::to_string(server->port())},
            {"port", server->port()},
            {"openapi", "/v1/openapi.json"}});
  // The last line of the start: where people open the console, and the tokens they can
  // sign in with (the demo's, or the development administrator's), by name.
  const std::string console_url =
      std::string(server_config->tls ? "https" : "http") + "://" +
      (server_config->host == "0.0.0.0" ? std::string("127.0.0.1") : server_config->host) + ":" +
      std::to_string(server->port()) + "/";
  log_line("info", "web console: open it in a browser and sign in with a token",
           {{"console", console_url}, {"signIn", sign_in}});
  // Retention (server.retention; docs/retention.md): on the engine clock, its own thread.
  std::unique_ptr<RetentionTask> retention;
  {
    Problems ignored;  // reported above, when the server section was read
    if (auto ro = retention_from_json(
            effective.value("server", json::object()),
            embedded_default ? "" : fs::absolute(o.config).parent_path().string(), "/server",
            ignored)) {
      if (ro->archive_dir.empty()) ro->archive_dir = engine->options().data_dir + "/archives";
      retention = std::make_unique<RetentionTask>(
          *engine, *ro, [&](const char* level, const std::string& msg, json fields) {
            log_line(level, msg, std::move(fields));
          });
    }
  }

  int sig = 0;
  while (sigwait(&signals, &sig) == 0 && sig == SIGHUP) {
    Problems reload_problems;
    server->reload_identity(reload_problems);
  }
  log_line("info", "shutting down", {{"signal", sig == SIGTERM ? "SIGTERM" : "SIGINT"}});
  if (retention) retention->stop();
  server->shutdown(std::chrono::seconds(10));
  dispatcher.stop();
  services->attach(nullptr);
  engine->close();
  log_line("info", "stopped cleanly");
}

}  // namespace

void add_serve_commands(CLI::App& app) {
  auto o = std::make_shared<ServeOptions>();
  auto* cmd =
      app.add_subcommand("serve", "Run the HTTP/JSON API server with the engine and its plugins");
  cmd->add_option("--config", o->config,
                  "Configuration file (default: the embedded default, see docs/operations.md)");
  cmd->add_option("-D,--data-dir,--data", o->data_dir,
                  "Data directory (overrides the configuration's dataDir)")
      ->envname("BIHUAN_DATA");
  cmd->add_option("--listen", o->listen,
                  "host:port to listen on (overrides the configuration; port 0 = any)");
  cmd->add_option("--workflows", o->workflows,
                  "Definition files or folders to deploy at start (repeat)")
      ->allow_extra_args(false);
  cmd->add_flag("--no-workflows", o->no_workflows, "Deploy nothing at start");
  cmd->add_flag("--demo", o->demo,
                "Serve the food-safety package on the seeded demo city, simulated up to --demo-at "
                "on the first start");
  cmd->add_option(
      "--demo-at", o->demo_at,
      "With --demo: the simulated moment to start at (default 2023-05-15T09:30:00+08:00)");
  cmd->add_flag("--print-config", o->print_config,
                "Print the effective configuration (the embedded default, --config laid over it, "
                "and the options) as JSON and exit");
  cmd->add_option("--clock-start", o->clock_start,
                  "Run the engine clock from this ISO 8601 instant (demos on simulated data); kept "
                  "in <data>/clock.json");
  cmd->callback([o] {
    try {
      run_serve(*o);
    } catch (const std::exception& e) {
      log_line("error", std::string("bihuan serve: ") + e.what());
      exit_code = 1;
    }
  });

  auto token = std::make_shared<std::string>();
  auto* th = app.add_subcommand("token-hash",
                                "Print the SHA-256 a configuration stores for a bearer token");
  th->add_option("token", *token, "The token text (read from stdin when omitted)");
  th->callback([token] {
    std::string t = *token;
    if (t.empty()) std::getline(std::cin, t);
    std::cout << ServerConfig::hash_token(t) << "\n";
  });
}

}  // namespace bihuan::cli
