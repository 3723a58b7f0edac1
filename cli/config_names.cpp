#include "config_names.hpp"

#include "bihuan/engine_source.hpp"
#include "bihuan/plugin_host.hpp"

namespace bihuan::cli {

std::optional<ConfiguredNames> load_configured_names(const std::string& file, Problems& problems) {
  auto config = EngineConfig::load_file(file, problems);
  if (!config) return std::nullopt;
  ConfiguredNames out;
  for (const auto& [name, instance] : config->plugins) {
    std::string error;
    std::optional<std::string> path = instance.file;
    if (instance.file.empty())
      path = find_plugin_file(instance.plugin, config->plugin_dirs, &error);
    std::shared_ptr<PluginLibrary> lib;
    if (path) lib = PluginLibrary::open(*path, &error);
    if (!lib) {
      Problem p;
      p.severity = Severity::warning;
      p.file = file;
      p.pointer = "/plugins/" + name;
      p.code = "plugin-not-loaded";
      p.message = "cannot read plugin " + instance.plugin + " of \"" + name + "\" (" + error +
                  "); its name is accepted as a notifier and as a task handler";
      problems.add(p);
    }
    if (!lib || lib->info().kind == PluginKind::notifier) out.notifiers.insert(name);
    // A data source serves task actions that name a `query` (as configured_names() counts it).
    if (!lib || lib->info().kind == PluginKind::data_source ||
        lib->info().kind == PluginKind::task_handler)
      out.task_handlers.insert(name);
  }
  out.task_handlers.insert(kEngineSource);  // the engine's own data source, always there
  out.config = std::move(*config);
  return out;
}

}  // namespace bihuan::cli
