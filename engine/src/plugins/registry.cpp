// The plugin objects an engine configuration names: find each library, open it once,
// validate each instance's configuration and create it. Failures leave that instance out.
#include <fstream>
#include <sstream>

#include "bihuan/config.hpp"
#include "plugins/dll.hpp"

namespace bihuan {

PluginRegistry PluginRegistry::load(const EngineConfig& config,
                                    std::shared_ptr<HostServices> services, Problems& problems) {
  PluginRegistry out;
  out.services_ = services ? std::move(services) : std::make_shared<HostServices>(nullptr);
  Problems found(config.file.empty() ? problems.file() : config.file);
  std::map<std::string, std::shared_ptr<PluginLibrary>> libraries;  // by path
  for (const auto& [name, entry] : config.plugins) {
    std::string at = "/plugins/" + pointer_escape(name);
    std::string error;
    std::optional<std::string> path =
        entry.file.empty() ? find_plugin_file(entry.plugin, config.plugin_dirs, &error)
                           : std::optional<std::string>(entry.file);
    if (!path) {
      found.error(at + "/plugin", "plugin-not-found", "\"" + name + "\": " + error);
      continue;
    }
    auto& lib = libraries[*path];
    if (!lib) lib = PluginLibrary::open(*path, &error);
    if (!lib) {
      found.error(at, "plugin-load", "\"" + name + "\": " + error);
      continue;
    }
    if (lib->info().name != entry.plugin) {
      found.error(at + "/plugin", "plugin-name",
                  "\"" + name + "\": " + *path + " is plugin " + lib->info().name + ", not " +
                      entry.plugin);
      continue;
    }
    if (auto obj = lib->create(name, entry.config, out.services_, found, at))
      out.objects_[name] = std::move(obj);
  }
  if (!config.file.empty() && found.has_errors()) {
    std::ifstream in(config.file, std::ios::binary);
    std::stringstream text;
    text << in.rdbuf();
    attach_positions(text.str(), found);
  }
  problems.append(found);
  return out;
}

std::shared_ptr<PluginObject> PluginRegistry::find(const std::string& name) const {
  auto it = objects_.find(name);
  return it == objects_.end() ? nullptr : it->second;
}

std::set<std::string> PluginRegistry::names(PluginKind kind) const {
  std::set<std::string> out;
  for (const auto& [name, obj] : objects_)
    if (obj->kind() == kind) out.insert(name);
  return out;
}

void configured_names(const EngineConfig& config, const PluginRegistry& registry,
                      std::set<std::string>& notifiers, std::set<std::string>& task_handlers) {
  for (const auto& [name, entry] : config.plugins) {
    auto obj = registry.find(name);
    if (!obj || obj->kind() == PluginKind::notifier) notifiers.insert(name);
    // A data source serves task actions that name a `query` (dispatch runs the query).
    if (!obj || obj->kind() == PluginKind::data_source || obj->kind() == PluginKind::task_handler)
      task_handlers.insert(name);
  }
  task_handlers.insert("engine");  // kEngineSource: the engine's own data source
}

}  // namespace bihuan
