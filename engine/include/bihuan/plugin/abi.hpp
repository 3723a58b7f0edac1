/* The Bihuan plugin ABI, version 1.1: plain C types only.
 *
 * This is the whole contract between the host (the engine) and a plugin library. It uses
 * no C++ standard-library type, no exception and no allocation across the boundary, so a
 * plugin built with another compiler, another standard library or in C links and loads
 * as long as it follows the platform's C calling convention. The C++ layer most plugins
 * use (sdk.hpp) is header-only and compiles *into* the plugin; it turns these tables into
 * ordinary classes. See docs/plugins.md for the rules.
 *
 * A plugin library exports exactly two symbols, as Boost.DLL aliases (an exported
 * `const void*` variable in the "boostdll" section holding the address of the real
 * object, which is what BOOST_DLL_ALIAS produces and boost::dll::shared_library::
 * get_alias<T>() reads):
 *   bihuan_plugin_descriptor -> const bihuan_descriptor   (pure data)
 *   bihuan_plugin_create     -> bihuan_create_fn           (the factory)
 * The host reads the descriptor before it calls any plugin function and refuses a wrong
 * ABI major version. Minor versions only append fields to the structs below; every struct
 * starts with struct_size so each side can tell which fields the other one knows.
 *
 * Strings are (pointer, size) pairs of UTF-8, not NUL-terminated unless stated, valid
 * only for the duration of the call that passes them (copy what you keep).
 *
 * Thread-safety: the host may call one plugin object's notify/query/run_task/file_* from
 * several threads at once (up to the channel's configured concurrency); host functions are
 * thread-safe and may be called from any thread while the object lives.
 */
#ifndef BIHUAN_PLUGIN_ABI_HPP
#define BIHUAN_PLUGIN_ABI_HPP

#include <stddef.h>
#include <stdint.h>

#define BIHUAN_PLUGIN_ABI_MAJOR 1
#define BIHUAN_PLUGIN_ABI_MINOR 1 /* 1.1: the file store kind (file_* in bihuan_object) */

/* Exported alias names (see above). */
#define BIHUAN_PLUGIN_DESCRIPTOR_SYMBOL "bihuan_plugin_descriptor"
#define BIHUAN_PLUGIN_CREATE_SYMBOL "bihuan_plugin_create"
/* The section Boost.DLL puts its aliases in (boost::dll::library_info lists it). */
#define BIHUAN_PLUGIN_ALIAS_SECTION "boostdll"

/* Plugin kinds. */
#define BIHUAN_KIND_NOTIFIER 1     /* delivers a rendered message to recipients */
#define BIHUAN_KIND_DATA_SOURCE 2  /* answers named, parameterised queries with JSON rows */
#define BIHUAN_KIND_TASK_HANDLER 3 /* does the work of a task step; result -> an event */
#define BIHUAN_KIND_FILE_STORE 4   /* ABI 1.1: keeps files by address (attachments) */

/* Result status a plugin reports. */
#define BIHUAN_STATUS_OK 0    /* done; body = receipt (notifier), rows or result JSON */
#define BIHUAN_STATUS_RETRY 1 /* transient failure: try again later; body = error text */
#define BIHUAN_STATUS_FAIL 2  /* permanent failure: retrying cannot help; body = error */
/* ABI 1.1, file store only: nothing is stored under the address (file_get, file_stat,
 * file_remove). Not an error: RETRY and FAIL mean the store could not answer. A host
 * refuses MISSING from any other call (unknown status). */
#define BIHUAN_STATUS_MISSING 3

/* Log levels for bihuan_host.log. */
#define BIHUAN_LOG_DEBUG 0
#define BIHUAN_LOG_INFO 1
#define BIHUAN_LOG_WARNING 2
#define BIHUAN_LOG_ERROR 3

