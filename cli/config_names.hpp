// `--config FILE` for validate and deploy: which notifier and task-handler names the
// definitions may use under an engine configuration.
//
// Each configured plugin instance counts by the kind its library declares (a data source
// as a task handler: task actions may name a `query` on it); the library's
// descriptor is read (PluginLibrary::open) but no plugin object is created, so checking
// names starts no connection and opens no database. An instance whose library cannot be
// found or opened counts as both kinds (it is configured; see configured_names() in
// bihuan/plugin_host.hpp) and gives a warning. Problems in the configuration file itself
// are errors. Nothing throws.
#pragma once

#include <optional>
#include <set>
#include <string>

#include "bihuan/config.hpp"
#include "bihuan/problem.hpp"

namespace bihuan::cli {

struct ConfiguredNames {
  EngineConfig config;
  std::set<std::string> notifiers, task_handlers;
};

// Reads `file`; nullopt when it has errors (all in `problems`).
std::optional<ConfiguredNames> load_configured_names(const std::string& file, Problems& problems);

}  // namespace bihuan::cli
