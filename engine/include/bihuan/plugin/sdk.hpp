// The Bihuan plugin SDK for C++: the one header a plugin includes.
//
// Write a class deriving from Notifier, DataSource, TaskHandler or FileStore with a constructor
// taking `const bihuan::plugin::Host&`, then name it once with BIHUAN_PLUGIN(...). The
// macro defines the descriptor and the factory and exports both (see abi.hpp). This
// header is compiled into the plugin: it uses only the C++20 standard library, and no C++
// type, exception or allocation crosses into the host.
//
//   class Hello final : public bihuan::plugin::Notifier {
//    public:
//     explicit Hello(const bihuan::plugin::Host& host) : host_(host) {}
//     bihuan::plugin::Result notify(const bihuan::plugin::Message& m) override {
//       host_.log(bihuan::plugin::LogLevel::info, "hello " + std::string(m.text));
//       return bihuan::plugin::Result::ok();
//     }
//    private:
//     bihuan::plugin::Host host_;
//   };
//   BIHUAN_PLUGIN(Hello, "notify.hello", "1.0.0", R"({"type":"object"})", "Says hello")
//
// Errors: a constructor refuses a configuration by throwing (the factory catches it and
// the host reports the message, naming the file and the configured name). A method
// reports failure with Result::retry (transient: the dispatcher backs off and tries
// again) or Result::fail (permanent). An exception escaping a method is caught by the SDK
// and becomes Result::fail("plugin threw: ..."): nothing crosses the boundary.
//
// Thread-safety: the host may call one object's method from several threads at once (up
// to the channel's configured concurrency); a plugin that cannot take that should guard
// itself with a mutex or be configured with "concurrency": 1. Host is thread-safe.
#pragma once

#include <cstdint>
#include <exception>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <type_traits>
#include <vector>

#include "bihuan/plugin/abi.hpp"

namespace bihuan::plugin {

inline constexpr std::uint32_t kAbiMajor = BIHUAN_PLUGIN_ABI_MAJOR;
inline constexpr std::uint32_t kAbiMinor = BIHUAN_PLUGIN_ABI_MINOR;

enum class Kind : std::uint32_t {
  notifier = BIHUAN_KIND_NOTIFIER,
  data_source = BIHUAN_KIND_DATA_SOURCE,
  task_handler = BIHUAN_KIND_TASK_HANDLER,
  file_store = BIHUAN_KIND_FILE_STORE,
};

enum class Status : std::int32_t {
  ok = BIHUAN_STATUS_OK,
  retry = BIHUAN_STATUS_RETRY,
  fail = BIHUAN_STATUS_FAIL,
  missing = BIHUAN_STATUS_MISSING,  // a file store: nothing stored under the address
};

// What a plugin method returns: status and a body (receipt/rows/result on ok, a sentence
// naming what went wrong otherwise).
struct Result {
  Status status = Status::ok;
  std::string body;

  static Result ok(std::string body = {}) { return {Status::ok, std::move(body)}; }
  static Result retry(std::string error) { return {Status::retry, std::move(error)}; }
  static Result fail(std::string error) { return {Status::fail, std::move(error)}; }
  static Result missing() { return {Status::missing, {}}; }
  bool is_ok() const noexcept { return status == Status::ok; }
};

enum class LogLevel : std::int32_t {
  debug = BIHUAN_LOG_DEBUG,
  info = BIHUAN_LOG_INFO,
  warning = BIHUAN_LOG_WARNING,
  error = BIHUAN_LOG_ERROR,
};

inline std::string_view view(bihuan_text t) noexcept {
  return t.data ? std::string_view(t.data, t.size) : std::string_view();
}
inline bihuan_text text(std::string_view s) noexcept { return {s.data(), s.size()}; }

// The host services a plugin object may use: logging, its configuration, the clock and a
// way to send an event to an instance. A cheap handle: copy it freely; valid while the
// object lives.
class Host {
 public:
  explicit Host(const bihuan_host* host) noexcept : h_(host) {}

  void log(LogLevel level, std::string_view message) const noexcept {
    if (h_ && h_->log) h_->log(h_->context, static_cast<std::int32_t>(level), text(message));
  }
  // The configuration as JSON text (validated against the plugin's config schema).
  std::string_view config_json() const noexcept {
    return h_ && h_->config ? view(h_->config(h_->context)) : std::string_view();
  }
  // One configuration value by JSON Pointer: strings without quotes, numbers, booleans,
  // arrays and objects as JSON text; nullopt if absent.
  std::optional<std::string> config(const std::string& pointer) const {
    bihuan_text out{nullptr, 0};
    if (!h_ || !h_->config_value || !h_->config_value(h_->context, pointer.c_str(), &out))
      return std::nullopt;
    return std::string(view(out));
  }
  std::string config_or(const std::string& pointer, std::string fallback) const {
    auto v = config(pointer);
    return v ? *v : std::move(fallback);
  }
  // Milliseconds since the Unix epoch, by the engine's clock.
  std::int64_t now_ms() const noexcept { return h_ && h_->now_ms ? h_->now_ms(h_->context) : 0; }
  // Queues an event (payload: JSON object text) for an instance. True when queued.
  bool emit_event(std::string_view instance_id, std::string_view event,
                  std::string_view payload_json = "{}") const noexcept {
    return h_ && h_->emit_event &&
           h_->emit_event(h_->context, text(instance_id), text(event), text(payload_json)) == 0;
  }
  // This object's name in the engine configuration.
  std::string_view instance_name() const noexcept {
    return h_ && h_->instance_name ? view(h_->instance_name(h_->context)) : std::string_view();
  }

