// The plugin host: loads plugin libraries (Boost.DLL), checks them before running any of
// their code, validates each configured instance against the plugin's schema and calls
// plugin objects through the C ABI of bihuan/plugin/abi.hpp.
//
// Errors: every failure is a sentence that names the plugin file (and the configured
// name, when there is one); nothing is thrown, and a plugin that fails to load is left
// out while the engine keeps running. A library stays loaded while any PluginObject
// created from it lives (each object holds its library).
//
// Thread-safety: PluginLibrary and PluginObject are immutable after creation; their
// methods may be called from any thread (a PluginObject forwards concurrent calls to the
// plugin, which the SDK requires to be thread-safe). PluginRegistry is immutable after
// load(); HostServices::attach() may be called from any thread: once attach(nullptr) has
// returned, no emit_event() uses the engine it detached (a plugin call that timed out and
// still runs cannot reach an engine being destroyed).
#pragma once

#include <atomic>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <set>
#include <shared_mutex>
#include <string>
#include <vector>

#include "bihuan/clock.hpp"
#include "bihuan/engine.hpp"
#include "bihuan/json.hpp"
#include "bihuan/problem.hpp"

namespace bihuan {

struct EngineConfig;
struct PluginInstanceConfig;
class AttachmentFiles;  // bihuan/attachments.hpp

enum class PluginKind { notifier = 1, data_source = 2, task_handler = 3, file_store = 4 };
// "notifier" | "data source" | "task handler" | "file store"
std::string to_string(PluginKind k);

// The descriptor of a plugin library, as read before any plugin code ran.
struct PluginInfo {
  std::string file;  // the library's path
  std::string name, version, summary;
  PluginKind kind = PluginKind::notifier;
  std::uint32_t abi_major = 0, abi_minor = 0;
  json config_schema;
};

// The outcome of one plugin call.
struct PluginResult {
  // missing: a file store has nothing under the address (BIHUAN_STATUS_MISSING)
  enum class Status { ok, retry, fail, missing };
  Status status = Status::fail;
  // ok: receipt / rows / result as text, a file store's bytes or size; missing: empty;
  // otherwise the error sentence
  std::string body;
  json value;  // ok from a data source or task handler: body, parsed
  bool ok() const { return status == Status::ok; }
  bool missing() const { return status == Status::missing; }
  static PluginResult failure(std::string error, bool retryable = false) {
    return {retryable ? Status::retry : Status::fail, std::move(error), {}};
  }
};

enum class PluginLogLevel { debug = 0, info = 1, warning = 2, error = 3 };

// What the host lends every plugin object (through bihuan_host): logging, the clock and
// a way to send events to instances. Events are refused until an engine is attached.
class HostServices {
 public:
  using LogSink = std::function<void(PluginLogLevel, const std::string& instance_name,
                                     const std::string& message)>;
  explicit HostServices(std::shared_ptr<const Clock> clock, LogSink log = {});
  // nullptr detaches; waits for emit_event() calls that use the engine attached before.
  void attach(Engine* engine) {
    std::unique_lock lock(engine_mu_);
    engine_ = engine;
  }
  std::int64_t now_ms() const;
  void log(PluginLogLevel level, const std::string& instance_name,
           const std::string& message) const;
  // Queues `event` for the instance (async). False with *error when refused.
  bool emit_event(const std::string& from, const std::string& instance_id, const std::string& event,
                  std::string_view payload_json, std::string* error) const;

 private:
  std::shared_ptr<const Clock> clock_;
  LogSink log_;
  mutable std::shared_mutex engine_mu_;  // held shared while emit_event() uses engine_
  Engine* engine_ = nullptr;
};

class PluginLibrary;

// A live plugin object: one configured instance ("sms-gateway" of notify.webhook).
class PluginObject {
 public:
  ~PluginObject();
  PluginObject(const PluginObject&) = delete;
  PluginObject& operator=(const PluginObject&) = delete;

  const std::string& name() const { return name_; }  // configured name
  const PluginInfo& info() const;
  PluginKind kind() const { return info().kind; }

