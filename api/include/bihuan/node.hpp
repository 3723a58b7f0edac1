// bihuan::Node: the engine, its plugins and dispatcher, the retention task and the
// HTTP/JSON API server in one object: what `bihuan serve` runs, for a program that hosts
// the same thing in-process (docs/embedding.md, "Hosting the server").
//
//   bihuan::NodeOptions o;
//   o.data_dir = "/var/lib/myapp/bihuan";   // or o.config_file = "/etc/myapp/bihuan.json"
//   o.listen = "127.0.0.1:0";               // port 0: any free port
//   o.workflow_dirs = {"/usr/share/myapp/workflows"};
//   bihuan::Node node(o);
//   if (std::string err = node.start(); !err.empty()) return fail(err);
//   ... node.port(), node.engine().start(...) ...
//   node.stop();  // or let the destructor do it
//
// The configuration is what `bihuan serve` reads (docs/operations.md): the embedded default
// (data_dir, the bundled plugin folders, the "notify-log" and "log" notify.log instances),
// the config file laid over it (EngineConfig::layer), then the options that override it.
// With no configuration and no tokens an administrator token is created once in
// <data>/dev-admin-token and logged. Everything the node does is logged as JSON lines
// (bihuan/log.hpp; set_log_sink() sends them elsewhere), the same lines as `bihuan serve`.
//
// start() holds the data directory's serve lock (bihuan/serve_lock.hpp) until stop(): one
// node per data directory. Signals are the host's business: a node installs no handler
// (`bihuan serve` blocks SIGINT/SIGTERM/SIGHUP before start() and waits for them).
//
// Thread-safety: configure(), start() and stop() from one controlling thread; port(),
// engine() and reload_identity() from any thread while the node runs.
#pragma once

#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "bihuan/clock.hpp"
#include "bihuan/engine.hpp"
#include "bihuan/server.hpp"
#include "bihuan/time.hpp"

namespace bihuan {

struct NodeOptions {
  // A configuration file laid over the embedded default ("" = the embedded default only).
  std::string config_file;
  // Or the same as a parsed document (used when config_file is ""); its relative paths
  // resolve against config_base_dir (default: the current directory).
  std::optional<json> config;
  std::string config_base_dir;
  // Overrides of the configuration ("" / nullopt = the configuration's own).
  std::string data_dir;  // relative to the current directory; default "./data"
  // EngineOptions::store ("" = the configuration's "store", else LMDB in data_dir).
  std::string store;
  std::string listen;  // "host:port"; port 0 = any free port (see port())
  std::optional<std::vector<std::string>> workflow_dirs;  // deployed at start; {} = none
  // The bundled workflows folder (bundled_workflows_dir()): the embedded default's
  // workflowDirs, and its calendars/ the default calendarDirs. "" = none.
  std::string bundled_workflows;
  // The engine's clock: `clock` if set; else with `clock_start` (ISO 8601) an OffsetClock
  // from that instant, kept in <data>/clock.json so a restart continues the same timeline;
  // else the system clock (or <data>/clock.json's timeline when it exists).
  std::shared_ptr<Clock> clock;
  std::string clock_start;
  // Create and log the development administrator token (embedded default, no tokens).
  bool dev_admin_token = true;
  // Called once the engine is open and the dispatcher runs, before the server listens:
  // may add tokens to `server` and name them in `sign_in` (token name -> token text, logged
  // with the console's address). `bihuan serve --demo` adds its demo tokens here.
  std::function<void(Engine& engine, ServerConfig& server, json& sign_in)> before_listen;
};

class Node {
 public:
  explicit Node(NodeOptions options);
  ~Node();  // stop()
  Node(const Node&) = delete;
  Node& operator=(const Node&) = delete;

  // Builds and checks the effective configuration, logging every problem (with its file
  // and JSON Pointer). Returns "" or why the node cannot start. start() calls it when it
  // has not been called.
  std::string configure();
  // The effective configuration document (after configure()).
  const json& effective_config() const;

  // Opens the engine (plugins first, then the data directory under its serve lock),
  // deploys the workflow folders, starts the dispatcher, the HTTP server and the retention
  // task. Returns "" when serving, else the reason (also logged); nothing is left running.
  std::string start();
  bool running() const;
  // The port the server listens on (the real one when the configuration said 0).
  std::uint16_t port() const;
  // "http://127.0.0.1:8080" (https with TLS).
  std::string url() const;
  // The engine, while running (start() returned ""). Throws std::logic_error otherwise.
  Engine& engine() const;
  Server& server() const;
  // Reads the server's identity file again (what SIGHUP does; see Server::reload_identity).
  bool reload_identity(Problems& problems);
  // Stops the retention task, lets requests in flight finish (within `grace`), stops the
  // dispatcher, closes the engine and releases the data directory. Idempotent.
  void stop(std::chrono::milliseconds grace = std::chrono::seconds(10));

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

// The workflows folder shipped with this program (it holds schema/definition.schema.json):
// the nearest workflows/ above the current directory or the executable (a source or build
// tree), else <executable dir>/../share/bihuan/workflows (an install). "" if none.
std::string bundled_workflows_dir();

// The calendars shipped with this program: an install's
// <prefix>/share/bihuan/workflows/calendars beside <prefix>/bin, else workflows/calendars
// above the executable (a build tree), else the source tree it was built from. "" if none.
std::string bundled_calendar_dir();

// Calendars from the given directories; with none given, from the first of:
//   1. $BIHUAN_CALENDARS (directories separated by ':'),
//   2. the nearest "calendars/" or "workflows/calendars/" above `near_file`,
//   3. the bundled calendars (bundled_calendar_dir()).
// `used`, if given, receives the directories read.
Calendars find_calendars(const std::vector<std::string>& dirs, const std::string& near_file,
                         Problems& problems, std::vector<std::string>* used = nullptr);

}  // namespace bihuan
