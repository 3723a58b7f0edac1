// The engine configuration file: checked against a JSON Schema (every problem with its
// pointer), then paths resolved against the file's directory.
#include "bihuan/config.hpp"

#include <algorithm>
#include <cstdlib>
#include <filesystem>

#include "bihuan/schema.hpp"

namespace bihuan {

namespace {

namespace fs = std::filesystem;

constexpr const char* kConfigSchema = R"({
  "type": "object",
  "properties": {
    "$schema": {"type": "string"},
    "description": {"type": "string"},
    "dataDir": {"type": "string", "minLength": 1},
    "store": {"type": "string", "pattern": "^(lmdb|postgresql:.*)$"},
    "sqlView": {"type": "boolean"},
    "calendarDirs": {"type": "array", "items": {"type": "string", "minLength": 1}},
    "pluginDirs": {"type": "array", "items": {"type": "string", "minLength": 1}},
    "workflowDirs": {"type": "array", "items": {"type": "string", "minLength": 1}},
    "server": {"type": "object"},
    "dispatch": {
      "type": "object",
      "properties": {"pollMs": {"type": "integer", "minimum": 1, "maximum": 60000}}
    },
    "plugins": {
      "type": "object",
      "additionalProperties": {
        "type": "object",
        "required": ["plugin"],
        "properties": {
          "plugin": {"type": "string", "pattern": "^[a-z0-9][a-z0-9._-]{0,99}$"},
          "file": {"type": "string", "minLength": 1},
          "description": {"type": "string"},
          "config": {"type": "object"},
          "concurrency": {"type": "integer", "minimum": 1, "maximum": 256},
          "timeoutMs": {"type": "integer", "minimum": 1, "maximum": 3600000},
          "maxAttempts": {"type": "integer", "minimum": 1, "maximum": 1000},
          "backoff": {
            "type": "object",
            "properties": {
              "initialMs": {"type": "integer", "minimum": 1, "maximum": 86400000},
              "maxMs": {"type": "integer", "minimum": 1, "maximum": 604800000}
            }
          }
        }
      }
    }
  }
})";

const JsonSchema& config_schema() {
  static const std::shared_ptr<const JsonSchema> schema = [] {
    Problems p;
    return JsonSchema::compile(json::parse(kConfigSchema), p, "");
  }();
  return *schema;
}

// Keys the schema allows; anything else is a typo worth an error (checked here rather than
// with additionalProperties so each unknown key gets its own pointer and sentence).
void unknown_keys(const json& obj, const std::string& at, std::initializer_list<const char*> known,
                  Problems& problems) {
  if (!obj.is_object()) return;
  std::string list;
  for (const char* k : known) list += (list.empty() ? "" : ", ") + std::string(k);
  for (auto it = obj.begin(); it != obj.end(); ++it) {
    bool ok = false;
    for (const char* k : known) ok = ok || it.key() == k;
    if (!ok)
      problems.error(at + "/" + pointer_escape(it.key()), "config-unknown-key",
                     "unknown key \"" + it.key() + "\" (expected one of: " + list + ")");
  }
}

bool valid_instance_name(const std::string& n) {
  if (n.empty() || n.size() > 100 || !std::isalnum(static_cast<unsigned char>(n[0]))) return false;
  for (char c : n)
    if (!std::isalnum(static_cast<unsigned char>(c)) && c != '.' && c != '_' && c != '-')
      return false;
  return true;
}

void structure_checks(const json& doc, Problems& problems) {
  unknown_keys(doc, "",
               {"$schema", "description", "dataDir", "store", "sqlView", "calendarDirs",
                "pluginDirs", "workflowDirs", "dispatch", "plugins", "server"},
               problems);
  if (doc.contains("dispatch")) unknown_keys(doc["dispatch"], "/dispatch", {"pollMs"}, problems);
  if (!doc.contains("plugins") || !doc["plugins"].is_object()) return;
  for (const auto& [name, entry] : doc["plugins"].items()) {
    std::string at = "/plugins/" + pointer_escape(name);
    if (!valid_instance_name(name))
      problems.error(
          at, "config-name",
          "instance name \"" + name +
              "\" must be 1-100 letters, digits, '.', '_' or '-', starting with a letter or digit");
    else if (name == "engine")
      problems.error(at, "config-name",
                     "instance name \"engine\" is reserved for the engine's own data source "
                     "(docs/definition-language.md, \"The engine as a data source\"); choose "
                     "another name");
    unknown_keys(entry, at,
                 {"plugin", "file", "description", "config", "concurrency", "timeoutMs",
                  "maxAttempts", "backoff"},
                 problems);
    if (entry.is_object() && entry.contains("backoff"))
      unknown_keys(entry["backoff"], at + "/backoff", {"initialMs", "maxMs"}, problems);
  }
}

std::string resolve(const std::string& base_dir, const std::string& path) {
  fs::path p(path);
  if (p.is_absolute() || base_dir.empty()) return p.lexically_normal().string();
  return (fs::path(base_dir) / p).lexically_normal().string();
}

