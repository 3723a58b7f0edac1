// bihuan serve: the engine, its plugins and dispatcher, and the HTTP/JSON API in one
// process: a bihuan::Node (bihuan/node.hpp) run until SIGINT or SIGTERM. bihuan
// token-hash: the SHA-256 a configuration stores for a bearer token.
//
// It runs on the embedded default: data in ./data (or --data-dir), the bundled workflows/
// deployed, the bundled plugins loaded (notify.log into <data>/notifications.jsonl),
// listening on 127.0.0.1:8080. A --config file is laid over it (EngineConfig::layer);
// with no --config an administrator token is created once in <data>/dev-admin-token
// (printed in the first log lines). Every line it logs is one JSON object (bihuan/log.hpp).
// It holds the data directory's serve lock (bihuan/serve_lock.hpp) for its whole life.
#include <pthread.h>
#include <signal.h>

#include <chrono>
#include <iostream>

#include "bihuan/log.hpp"
#include "bihuan/node.hpp"
#include "bihuan/server.hpp"
#include "commands.hpp"
#include "serve_demo.hpp"

namespace bihuan::cli {
namespace {

struct ServeOptions {
  std::string config;
  std::string data_dir;
  std::string store;
  std::string listen;
  std::vector<std::string> workflows;
  bool no_workflows = false;
  std::string clock_start;  // run the engine clock from this instant (kept in <data>/clock.json)
  bool demo = false;        // the food-safety demo (serve_demo.hpp)
  std::string demo_at;
  bool print_config = false;  // print the effective configuration and exit
};

void serve_log(const std::string& level, const std::string& msg, json fields = json::object()) {
  log_event(level, msg, fields);
}

// --demo: prepares the demo city (first start) and points the node at it.
bool prepare_serve_demo(ServeOptions& o, NodeOptions& no) {
  DemoPlan plan;
  plan.root = o.data_dir.empty() ? "./data/demo" : o.data_dir;
  plan.workflows_dir = bundled_workflows_dir();
  if (!o.demo_at.empty()) plan.at = o.demo_at;
  if (plan.workflows_dir.empty()) {
    serve_log("error", "bihuan serve --demo: cannot find the bundled workflows/ folder");
    return false;
  }
  if (!o.print_config) {
    serve_log("info",
              "preparing the food-safety demo (simulated up to " + plan.at + " on the first start)",
              {{"dataDir", plan.root}});
    auto started = std::chrono::steady_clock::now();
    if (auto err = prepare_demo(plan); !err.empty()) {
      serve_log("error", "the demo could not be prepared: " + err);
      return false;
    }
    serve_log(
        "info", "demo ready",
        {{"seconds",
          std::chrono::duration<double>(std::chrono::steady_clock::now() - started).count()}});
  }
  o.config = demo_config_file(plan);
  o.data_dir = demo_engine_dir(plan);
  if (o.clock_start.empty()) o.clock_start = plan.at;
  if (o.workflows.empty()) o.workflows.push_back(plan.workflows_dir + "/food-safety");
  no.before_listen = [plan](Engine& engine, ServerConfig& server, json& sign_in) {
    if (!server.tokens.empty()) return;
    json printable;
    server.tokens = demo_tokens(plan, engine, printable);
    for (const auto& t : printable) {
      serve_log("info", "demo token (kept in <data>/demo-tokens.json)", t);
      sign_in[t.value("name", "")] = t.value("token", "");
    }
  };
  return true;
}

void run_serve(ServeOptions o) {
  // Signals go to the thread that waits for them, never to the workers the node starts.
  sigset_t signals;
  sigemptyset(&signals);
  sigaddset(&signals, SIGINT);
  sigaddset(&signals, SIGTERM);
  sigaddset(&signals, SIGHUP);  // reloads the identity file (the server logs the outcome)
  pthread_sigmask(SIG_BLOCK, &signals, nullptr);

  NodeOptions no;
  if (o.demo && !prepare_serve_demo(o, no)) {
    exit_code = 1;
    return;
  }
  if (!o.listen.empty()) {
    Problems lp;
    if (!ServerConfig::from_json({{"listen", o.listen}}, "", "--listen", lp)) {
      for (const auto& p : lp.items()) {
        json fields = json::object();
        if (!p.pointer.empty()) fields["pointer"] = p.pointer;
        if (!p.code.empty()) fields["code"] = p.code;
        serve_log("error", p.to_string(), fields);
      }
      exit_code = 2;
      return;
    }
  }
  no.config_file = o.config;
  no.data_dir = o.data_dir;
  no.store = o.store;
  no.listen = o.listen;
  no.bundled_workflows = bundled_workflows_dir();
  if (!o.workflows.empty()) no.workflow_dirs = o.workflows;
  if (o.no_workflows) no.workflow_dirs = std::vector<std::string>{};
  no.clock_start = o.clock_start;
  Node node(std::move(no));
  if (!node.configure().empty()) {
    exit_code = 1;
    return;
  }
  if (o.print_config) {
    std::cout << node.effective_config().dump(2) << "\n";
    return;
  }
  if (!node.start().empty()) {
    exit_code = 1;
    return;
  }
  int sig = 0;
  while (sigwait(&signals, &sig) == 0 && sig == SIGHUP) {
    Problems reload_problems;
    node.reload_identity(reload_problems);
  }
  serve_log("info", "shutting down", {{"signal", sig == SIGTERM ? "SIGTERM" : "SIGINT"}});
  node.stop(std::chrono::seconds(10));
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
  cmd->add_option("--store", o->store,
                  "Where instances live: lmdb (in the data directory, the default) or "
                  "postgresql:<libpq conninfo> (overrides the configuration's store)")
      ->envname("BIHUAN_STORE");
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
      serve_log("error", std::string("bihuan serve: ") + e.what());
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