  // Calls the plugin on this thread (timeouts are the dispatcher's job). A notifier gets
  // a "notify" outbox message; a task handler a "task" message (ok: value = its result).
  PluginResult notify(const OutboxMessage& message, std::uint32_t attempt) const;
  PluginResult run_task(const OutboxMessage& task, std::uint32_t attempt) const;
  // A data source answers a named query with a JSON array of row objects (value).
  PluginResult query(const std::string& query_name, const json& params) const;
  // A file store (ABI 1.1; the guarantees: abi.hpp, file_*). put: the complete local file
  // `path` under `address` (ok once durable); get: ok body = the bytes; stat: ok body =
  // the size in decimal digits; remove: ok once removed. get, stat and remove answer
  // missing when nothing is stored under the address.
  PluginResult file_put(const std::string& address, const std::string& path, std::uint64_t size,
                        const std::string& content_type) const;
  PluginResult file_get(const std::string& address) const;
  PluginResult file_stat(const std::string& address) const;
  PluginResult file_remove(const std::string& address) const;

  struct Impl;
  explicit PluginObject(std::unique_ptr<Impl> impl);

 private:
  std::unique_ptr<Impl> impl_;
  std::string name_;
};

// One opened plugin library.
class PluginLibrary {
 public:
  // Opens `path`: checks that it is a shared library exporting both aliases (before it is
  // loaded), loads it, reads and checks the descriptor (ABI major, kind, name, schema).
  // Returns nullptr and sets *error (a sentence naming the file) on any failure.
  static std::shared_ptr<PluginLibrary> open(const std::string& path, std::string* error);
  ~PluginLibrary();

  const PluginInfo& info() const { return info_; }

  // Validates `config` against the plugin's schema (problems at `pointer` + the path in
  // config) and creates an object named `instance_name`. Returns nullptr on failure, with
  // at least one error in `problems` naming the file.
  std::shared_ptr<PluginObject> create(const std::string& instance_name, const json& config,
                                       std::shared_ptr<HostServices> services, Problems& problems,
                                       const std::string& pointer = "") const;

  struct Impl;

 private:
  PluginLibrary() = default;
  std::shared_ptr<Impl> impl_;  // shared with every object created from this library
  PluginInfo info_;
};

// Finds the library of plugin `name` ("notify.log" -> "notify.log.so") in `dirs`, in
// order. Returns the path, or nullopt and *error listing where it looked.
std::optional<std::string> find_plugin_file(const std::string& name,
                                            const std::vector<std::string>& dirs,
                                            std::string* error);

// The plugin objects of an engine configuration, by configured name.
class PluginRegistry {
 public:
  // Loads every instance in config.plugins. An instance whose library cannot be found or
  // loaded, or whose configuration is invalid, is left out with errors in `problems`
  // (pointer /plugins/<name>...); the others load.
  static PluginRegistry load(const EngineConfig& config, std::shared_ptr<HostServices> services,
                             Problems& problems);

  std::shared_ptr<PluginObject> find(const std::string& name) const;
  std::set<std::string> names(PluginKind kind) const;
  const std::map<std::string, std::shared_ptr<PluginObject>>& all() const { return objects_; }
  const std::shared_ptr<HostServices>& services() const { return services_; }

 private:
  std::map<std::string, std::shared_ptr<PluginObject>> objects_;
  std::shared_ptr<HostServices> services_;
};

// The stored files of an AttachmentStore kept by a file-store plugin object
// (AttachmentOptions::files; plugins/file_store.cpp). nullptr when `object` is null or
// not a file store.
std::shared_ptr<AttachmentFiles> attachment_files_of(std::shared_ptr<PluginObject> object);

// The names definitions may use under `config` (for EngineOptions::notifiers and
// task_handlers): each instance by the kind its plugin declares; an instance whose plugin
// did not load counts as both (it is configured: its messages wait in the outbox until
// the plugin is fixed). A file store is neither. "engine" (the engine's own data source,
// bihuan/engine_source.hpp) is always a task channel.
void configured_names(const EngineConfig& config, const PluginRegistry& registry,
                      std::set<std::string>& notifiers, std::set<std::string>& task_handlers);

}  // namespace bihuan
