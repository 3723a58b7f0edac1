/* bihuan.h: the C API of the Bihuan workflow engine (libbihuan.so). docs/c-api.md.
 *
 * One engine handle per data directory; requests and results are JSON text (UTF-8), the
 * same members as the HTTP API's bodies and answers (docs/http-api.md). No C++ exception
 * or type crosses this header: every function catches everything at the boundary.
 *
 * Status: every function that can fail returns an int, BIHUAN_OK (0) or one of the
 * BIHUAN_E* codes below. When `error` is not NULL, a failing call stores there a JSON
 * object the caller frees with bihuan_free():
 *   {"status": 3, "code": "refused", "type": "guard-false", "message": "...",
 *    "problems": [{"pointer": "/states/a", "code": "...", "message": "...", ...}],
 *    "details": ...}
 * `type` is the engine's reason (a StepError name for steps, "invalid-json",
 * "invalid-request"...); `problems` name the offending member by its JSON Pointer into
 * the request (or the definition); `details` is present when the engine gives some. On
 * success *error is set to NULL. `result` pointers likewise receive JSON text to free
 * with bihuan_free() (NULL on failure). Output pointers may be NULL when not wanted.
 *
 * Memory: every char* the library returns through an out-parameter is the caller's and
 * is freed with bihuan_free(). Strings passed to a callback belong to the library and
 * are valid only during the call.
 *
 * Handles and lifetime: bihuan_open() gives a handle; bihuan_close() closes the engine
 * (waits for queued steps, their callbacks included) and is idempotent; every later call
 * on the handle returns BIHUAN_ECLOSED. bihuan_release() closes if needed and frees the
 * handle: using it afterwards is the caller's bug (undefined). A NULL handle is
 * BIHUAN_EINVAL, never a crash.
 *
 * Threads: a handle may be used from any number of threads at once; blocking calls
 * (bihuan_start, bihuan_send...) wait for their step's durable commit on the calling
 * thread. bihuan_close() waits for calls in progress on other threads. A completion
 * callback (bihuan_send_async, bihuan_start_async) runs once, on an engine thread (the
 * committer or the writer), after the step's commit or refusal: keep it short, and do not
 * call this library from it except bihuan_free() (a blocking call there would wait for
 * the thread that runs it: deadlock).
 *
 * ABI: BIHUAN_ABI_VERSION is (major << 16) | minor. bihuan_open() takes the version the
 * program was compiled with and refuses (BIHUAN_EABI) a different major or a minor newer
 * than the library's, so a newer library serves an older program. The rule that makes
 * this hold: within a major version, functions and codes are only appended; no
 * signature, code value, or meaning of an existing JSON member changes; new JSON
 * members are optional. Removing or changing anything is a new major version (and a new
 * SOVERSION of libbihuan.so). */
#ifndef BIHUAN_H
#define BIHUAN_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

#if defined(__GNUC__)
#define BIHUAN_API __attribute__((visibility("default")))
#else
#define BIHUAN_API
#endif

#define BIHUAN_ABI_MAJOR 1
#define BIHUAN_ABI_MINOR 0
#define BIHUAN_ABI_VERSION ((unsigned)((BIHUAN_ABI_MAJOR << 16) | BIHUAN_ABI_MINOR))

/* Status codes (append only). */
#define BIHUAN_OK 0
#define BIHUAN_EINVAL 1    /* a NULL argument, malformed JSON, a request member of the wrong type */
#define BIHUAN_ENOTFOUND 2 /* no such instance or definition */
#define BIHUAN_EREFUSED 3  /* the engine refused: a definition with errors, a step's guard... */
#define BIHUAN_ECLOSED 4   /* the handle was closed */
#define BIHUAN_EIO 5       /* storage failed or cannot be read now (retry later) */
#define BIHUAN_EABI 6      /* the program's ABI version is not served by this library */
#define BIHUAN_EINTERNAL 7 /* a defect in the library (please report it) */

typedef struct bihuan_engine bihuan_engine;

/* A completion callback: `code` is a BIHUAN_* status; `json` the result on BIHUAN_OK,
 * else the error object (both valid only during the call). */
typedef void (*bihuan_callback)(void* user, int code, const char* json);

/* The library's ABI version (BIHUAN_ABI_VERSION as it was compiled). */
BIHUAN_API unsigned bihuan_abi_version(void);
/* "ok", "invalid", "not-found", "refused", "closed", "io", "abi", "internal"; "unknown". */
BIHUAN_API const char* bihuan_status_name(int code);
/* Frees what the library returned (NULL is fine). */
BIHUAN_API void bihuan_free(void* p);

/* Opens (creating if needed) an engine. options_json: {"dataDir": "path" (required),
 * "virtualClock": "2024-01-01T00:00:00Z" (a virtual clock starting then; default the
 * system clock), "durable": true (false: no fsync, simulation only), "timezone": "UTC"
 * (the zone result times are written in), "maxBatch": 2048, "initialMapBytes": n}. */