#ifdef __cplusplus
extern "C" {
#endif

typedef struct bihuan_text {
  const char* data;
  size_t size;
} bihuan_text;

/* What a plugin is; read by the host before any plugin code runs. Static storage. */
typedef struct bihuan_descriptor {
  uint32_t abi_major;        /* BIHUAN_PLUGIN_ABI_MAJOR the plugin was built against */
  uint32_t abi_minor;        /* BIHUAN_PLUGIN_ABI_MINOR the plugin was built against */
  uint32_t struct_size;      /* sizeof(bihuan_descriptor) as the plugin saw it */
  uint32_t kind;             /* BIHUAN_KIND_* */
  const char* name;          /* NUL-terminated, stable: "notify.log" (what admins write) */
  const char* version;       /* NUL-terminated: the plugin's own version, "1.2.0" */
  const char* config_schema; /* NUL-terminated JSON Schema (draft-07) of its config */
  const char* summary;       /* NUL-terminated one-line description */
} bihuan_descriptor;

/* The narrow interface the host lends a plugin object: never the engine itself. The
 * table and every text it returns stay valid until the object's destroy() returns. */
typedef struct bihuan_host {
  uint32_t struct_size;
  void* context; /* pass back as the first argument of every function below */
  void (*log)(void* context, int32_t level, bihuan_text message);
  /* The instance's configuration (already validated against config_schema), JSON. */
  bihuan_text (*config)(void* context);
  /* One configuration value by JSON Pointer ("/url"): returns 1 and sets *out (strings
   * without quotes, anything else as JSON text), or 0 if absent. */
  int32_t (*config_value)(void* context, const char* pointer, bihuan_text* out);
  /* Milliseconds since the Unix epoch by the engine's clock (virtual in tests). */
  int64_t (*now_ms)(void* context);
  /* Queues an event for an instance (payload: a JSON object). Returns 0 when queued,
   * nonzero when refused (unknown instance id, malformed payload, engine stopping). */
  int32_t (*emit_event)(void* context, bihuan_text instance_id, bihuan_text event,
                        bihuan_text payload_json);
  /* The name this instance has in the engine configuration ("sms-gateway"). */
  bihuan_text (*instance_name)(void* context);
} bihuan_host;

/* How a plugin answers: call reply exactly once before returning (the host copies
 * body). Not calling it counts as a permanent failure ("no result"). */
typedef void (*bihuan_reply_fn)(void* reply_context, int32_t status, bihuan_text body);

/* A rendered notification (kind notifier). */
typedef struct bihuan_message {
  uint32_t struct_size;
  bihuan_text key;     /* stable idempotency key: the same for every attempt */
  bihuan_text channel; /* configured notifier name */
  bihuan_text instance_id;
  bihuan_text definition;
  bihuan_text state;
  bihuan_text business_key;
  bihuan_text subject;   /* may be empty */
  bihuan_text text;      /* rendered body, UTF-8 */
  const bihuan_text* to; /* recipients */
  size_t to_count;
  uint32_t attempt; /* 1 for the first attempt */
  bihuan_text json; /* the whole message as one JSON object (same fields) */
} bihuan_message;

/* Work for a task step (kind task_handler). OK body = the result (JSON value) the
 * instance receives as its onResult event payload; FAIL body = the error text sent as
 * {"error": text} with onError. */
typedef struct bihuan_task {
  uint32_t struct_size;
  bihuan_text key; /* stable idempotency key */
  bihuan_text channel;
  bihuan_text instance_id;
  bihuan_text definition;
  bihuan_text state;
  bihuan_text input_json; /* the step's input (any JSON value) */
  uint32_t attempt;
  bihuan_text json; /* the whole task as one JSON object */
} bihuan_task;

/* A named query (kind data_source). OK body = a JSON array of row objects. */
typedef struct bihuan_query {
  uint32_t struct_size;
  bihuan_text name;        /* the query's name, e.g. "supplier-by-id" */
  bihuan_text params_json; /* a JSON object of parameters */
} bihuan_query;

/* A complete local file to store (kind file_store, ABI 1.1). */
typedef struct bihuan_file {
  uint32_t struct_size;
  bihuan_text address;      /* "sha256:<64 lowercase hex>", the SHA-256 of the bytes */
  bihuan_text path;         /* a complete, fsync'd local file holding the bytes */
  uint64_t size;            /* its size in bytes */
  bihuan_text content_type; /* as the host detected it ("image/png") */
} bihuan_file;

/* A live plugin object. The entry for the object's kind must be set; the others may be
 * null. destroy is called once, after every call on the object has returned.
 *
 * Minor versions append entries here, never reorder them: a plugin sets struct_size to
 * the sizeof it was built with and the host reads no entry past it (an ABI 1.0 object
 * has BIHUAN_OBJECT_SIZE_1_0 bytes and no file_* entries). A file store object must
 * have all four file_* entries; the host refuses one that lacks any at load. */
typedef struct bihuan_object {
  uint32_t struct_size;
  void* self;
  void (*destroy)(void* self);
  void (*notify)(void* self, const bihuan_message* message, void* reply_context,
                 bihuan_reply_fn reply);
  void (*query)(void* self, const bihuan_query* query, void* reply_context, bihuan_reply_fn reply);
  void (*run_task)(void* self, const bihuan_task* task, void* reply_context, bihuan_reply_fn reply);
  /* ABI 1.1, kind file_store. The host only ever passes addresses of the form above; a
   * plugin keeps the bytes and the address, never interprets them.
   *
   * file_put: stores the file at file->path under file->address. OK only once the bytes
   *   are durable and wholly present under the address (written, flushed, made visible
   *   atomically: a crash at any moment leaves the address absent or complete, never
   *   half present). Storing an address already stored is OK (the bytes are the same by
   *   construction; the plugin may skip the write). The file at path stays the host's:
   *   copy it or hard-link it, do not move or change it (the host removes it afterwards).
   * file_get: OK body = the stored bytes, all of them; MISSING when not stored.
   * file_stat: OK body = the stored size in decimal digits ("1234"); MISSING when not
   *   stored.
   * file_remove: OK once the address is no longer stored (durably); MISSING when it was
   *   not stored (the host counts that as removed).
   * RETRY/FAIL with a sentence when the store cannot answer (disk, network). */
  void (*file_put)(void* self, const bihuan_file* file, void* reply_context, bihuan_reply_fn reply);
  void (*file_get)(void* self, bihuan_text address, void* reply_context, bihuan_reply_fn reply);
  void (*file_stat)(void* self, bihuan_text address, void* reply_context, bihuan_reply_fn reply);
  void (*file_remove)(void* self, bihuan_text address, void* reply_context, bihuan_reply_fn reply);
} bihuan_object;

/* The size of an ABI 1.0 bihuan_object (everything before file_put). */
#define BIHUAN_OBJECT_SIZE_1_0 offsetof(bihuan_object, file_put)

/* The factory. Fills *out and returns 0; or calls error(error_context, FAIL, sentence)
 * and returns nonzero. `host` outlives the object. Must not throw. */
typedef int32_t (*bihuan_create_fn)(const bihuan_host* host, bihuan_object* out,
                                    void* error_context, bihuan_reply_fn error);

#ifdef __cplusplus
}
#endif

/* Exports `target` (a function or object with static storage) under the alias `alias`,
 * the way BOOST_DLL_ALIAS does, without needing Boost: an exported, unmangled
 * `const void*` variable in the "boostdll" section that holds target's address. */
#if defined(_WIN32)
#define BIHUAN_PLUGIN_EXPORT __declspec(dllexport)
#define BIHUAN_PLUGIN_SECTION
#else
#define BIHUAN_PLUGIN_EXPORT __attribute__((visibility("default")))
#define BIHUAN_PLUGIN_SECTION __attribute__((section("boostdll")))
#endif
#ifdef __cplusplus
#define BIHUAN_PLUGIN_ALIAS(alias, target)           \
  extern "C" BIHUAN_PLUGIN_EXPORT const void* alias; \
  BIHUAN_PLUGIN_SECTION const void* alias =          \
      reinterpret_cast<const void*>(reinterpret_cast<intptr_t>(&target));
#else
#define BIHUAN_PLUGIN_ALIAS(alias, target) \
  BIHUAN_PLUGIN_EXPORT BIHUAN_PLUGIN_SECTION const void* alias = (const void*)(intptr_t)(&target);
#endif

#endif /* BIHUAN_PLUGIN_ABI_HPP */