std::vector<std::string> resolve_all(const std::string& base_dir, const json& list) {
  std::vector<std::string> out;
  for (const auto& x : list) out.push_back(resolve(base_dir, x.get<std::string>()));
  return out;
}

// A file's paths resolved against its directory (absolute ones stay): the engine's and
// the two the server section holds ("tls" files, "backupRoot"; bihuan/server.hpp).
json resolve_paths(json doc, const std::string& base_dir) {
  if (!doc.is_object() || base_dir.empty()) return doc;
  auto fix = [&](json& v) {
    if (v.is_string() && !v.get<std::string>().empty()) v = resolve(base_dir, v.get<std::string>());
  };
  if (doc.contains("dataDir")) fix(doc["dataDir"]);
  for (const char* key : {"calendarDirs", "pluginDirs", "workflowDirs"})
    if (doc.contains(key) && doc[key].is_array())
      for (auto& x : doc[key]) fix(x);
  if (doc.contains("plugins") && doc["plugins"].is_object())
    for (auto& [name, entry] : doc["plugins"].items())
      if (entry.is_object() && entry.contains("file")) fix(entry["file"]);
  if (doc.contains("server") && doc["server"].is_object()) {
    json& server = doc["server"];
    if (server.contains("backupRoot")) fix(server["backupRoot"]);
    if (server.contains("tls") && server["tls"].is_object())
      for (const char* key : {"certificate", "privateKey"})
        if (server["tls"].contains(key)) fix(server["tls"][key]);
  }
  return doc;
}

bool both(const json& base, const std::string& key, const json& v, json::value_t type) {
  return base.contains(key) && base[key].type() == type && v.type() == type;
}

// Items with a "name" replace the base's item of that name; others are added.
json merge_named(json base, const json& over) {
  for (const auto& item : over) {
    bool replaced = false;
    if (item.is_object() && item.contains("name") && item["name"].is_string())
      for (auto& b : base)
        if (b.is_object() && b.value("name", json()) == item["name"]) {
          b = item;
          replaced = true;
          break;
        }
    if (!replaced) base.push_back(item);
  }
  return base;
}

json layer_server(json base, const json& over) {
  for (const auto& [key, v] : over.items()) {
    if (key == "limits" && both(base, key, v, json::value_t::object))
      base[key].update(v);
    else if (key == "tokens" && both(base, key, v, json::value_t::array))
      base[key] = merge_named(base[key], v);
    else
      base[key] = v;
  }
  return base;
}

}  // namespace

json EngineConfig::layer(const json& base, const json& over_doc, const std::string& over_base_dir) {
  if (!over_doc.is_object()) return over_doc;  // the check reports it
  json out = base.is_object() ? base : json::object();
  json over = resolve_paths(over_doc, over_base_dir);
  for (const auto& [key, v] : over.items()) {
    if (key == "plugins" && both(out, key, v, json::value_t::object)) {
      for (const auto& [name, instance] : v.items()) {
        if (instance.is_null())
          out[key].erase(name);
        else
          out[key][name] = instance;
      }
    } else if (key == "pluginDirs" && both(out, key, v, json::value_t::array)) {
      json dirs = v;  // searched first
      for (const auto& d : out[key])
        if (std::find(dirs.begin(), dirs.end(), d) == dirs.end()) dirs.push_back(d);
      out[key] = dirs;
    } else if (key == "calendarDirs" && both(out, key, v, json::value_t::array)) {
      json dirs = json::array();
      for (const auto& d : out[key])
        if (std::find(v.begin(), v.end(), d) == v.end()) dirs.push_back(d);
      for (const auto& d : v) dirs.push_back(d);  // loaded last: their calendars win
      out[key] = dirs;
    } else if (key == "dispatch" && both(out, key, v, json::value_t::object)) {
      out[key].update(v);
    } else if (key == "server" && both(out, key, v, json::value_t::object)) {
      out[key] = layer_server(out[key], v);
    } else {
      out[key] = v;
    }
  }
  return out;
}

std::vector<std::string> EngineConfig::default_plugin_dirs() {
  std::vector<std::string> dirs;
  if (const char* env = std::getenv("BIHUAN_PLUGIN_PATH")) {
    std::string s(env);
    for (std::size_t start = 0; start <= s.size();) {
      std::size_t end = s.find(':', start);
      if (end == std::string::npos) end = s.size();
      if (end > start) dirs.push_back(s.substr(start, end - start));
      start = end + 1;
    }
  }
  std::error_code ec;
  auto exe = fs::read_symlink("/proc/self/exe", ec);
  if (!ec) {
    fs::path bin = exe.parent_path();
    dirs.push_back((bin.parent_path() / "plugins").lexically_normal().string());
    dirs.push_back((bin.parent_path() / "lib" / "bihuan" / "plugins").lexically_normal().string());
  }
  return dirs;
}

json EngineConfig::default_document(const std::string& data_dir) {
  std::error_code ec;
  fs::path dir = fs::absolute(data_dir, ec).lexically_normal();
  std::string log = (dir / "notifications.jsonl").string();
  json doc = {{"dataDir", dir.string()},
              {"pluginDirs", default_plugin_dirs()},
              {"plugins", json::object()}};
  for (const char* name : {"notify-log", "log"})
    doc["plugins"][name] = {{"plugin", "notify.log"}, {"config", {{"path", log}}}};
  return doc;
}