BIHUAN_API int bihuan_open(const char* options_json, unsigned abi_version, bihuan_engine** out,
                           char** error);
/* Closes the engine (idempotent). Later calls on the handle: BIHUAN_ECLOSED. */
BIHUAN_API int bihuan_close(bihuan_engine* engine, char** error);
/* Closes if needed and frees the handle (NULL is fine). */
BIHUAN_API void bihuan_release(bihuan_engine* engine);

/* Deploys a definition (docs/definition-language.md). result: {"id", "version",
 * "unchanged", "warnings": [problems]}. Errors: BIHUAN_EREFUSED with every problem. */
BIHUAN_API int bihuan_deploy(bihuan_engine* engine, const char* definition_json,
                             const char* source_name, char** result, char** error);

/* Steps (block until committed or refused). A request's "actor" is {"id", "roles",
 * "attrs"}; default the system actor. result: the instance (as GET /v1/instances/{id})
 * plus "replayed" and "created".
 * start: {"definition", "version", "businessKey", "data", "returnExisting",
 *         "idempotencyKey", "actor"}
 * send:  {"instance" | "businessKey", "event", "payload", "actor", "idempotencyKey",
 *         "expectedVersion"}
 * cancel: {"instance", "reason", "actor"} */
BIHUAN_API int bihuan_start(bihuan_engine* engine, const char* request_json, char** result,
                            char** error);
BIHUAN_API int bihuan_send(bihuan_engine* engine, const char* request_json, char** result,
                           char** error);
BIHUAN_API int bihuan_cancel(bihuan_engine* engine, const char* request_json, char** result,
                             char** error);
/* The same, returning at once: BIHUAN_OK means `done` will run exactly once (see
 * Threads); any other status means it will not (a malformed request, a closed handle). */
BIHUAN_API int bihuan_start_async(bihuan_engine* engine, const char* request_json,
                                  bihuan_callback done, void* user, char** error);
BIHUAN_API int bihuan_send_async(bihuan_engine* engine, const char* request_json,
                                 bihuan_callback done, void* user, char** error);

/* Reads (never wait for writes). */
/* The instance by id, or by business key: BIHUAN_ENOTFOUND when there is none. */
BIHUAN_API int bihuan_get(bihuan_engine* engine, const char* instance_id, char** result,
                          char** error);
BIHUAN_API int bihuan_get_by_key(bihuan_engine* engine, const char* business_key, char** result,
                                 char** error);
/* A page of instances. query_json: {"definition", "state", "businessKeyPrefix", "unit",
 * "status", "filters": {"/pointer": value}, "cursor", "limit" (1..1000, default 50),
 * "viewer": actor}. result: {"items": [...], "nextCursor"} (no nextCursor: last page). */
BIHUAN_API int bihuan_query(bihuan_engine* engine, const char* query_json, char** result,
                            char** error);
/* A page of an instance's history, back from the newest entry. query_json: {"instance",
 * "cursor", "limit" (0 = all)}. result: {"instance", "items" (oldest first), "nextCursor"}. */
BIHUAN_API int bihuan_history(bihuan_engine* engine, const char* query_json, char** result,
                              char** error);
/* A page of an actor's inbox. query_json: {"actor", "cursor", "limit"}. result: {"actor",
 * "items": [{"instance", "events", "deadline"}], "nextCursor"}. */
BIHUAN_API int bihuan_inbox(bihuan_engine* engine, const char* query_json, char** result,
                            char** error);
/* Counts, as GET /v1/stats. query_json: {"definition", "groupBy": [...], "from", "to",
 * "status", "unit", "archived", "filters", "viewer"}. */
BIHUAN_API int bihuan_stats(bihuan_engine* engine, const char* query_json, char** result,
                            char** error);
/* Checks the whole store (pages, records, chains, indexes), as `bihuan verify --format
 * json`: {"ok", "instances", "entries", "broken", "problems", ...}. A damaged store is
 * BIHUAN_OK with "ok": false. */
BIHUAN_API int bihuan_verify(bihuan_engine* engine, char** result, char** error);

/* The engine's clock, in milliseconds since 1970-01-01T00:00:00Z. */
BIHUAN_API int bihuan_clock_now(bihuan_engine* engine, int64_t* now_ms, char** error);
/* Virtual clock only (else BIHUAN_EINVAL): moves time forward to `to_ms` (or by `ms`),
 * firing every timer due by then, durably, in order; `fired` receives how many fired. */
BIHUAN_API int bihuan_clock_advance_to(bihuan_engine* engine, int64_t to_ms, uint64_t* fired,
                                       char** error);
BIHUAN_API int bihuan_clock_advance(bihuan_engine* engine, int64_t ms, uint64_t* fired,
                                    char** error);

#ifdef __cplusplus
}
#endif

#endif /* BIHUAN_H */
