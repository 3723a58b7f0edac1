// Opening a plugin library: everything that can be checked is checked before the plugin's
// code runs (the file is an ELF shared library exporting both aliases; read with
// boost::dll::library_info, without loading it), then the library is loaded and its
// descriptor (pure data) read and checked before the factory is ever called.
#include <dlfcn.h>

#include <cstring>
#include <filesystem>

#include "plugins/dll.hpp"

namespace bihuan {

namespace {

namespace fs = std::filesystem;

// A NUL-terminated string from the descriptor, bounded so garbage cannot run away.
std::optional<std::string> bounded(const char* s, std::size_t max) {
  if (!s) return std::nullopt;
  std::size_t n = strnlen(s, max + 1);
  if (n > max) return std::nullopt;
  return std::string(s, n);
}

bool valid_plugin_name(const std::string& n) {
  if (n.empty() || n.size() > 100) return false;
  for (char c : n)
    if (!(std::islower(static_cast<unsigned char>(c)) ||
          std::isdigit(static_cast<unsigned char>(c)) || c == '.' || c == '-' || c == '_'))
      return false;
  return true;
}

// dlopen's own reason (Boost.DLL only reports "bad file descriptor").
std::string dl_reason(const std::string& path) {
  void* h = ::dlopen(path.c_str(), RTLD_NOW | RTLD_LOCAL);
  if (h) {
    ::dlclose(h);
    return "unknown reason";
  }
  const char* e = ::dlerror();
  return e ? e : "unknown reason";
}

}  // namespace

PluginLibrary::~PluginLibrary() = default;

std::shared_ptr<PluginLibrary> PluginLibrary::open(const std::string& path, std::string* error) {
  auto fail = [&](std::string why) -> std::shared_ptr<PluginLibrary> {
    if (error) *error = path + ": " + why;
    return nullptr;
  };
  try {
    std::error_code fec;
    if (!fs::is_regular_file(path, fec)) return fail("no such plugin file");
    // 1. Before loading: a shared library that exports both aliases?
    std::vector<std::string> aliases;
    try {
      boost::dll::library_info info(path, false);
      aliases = info.symbols(BIHUAN_PLUGIN_ALIAS_SECTION);
    } catch (const std::exception& e) {
      return fail(std::string("not a plugin library: the file is not a shared library (") +
                  e.what() + ")");
    }
    for (const char* sym : {BIHUAN_PLUGIN_DESCRIPTOR_SYMBOL, BIHUAN_PLUGIN_CREATE_SYMBOL})
      if (std::find(aliases.begin(), aliases.end(), sym) == aliases.end())
        return fail(std::string("not a Bihuan plugin: it does not export the symbol ") + sym +
                    " (define the plugin with BIHUAN_PLUGIN(...) from <bihuan/plugin/sdk.hpp>)");

    // 2. Load it (its static initialisers run here; the SDK asks plugins to have none that
    //    matter) and read the descriptor: data only, no plugin function is called.
    auto impl = std::make_shared<Impl>();
    boost::dll::fs::error_code ec;
    impl->library.load(path, boost::dll::load_mode::rtld_now | boost::dll::load_mode::rtld_local,
                       ec);
    if (ec || !impl->library.is_loaded()) return fail("cannot be loaded: " + dl_reason(path));
    if (!impl->library.has(BIHUAN_PLUGIN_DESCRIPTOR_SYMBOL) ||
        !impl->library.has(BIHUAN_PLUGIN_CREATE_SYMBOL))
      return fail("not a Bihuan plugin: the aliases are not visible after loading");
    // An alias is a `const void*` variable holding the target's address (get_alias<T>
    // dereferences it; reading the variable first lets us refuse a null one).
    const void* raw_descriptor = impl->library.get<const void*>(BIHUAN_PLUGIN_DESCRIPTOR_SYMBOL);
    const void* raw_create = impl->library.get<const void*>(BIHUAN_PLUGIN_CREATE_SYMBOL);
    impl->descriptor = static_cast<const bihuan_descriptor*>(raw_descriptor);
    const bihuan_descriptor* d = impl->descriptor;
    if (!d) return fail("its descriptor alias is null");

    auto out = std::shared_ptr<PluginLibrary>(new PluginLibrary());
    PluginInfo& info = out->info_;
    info.file = path;
    info.abi_major = d->abi_major;
    info.abi_minor = d->abi_minor;
    if (d->abi_major != BIHUAN_PLUGIN_ABI_MAJOR)
      return fail("built for plugin ABI " + std::to_string(d->abi_major) + "." +
                  std::to_string(d->abi_minor) + "; this Bihuan loads ABI " +
                  std::to_string(BIHUAN_PLUGIN_ABI_MAJOR) +
                  ".x (rebuild the plugin against this Bihuan's SDK)");
    if (d->struct_size < sizeof(bihuan_descriptor))
      return fail("its descriptor is truncated (" + std::to_string(d->struct_size) +
                  " bytes, ABI " + std::to_string(BIHUAN_PLUGIN_ABI_MAJOR) + " needs " +
                  std::to_string(sizeof(bihuan_descriptor)) + ")");
    if (d->kind < BIHUAN_KIND_NOTIFIER || d->kind > BIHUAN_KIND_FILE_STORE)
      return fail("its descriptor names an unknown plugin kind " + std::to_string(d->kind) +
                  " (1 notifier, 2 data source, 3 task handler, 4 file store)");
    if (d->kind == BIHUAN_KIND_FILE_STORE && d->abi_minor < 1)
      return fail("its descriptor names kind 4 (file store), which ABI 1." +
                  std::to_string(d->abi_minor) + " does not have (file stores need ABI 1.1)");
    info.kind = static_cast<PluginKind>(d->kind);
    auto name = bounded(d->name, 100);
    if (!name || !valid_plugin_name(*name))
      return fail(
          "its descriptor has no valid plugin name (lowercase letters, digits, '.', '-', '_')");
    info.name = *name;
    auto version = bounded(d->version, 100);
    if (!version || version->empty()) return fail("plugin " + info.name + " declares no version");
    info.version = *version;
    info.summary = bounded(d->summary, 1000).value_or("");
    auto schema_text = bounded(d->config_schema, 1u << 20);
    if (!schema_text) return fail("plugin " + info.name + " declares no configuration schema");
    Problems sp;
    auto schema_doc = load_json(*schema_text, sp);
    if (schema_doc) impl->schema = JsonSchema::compile(*schema_doc, sp, "");
    if (!schema_doc || !impl->schema)
      return fail("plugin " + info.name + " declares an invalid configuration schema: " +
                  (sp.items().empty() ? std::string("unusable") : sp.items()[0].message));
    info.config_schema = std::move(*schema_doc);
    impl->create = reinterpret_cast<bihuan_create_fn>(reinterpret_cast<std::intptr_t>(raw_create));
    if (!impl->create) return fail("plugin " + info.name + " exports a null factory");
    out->impl_ = std::move(impl);
    return out;
  } catch (const std::exception& e) {
    return fail(std::string("cannot be opened as a plugin: ") + e.what());
  } catch (...) {
    return fail("cannot be opened as a plugin");
  }
}

std::shared_ptr<PluginObject> PluginLibrary::create(const std::string& instance_name,
                                                    const json& config,
                                                    std::shared_ptr<HostServices> services,
                                                    Problems& problems,
                                                    const std::string& pointer) const {
  std::string who = info_.file + ": plugin " + info_.name + " (\"" + instance_name + "\")";
  // The configuration first: a plugin never sees one its schema rejects.
  Problems found;
  if (!impl_->schema->validate(config, found, pointer + "/config", "plugin-config")) {
    for (auto p : found.items()) {
      p.message = "configuration of \"" + instance_name + "\" (plugin " + info_.name + ", " +
                  info_.file + "): " + p.message;
      if (p.file.empty()) p.file = problems.file();
      problems.add(std::move(p));
    }
    return nullptr;
  }
  auto impl = std::make_unique<PluginObject::Impl>();
  impl->library = impl_;
  impl->info = info_;
  impl->host = std::make_unique<plugins::HostContext>();
  impl->host->name = instance_name;
  impl->host->config = config;
  impl->host->config_text = config.dump();
  impl->host->services = services ? std::move(services) : std::make_shared<HostServices>(nullptr);
  plugins::init_host_table(*impl->host);
  plugins::Reply err;
  std::int32_t rc = 1;
  bihuan_object obj{};
  try {
    rc = impl_->create(&impl->host->table, &obj, &err, &plugins::reply_to);
  } catch (...) {
    problems.error(
        pointer, "plugin-create",
        who + ": the factory threw an exception across the plugin boundary (the SDK forbids that)");
    return nullptr;
  }
  if (rc != 0) {
    problems.error(pointer, "plugin-create",
                   who + ": refused to start: " +
                       (err.called && !err.body.empty() ? err.body : "no reason given"));
    return nullptr;
  }
  // An older plugin's table is shorter: the entries past its struct_size are not its own.
  if (obj.struct_size < sizeof(bihuan_object)) {
    obj.file_put = nullptr;
    obj.file_get = nullptr;
    obj.file_stat = nullptr;
    obj.file_remove = nullptr;
  }
  impl->object = obj;  // from here ~Impl destroys it
  auto entry_ok = [&] {
    switch (info_.kind) {
      case PluginKind::notifier:
        return obj.notify != nullptr;
      case PluginKind::data_source:
        return obj.query != nullptr;
      case PluginKind::task_handler:
        return obj.run_task != nullptr;
      case PluginKind::file_store:
        return obj.file_put && obj.file_get && obj.file_stat && obj.file_remove;
    }
    return false;
  }();
  if (obj.struct_size < BIHUAN_OBJECT_SIZE_1_0 || !obj.destroy || !entry_ok) {
    std::string missing = info_.kind == PluginKind::file_store
                              ? "file_put, file_get, file_stat and file_remove (ABI 1.1; its "
                                "object table has " +
                                    std::to_string(obj.struct_size) + " bytes, ABI 1.1 needs " +
                                    std::to_string(sizeof(bihuan_object)) + ")"
                              : to_string(info_.kind) + " entry point";
    problems.error(
        pointer, "plugin-create",
        who + ": the factory returned an incomplete object (no " + missing + " or no destroy)");
    if (!obj.destroy) impl->object = {};
    return nullptr;
  }
  return std::make_shared<PluginObject>(std::move(impl));
}

std::optional<std::string> find_plugin_file(const std::string& name,
                                            const std::vector<std::string>& dirs,
                                            std::string* error) {
  std::string looked;
  for (const auto& dir : dirs) {
    fs::path p = fs::path(dir) / (name + ".so");
    std::error_code ec;
    if (fs::is_regular_file(p, ec)) return p.string();
    looked += (looked.empty() ? "" : ", ") + dir;
  }
  if (error)
    *error = "plugin " + name + ": no file " + name + ".so in the plugin directories (" +
             (looked.empty() ? std::string("none configured") : looked) + ")";
  return std::nullopt;
}

}  // namespace bihuan