EngineConfig EngineConfig::defaults(const std::string& data_dir) {
  Problems problems;
  auto c = from_json(default_document(data_dir), "", problems);
  EngineConfig out = c ? std::move(*c) : EngineConfig{};
  out.data_dir = data_dir;
  return out;
}

std::optional<EngineConfig> EngineConfig::from_json(const json& doc, const std::string& base_dir,
                                                    Problems& problems) {
  std::size_t before = problems.error_count();
  structure_checks(doc, problems);
  if (!config_schema().validate(doc, problems, "", "config") || problems.error_count() > before)
    return std::nullopt;
  EngineConfig c;
  if (doc.contains("dataDir")) c.data_dir = resolve(base_dir, doc["dataDir"].get<std::string>());
  if (doc.contains("store")) c.store = doc["store"].get<std::string>();
  if (doc.contains("sqlView")) c.sql_view = doc["sqlView"].get<bool>();
  if (doc.contains("calendarDirs")) c.calendar_dirs = resolve_all(base_dir, doc["calendarDirs"]);
  if (doc.contains("pluginDirs")) c.plugin_dirs = resolve_all(base_dir, doc["pluginDirs"]);
  for (auto& d : default_plugin_dirs())  // the bundled folders, searched after the file's
    if (std::find(c.plugin_dirs.begin(), c.plugin_dirs.end(), d) == c.plugin_dirs.end())
      c.plugin_dirs.push_back(d);
  if (doc.contains("workflowDirs")) c.workflow_dirs = resolve_all(base_dir, doc["workflowDirs"]);
  if (doc.contains("server")) c.server = doc["server"];
  c.base_dir = base_dir;
  if (doc.contains("dispatch")) c.poll_ms = doc["dispatch"].value("pollMs", c.poll_ms);
  if (doc.contains("plugins")) {
    for (const auto& [name, entry] : doc["plugins"].items()) {
      std::string at = "/plugins/" + pointer_escape(name);
      PluginInstanceConfig p;
      p.name = name;
      p.plugin = entry["plugin"].get<std::string>();
      if (entry.contains("file")) p.file = resolve(base_dir, entry["file"].get<std::string>());
      if (entry.contains("config")) p.config = entry["config"];
      p.policy.concurrency = entry.value("concurrency", p.policy.concurrency);
      p.policy.timeout_ms = entry.value("timeoutMs", p.policy.timeout_ms);
      p.policy.max_attempts = entry.value("maxAttempts", p.policy.max_attempts);
      if (entry.contains("backoff")) {
        p.policy.backoff_initial_ms =
            entry["backoff"].value("initialMs", p.policy.backoff_initial_ms);
        p.policy.backoff_max_ms = entry["backoff"].value("maxMs", p.policy.backoff_max_ms);
      }
      if (p.policy.backoff_max_ms < p.policy.backoff_initial_ms)
        problems.error(at + "/backoff/maxMs", "config-backoff",
                       "backoff maxMs (" + std::to_string(p.policy.backoff_max_ms) +
                           ") is smaller than initialMs (" +
                           std::to_string(p.policy.backoff_initial_ms) + ")");
      c.plugins[name] = std::move(p);
    }
  }
  if (problems.error_count() > before) return std::nullopt;
  return c;
}

std::optional<EngineConfig> EngineConfig::load_file(const std::string& path, Problems& problems) {
  auto doc = layer_file(json::object(), path, problems);
  if (!doc) return std::nullopt;
  return check_file_document(*doc, path, problems);
}

namespace {

// Problems of the file at `path`, with its name and positions, added to `problems`.
void add_file_problems(Problems& found, const std::string& path, Problems& problems) {
  for (auto p : found.items()) {
    if (p.file.empty()) p.file = path;
    problems.add(std::move(p));
  }
}

}  // namespace

std::optional<json> EngineConfig::layer_file(const json& base, const std::string& path,
                                             Problems& problems) {
  Problems found(path);
  auto doc = load_json_file(path, found);
  add_file_problems(found, path, problems);
  if (!doc) return std::nullopt;
  std::error_code ec;
  return layer(base, *doc, fs::absolute(path, ec).parent_path().string());
}

std::optional<EngineConfig> EngineConfig::check_file_document(const json& doc,
                                                              const std::string& path,
                                                              Problems& problems) {
  Problems found(path);
  std::error_code ec;
  auto config = from_json(doc, fs::absolute(path, ec).parent_path().string(), found);
  // Positions for pointer-only problems: re-read the text (small files).
  if (found.has_errors()) {
    std::string text;
    if (FILE* f = std::fopen(path.c_str(), "rb")) {
      char buf[65536];
      std::size_t n;
      while ((n = std::fread(buf, 1, sizeof buf, f)) > 0) text.append(buf, n);
      std::fclose(f);
    }
    attach_positions(text, found);
  }
  add_file_problems(found, path, problems);
  if (config) config->file = path;
  return config;
}

}  // namespace bihuan