 private:
  const bihuan_host* h_;
};

// A rendered notification. Views are valid during the call only.
struct Message {
  std::string_view key;  // idempotency key: identical for every attempt of this message
  std::string_view channel, instance_id, definition, state, business_key;
  std::string_view subject, text;
  std::vector<std::string_view> to;
  std::uint32_t attempt = 1;
  std::string_view json;  // everything above as one JSON object
};

// Work for a task step. Result::ok(body): body is a JSON value (the onResult payload).
struct Task {
  std::string_view key, channel, instance_id, definition, state;
  std::string_view input_json;
  std::uint32_t attempt = 1;
  std::string_view json;
};

// A named query. Result::ok(body): body is a JSON array of row objects.
struct Query {
  std::string_view name;
  std::string_view params_json;  // a JSON object
};

// A complete local file to store (FileStore::put). Views are valid during the call only.
struct StoredFile {
  std::string_view address;  // "sha256:<64 lowercase hex>"
  std::string_view path;     // a complete, fsync'd local file; the host's: copy, do not move
  std::uint64_t size = 0;
  std::string_view content_type;
};

class Notifier {
 public:
  static constexpr Kind kind = Kind::notifier;
  virtual ~Notifier() = default;
  virtual Result notify(const Message& message) = 0;
};

class DataSource {
 public:
  static constexpr Kind kind = Kind::data_source;
  virtual ~DataSource() = default;
  virtual Result query(const Query& query) = 0;
};

class TaskHandler {
 public:
  static constexpr Kind kind = Kind::task_handler;
  virtual ~TaskHandler() = default;
  virtual Result run(const Task& task) = 0;
};

// Keeps files by address (ABI 1.1; the guarantees of each method: abi.hpp, file_*).
//   put:    Result::ok() once the bytes are durable and wholly present under the address
//           (an address already stored: ok).
//   get:    Result::ok(bytes), or Result::missing().
//   stat:   Result::ok(std::to_string(size)), or Result::missing().
//   remove: Result::ok() once removed, or Result::missing() when it was not stored.
class FileStore {
 public:
  static constexpr Kind kind = Kind::file_store;
  virtual ~FileStore() = default;
  virtual Result put(const StoredFile& file) = 0;
  virtual Result get(std::string_view address) = 0;
  virtual Result stat(std::string_view address) = 0;
  virtual Result remove(std::string_view address) = 0;
};

// Quotes `s` as a JSON string (escapes quotes, backslashes and control characters;
// UTF-8 passes through unchanged), for plugins that write JSON without a JSON library.
inline std::string json_quote(std::string_view s) {
  static constexpr char hex[] = "0123456789abcdef";
  std::string out;
  out.reserve(s.size() + 2);
  out += '"';
  for (char c : s) {
    auto u = static_cast<unsigned char>(c);
    switch (c) {
      case '"':
        out += "\\\"";
        break;
      case '\\':
        out += "\\\\";
        break;
      case '\n':
        out += "\\n";
        break;
      case '\r':
        out += "\\r";
        break;
      case '\t':
        out += "\\t";
        break;
      default:
        if (u < 0x20) {
          out += "\\u00";
          out += hex[u >> 4];
          out += hex[u & 15];
        } else {
          out += c;
        }
    }
  }
  out += '"';
  return out;
}

namespace detail {

inline void reply(bihuan_reply_fn fn, void* ctx, const Result& r) noexcept {
  if (fn) fn(ctx, static_cast<std::int32_t>(r.status), text(r.body));
}

// Runs `f` and replies with its result; any exception becomes a permanent failure.
template <class F>
void guarded(bihuan_reply_fn fn, void* ctx, F&& f) noexcept {
  try {
    Result r = f();
    reply(fn, ctx, r);
  } catch (const std::exception& e) {
    std::string what = std::string("plugin threw: ") + e.what();
    if (fn) fn(ctx, BIHUAN_STATUS_FAIL, text(what));
  } catch (...) {
    if (fn)
      fn(ctx, BIHUAN_STATUS_FAIL, text("plugin threw an exception that is not a std::exception"));
  }
}

template <class T>
void notify_thunk(void* self, const bihuan_message* m, void* ctx, bihuan_reply_fn fn) noexcept {
  guarded(fn, ctx, [&] {
    Message msg;
    msg.key = view(m->key);
    msg.channel = view(m->channel);
    msg.instance_id = view(m->instance_id);
    msg.definition = view(m->definition);
    msg.state = view(m->state);
    msg.business_key = view(m->business_key);
    msg.subject = view(m->subject);
    msg.text = view(m->text);
    for (std::size_t i = 0; i < m->to_count; ++i) msg.to.push_back(view(m->to[i]));
    msg.attempt = m->attempt;
    msg.json = view(m->json);
    return static_cast<T*>(self)->notify(msg);
  });
}

template <class T>
void query_thunk(void* self, const bihuan_query* q, void* ctx, bihuan_reply_fn fn) noexcept {
  guarded(fn, ctx, [&] {
    return static_cast<T*>(self)->query(Query{view(q->name), view(q->params_json)});
  });
}

template <class T>
void task_thunk(void* self, const bihuan_task* t, void* ctx, bihuan_reply_fn fn) noexcept {
  guarded(fn, ctx, [&] {
    Task task{view(t->key),   view(t->channel),    view(t->instance_id), view(t->definition),
              view(t->state), view(t->input_json), t->attempt,           view(t->json)};
    return static_cast<T*>(self)->run(task);
  });
}

template <class T>
void file_put_thunk(void* self, const bihuan_file* f, void* ctx, bihuan_reply_fn fn) noexcept {
  guarded(fn, ctx, [&] {
    StoredFile file{view(f->address), view(f->path), f->size, view(f->content_type)};
    return static_cast<T*>(self)->put(file);
  });
}

// get, stat or remove (virtual: the call reaches T's override).
template <class T, Result (FileStore::*Method)(std::string_view)>
void file_address_thunk(void* self, bihuan_text address, void* ctx, bihuan_reply_fn fn) noexcept {
  guarded(fn, ctx, [&] {
    FileStore* store = static_cast<T*>(self);
    return (store->*Method)(view(address));
  });
}

template <class T>
void destroy_thunk(void* self) noexcept {
  try {
    delete static_cast<T*>(self);
  } catch (...) {
  }
}

template <class T>
std::int32_t create(const bihuan_host* host, bihuan_object* out, void* ctx,
                    bihuan_reply_fn error) noexcept {
  static_assert(std::is_constructible_v<T, const Host&>,
                "a plugin class needs a constructor T(const bihuan::plugin::Host&)");
  try {
    if (!out) return 1;
    T* obj = new T(Host(host));
    *out = bihuan_object{};
    out->struct_size = sizeof(bihuan_object);
    out->self = obj;
    out->destroy = &destroy_thunk<T>;
    if constexpr (std::is_base_of_v<Notifier, T>) out->notify = &notify_thunk<T>;
    if constexpr (std::is_base_of_v<DataSource, T>) out->query = &query_thunk<T>;
    if constexpr (std::is_base_of_v<TaskHandler, T>) out->run_task = &task_thunk<T>;
    if constexpr (std::is_base_of_v<FileStore, T>) {
      out->file_put = &file_put_thunk<T>;
      out->file_get = &file_address_thunk<T, &FileStore::get>;
      out->file_stat = &file_address_thunk<T, &FileStore::stat>;
      out->file_remove = &file_address_thunk<T, &FileStore::remove>;
    }
    return 0;
  } catch (const std::exception& e) {
    if (error) error(ctx, BIHUAN_STATUS_FAIL, text(e.what()));
  } catch (...) {
    if (error)
      error(ctx, BIHUAN_STATUS_FAIL,
            text("the plugin's constructor threw an exception that is not a std::exception"));
  }
  return 1;
}

}  // namespace detail
}  // namespace bihuan::plugin

