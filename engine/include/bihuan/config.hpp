// The engine configuration file (JSON): where data and calendars live, where plugin
// libraries are searched, and the named plugin instances administrators configure.
//
//   {
//     "dataDir": "/var/lib/bihuan",
//     "calendarDirs": ["calendars"],
//     "pluginDirs": ["/usr/lib/bihuan/plugins"],
//     "workflowDirs": ["workflows"],          // deployed by `bihuan serve` at start
//     "server": {...},                        // read by the API server (bihuan/server.hpp)
//     "dispatch": {"pollMs": 50},
//     "plugins": {
//       "sms-gateway": {"plugin": "notify.webhook", "config": {"url": "...", "secret": "..."},
//                       "concurrency": 4, "timeoutMs": 5000, "maxAttempts": 8,
//                       "backoff": {"initialMs": 1000, "maxMs": 3600000}}
//     }
//   }
//
// Relative paths are resolved against the configuration file's directory. Every problem
// is reported with its JSON Pointer (and line:column). See docs/plugins.md.
//
// Layering (`bihuan serve --config` on the embedded default; docs/operations.md): a file
// is laid over a base document member by member, see EngineConfig::layer.
#pragma once

#include <map>
#include <optional>
#include <string>
#include <vector>

#include "bihuan/json.hpp"
#include "bihuan/problem.hpp"

namespace bihuan {

// Delivery policy of one channel (a configured notifier or task handler).
struct ChannelPolicy {
  std::size_t concurrency = 4;     // plugin calls in flight at once
  std::int64_t timeout_ms = 5000;  // per call; then the attempt counts as failed
  std::uint32_t max_attempts = 8;  // then the message becomes a dead letter
  std::int64_t backoff_initial_ms = 1000;
  std::int64_t backoff_max_ms = 3600000;
};

struct PluginInstanceConfig {
  std::string name;    // the configured name ("sms-gateway"): what definitions refer to
  std::string plugin;  // the plugin's name ("notify.webhook")
  std::string file;    // explicit library path (optional; default: search pluginDirs)
  json config = json::object();
  ChannelPolicy policy;
};

struct EngineConfig {
  std::string file;  // where it was read from ("" = built-in default)
  std::string data_dir;
  std::string store;     // EngineOptions::store: "" or "lmdb", or "postgresql:<conninfo>"
  bool sql_view = true;  // EngineOptions::sql_view ("sqlView")
  std::vector<std::string> calendar_dirs;
  std::vector<std::string> plugin_dirs;
  std::int64_t poll_ms = 50;  // how often the dispatcher looks for due messages
  std::map<std::string, PluginInstanceConfig> plugins;
  std::vector<std::string> workflow_dirs;  // definitions `bihuan serve` deploys at start
  json server = json::object();            // the "server" section, checked by the server
  std::string base_dir;                    // relative paths in `server` resolve here

  // Reads and checks a configuration file. Returns nullopt with errors on any problem.
  static std::optional<EngineConfig> load_file(const std::string& path, Problems& problems);
  // Checks a parsed document; relative paths resolve against `base_dir`.
  static std::optional<EngineConfig> from_json(const json& doc, const std::string& base_dir,
                                               Problems& problems);
  // The configuration used when none is given: `data_dir`, the default plugin dirs and
  // two notify.log instances, "notify-log" and "log", writing <data_dir>/notifications.jsonl.
  static EngineConfig defaults(const std::string& data_dir);
  // defaults() as a document (absolute paths), the base a file is layered on.
  static json default_document(const std::string& data_dir);
  // The bundled plugin dirs, always searched after a configuration's own `pluginDirs`:
  // $BIHUAN_PLUGIN_PATH (colon-separated), then <executable dir>/../plugins (the build
  // tree) and <executable dir>/../lib/bihuan/plugins.
  static std::vector<std::string> default_plugin_dirs();

  // Lays `over` (a configuration file's document, relative paths resolved against
  // `over_base_dir` first) on `base` (absolute paths), member by member:
  //  - objects merge member by member: the top level, "dispatch", "server",
  //    "server.limits";
  //  - "plugins" merge by instance name: an instance in `over` replaces the one of that
  //    name in `base` whole (its plugin, config and policy), null removes it;
  //  - arrays of named items merge by name: "server.tokens" (a token of the same
  //    "name" is replaced, others are added);
  //  - "pluginDirs" and "calendarDirs" add to the base's: `over`'s plugin dirs are
  //    searched first, its calendar dirs loaded last (a calendar of the same id wins);
  //  - everything else replaces: scalars, "workflowDirs", "server.tls".
  // A member of `over` that is not an object where an object merges replaces as well (the
  // check that follows reports it). Nothing throws.
  static json layer(const json& base, const json& over, const std::string& over_base_dir);
  // Reads the file at `path` and lays it on `base`: the document to check (nullopt when
  // the file cannot be read or is not JSON; problems carry its name and line:column).
  static std::optional<json> layer_file(const json& base, const std::string& path,
                                        Problems& problems);
  // Checks a document made from the file at `path` (layer_file, perhaps with overrides):
  // relative paths resolve against the file's directory, and problems get the file's
  // name and the line:column of their pointer where the file has it.
  static std::optional<EngineConfig> check_file_document(const json& doc, const std::string& path,
                                                         Problems& problems);
};

}  // namespace bihuan