// Defines and exports the descriptor and factory of a plugin library. Use once per
// library, at namespace scope:
//   BIHUAN_PLUGIN(Class, "notify.log", "1.0.0", config_schema_text, "one-line summary")
// Class derives from exactly one of Notifier, DataSource, TaskHandler, FileStore and has a
// constructor Class(const bihuan::plugin::Host&). The schema is a JSON Schema (draft-07)
// text that the host validates the configuration against before creating the object.
#define BIHUAN_PLUGIN(Class, Name, Version, ConfigSchema, Summary)                        \
  namespace bihuan_plugin_export {                                                        \
  static const bihuan_descriptor descriptor_object = {BIHUAN_PLUGIN_ABI_MAJOR,            \
                                                      BIHUAN_PLUGIN_ABI_MINOR,            \
                                                      sizeof(bihuan_descriptor),          \
                                                      static_cast<uint32_t>(Class::kind), \
                                                      Name,                               \
                                                      Version,                            \
                                                      ConfigSchema,                       \
                                                      Summary};                           \
  static int32_t create_object(const bihuan_host* host, bihuan_object* out, void* ctx,    \
                               bihuan_reply_fn error) noexcept {                          \
    return ::bihuan::plugin::detail::create<Class>(host, out, ctx, error);                \
  }                                                                                       \
  BIHUAN_PLUGIN_ALIAS(bihuan_plugin_descriptor, descriptor_object)                        \
  BIHUAN_PLUGIN_ALIAS(bihuan_plugin_create, create_object)                                \
  }
